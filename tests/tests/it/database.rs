//! Dynamic database credentials end to end: the real `bao` CLI and hvac drive Coffer's `database` engine against
//! throwaway PostgreSQL and MariaDB servers; checks read `pg_roles` / `mysql.user` and log in with the issued
//! credentials. The lease manager's expiry, renewal caps, revoke-prefix, database outages and irrevocable leases
//! are exercised here.

use std::time::Duration;

use serde_json::{Value, json};
use testkit::db::{MariaServer, PgServer};
use testkit::{Bao, TestServer, wait_until_true};

use crate::support::str_at;

const CREATE_PG: &str = "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"{{name}}\";";

/// A Coffer dev server with the database engine at `database/`, connection `pg` and role `ro`.
async fn pg_setup(pg: &PgServer, server: &TestServer, role_args: &[&str]) -> Bao {
    let bao = server.bao();
    bao.run(&["secrets", "enable", "database"])
        .await
        .expect_code(0, "enable database");
    bao.run(&[
        "write",
        "database/config/pg",
        "plugin_name=postgresql-database-plugin",
        &format!("connection_url={}", pg.url_with_template()),
        &format!("username={}", pg.admin_user()),
        &format!("password={}", pg.admin_password()),
        "allowed_roles=ro,short,broken,app",
    ])
    .await
    .expect_code(0, "write the connection");
    let mut args = vec![
        "write",
        "database/roles/ro",
        "db_name=pg",
        "default_ttl=1h",
        "max_ttl=2h",
    ];
    let creation = format!("creation_statements={CREATE_PG}");
    args.push(&creation);
    args.extend_from_slice(role_args);
    bao.run(&args).await.expect_code(0, "write the role");
    bao
}

fn pg_role_exists(pg: &PgServer, name: &str) -> bool {
    pg.psql(&format!(
        "SELECT count(*) FROM pg_roles WHERE rolname = '{name}'"
    ))
    .trim()
        == "1"
}

fn creds(out: &Value) -> (String, String, String) {
    (
        str_at(out, "/lease_id"),
        str_at(out, "/data/username"),
        str_at(out, "/data/password"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_credentials_login_renew_and_revoke_with_bao() {
    let pg = PgServer::start();
    let server = TestServer::dev().await;
    let bao = pg_setup(&pg, &server, &[]).await;

    let out = bao
        .run(&["read", "-format=json", "database/creds/ro"])
        .await;
    out.expect_code(0, "read creds");
    let (lease_id, user, password) = creds(&out.json());
    assert!(lease_id.starts_with("database/creds/ro/"), "{lease_id}");
    assert!(
        user.starts_with("v-"),
        "OpenBao's username template: {user}"
    );
    assert_eq!(out.json()["lease_duration"], 3600);
    assert!(pg_role_exists(&pg, &user));
    assert_eq!(
        pg.psql_as(&user, &password, "SELECT 1")
            .expect("the issued user logs in")
            .trim(),
        "1"
    );

    // Renewal moves VALID UNTIL; an increment past max_ttl is capped with OpenBao's warning.
    let before = pg.psql(&format!(
        "SELECT rolvaliduntil FROM pg_roles WHERE rolname = '{user}'"
    ));
    let out = bao
        .run(&["lease", "renew", "-format=json", "-increment=3h", &lease_id])
        .await;
    out.expect_code(0, "renew");
    let renewed = out.json();
    let duration = renewed["lease_duration"].as_u64().unwrap_or_default();
    assert!(
        (7100..=7200).contains(&duration),
        "capped at max_ttl: {renewed}"
    );
    assert!(
        renewed["warnings"]
            .to_string()
            .contains("exceeded the effective max_ttl"),
        "{renewed}"
    );
    let after = pg.psql(&format!(
        "SELECT rolvaliduntil FROM pg_roles WHERE rolname = '{user}'"
    ));
    assert_ne!(before, after, "renewal moved VALID UNTIL");

    let out = bao
        .run(&["lease", "lookup", "-format=json", &lease_id])
        .await;
    out.expect_code(0, "lookup");
    assert_eq!(str_at(&out.json(), "/data/id"), lease_id);
    assert_eq!(str_at(&out.json(), "/data/path"), "database/creds/ro");

    // A renewal within max_ttl answers the lease (not an empty 204).
    let out = bao
        .run(&["lease", "renew", "-increment=30m", &lease_id])
        .await;
    out.expect_code(0, "renew within max_ttl");
    assert!(
        out.stdout.contains("lease_duration") && out.stdout.contains("30m"),
        "{}",
        out.stdout
    );

    bao.run(&["lease", "revoke", "-sync", &lease_id])
        .await
        .expect_code(0, "revoke");
    assert!(!pg_role_exists(&pg, &user), "revocation dropped the role");
    let out = bao.run(&["lease", "renew", &lease_id]).await;
    assert_eq!(
        out.code, 2,
        "renewing a revoked lease fails: {}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn short_lease_drops_the_role_by_itself_and_prefix_revocation_with_hvac() {
    let pg = PgServer::start();
    let server = TestServer::dev().await;
    let bao = pg_setup(&pg, &server, &[]).await;
    bao.run(&[
        "write",
        "database/roles/short",
        "db_name=pg",
        "default_ttl=3s",
        &format!("creation_statements={CREATE_PG}"),
    ])
    .await
    .expect_code(0, "short role");
    let (_, short_user, _) = creds(
        &bao.run(&["read", "-format=json", "database/creds/short"])
            .await
            .json(),
    );
    assert!(pg_role_exists(&pg, &short_user));
    wait_until_true(
        Duration::from_secs(30),
        "the 3 s lease's role to be dropped",
        || async { !pg_role_exists(&pg, &short_user) },
    )
    .await;

    // hvac issues five credentials; revoke-prefix drops them all.
    let hvac = server.hvac();
    let users = hvac
        .run(
            r#"
users = []
for _ in range(5):
    r = client.secrets.database.generate_credentials(name="ro")
    users.append(r["data"]["username"])
out(users)
"#,
        )
        .await;
    let users: Vec<String> = users
        .as_array()
        .expect("a list of users")
        .iter()
        .map(|u| u.as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(users.len(), 5);
    assert!(users.iter().all(|u| pg_role_exists(&pg, u)));
    bao.run(&["lease", "revoke", "-prefix", "-sync", "database/creds/ro"])
        .await
        .expect_code(0, "revoke-prefix");
    for u in &users {
        assert!(!pg_role_exists(&pg, u), "{u} survived revoke-prefix");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn leases_expiring_while_the_database_is_down_are_revoked_when_it_returns() {
    let pg = PgServer::start();
    let server = TestServer::dev().await;
    let bao = pg_setup(&pg, &server, &[]).await;
    bao.run(&[
        "write",
        "database/roles/short",
        "db_name=pg",
        "default_ttl=2s",
        &format!("creation_statements={CREATE_PG}"),
    ])
    .await
    .expect_code(0, "short role");
    let mut users = Vec::new();
    for _ in 0..3 {
        let (_, user, _) = creds(
            &bao.run(&["read", "-format=json", "database/creds/short"])
                .await
                .json(),
        );
        users.push(user);
    }
    pg.stop();
    // The leases expire and their revocation fails while the database is down.
    wait_until_true(
        Duration::from_secs(30),
        "a failed revocation attempt",
        || async { server.log().contains("lease revocation failed; will retry") },
    )
    .await;
    pg.restart();
    wait_until_true(
        Duration::from_secs(60),
        "every role to be dropped after the restart",
        || async { users.iter().all(|u| !pg_role_exists(&pg, u)) },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_revocation_sql_makes_the_lease_irrevocable_and_listed() {
    let pg = PgServer::start();
    let mut server = TestServer::builder_durable()
        .extra_hcl("lease_revocation_max_attempts = 2\n")
        .start()
        .await
        .expect("server starts");
    let init = server.init(1, 1).await;
    server.unseal_with(&init.keys).await;
    let bao = pg_setup(&pg, &server, &[]).await;
    bao.run(&[
        "write",
        "database/roles/broken",
        "db_name=pg",
        "default_ttl=1s",
        &format!("creation_statements={CREATE_PG}"),
        "revocation_statements=DROP ROLE \"{{name}}\" CASCADE NONSENSE;",
    ])
    .await
    .expect_code(0, "broken role");
    let (lease_id, user, _) = creds(
        &bao.run(&["read", "-format=json", "database/creds/broken"])
            .await
            .json(),
    );
    let api = server.api();
    let listed = testkit::wait_until(
        Duration::from_secs(90),
        "the lease to be irrevocable",
        || async {
            let (status, body) = api.get("sys/leases?type=irrevocable").await;
            (status == 200 && body["data"]["lease_count"] == 1).then_some(body)
        },
    )
    .await;
    assert_eq!(str_at(&listed, "/data/leases/0/lease_id"), lease_id);
    assert!(
        listed["data"]["leases"][0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("syntax error"),
        "the reason is kept: {listed}"
    );
    let (status, body) = api.get("sys/leases/count?type=irrevocable").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["lease_count"], 1, "{body}");
    assert!(pg_role_exists(&pg, &user), "the role is still there");
    // Counted in sys/metrics too.
    let (status, metrics) = api.get("sys/metrics").await;
    assert_eq!(status, 200, "{metrics}");
    let series = |kind: &str, name: &str, field: &str| {
        metrics[kind]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["Name"] == name))
            .map_or(-1.0, |s| s[field].as_f64().unwrap_or(-1.0))
    };
    assert_eq!(
        series("Gauges", "vault.expire.num_irrevocable_leases", "Value"),
        1.0,
        "{metrics}"
    );
    assert!(
        series("Counters", "vault.expire.revoke_failure", "Count") >= 2.0,
        "{metrics}"
    );
    // Disabling the mount refuses while the lease cannot be revoked, and forgets it with force.
    let (status, body) = api.delete("sys/mounts/database").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("force=true"), "{body}");
    let (status, body) = api.delete("sys/mounts/database?force=true").await;
    assert_eq!(status, 204, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn mariadb_credentials_with_bao() {
    let db = MariaServer::start();
    let server = TestServer::dev().await;
    let bao = server.bao();
    bao.run(&["secrets", "enable", "database"])
        .await
        .expect_code(0, "enable database");
    bao.run(&[
        "write",
        "database/config/my",
        "plugin_name=mysql-database-plugin",
        &format!("connection_url={}", db.url_with_template()),
        &format!("username={}", db.admin_user()),
        &format!("password={}", db.admin_password()),
        "allowed_roles=app",
    ])
    .await
    .expect_code(0, "write the connection");
    bao.run(&[
        "write",
        "database/roles/app",
        "db_name=my",
        "default_ttl=1h",
        "creation_statements=CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; GRANT SELECT ON *.* TO '{{name}}'@'%';",
    ])
    .await
    .expect_code(0, "write the role");
    let out = bao
        .run(&["read", "-format=json", "database/creds/app"])
        .await;
    out.expect_code(0, "read creds");
    let (lease_id, user, password) = creds(&out.json());
    assert!(user.len() <= 32, "{user}");
    assert_eq!(
        db.mariadb_as(&user, &password, "SELECT 1")
            .expect("the issued user logs in")
            .trim(),
        "1"
    );
    bao.run(&["lease", "revoke", "-sync", &lease_id])
        .await
        .expect_code(0, "revoke");
    assert_eq!(
        db.mariadb(&format!(
            "SELECT count(*) FROM mysql.user WHERE user = '{user}'"
        ))
        .trim(),
        "0",
        "revocation dropped the user"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_database_input_gets_clear_errors() {
    let pg = PgServer::start();
    let server = TestServer::dev().await;
    let _bao = pg_setup(&pg, &server, &[]).await;
    let api = server.api();
    // Unknown role → 400.
    let (status, body) = api.get("database/creds/nope").await;
    assert_eq!(status, 400, "{body}");
    // A role the connection does not allow → 400 with a message (OpenBao answers 500).
    let (status, body) = api
        .post(
            "database/roles/other",
            json!({"db_name": "pg", "creation_statements": CREATE_PG}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = api.get("database/creds/other").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("allowed"), "{body}");
    // A wrong password at config write → 400 naming the database's complaint.
    let (status, body) = api
        .post(
            "database/config/bad",
            json!({
                "plugin_name": "postgresql-database-plugin",
                "connection_url": pg.url_with_template(),
                "username": pg.admin_user(),
                "password": "wrong",
            }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string().contains("password authentication failed"),
        "{body}"
    );
}

/// Issues `n` credentials of `role` over HTTP, 16 at a time; returns the usernames.
async fn issue_many(api: &testkit::Api, role: &str, n: usize) -> Vec<String> {
    use futures::StreamExt as _;
    futures::stream::iter(0..n)
        .map(|_| {
            let api = api.clone();
            let path = format!("database/creds/{role}");
            async move {
                let (status, body) = api.get(&path).await;
                assert_eq!(status, 200, "{path}: {body}");
                str_at(&body, "/data/username")
            }
        })
        .buffer_unordered(16)
        .collect()
        .await
}

fn pg_roles_like(pg: &PgServer, prefix: &str) -> usize {
    pg.psql(&format!(
        "SELECT count(*) FROM pg_roles WHERE rolname LIKE '{prefix}%'"
    ))
    .trim()
    .parse()
    .unwrap_or(usize::MAX)
}

#[tokio::test(flavor = "multi_thread")]
async fn leases_survive_kill9_and_expire_on_time_after_restart() {
    const EARLY: &str = "v-root-short-";
    const LATE: &str = "v-root-ro-";
    let pg = PgServer::start();
    let mut server = TestServer::builder_durable()
        .start()
        .await
        .expect("server starts");
    let init = server.init(1, 1).await;
    server.unseal_with(&init.keys).await;
    let _bao = pg_setup(&pg, &server, &[]).await;
    let api = server.api();
    // Two roles (OpenBao's default usernames `v-<display>-<role>-…` tell them apart): one expires while the
    // server is down, one after the restart.
    for (role, ttl) in [("short", "15s"), ("ro", "45s")] {
        let (status, body) = api
            .post(
                &format!("database/roles/{role}"),
                json!({
                    "db_name": "pg",
                    "default_ttl": ttl,
                    "creation_statements": CREATE_PG,
                }),
            )
            .await;
        assert_eq!(status, 204, "{body}");
    }
    let early = issue_many(&api, "short", 500).await;
    let late = issue_many(&api, "ro", 500).await;
    assert!(
        early.iter().all(|u| u.starts_with(EARLY)),
        "{:?}",
        early.first()
    );
    assert!(
        late.iter().all(|u| u.starts_with(LATE)),
        "{:?}",
        late.first()
    );
    assert_eq!(pg_roles_like(&pg, EARLY), 500);
    assert_eq!(pg_roles_like(&pg, LATE), 500);

    server.kill9().await;
    // Stay down until the short leases have expired.
    tokio::time::sleep(Duration::from_secs(16)).await;
    server.start_again().await;
    server.unseal_with(&init.keys).await;
    let api = server.api();
    let (status, body) = api.get("sys/health").await;
    assert_eq!(status, 200, "serving at once after unseal: {body}");

    wait_until_true(
        Duration::from_secs(60),
        "the leases that expired during the downtime to be revoked",
        || async { pg_roles_like(&pg, EARLY) == 0 },
    )
    .await;
    assert_eq!(
        pg_roles_like(&pg, LATE),
        500,
        "live leases are not revoked early"
    );
    wait_until_true(
        Duration::from_secs(90),
        "the live leases to expire on time",
        || async { pg_roles_like(&pg, LATE) == 0 },
    )
    .await;
    let (status, body) = api.get("sys/leases/count").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["lease_count"], 0, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn lease_count_quota_caps_live_credentials() {
    let pg = PgServer::start();
    let server = TestServer::dev().await;
    let bao = pg_setup(&pg, &server, &[]).await;
    bao.run(&[
        "write",
        "sys/quotas/lease-count/ro-cap",
        "path=database/creds/ro",
        "max_leases=2",
    ])
    .await
    .expect_code(0, "write the quota");
    let api = server.api();
    let mut leases = Vec::new();
    for _ in 0..2 {
        let (status, body) = api.get("database/creds/ro").await;
        assert_eq!(status, 200, "{body}");
        leases.push(str_at(&body, "/lease_id"));
    }
    let roles_before = pg_roles_like(&pg, "v-root-ro-");
    let (status, body) = api.get("database/creds/ro").await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body.to_string().contains("lease count quota exceeded"),
        "{body}"
    );
    assert_eq!(
        pg_roles_like(&pg, "v-root-ro-"),
        roles_before,
        "a refused request creates no database role"
    );
    let (status, body) = api.get("sys/quotas/lease-count/ro-cap").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["counter"], 2, "{body}");
    assert_eq!(body["data"]["max_leases"], 2, "{body}");

    bao.run(&["lease", "revoke", "-sync", &leases[0]])
        .await
        .expect_code(0, "revoke one");
    let (status, body) = api.get("database/creds/ro").await;
    assert_eq!(status, 200, "a slot is free again: {body}");
    let (status, body) = api.delete("sys/quotas/lease-count/ro-cap").await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = api.get("database/creds/ro").await;
    assert_eq!(status, 200, "no quota, no cap: {body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tokens_leases_go_with_it_on_revocation_and_on_expiry() {
    let pg = PgServer::start();
    let server = TestServer::dev().await;
    let _bao = pg_setup(&pg, &server, &[]).await;
    let root = server.api();
    let mut users = Vec::new();
    for ttl in ["1h", "3s"] {
        let (status, body) = root
            .post(
                "auth/token/create",
                json!({"ttl": ttl, "policies": ["root"]}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let token = str_at(&body, "/auth/client_token");
        let (status, body) = root.with_token(Some(&token)).get("database/creds/ro").await;
        assert_eq!(status, 200, "{body}");
        let user = str_at(&body, "/data/username");
        assert!(pg_role_exists(&pg, &user));
        users.push((token, user));
    }
    // Revoking the first token revokes its lease (the worker drops the role).
    let (status, body) = root
        .post("auth/token/revoke", json!({"token": users[0].0}))
        .await;
    assert_eq!(status, 204, "{body}");
    wait_until_true(
        Duration::from_secs(30),
        "the revoked token's role to be dropped",
        || async { !pg_role_exists(&pg, &users[0].1) },
    )
    .await;
    // The second token expires by itself; its lease goes with it.
    wait_until_true(
        Duration::from_secs(30),
        "the expired token's role to be dropped",
        || async { !pg_role_exists(&pg, &users[1].1) },
    )
    .await;
    let (status, body) = root
        .post("auth/token/lookup", json!({"token": users[1].0}))
        .await;
    assert_eq!(status, 403, "the expired token is gone: {body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn static_role_rotation_and_root_rotation_with_bao() {
    let pg = PgServer::start();
    let server = TestServer::dev().await;
    let bao = pg_setup(&pg, &server, &[]).await;
    pg.psql("CREATE ROLE app_static WITH LOGIN PASSWORD 'initial-pw'");
    bao.run(&[
        "write",
        "database/static-roles/app",
        "db_name=pg",
        "username=app_static",
        "rotation_period=1h",
    ])
    .await
    .expect_code(0, "write the static role");
    // Imported with a rotation: the initial password no longer works, the issued one does.
    let out = bao
        .run(&["read", "-format=json", "database/static-creds/app"])
        .await;
    out.expect_code(0, "static creds");
    let creds_json = out.json();
    let first = str_at(&creds_json, "/data/password");
    assert_eq!(str_at(&creds_json, "/data/username"), "app_static");
    assert!(
        creds_json["data"]["ttl"].as_u64().unwrap_or_default() > 3500,
        "{creds_json}"
    );
    assert!(pg.psql_as("app_static", "initial-pw", "SELECT 1").is_err());
    assert_eq!(
        pg.psql_as("app_static", &first, "SELECT 1")
            .expect("rotated password")
            .trim(),
        "1"
    );

    bao.run(&["write", "-f", "database/rotate-role/app"])
        .await
        .expect_code(0, "rotate-role");
    let second = str_at(
        &bao.run(&["read", "-format=json", "database/static-creds/app"])
            .await
            .json(),
        "/data/password",
    );
    assert_ne!(first, second);
    assert!(
        pg.psql_as("app_static", &first, "SELECT 1").is_err(),
        "the old password stops working"
    );
    assert_eq!(
        pg.psql_as("app_static", &second, "SELECT 1")
            .expect("new password")
            .trim(),
        "1"
    );

    // rotate-root: the old root password stops working and the engine keeps working.
    bao.run(&["write", "-f", "database/rotate-root/pg"])
        .await
        .expect_code(0, "rotate-root");
    assert!(
        pg.psql_as(pg.admin_user(), pg.admin_password(), "SELECT 1")
            .is_err(),
        "the old root password is rotated away"
    );
    let out = bao
        .run(&["read", "-format=json", "database/creds/ro"])
        .await;
    out.expect_code(0, "creds after rotate-root");
    let (lease_id, user, _) = creds(&out.json());
    assert!(pg_role_exists(&pg, &user));
    bao.run(&["lease", "revoke", "-sync", &lease_id])
        .await
        .expect_code(0, "revoke after rotate-root");
    assert!(!pg_role_exists(&pg, &user));
}

#[tokio::test(flavor = "multi_thread")]
async fn static_role_password_rotates_on_its_period() {
    let pg = PgServer::start();
    let server = TestServer::dev().await;
    let bao = pg_setup(&pg, &server, &[]).await;
    pg.psql("CREATE ROLE app_static WITH LOGIN PASSWORD 'initial-pw'");
    bao.run(&[
        "write",
        "database/static-roles/app",
        "db_name=pg",
        "username=app_static",
        "rotation_period=5s",
    ])
    .await
    .expect_code(0, "write the static role");
    let api = server.api();
    let read = || async {
        let (status, body) = api.get("database/static-creds/app").await;
        assert_eq!(status, 200, "{body}");
        str_at(&body, "/data/password")
    };
    let first = read().await;
    let rotated = testkit::wait_until(
        Duration::from_secs(60),
        "a rotation on schedule",
        || async {
            let now = read().await;
            (now != first).then_some(now)
        },
    )
    .await;
    assert!(pg.psql_as("app_static", &first, "SELECT 1").is_err());
    assert_eq!(
        pg.psql_as("app_static", &rotated, "SELECT 1")
            .expect("rotated")
            .trim(),
        "1"
    );
}
