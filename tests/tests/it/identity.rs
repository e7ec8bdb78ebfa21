//! The minimal identity store: a login creates one entity per auth alias, the token carries its `entity_id`, and
//! templated policy paths resolve against it (OpenBao's skip-if-unresolvable rule for tokens without one).
//! Checked against `bao server -dev` first (`COFFER_E2E_TARGET=openbao`).

use serde_json::json;

use crate::support::{assert_denied, put_policy, server, str_at};

#[tokio::test(flavor = "multi_thread")]
async fn templated_policy_resolves_against_the_login_entity() {
    let server = server().await;
    let root = server.api();
    let (status, body) = root
        .post("sys/auth/userpass", json!({"type": "userpass"}))
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = root.get("sys/auth/userpass").await;
    assert_eq!(status, 200, "{body}");
    let accessor = str_at(&body, "/data/accessor");
    put_policy(
        &root,
        "own",
        &format!(
            r#"path "secret/data/{{{{identity.entity.aliases.{accessor}.name}}}}/*" {{ capabilities = ["create", "update", "read"] }}
path "secret/data/by-id/{{{{identity.entity.id}}}}" {{ capabilities = ["create", "update"] }}"#
        ),
    )
    .await;
    for user in ["alice", "bob"] {
        let (status, body) = root
            .post(
                &format!("auth/userpass/users/{user}"),
                json!({"password": "pw", "token_policies": "own"}),
            )
            .await;
        assert_eq!(status, 204, "{body}");
    }

    // Log in with the real CLI.
    let bao = server.bao().token(None);
    let login = bao
        .json(&[
            "login",
            "-format=json",
            "-method=userpass",
            "username=alice",
            "password=pw",
        ])
        .await;
    let token = str_at(&login, "/auth/client_token");
    let entity_id = str_at(&login, "/auth/entity_id");
    assert!(!entity_id.is_empty(), "the login has an entity: {login}");
    let alice = server.api().with_token(Some(&token));

    let (status, body) = alice
        .post("secret/data/alice/x", json!({"data": {"v": "1"}}))
        .await;
    assert_eq!(status, 200, "alice writes under her alias name: {body}");
    let (status, body) = alice
        .post("secret/data/bob/x", json!({"data": {"v": "1"}}))
        .await;
    assert_denied("alice writes under bob's name", status, &body);
    let (status, body) = alice
        .post(
            &format!("secret/data/by-id/{entity_id}"),
            json!({"data": {"v": "1"}}),
        )
        .await;
    assert_eq!(status, 200, "the entity id template: {body}");

    // The same alias logs in to the same entity; the entity names its alias.
    let again = bao
        .json(&[
            "login",
            "-format=json",
            "-method=userpass",
            "username=alice",
            "password=pw",
        ])
        .await;
    assert_eq!(str_at(&again, "/auth/entity_id"), entity_id);
    let (status, body) = root.get(&format!("identity/entity/id/{entity_id}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(str_at(&body, "/data/aliases/0/name"), "alice", "{body}");
    assert_eq!(
        str_at(&body, "/data/aliases/0/mount_accessor"),
        accessor,
        "{body}"
    );

    // The root token has no entity: templated paths are simply skipped for tokens without one.
    let (status, body) = root.get("auth/token/lookup-self").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(str_at(&body, "/data/entity_id"), "", "{body}");
}
