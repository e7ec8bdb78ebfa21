//! AppRole and JWT logins end to end with the real `bao` CLI and hvac: a CI pipeline's role id + secret id, use
//! limits, and a workload JWT verified against a JWKS published over HTTPS (the fake API server's OIDC discovery),
//! including a signing-key rotation picked up without a restart.

use std::time::Duration;

use serde_json::{Value, json};
use testkit::TestServer;
use testkit::k8s::{FakeApiServer, MintOpts};

use crate::support::str_at;

#[tokio::test(flavor = "multi_thread")]
async fn approle_login_with_bao_and_hvac_and_secret_id_use_limits() {
    let server = TestServer::dev().await;
    let bao = server.bao();
    bao.run(&["auth", "enable", "approle"])
        .await
        .expect_code(0, "enable approle");
    bao.run(&[
        "write",
        "auth/approle/role/ci",
        "token_policies=default",
        "secret_id_num_uses=1",
        "secret_id_ttl=10m",
    ])
    .await
    .expect_code(0, "role");
    let role_id = str_at(
        &bao.json(&["read", "-format=json", "auth/approle/role/ci/role-id"])
            .await,
        "/data/role_id",
    );
    let out = bao
        .run(&["write", "-f", "auth/approle/role/ci/secret-id"])
        .await;
    out.expect_code(0, "secret-id");
    for key in [
        "secret_id ",
        "secret_id_accessor",
        "secret_id_num_uses",
        "secret_id_ttl",
    ] {
        assert!(out.stdout.contains(key), "{key} in:\n{}", out.stdout);
    }
    let secret = bao
        .json(&[
            "write",
            "-format=json",
            "-f",
            "auth/approle/role/ci/secret-id",
        ])
        .await;
    let secret_id = str_at(&secret, "/data/secret_id");

    let hvac = server.hvac().token(None);
    let policies: Value = hvac
        .run(&format!(
            "r = client.auth.approle.login(role_id='{role_id}', secret_id='{secret_id}')\nout(sorted(r['auth']['policies']))"
        ))
        .await;
    assert_eq!(policies, json!(["default"]));
    // Single use: the second login is refused with OpenBao's indistinguishable message.
    let (status, body) = server
        .anon()
        .post(
            "auth/approle/login",
            json!({"role_id": role_id, "secret_id": secret_id}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string().contains("invalid role or secret ID"),
        "{body}"
    );
    let (status, body) = server
        .anon()
        .post(
            "auth/approle/login",
            json!({"role_id": "nope", "secret_id": "nope"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string().contains("invalid role or secret ID"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn jwt_login_against_a_published_jwks_survives_key_rotation() {
    let issuer = FakeApiServer::start();
    let server = TestServer::dev().await;
    let bao = server.bao();
    bao.run(&["auth", "enable", "jwt"])
        .await
        .expect_code(0, "enable jwt");
    let ca = server.dir().join("issuer-ca.pem");
    std::fs::write(&ca, issuer.ca_pem()).expect("ca");
    bao.run(&[
        "write",
        "auth/jwt/config",
        &format!("oidc_discovery_url={}", issuer.issuer()),
        &format!("oidc_discovery_ca_pem=@{}", ca.display()),
    ])
    .await
    .expect_code(0, "config");
    bao.run(&[
        "write",
        "auth/jwt/role/ci",
        "role_type=jwt",
        "bound_audiences=coffer",
        "user_claim=sub",
        "token_policies=default",
    ])
    .await
    .expect_code(0, "role");
    let hvac = server.hvac().token(None);
    let login = |jwt: String| {
        let hvac = hvac.clone();
        async move {
            hvac.run(&format!(
                "r = client.auth.jwt.jwt_login(role='ci', jwt='{jwt}')\nout(r['auth']['metadata'])"
            ))
            .await
        }
    };
    let jwt = issuer.mint(
        "ci",
        "pipeline",
        "u1",
        MintOpts::projected().audience("coffer"),
    );
    let meta = login(jwt).await;
    assert_eq!(
        meta["role"], "ci",
        "the login's metadata names the role: {meta}"
    );
    // A new signing key (new kid) is fetched without a restart (refreshes are rate-limited to one per 10 s, so
    // the first tries right after the rotation may still be refused).
    issuer.rotate_key();
    let jwt = issuer.mint(
        "ci",
        "pipeline",
        "u1",
        MintOpts::projected().audience("coffer"),
    );
    let anon = server.anon();
    testkit::wait_until_true(
        Duration::from_secs(60),
        "a login with the rotated key",
        || async {
            let (status, _) = anon
                .post("auth/jwt/login", json!({"role": "ci", "jwt": jwt}))
                .await;
            status == 200
        },
    )
    .await;
    // Wrong audience: refused.
    let jwt = issuer.mint(
        "ci",
        "pipeline",
        "u1",
        MintOpts::projected().audience("elsewhere"),
    );
    let (status, body) = server
        .anon()
        .post("auth/jwt/login", json!({"role": "ci", "jwt": jwt}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string().contains("aud"),
        "the refusal names the audience: {body}"
    );
}
