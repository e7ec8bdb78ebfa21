//! The engine against a real PostgreSQL 15.

use std::time::{Duration, SystemTime};

use engine_sdk::{EngineError, Operation, Storage as _};
use serde_json::{Value, json};
use testkit::PgServer;

use crate::harness::{Harness, invalid_msg, upstream};

/// OpenBao's documented example creation statements, plus the table the issued users read.
const CREATION: &str = r#"CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}";"#;

async fn configure(h: &Harness, pg: &PgServer, extra: Value) {
    let mut body = json!({
        "plugin_name": "postgresql-database-plugin",
        "connection_url": pg.url_with_template(),
        "username": pg.admin_user(),
        "password": pg.admin_password(),
        "allowed_roles": "*",
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let resp = h.write("config/pg", body).await.unwrap();
    assert!(resp.warnings.is_empty(), "{:?}", resp.warnings);
}

async fn setup(pg: &PgServer) -> Harness {
    pg.psql("CREATE TABLE inventory (item text); INSERT INTO inventory VALUES ('apple')");
    let h = Harness::new().await;
    configure(&h, pg, json!({})).await;
    h.write(
        "roles/ro",
        json!({"db_name": "pg", "creation_statements": CREATION, "default_ttl": "1h", "max_ttl": "24h"}),
    )
    .await
    .unwrap();
    h
}

fn role_exists(pg: &PgServer, name: &str) -> bool {
    pg.psql(&format!(
        "SELECT count(*) FROM pg_roles WHERE rolname = '{name}'"
    )) == "1"
}

fn valid_until(pg: &PgServer, name: &str) -> i64 {
    pg.psql(&format!(
        "SELECT extract(epoch FROM rolvaliduntil)::bigint FROM pg_roles WHERE rolname = '{name}'"
    ))
    .parse()
    .unwrap()
}

fn now_secs() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

#[tokio::test]
async fn issued_user_logs_in_renews_and_is_revoked() {
    let pg = PgServer::start();
    let h = setup(&pg).await;

    let c = h.creds("ro").await.unwrap();
    assert!(c.username.starts_with("v-token-ro-"), "{}", c.username);
    assert_eq!(c.password.len(), 20);
    assert_eq!(c.secret.ttl, Duration::from_secs(3600));
    assert_eq!(c.secret.max_ttl, Duration::from_secs(24 * 3600));
    assert_eq!(
        pg.psql_as(&c.username, &c.password, "SELECT item FROM inventory")
            .unwrap(),
        "apple"
    );
    let first = valid_until(&pg, &c.username);
    assert!(
        (first - (now_secs() + 3600)).abs() < 60,
        "VALID UNTIL {first}"
    );

    let renewed = h
        .renew(&c.secret, Some(Duration::from_secs(7200)))
        .await
        .unwrap();
    let s = renewed.secret.unwrap();
    assert_eq!(s.ttl, Duration::from_secs(7200));
    assert_eq!(s.max_ttl, Duration::from_secs(24 * 3600));
    let second = valid_until(&pg, &c.username);
    assert!(
        second > first + 3000,
        "VALID UNTIL moved from {first} to {second}"
    );

    h.revoke(&c.secret).await.unwrap();
    assert!(!role_exists(&pg, &c.username));
    let err = pg
        .psql_as(&c.username, &c.password, "SELECT 1")
        .unwrap_err();
    assert!(err.contains("password authentication failed"), "{err}");
    // A role that no longer exists counts as revoked.
    h.revoke(&c.secret).await.unwrap();
}

#[tokio::test]
async fn default_revocation_removes_grants_and_owned_objects() {
    let pg = PgServer::start();
    pg.psql("CREATE SCHEMA app; CREATE TABLE app.t (x int); CREATE SEQUENCE app.s");
    let h = setup(&pg).await;
    h.write(
        "roles/owner",
        json!({"db_name": "pg", "creation_statements": [
            r#"CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'"#,
            r#"GRANT USAGE, CREATE ON SCHEMA app TO "{{name}}"; GRANT ALL ON ALL TABLES IN SCHEMA app TO "{{name}}""#,
            r#"GRANT USAGE ON ALL SEQUENCES IN SCHEMA app TO "{{name}}"; GRANT CONNECT ON DATABASE template1 TO "{{name}}""#,
        ]}),
    )
    .await
    .unwrap();
    let c = h.creds("owner").await.unwrap();
    // The user creates something it owns: a plain DROP ROLE would fail on it.
    pg.psql_as(&c.username, &c.password, "CREATE TABLE app.mine (y int)")
        .unwrap();
    h.revoke(&c.secret).await.unwrap();
    assert!(!role_exists(&pg, &c.username));
    // What it owned now belongs to the engine's user, not to a dangling role.
    assert_eq!(
        pg.psql("SELECT tableowner FROM pg_tables WHERE tablename = 'mine'"),
        "postgres"
    );
}

#[tokio::test]
async fn revoke_with_config_deleted_uses_the_snapshot() {
    let pg = PgServer::start();
    let h = setup(&pg).await;
    let c = h.creds("ro").await.unwrap();
    h.delete("roles/ro").await.unwrap();
    h.delete("config/pg").await.unwrap();
    assert!(matches!(
        h.read("config/pg").await,
        Err(EngineError::NotFound)
    ));
    h.renew(&c.secret, None).await.unwrap();
    h.revoke(&c.secret).await.unwrap();
    assert!(!role_exists(&pg, &c.username));
}

#[tokio::test]
async fn revoke_survives_db_restart() {
    let pg = PgServer::start();
    let h = setup(&pg).await;
    let c = h.creds("ro").await.unwrap();
    // Pooled connections that the restart cut are noticed and replaced, not handed out.
    pg.restart();
    h.creds("ro").await.unwrap();
    pg.stop();
    let (msg, retryable) = upstream(h.revoke(&c.secret).await);
    assert!(retryable, "a stopped database must be retryable: {msg}");
    assert!(msg.contains("error connecting to server"), "{msg}");
    pg.restart();
    h.revoke(&c.secret).await.unwrap();
    assert!(!role_exists(&pg, &c.username));
}

#[tokio::test]
async fn broken_revocation_sql_is_not_retryable() {
    let pg = PgServer::start();
    let h = setup(&pg).await;
    h.write(
        "roles/broken",
        json!({"db_name": "pg", "creation_statements": CREATION,
               "revocation_statements": r#"DROP ROLEE "{{name}}";"#}),
    )
    .await
    .unwrap();
    let c = h.creds("broken").await.unwrap();
    let (msg, retryable) = upstream(h.revoke(&c.secret).await);
    assert!(!retryable);
    assert!(msg.contains("syntax error"), "{msg}");
    assert!(role_exists(&pg, &c.username));
}

#[tokio::test]
async fn failed_creation_rolls_back() {
    let pg = PgServer::start();
    let h = setup(&pg).await;
    h.write(
        "roles/half",
        json!({"db_name": "pg", "creation_statements":
            format!("{CREATION} GRANT SELECT ON no_such_table TO \"{{{{name}}}}\";")}),
    )
    .await
    .unwrap();
    let before = pg.psql("SELECT count(*) FROM pg_roles");
    let (msg, retryable) = upstream(h.creds("half").await);
    assert!(!retryable);
    assert!(msg.contains("no_such_table"), "{msg}");
    assert_eq!(
        pg.psql("SELECT count(*) FROM pg_roles"),
        before,
        "the transaction left a role"
    );
}

#[tokio::test]
async fn a_credential_whose_lease_never_committed_is_swept() {
    let pg = PgServer::start();
    let h = setup(&pg).await;
    // A failed creation leaves no pending record behind.
    h.write(
        "roles/half",
        json!({"db_name": "pg", "creation_statements":
            format!("{CREATION} GRANT SELECT ON no_such_table TO \"{{{{name}}}}\";")}),
    )
    .await
    .unwrap();
    assert!(h.creds("half").await.is_err());
    assert!(h.view.list("pending/").await.unwrap().is_empty());

    // As if the server died between CREATE ROLE and the lease's commit.
    let orphan = h.creds_unleased("ro").await.unwrap();
    let leased = h.creds("ro").await.unwrap();
    assert!(role_exists(&pg, &orphan.username));
    assert_eq!(h.view.list("pending/").await.unwrap().len(), 1);

    // Within the grace period a request may still be committing its lease: left alone.
    h.periodic().await.unwrap();
    assert!(role_exists(&pg, &orphan.username));

    h.advance(Duration::from_secs(301));
    h.periodic().await.unwrap();
    assert!(!role_exists(&pg, &orphan.username), "the orphan is dropped");
    assert!(role_exists(&pg, &leased.username), "the leased user stays");
    assert!(h.view.list("pending/").await.unwrap().is_empty());
}

#[tokio::test]
async fn do_blocks_and_scram_passwords() {
    let pg = PgServer::start();
    pg.psql("CREATE TABLE inventory (item text); INSERT INTO inventory VALUES ('pear')");
    let h = Harness::new().await;
    configure(&h, &pg, json!({"password_authentication": "scram-sha-256"})).await;
    let creation = r#"CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'readers') THEN
    CREATE ROLE readers; GRANT SELECT ON inventory TO readers;
  END IF;
END
$$;
GRANT readers TO "{{name}}";"#;
    h.write(
        "roles/r",
        json!({"db_name": "pg", "creation_statements": creation}),
    )
    .await
    .unwrap();
    let c = h.creds("r").await.unwrap();
    let stored = pg.psql(&format!(
        "SELECT rolpassword FROM pg_authid WHERE rolname = '{}'",
        c.username
    ));
    assert!(stored.starts_with("SCRAM-SHA-256$"), "{stored}");
    assert_eq!(
        pg.psql_as(&c.username, &c.password, "SELECT item FROM inventory")
            .unwrap(),
        "pear"
    );
    // Issued twice: the DO block is idempotent.
    let c2 = h.creds("r").await.unwrap();
    assert_ne!(c.username, c2.username);
}

#[tokio::test]
async fn role_not_in_allowed_roles_is_refused() {
    let pg = PgServer::start();
    let h = Harness::new().await;
    configure(&h, &pg, json!({"allowed_roles": "app-*"})).await;
    for role in ["app-1", "other"] {
        h.write(
            role_path(role).as_str(),
            json!({"db_name": "pg", "creation_statements": CREATION}),
        )
        .await
        .unwrap();
    }
    h.creds("app-1").await.unwrap();
    assert_eq!(
        invalid_msg(h.creds("other").await),
        r#""other" is not an allowed role"#
    );
    assert_eq!(invalid_msg(h.creds("nope").await), "unknown role: nope");
}

fn role_path(name: &str) -> String {
    format!("roles/{name}")
}

#[tokio::test]
async fn config_write_verifies_the_connection() {
    let pg = PgServer::start();
    let h = Harness::new().await;
    let msg = invalid_msg(
        h.write(
            "config/pg",
            json!({"plugin_name": "postgresql-database-plugin", "connection_url": pg.url_with_template(),
                   "username": pg.admin_user(), "password": "wrong-password"}),
        )
        .await,
    );
    assert!(msg.contains("password authentication failed"), "{msg}");
    assert!(!msg.contains("wrong-password"), "{msg}");
    let closed = testkit::free_port();
    let msg = invalid_msg(
        h.write(
            "config/pg",
            json!({"plugin_name": "postgresql-database-plugin",
                   "connection_url": format!("postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{closed}/postgres"),
                   "username": "u", "password": "p"}),
        )
        .await,
    );
    assert!(msg.contains("error verifying connection"), "{msg}");
    assert!(matches!(
        h.read("config/pg").await,
        Err(EngineError::NotFound)
    ));
    // Without verification the same write is stored.
    h.write(
        "config/pg",
        json!({"plugin_name": "postgresql-database-plugin", "connection_url": pg.url_with_template(),
               "username": pg.admin_user(), "password": "wrong-password", "verify_connection": false}),
    )
    .await
    .unwrap();
    // reset reconnects with the stored settings, and fails loudly while they are wrong.
    let (msg, retryable) = upstream(h.write("reset/pg", json!({})).await);
    assert!(
        !retryable && msg.contains("password authentication failed"),
        "{msg}"
    );
    h.write("config/pg", json!({"password": pg.admin_password()}))
        .await
        .unwrap();
    h.write("reset/pg", json!({})).await.unwrap();
}

#[tokio::test]
async fn username_template_length_is_checked_at_role_write() {
    let pg = PgServer::start();
    let h = Harness::new().await;
    configure(
        &h,
        &pg,
        json!({"username_template": "{{ .RoleName }}-{{ random 60 }}"}),
    )
    .await;
    let msg = invalid_msg(
        h.write(
            "roles/long",
            json!({"db_name": "pg", "creation_statements": CREATION}),
        )
        .await,
    );
    assert!(msg.contains("63"), "{msg}");
    configure(
        &h,
        &pg,
        json!({"username_template": "app_{{ .RoleName }}_{{ random 8 | lowercase }}"}),
    )
    .await;
    h.write(
        "roles/short",
        json!({"db_name": "pg", "creation_statements": CREATION}),
    )
    .await
    .unwrap();
    let c = h.creds("short").await.unwrap();
    assert!(c.username.starts_with("app_short_"), "{}", c.username);
    assert!(role_exists(&pg, &c.username));
}

#[tokio::test]
async fn rotate_root_locks_out_the_old_password() {
    let pg = PgServer::start();
    let h = setup(&pg).await;
    let before = h.creds("ro").await.unwrap();
    h.write("rotate-root/pg", json!({})).await.unwrap();
    let err = pg
        .psql_as(pg.admin_user(), pg.admin_password(), "SELECT 1")
        .unwrap_err();
    assert!(err.contains("password authentication failed"), "{err}");
    // The engine keeps working with the password only it knows, for new and old leases alike.
    let after = h.creds("ro").await.unwrap();
    pg.psql_as(&after.username, &after.password, "SELECT 1")
        .unwrap();
    h.revoke(&before.secret).await.unwrap();
    assert!(!role_exists(&pg, &before.username));
    let shown = h.read("config/pg").await.unwrap();
    assert!(shown["connection_details"].get("password").is_none());
    // And again.
    h.write("rotate-root/pg", json!({})).await.unwrap();
    h.creds("ro").await.unwrap();
    h.write("reset/pg", json!({})).await.unwrap();
}

#[tokio::test]
async fn static_role_rotation() {
    let pg = PgServer::start();
    pg.psql("CREATE ROLE app_static WITH LOGIN PASSWORD 'initial-pw'");
    let h = Harness::new().await;
    configure(&h, &pg, json!({})).await;
    h.write(
        "static-roles/app",
        json!({"db_name": "pg", "username": "app_static", "rotation_period": "1h"}),
    )
    .await
    .unwrap();
    let creds = h.read("static-creds/app").await.unwrap();
    assert_eq!(creds["username"], "app_static");
    assert_eq!(creds["rotation_period"], 3600);
    let ttl = creds["ttl"].as_u64().unwrap();
    assert!((3590..=3600).contains(&ttl), "ttl {ttl}");
    assert!(creds["last_vault_rotation"].is_string());
    let first = creds["password"].as_str().unwrap().to_owned();
    assert!(
        pg.psql_as("app_static", "initial-pw", "SELECT 1").is_err(),
        "import rotation did not happen"
    );
    pg.psql_as("app_static", &first, "SELECT 1").unwrap();

    h.write("rotate-role/app", json!({})).await.unwrap();
    let second = h.read("static-creds/app").await.unwrap()["password"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(first, second);
    pg.psql_as("app_static", &second, "SELECT 1").unwrap();
    assert!(pg.psql_as("app_static", &first, "SELECT 1").is_err());

    // Not due yet: the tick leaves it alone; an hour later it rotates.
    h.periodic().await.unwrap();
    assert_eq!(
        h.read("static-creds/app").await.unwrap()["password"],
        second.as_str()
    );
    h.advance(Duration::from_secs(3601));
    h.periodic().await.unwrap();
    let third = h.read("static-creds/app").await.unwrap()["password"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(third, second);
    pg.psql_as("app_static", &third, "SELECT 1").unwrap();

    let role = h.read("static-roles/app").await.unwrap();
    assert_eq!(role["username"], "app_static");
    assert_eq!(role["rotation_period"], 3600);
    assert!(role.get("password").is_none());
    let keys = h
        .call(Operation::List, "static-roles/", json!({}))
        .await
        .unwrap();
    assert_eq!(keys.data.unwrap()["keys"], json!(["app"]));
    h.delete("static-roles/app").await.unwrap();
    assert_eq!(
        invalid_msg(h.read("static-creds/app").await),
        "unknown role: app"
    );
    assert!(
        role_exists(&pg, "app_static"),
        "deleting a static role leaves the user"
    );
}

#[tokio::test]
async fn static_role_rotation_failure_is_recorded_and_retried() {
    let pg = PgServer::start();
    pg.psql("CREATE ROLE flaky WITH LOGIN PASSWORD 'initial-pw'");
    let h = Harness::new().await;
    configure(&h, &pg, json!({})).await;
    h.write(
        "static-roles/flaky",
        json!({"db_name": "pg", "username": "flaky", "rotation_period": 60}),
    )
    .await
    .unwrap();
    let good = h.read("static-creds/flaky").await.unwrap()["password"]
        .as_str()
        .unwrap()
        .to_owned();
    pg.stop();
    let (msg, retryable) = upstream(h.write("rotate-role/flaky", json!({})).await);
    assert!(retryable, "{msg}");
    let creds = h.read("static-creds/flaky").await.unwrap();
    assert_eq!(
        creds["password"],
        good.as_str(),
        "a failed rotation keeps the password"
    );
    assert!(creds["last_rotation_error"].is_string());
    assert!(creds["next_rotation_attempt"].is_string());
    assert!(creds["ttl"].as_u64().unwrap() <= 10);
    pg.restart();
    h.advance(Duration::from_secs(11));
    h.periodic().await.unwrap();
    let creds = h.read("static-creds/flaky").await.unwrap();
    assert!(creds.get("last_rotation_error").is_none(), "{creds:?}");
    let new = creds["password"].as_str().unwrap();
    assert_ne!(new, good);
    pg.psql_as("flaky", new, "SELECT 1").unwrap();
}

#[tokio::test]
async fn static_role_with_schedule_and_skip_import() {
    let pg = PgServer::start();
    pg.psql("CREATE ROLE sched WITH LOGIN PASSWORD 'keep-me'");
    let h = Harness::new().await;
    configure(&h, &pg, json!({})).await;
    h.write(
        "static-roles/sched",
        json!({"db_name": "pg", "username": "sched", "rotation_schedule": "0 * * * *",
               "rotation_window": "2h", "skip_import_rotation": true}),
    )
    .await
    .unwrap();
    pg.psql_as("sched", "keep-me", "SELECT 1").unwrap();
    let creds = h.read("static-creds/sched").await.unwrap();
    assert_eq!(creds["rotation_schedule"], "0 * * * *");
    assert_eq!(creds["rotation_window"], 7200);
    assert!(creds["ttl"].as_u64().unwrap() <= 3600);
    h.advance(Duration::from_secs(3601));
    h.periodic().await.unwrap();
    let pw = h.read("static-creds/sched").await.unwrap()["password"]
        .as_str()
        .unwrap()
        .to_owned();
    pg.psql_as("sched", &pw, "SELECT 1").unwrap();
    assert!(pg.psql_as("sched", "keep-me", "SELECT 1").is_err());
}

/// White-box: a crash between changing the root password and storing it leaves a `rotate-root-pending`
/// entry; the next use of the connection settles it either way.
#[tokio::test]
async fn interrupted_root_rotation_is_settled_on_next_use() {
    use engine_sdk::Storage as _;

    let pg = PgServer::start();
    let h = setup(&pg).await;
    let pending = |new: &str| {
        serde_json::to_vec(&json!({
            "version": 1, "username": pg.admin_user(), "old_password": pg.admin_password(),
            "new_password": new, "started": 0,
        }))
        .unwrap()
    };

    // Crashed before the database changed: rolled back, the stored password stays.
    h.view
        .put("rotate-root-pending/pg", &pending("never-applied-1"))
        .await
        .unwrap();
    h.write("reset/pg", json!({})).await.unwrap();
    assert!(
        h.view
            .get("rotate-root-pending/pg")
            .await
            .unwrap()
            .is_none()
    );
    h.creds("ro").await.unwrap();

    // Crashed after the database changed: rolled forward to the new password.
    pg.psql("ALTER ROLE postgres PASSWORD 'applied-but-not-stored-1'");
    h.view
        .put(
            "rotate-root-pending/pg",
            &pending("applied-but-not-stored-1"),
        )
        .await
        .unwrap();
    h.write("reset/pg", json!({})).await.unwrap();
    assert!(
        h.view
            .get("rotate-root-pending/pg")
            .await
            .unwrap()
            .is_none()
    );
    let c = h.creds("ro").await.unwrap();
    pg.psql_as(&c.username, &c.password, "SELECT 1").unwrap();

    // The periodic tick settles a stale entry too (here: another forward roll).
    pg.psql("ALTER ROLE postgres PASSWORD 'applied-but-not-stored-2'");
    let mut entry: serde_json::Value =
        serde_json::from_slice(&pending("applied-but-not-stored-2")).unwrap();
    entry["old_password"] = json!("applied-but-not-stored-1");
    h.view
        .put(
            "rotate-root-pending/pg",
            &serde_json::to_vec(&entry).unwrap(),
        )
        .await
        .unwrap();
    h.periodic().await.unwrap();
    assert!(
        h.view
            .get("rotate-root-pending/pg")
            .await
            .unwrap()
            .is_none()
    );
    h.write("reset/pg", json!({})).await.unwrap();
    h.creds("ro").await.unwrap();
}

/// A CA and a server certificate for `names`, as PEM: (ca, server cert, server key).
fn certificates(names: &[&str]) -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).unwrap();
    let leaf = params.signed_by(&key, &ca).unwrap();
    (ca.pem(), leaf.pem(), key.serialize_pem())
}

#[tokio::test]
async fn tls_modes() {
    let pg = PgServer::start();
    // The server's certificate names another host, so only a name-blind check accepts it.
    let (ca, cert, key) = certificates(&["db.example"]);
    let (other_ca, ..) = certificates(&["db.example"]);
    let dir = tempfile::tempdir().unwrap();
    let path = |f: &str| dir.path().join(f).display().to_string();
    std::fs::write(path("server.pem"), cert).unwrap();
    std::fs::write(path("server.key"), key).unwrap();
    std::fs::write(path("ca.pem"), &ca).unwrap();
    std::fs::write(path("other-ca.pem"), other_ca).unwrap();
    let status = std::process::Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::set_permissions(
        path("server.key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    pg.psql(&format!(
        "ALTER SYSTEM SET ssl_cert_file = '{}'",
        path("server.pem")
    ));
    pg.psql(&format!(
        "ALTER SYSTEM SET ssl_key_file = '{}'",
        path("server.key")
    ));
    pg.psql("ALTER SYSTEM SET ssl = on");
    pg.psql("SELECT pg_reload_conf()");
    let on = testkit::poll_blocking(Duration::from_secs(30), || {
        (pg.psql("SHOW ssl") == "on").then_some(())
    });
    assert!(on.is_some(), "ssl never turned on\n{}", pg.log());
    pg.psql("CREATE TABLE seen (ssl boolean); GRANT INSERT ON seen TO PUBLIC");

    let h = Harness::new().await;
    let url = |query: &str| {
        format!(
            "postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{}/postgres?{query}",
            pg.port()
        )
    };
    let write = |query: String| {
        let h = &h;
        let pg = &pg;
        async move {
            h.write(
                "config/pg",
                json!({"plugin_name": "postgresql-database-plugin", "connection_url": query,
                       "username": pg.admin_user(), "password": pg.admin_password(), "allowed_roles": "*"}),
            )
            .await
        }
    };
    let ca_file = path("ca.pem");
    let other_file = path("other-ca.pem");
    // Name checked: refused. Chain only: accepted. Unknown CA: refused either way.
    let msg = invalid_msg(write(url(&format!("sslmode=verify-full&sslrootcert={ca_file}"))).await);
    assert!(msg.contains("error verifying connection"), "{msg}");
    write(url(&format!("sslmode=verify-ca&sslrootcert={ca_file}")))
        .await
        .unwrap();
    invalid_msg(write(url(&format!("sslmode=verify-ca&sslrootcert={other_file}"))).await);
    // Encryption without authentication, and proof that the engine's own session is encrypted.
    write(url("sslmode=require")).await.unwrap();
    h.write(
        "roles/tls",
        json!({"db_name": "pg", "creation_statements": [
            CREATION,
            "INSERT INTO seen SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        ]}),
    )
    .await
    .unwrap();
    let c = h.creds("tls").await.unwrap();
    assert_eq!(pg.psql("SELECT ssl FROM seen"), "t");
    h.revoke(&c.secret).await.unwrap();
    // Keyword/value form with TLS turned off.
    h.write(
        "config/pg",
        json!({"connection_url": format!(
            "host=127.0.0.1 port={} dbname=postgres user={{{{username}}}} password={{{{password}}}} sslmode=disable",
            pg.port())}),
    )
    .await
    .unwrap();
    h.creds("tls").await.unwrap();
    assert_eq!(
        pg.psql("SELECT string_agg(ssl::text, ',' ORDER BY ssl) FROM seen"),
        "false,true"
    );
}
