//! The engine against a real MariaDB (the MySQL plugins).

use std::time::Duration;

use serde_json::json;
use testkit::MariaServer;

use crate::harness::{Harness, invalid_msg, upstream};

/// OpenBao's documented MySQL example.
const CREATION: &str = "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; GRANT SELECT ON *.* TO '{{name}}'@'%';";

async fn setup(db: &MariaServer, plugin: &str) -> Harness {
    db.mariadb("CREATE DATABASE app; CREATE TABLE app.fruit (name text); INSERT INTO app.fruit VALUES ('plum')");
    let h = Harness::new().await;
    h.write(
        "config/my",
        json!({"plugin_name": plugin, "connection_url": db.url_with_template(),
               "username": db.admin_user(), "password": db.admin_password(), "allowed_roles": ["ro", "half", "app"]}),
    )
    .await
    .unwrap();
    h.write(
        "roles/ro",
        json!({"db_name": "my", "creation_statements": CREATION, "default_ttl": 600}),
    )
    .await
    .unwrap();
    h
}

fn user_count(db: &MariaServer, name: &str) -> String {
    db.mariadb(&format!(
        "SELECT count(*) FROM mysql.user WHERE user = '{name}'"
    ))
}

#[tokio::test]
async fn creds_login_renew_and_revoke_with_default_statements() {
    let db = MariaServer::start();
    let h = setup(&db, "mysql-database-plugin").await;
    let c = h.creds("ro").await.unwrap();
    assert!(c.username.starts_with("v-token-ro-"), "{}", c.username);
    assert!(c.username.len() <= 32);
    assert_eq!(c.secret.ttl, Duration::from_secs(600));
    assert_eq!(
        db.mariadb_as(&c.username, &c.password, "SELECT name FROM app.fruit")
            .unwrap(),
        "plum"
    );
    // MySQL has no expiry to move: renewal just extends the lease.
    let renewed = h.renew(&c.secret, None).await.unwrap();
    assert_eq!(renewed.secret.unwrap().ttl, Duration::from_secs(600));

    h.revoke(&c.secret).await.unwrap();
    assert_eq!(user_count(&db, &c.username), "0");
    let err = db
        .mariadb_as(&c.username, &c.password, "SELECT 1")
        .unwrap_err();
    assert!(err.contains("Access denied"), "{err}");
    h.revoke(&c.secret).await.unwrap();
}

#[tokio::test]
async fn legacy_plugin_uses_short_names() {
    let db = MariaServer::start();
    let h = setup(&db, "mysql-legacy-database-plugin").await;
    let c = h.creds("ro").await.unwrap();
    assert_eq!(c.username.len(), 16, "{}", c.username);
    assert!(c.username.starts_with("v-ro-"), "{}", c.username);
    db.mariadb_as(&c.username, &c.password, "SELECT 1").unwrap();
    h.revoke(&c.secret).await.unwrap();
    assert_eq!(user_count(&db, &c.username), "0");
}

#[tokio::test]
async fn failed_creation_is_compensated() {
    let db = MariaServer::start();
    let h = setup(&db, "mysql-database-plugin").await;
    // CREATE USER commits on its own; the failing GRANT must not leave the user behind.
    h.write(
        "roles/half",
        json!({"db_name": "my", "creation_statements":
            "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; GRANT SELEC ON *.* TO '{{name}}'@'%';"}),
    )
    .await
    .unwrap();
    let (msg, retryable) = upstream(h.creds("half").await);
    assert!(!retryable);
    assert!(msg.contains("1064"), "{msg}");
    assert_eq!(
        db.mariadb("SELECT count(*) FROM mysql.user WHERE user LIKE 'v-token-half-%'"),
        "0"
    );
}

#[tokio::test]
async fn revoke_with_the_database_down_is_retryable() {
    let db = MariaServer::start();
    let h = setup(&db, "mysql-database-plugin").await;
    let c = h.creds("ro").await.unwrap();
    // Pooled connections that the restart cut are noticed and replaced, not handed out.
    db.restart();
    h.creds("ro").await.unwrap();
    h.delete("config/my").await.unwrap();
    db.stop();
    let (msg, retryable) = upstream(h.revoke(&c.secret).await);
    assert!(retryable, "{msg}");
    assert!(msg.contains("refused"), "{msg}");
    db.restart();
    h.revoke(&c.secret).await.unwrap();
    assert_eq!(user_count(&db, &c.username), "0");
}

#[tokio::test]
async fn bad_password_and_disallowed_role_are_client_errors() {
    let db = MariaServer::start();
    let h = setup(&db, "mysql-database-plugin").await;
    let msg = invalid_msg(
        h.write(
            "config/bad",
            json!({"plugin_name": "mysql-database-plugin", "connection_url": db.url_with_template(),
                   "username": db.admin_user(), "password": "nope-nope"}),
        )
        .await,
    );
    assert!(msg.contains("Access denied"), "{msg}");
    h.write(
        "roles/other",
        json!({"db_name": "my", "creation_statements": CREATION}),
    )
    .await
    .unwrap();
    assert_eq!(
        invalid_msg(h.creds("other").await),
        r#""other" is not an allowed role"#
    );
}

#[tokio::test]
async fn static_role_and_root_rotation() {
    let db = MariaServer::start();
    db.mariadb("CREATE USER 'svc'@'%' IDENTIFIED BY 'initial-pw'");
    let h = setup(&db, "mysql-database-plugin").await;
    h.write(
        "static-roles/app",
        json!({"db_name": "my", "username": "svc", "rotation_period": "24h"}),
    )
    .await
    .unwrap();
    let first = h.read("static-creds/app").await.unwrap()["password"]
        .as_str()
        .unwrap()
        .to_owned();
    db.mariadb_as("svc", &first, "SELECT 1").unwrap();
    assert!(db.mariadb_as("svc", "initial-pw", "SELECT 1").is_err());
    h.write("rotate-role/app", json!({})).await.unwrap();
    let second = h.read("static-creds/app").await.unwrap()["password"]
        .as_str()
        .unwrap()
        .to_owned();
    db.mariadb_as("svc", &second, "SELECT 1").unwrap();
    assert!(db.mariadb_as("svc", &first, "SELECT 1").is_err());

    h.write("rotate-root/my", json!({})).await.unwrap();
    let err = db
        .mariadb_as(db.admin_user(), db.admin_password(), "SELECT 1")
        .unwrap_err();
    assert!(err.contains("Access denied"), "{err}");
    let c = h.creds("ro").await.unwrap();
    db.mariadb_as(&c.username, &c.password, "SELECT 1").unwrap();
    h.revoke(&c.secret).await.unwrap();
    h.write("rotate-role/app", json!({})).await.unwrap();
}

/// MySQL commits each statement: when a later rotation statement fails, the password has changed all the
/// same. The engine must keep the password that now works (and say what failed), not the old one.
#[tokio::test]
async fn rotation_applied_before_a_failing_statement_keeps_the_new_password() {
    let db = MariaServer::start();
    db.mariadb("CREATE USER 'svc'@'%' IDENTIFIED BY 'initial-pw'");
    let h = setup(&db, "mysql-database-plugin").await;
    h.write(
        "static-roles/app",
        json!({"db_name": "my", "username": "svc", "rotation_period": "24h",
               "rotation_statements": [
                   "ALTER USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'",
                   "SELECT * FROM no_such_db.no_such_table"]}),
    )
    .await
    .unwrap();
    for round in 0..2 {
        let creds = h.read("static-creds/app").await.unwrap();
        let password = creds["password"].as_str().unwrap();
        db.mariadb_as("svc", password, "SELECT 1")
            .unwrap_or_else(|e| panic!("round {round}: the stored password does not log in: {e}"));
        let error = creds["last_rotation_error"].as_str().unwrap();
        assert!(error.contains("no_such_db"), "{error}");
        h.write("rotate-role/app", json!({})).await.unwrap();
    }
    assert!(db.mariadb_as("svc", "initial-pw", "SELECT 1").is_err());
}
