//! Request validation and response shapes that need no database (connections written with
//! `verify_connection=false`).

use engine_sdk::{EngineError, Operation};
use serde_json::{Value, json};

use crate::harness::{Harness, invalid_msg};

async fn config(h: &Harness) {
    h.write(
        "config/pg",
        json!({"plugin_name": "postgresql-database-plugin",
               "connection_url": "postgresql://{{username}}:{{password}}@127.0.0.1:1/postgres",
               "username": "vault", "password": "s3cret-pw", "verify_connection": false,
               "allowed_roles": "a,b,c,a2", "max_open_connections": 2}),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn config_shape_and_errors() {
    let h = Harness::new().await;
    config(&h).await;
    let data = h.read("config/pg").await.unwrap();
    assert_eq!(
        Value::Object(data.clone()),
        json!({
            "plugin_name": "postgresql-database-plugin",
            "plugin_version": "",
            "connection_details": {
                "connection_url": "postgresql://{{username}}:{{password}}@127.0.0.1:1/postgres",
                "username": "vault",
                "max_open_connections": 2,
            },
            "allowed_roles": ["a", "b", "c", "a2"],
            "root_credentials_rotate_statements": [],
            "password_policy": "",
        })
    );
    assert!(!serde_json::to_string(&data).unwrap().contains("s3cret-pw"));

    // An update merges into the stored details.
    h.write(
        "config/pg",
        json!({"verify_connection": false, "max_idle_connections": 1}),
    )
    .await
    .unwrap();
    let details = &h.read("config/pg").await.unwrap()["connection_details"];
    assert_eq!(details["max_open_connections"], 2);
    assert_eq!(details["max_idle_connections"], 1);

    // A literal password in the URL: warned about when written, redacted when read.
    let resp = h
        .write(
            "config/literal",
            json!({"plugin_name": "postgresql-database-plugin", "verify_connection": false,
                   "connection_url": "postgres://vault:hunter2@127.0.0.1:1/postgres"}),
        )
        .await
        .unwrap();
    assert_eq!(resp.warnings.len(), 1);
    let url =
        h.read("config/literal").await.unwrap()["connection_details"]["connection_url"].clone();
    assert_eq!(url, "postgres://vault:xxxxx@127.0.0.1:1/postgres");

    let keys = h.call(Operation::List, "config/", json!({})).await.unwrap();
    assert_eq!(keys.data.unwrap()["keys"], json!(["literal", "pg"]));

    assert_eq!(
        invalid_msg(h.write("config/x", json!({"connection_url": "x"})).await),
        "empty plugin name"
    );
    assert!(
        invalid_msg(
            h.write(
                "config/x",
                json!({"plugin_name": "mongodb-database-plugin"})
            )
            .await
        )
        .contains("mongodb")
    );
    assert!(
        invalid_msg(
            h.write(
                "config/x",
                json!({"plugin_name": "mysql-database-plugin", "verify_connection": false})
            )
            .await
        )
        .contains("connection_url cannot be empty")
    );
    assert!(
        invalid_msg(
            h.write(
                "config/x",
                json!({"plugin_name": "mysql-database-plugin", "verify_connection": false,
                                       "connection_url": "no slash here"})
            )
            .await
        )
        .contains("invalid connection_url")
    );
    assert!(
        invalid_msg(
            h.write("config/x", json!({"plugin_name": "postgresql-database-plugin", "verify_connection": false,
                                       "connection_url": "postgres://h/db", "username_template": "{{ nope }}"}))
                .await
        )
        .contains("template")
    );
    h.delete("config/literal").await.unwrap();
    assert!(matches!(
        h.read("config/literal").await,
        Err(EngineError::NotFound)
    ));
    assert!(invalid_msg(h.write("rotate-root/none", json!({})).await).contains("none"));
    assert!(invalid_msg(h.write("reset/none", json!({})).await).contains("none"));
}

#[tokio::test]
async fn role_shape_and_errors() {
    let h = Harness::new().await;
    config(&h).await;
    h.write(
        "roles/a",
        json!({"db_name": "pg", "creation_statements": ["CREATE ROLE \"{{name}}\"", "GRANT x TO \"{{name}}\""],
               "default_ttl": "1h", "max_ttl": 86400}),
    )
    .await
    .unwrap();
    assert_eq!(
        Value::Object(h.read("roles/a").await.unwrap()),
        json!({
            "db_name": "pg",
            "creation_statements": ["CREATE ROLE \"{{name}}\"", "GRANT x TO \"{{name}}\""],
            "revocation_statements": [],
            "rollback_statements": [],
            "renew_statements": [],
            "default_ttl": 3600,
            "max_ttl": 86400,
            "credential_type": "password",
        })
    );
    // Update keeps what is not sent.
    h.write("roles/a", json!({"renew_statements": "ALTER ROLE x"}))
        .await
        .unwrap();
    let role = h.read("roles/a").await.unwrap();
    assert_eq!(role["renew_statements"], json!(["ALTER ROLE x"]));
    assert_eq!(role["default_ttl"], 3600);

    for n in ["b", "c"] {
        h.write(
            &format!("roles/{n}"),
            json!({"db_name": "pg", "creation_statements": "SELECT 1"}),
        )
        .await
        .unwrap();
    }
    let page = h
        .call(Operation::List, "roles/", json!({"after": "a", "limit": 1}))
        .await
        .unwrap();
    assert_eq!(page.data.unwrap()["keys"], json!(["b"]));

    assert_eq!(
        invalid_msg(
            h.write("roles/x", json!({"creation_statements": "SELECT 1"}))
                .await
        ),
        "database name is required"
    );
    assert!(
        invalid_msg(
            h.write(
                "roles/x",
                json!({"db_name": "nope", "creation_statements": "SELECT 1"})
            )
            .await
        )
        .contains("nope")
    );
    assert_eq!(
        invalid_msg(h.write("roles/x", json!({"db_name": "pg"})).await),
        "empty creation statements"
    );
    assert!(
        invalid_msg(h.write("roles/x", json!({"db_name": "pg", "creation_statements": "x", "credential_type": "rsa_private_key"})).await)
            .contains("unsupported credential_type")
    );
    assert!(
        invalid_msg(
            h.write(
                "roles/x",
                json!({"db_name": "pg", "creation_statements": "x", "default_ttl": "soon"})
            )
            .await
        )
        .contains("default_ttl")
    );
    assert_eq!(invalid_msg(h.creds("x").await), "unknown role: x");
    // Allowed by name, but no database answers: an upstream error, retryable.
    match h.creds("a").await {
        Err(EngineError::Upstream { retryable, .. }) => assert!(retryable),
        other => panic!("expected an upstream error, got {other:?}"),
    }
    h.delete("roles/a").await.unwrap();
    assert!(matches!(
        h.read("roles/a").await,
        Err(EngineError::NotFound)
    ));
}

#[tokio::test]
async fn static_role_errors() {
    let h = Harness::new().await;
    config(&h).await;
    h.write(
        "roles/a",
        json!({"db_name": "pg", "creation_statements": "SELECT 1"}),
    )
    .await
    .unwrap();
    let write = |name: &'static str, body: Value| {
        let h = &h;
        async move { h.write(&format!("static-roles/{name}"), body).await }
    };
    assert_eq!(
        invalid_msg(
            write(
                "a",
                json!({"db_name": "pg", "username": "u", "rotation_period": 60})
            )
            .await
        ),
        "Role and Static Role names must be unique"
    );
    assert_eq!(
        invalid_msg(write("b", json!({"username": "u", "rotation_period": 60})).await),
        "database name is a required field"
    );
    assert!(
        invalid_msg(write("b", json!({"db_name": "pg", "rotation_period": 60})).await)
            .contains("username")
    );
    assert!(
        invalid_msg(write("b", json!({"db_name": "pg", "username": "u"})).await)
            .contains("rotation_period")
    );
    assert!(
        invalid_msg(
            write(
                "b",
                json!({"db_name": "pg", "username": "u", "rotation_period": 4})
            )
            .await
        )
        .contains("5 seconds")
    );
    assert!(
        invalid_msg(write("b", json!({"db_name": "pg", "username": "u", "rotation_period": 60, "rotation_schedule": "* * * * *"})).await)
            .contains("mutually exclusive")
    );
    assert!(
        invalid_msg(
            write(
                "b",
                json!({"db_name": "pg", "username": "u", "rotation_schedule": "61 * * * *"})
            )
            .await
        )
        .contains("rotation_schedule")
    );
    assert!(
        invalid_msg(write("b", json!({"db_name": "pg", "username": "u", "rotation_period": 60, "rotation_window": 7200})).await)
            .contains("rotation_window")
    );
    assert!(
        invalid_msg(write("b", json!({"db_name": "pg", "username": "u", "rotation_schedule": "0 * * * *", "rotation_window": 60})).await)
            .contains("3600")
    );
    assert_eq!(
        invalid_msg(
            write(
                "zzz",
                json!({"db_name": "pg", "username": "u", "rotation_period": 60})
            )
            .await
        ),
        r#""zzz" is not an allowed role"#
    );
    // Skipping the import rotation needs no database; the username cannot change afterwards.
    write("b", json!({"db_name": "pg", "username": "u", "rotation_period": 60, "skip_import_rotation": true}))
        .await
        .unwrap();
    assert_eq!(
        invalid_msg(write("b", json!({"username": "other"})).await),
        "cannot update static account username"
    );
    write("b", json!({"rotation_period": 120})).await.unwrap();
    let role = h.read("static-roles/b").await.unwrap();
    assert_eq!(role["rotation_period"], 120);
    assert_eq!(role["rotation_statements"], json!([]));
    assert!(role.get("last_vault_rotation").is_none());
    assert_eq!(
        invalid_msg(h.write("rotate-role/none", json!({})).await),
        "no static role found for role name"
    );
    // With the database unreachable the import rotation fails and leaves no role behind.
    assert!(matches!(
        write(
            "a2",
            json!({"db_name": "pg", "username": "u", "rotation_period": 60})
        )
        .await,
        Err(EngineError::Upstream {
            retryable: true,
            ..
        })
    ));
    assert!(matches!(
        h.read("static-roles/a2").await,
        Err(EngineError::NotFound)
    ));
}

#[tokio::test]
async fn empty_lists_are_not_found() {
    let h = Harness::new().await;
    for path in ["config/", "roles/", "static-roles/"] {
        assert!(
            matches!(
                h.call(Operation::List, path, json!({})).await,
                Err(EngineError::NotFound)
            ),
            "{path}"
        );
    }
    assert!(matches!(
        h.read("static-roles/none").await,
        Err(EngineError::NotFound)
    ));
    assert!(matches!(
        h.call(Operation::Delete, "creds/x", json!({})).await,
        Err(EngineError::UnsupportedOperation)
    ));
}
