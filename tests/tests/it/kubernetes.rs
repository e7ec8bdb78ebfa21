//! Kubernetes auth end to end: `bao login -method=kubernetes` and hvac against Coffer, checked by a real HTTPS
//! TokenReview server (testkit's `FakeApiServer`) that verifies the real signed service-account JWTs it minted.
//! A pod's token gets exactly its role's policies and reads database credentials; every refusal is a bare 403
//! for the client with the precise reason in the server log and the audit entry.

use std::time::Duration;

use serde_json::{Value, json};
use testkit::TestServer;
use testkit::db::PgServer;
use testkit::k8s::{FakeApiServer, MintOpts, Mode};

use crate::support::{assert_denied, put_policy, str_at};

/// Enables kubernetes auth at `auth/kubernetes/` with the fake API server's CA and reviewer token, and a role
/// `web` for `apps/web` with policy `db-read`.
async fn setup(server: &TestServer, api: &FakeApiServer, extra: &[&str]) {
    let bao = server.bao();
    bao.run(&["auth", "enable", "kubernetes"])
        .await
        .expect_code(0, "enable kubernetes");
    let dir = server.dir().join("k8s");
    std::fs::create_dir_all(&dir).expect("dir");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, api.ca_pem()).expect("ca");
    let mut args = vec![
        "write".to_owned(),
        "auth/kubernetes/config".to_owned(),
        format!("kubernetes_host={}", api.url()),
        format!("kubernetes_ca_cert=@{}", ca.display()),
        format!("token_reviewer_jwt={}", api.reviewer_jwt()),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    bao.run(&args).await.expect_code(0, "write the config");
    bao.run(&[
        "write",
        "auth/kubernetes/role/web",
        "bound_service_account_names=web",
        "bound_service_account_namespaces=apps",
        "token_policies=db-read",
        "token_ttl=1h",
    ])
    .await
    .expect_code(0, "write the role");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pod_logs_in_with_bao_and_reads_database_credentials() {
    let k8s = FakeApiServer::start();
    let pg = PgServer::start();
    let server = TestServer::dev().await;
    let root = server.api();
    setup(&server, &k8s, &[]).await;
    put_policy(
        &root,
        "db-read",
        r#"path "database/creds/ro" { capabilities = ["read"] }"#,
    )
    .await;
    for (path, body) in [
        ("sys/mounts/database", json!({"type": "database"})),
        (
            "database/config/pg",
            json!({
                "plugin_name": "postgresql-database-plugin",
                "connection_url": pg.url_with_template(),
                "username": pg.admin_user(),
                "password": pg.admin_password(),
                "allowed_roles": "ro",
            }),
        ),
        (
            "database/roles/ro",
            json!({
                "db_name": "pg",
                "creation_statements": "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
            }),
        ),
    ] {
        let (status, body) = root.post(path, body).await;
        assert!(status == 204 || status == 200, "{path}: {status} {body}");
    }

    let jwt = k8s.mint("apps", "web", "uid-web-1", MintOpts::projected());
    let jwt_file = server.dir().join("k8s").join("token");
    std::fs::write(&jwt_file, &jwt).expect("token file");
    let bao = server.bao().token(None);
    let login = bao
        .json(&[
            "login",
            "-format=json",
            "-method=kubernetes",
            "role=web",
            &format!("jwt=@{}", jwt_file.display()),
        ])
        .await;
    let auth = &login["auth"];
    let mut policies: Vec<String> = auth["policies"]
        .as_array()
        .expect("policies")
        .iter()
        .map(|p| p.as_str().unwrap_or_default().to_owned())
        .collect();
    policies.sort();
    assert_eq!(policies, ["db-read", "default"], "{login}");
    assert_eq!(
        auth["metadata"]["service_account_namespace"], "apps",
        "{login}"
    );
    assert_eq!(
        auth["metadata"]["service_account_uid"], "uid-web-1",
        "{login}"
    );
    assert!(
        !str_at(auth, "/entity_id").is_empty(),
        "an entity per alias: {login}"
    );
    let token = str_at(auth, "/client_token");
    let pod = server.api().with_token(Some(&token));
    let (status, body) = pod.get("auth/token/lookup-self").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        str_at(&body, "/data/display_name"),
        "kubernetes-apps-web",
        "{body}"
    );
    let (status, body) = pod.get("database/creds/ro").await;
    assert_eq!(status, 200, "the pod reads database credentials: {body}");
    let (status, body) = pod.get("sys/policies/acl/db-read").await;
    assert_denied("nothing beyond the role's policies", status, &body);
    // The reviewer was asked with the reviewer's token, about the pod's token.
    let reviews = k8s.reviews();
    assert!(!reviews.is_empty(), "the TokenReview API was called");
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_logins_are_bare_403s_with_the_reason_logged_and_audited() {
    let k8s = FakeApiServer::start();
    let server = TestServer::dev().await;
    let root = server.api();
    setup(&server, &k8s, &["review_timeout=2s"]).await;
    let dir = tempfile::tempdir().expect("dir");
    let log = dir.path().join("audit.log");
    let (status, body) = root
        .post(
            "sys/audit/file",
            json!({"type": "file", "options": {"file_path": log.display().to_string()}}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let anon = server.anon();
    let login = |jwt: String| {
        let anon = anon.clone();
        async move {
            anon.post("auth/kubernetes/login", json!({"role": "web", "jwt": jwt}))
                .await
        }
    };
    let cases: Vec<(&str, String, Mode, &str)> = vec![
        (
            "wrong namespace",
            k8s.mint("other", "web", "u1", MintOpts::projected()),
            Mode::Normal,
            "namespace_not_authorized",
        ),
        (
            "wrong service account",
            k8s.mint("apps", "db", "u2", MintOpts::projected()),
            Mode::Normal,
            "service_account_name_not_authorized",
        ),
        (
            "reviewer rejected",
            k8s.mint("apps", "web", "u3", MintOpts::projected()),
            Mode::Unauthorized401,
            "reviewer_unauthorized",
        ),
        (
            "API server hangs",
            k8s.mint("apps", "web", "u4", MintOpts::projected()),
            Mode::Hang,
            "review_timeout",
        ),
    ];
    for (what, jwt, mode, reason) in cases {
        k8s.set_mode(mode);
        let (status, body) = login(jwt).await;
        assert_denied(what, status, &body);
        assert_eq!(
            body,
            json!({"errors": ["permission denied"]}),
            "{what}: no detail for the client"
        );
        // The server's log line may reach its file just after the response does.
        let server = &server;
        testkit::wait_until_true(
            Duration::from_secs(10),
            &format!("{what}: the log names {reason}"),
            || async move { server.log().contains(reason) },
        )
        .await;
        let text = std::fs::read_to_string(&log).expect("audit log");
        assert!(
            text.contains(reason),
            "{what}: the audit entry carries {reason}"
        );
    }
    // Other requests are unaffected while a login waits on a hanging API server.
    k8s.set_mode(Mode::Hang);
    let hanging = tokio::spawn(login(k8s.mint("apps", "web", "u5", MintOpts::projected())));
    let (status, body) = root.get("sys/health").await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = hanging.await.expect("login task");
    assert_eq!(status, 403);
    k8s.set_mode(Mode::Normal);

    // hvac's kubernetes helper logs in once the API server answers again.
    let hvac = server.hvac();
    let jwt = k8s.mint("apps", "web", "u6", MintOpts::projected());
    let out: Value = hvac
        .run(&format!(
            "r = client.auth.kubernetes.login(role='web', jwt='{jwt}')\nout(sorted(r['auth']['policies']))"
        ))
        .await;
    assert_eq!(out, json!(["db-read", "default"]));
}
