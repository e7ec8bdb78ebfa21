//! Init → unseal → seal → restart → unseal on a durable server, driven by the real `bao` CLI and by hvac.

use serde_json::{Value, json};
use testkit::TestServer;

use crate::{key_term, single_error};

/// Shares that decode fine but were never issued: each is accepted until the threshold, then the combination
/// fails. The first and last bytes differ per share so the combination fails for the key, not for duplicates,
/// whichever end a share format keeps its x-coordinate at.
fn wrong_shares(len: usize, count: u8) -> Vec<String> {
    let rng = ring::rand::SystemRandom::new();
    (1..=count)
        .map(|i| {
            let mut bytes = vec![0_u8; len];
            ring::rand::SecureRandom::fill(&rng, &mut bytes).expect("random bytes");
            if let Some(b) = bytes.first_mut() {
                *b = i;
            }
            if let Some(b) = bytes.last_mut() {
                *b = i;
            }
            hex::encode(bytes)
        })
        .collect()
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("no {key} array in {v}"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("{key} holds a non-string: {v}"))
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn bao_init_unseal_seal_restart() {
    let mut server = TestServer::durable().await;
    let bao = server.bao();

    let st = bao.run(&["status", "-format=json"]).await;
    st.expect_code(2, "bao status on an uninitialized server");
    assert_eq!(st.json()["initialized"], false, "{}", st.stdout);

    let init = bao
        .json(&[
            "operator",
            "init",
            "-key-shares=5",
            "-key-threshold=3",
            "-format=json",
        ])
        .await;
    let keys_b64 = strings(&init, "unseal_keys_b64");
    let keys_hex = strings(&init, "unseal_keys_hex");
    assert_eq!(keys_b64.len(), 5, "{init}");
    assert_eq!(keys_hex.len(), 5, "{init}");
    assert_eq!(init["unseal_shares"], 5, "{init}");
    assert_eq!(init["unseal_threshold"], 3, "{init}");
    let root = init["root_token"].as_str().expect("root_token").to_owned();
    assert!(!root.is_empty());
    server.set_root_token(&root);
    let bao = server.bao();

    // Initialized but sealed: exit 2, threshold and share count reported.
    let st = bao.run(&["status", "-format=json"]).await;
    st.expect_code(2, "bao status while sealed");
    let st = st.json();
    assert_eq!(
        (st["initialized"].clone(), st["sealed"].clone()),
        (json!(true), json!(true)),
        "{st}"
    );
    assert_eq!(
        (st["t"].clone(), st["n"].clone(), st["progress"].clone()),
        (json!(3), json!(5), json!(0)),
        "{st}"
    );
    assert_eq!(st["type"], "shamir", "{st}");

    // -reset discards a submitted share.
    let s = bao
        .json(&["operator", "unseal", "-format=json", &keys_hex[0]])
        .await;
    assert_eq!(
        (s["sealed"].clone(), s["progress"].clone()),
        (json!(true), json!(1)),
        "{s}"
    );
    let s = bao
        .json(&["operator", "unseal", "-reset", "-format=json"])
        .await;
    assert_eq!(
        (s["sealed"].clone(), s["progress"].clone()),
        (json!(true), json!(0)),
        "{s}"
    );

    // Three shares, hex and base64 mixed: progress 1, 2, then unsealed.
    let s = bao
        .json(&["operator", "unseal", "-format=json", &keys_hex[0]])
        .await;
    assert_eq!(
        (s["sealed"].clone(), s["progress"].clone()),
        (json!(true), json!(1)),
        "{s}"
    );
    let s = bao
        .json(&["operator", "unseal", "-format=json", &keys_b64[1]])
        .await;
    assert_eq!(
        (s["sealed"].clone(), s["progress"].clone()),
        (json!(true), json!(2)),
        "{s}"
    );
    let s = bao
        .json(&["operator", "unseal", "-format=json", &keys_hex[2]])
        .await;
    assert_eq!(s["sealed"], false, "{s}");
    server.wait_active().await;
    let st = bao.run(&["status", "-format=json"]).await;
    st.expect_code(0, "bao status once unsealed");
    assert_eq!(st.json()["sealed"], false);

    // Durable writes: two keyring rotations.
    bao.run(&["operator", "rotate"])
        .await
        .expect_code(0, "bao operator rotate");
    bao.run(&["operator", "rotate"])
        .await
        .expect_code(0, "bao operator rotate");
    assert_eq!(key_term(&server.api()).await, 3);
    let read = bao.json(&["read", "-format=json", "sys/key-status"]).await;
    assert_eq!(read["data"]["term"], 3, "{read}");

    // Seal, then a wrong set of shares: accepted until the threshold, then 400 and the progress is reset.
    bao.run(&["operator", "seal"])
        .await
        .expect_code(0, "bao operator seal");
    bao.run(&["status"])
        .await
        .expect_code(2, "bao status after seal");
    let anon = server.anon();
    let share_len = hex::decode(&keys_hex[0]).expect("hex share").len();
    let wrong = wrong_shares(share_len, 3);
    for (i, key) in wrong.iter().take(2).enumerate() {
        let (status, body) = anon.post("sys/unseal", json!({ "key": key })).await;
        assert_eq!(status, 200, "wrong share {i} below the threshold: {body}");
        assert_eq!(body["progress"], i + 1, "{body}");
    }
    let (status, body) = anon.post("sys/unseal", json!({ "key": wrong[2] })).await;
    assert_eq!(
        status, 400,
        "a wrong share set must be rejected with 400: {body}"
    );
    single_error(&body);
    let (_, st) = anon.get("sys/seal-status").await;
    assert_eq!(
        (st["sealed"].clone(), st["progress"].clone()),
        (json!(true), json!(0)),
        "{st}"
    );

    // Restart: sealed again; a different subset of shares unseals, and the rotations are still there.
    server.stop().await;
    server.start_again().await;
    let st = bao.run(&["status", "-format=json"]).await;
    st.expect_code(2, "bao status after a restart");
    assert_eq!(st.json()["sealed"], true);
    for key in &keys_b64[2..5] {
        bao.run(&["operator", "unseal", key])
            .await
            .expect_code(0, "bao operator unseal after restart");
    }
    server.wait_active().await;
    bao.run(&["status"])
        .await
        .expect_code(0, "bao status unsealed after restart");
    assert_eq!(
        key_term(&server.api()).await,
        3,
        "acknowledged rotations must survive a restart"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hvac_init_unseal_rotate_restart() {
    let mut server = TestServer::durable().await;

    let init = server
        .hvac()
        .run(
            r#"
r = client.sys.initialize(secret_shares=5, secret_threshold=3)
out({"keys": r["keys"], "keys_base64": r["keys_base64"], "root_token": r["root_token"],
     "initialized": client.sys.is_initialized(), "sealed": client.sys.is_sealed()})
"#,
        )
        .await;
    let keys = strings(&init, "keys");
    assert_eq!(keys.len(), 5, "{init}");
    assert_eq!(strings(&init, "keys_base64").len(), 5, "{init}");
    assert_eq!(
        (init["initialized"].clone(), init["sealed"].clone()),
        (json!(true), json!(true)),
        "{init}"
    );
    let root = init["root_token"].as_str().expect("root_token").to_owned();
    server.set_root_token(&root);
    let keys_json = serde_json::to_string(&keys).expect("keys json");

    let unsealed = server
        .hvac()
        .run(&format!(
            r#"
keys = json.loads(r'''{keys_json}''')
r = client.sys.submit_unseal_keys(keys[:3])
out({{"sealed": r["sealed"], "is_sealed": client.sys.is_sealed()}})
"#
        ))
        .await;
    assert_eq!(unsealed, json!({"sealed": false, "is_sealed": false}));
    server.wait_active().await;

    let rotated = server
        .hvac()
        .run(
            r#"
health = client.sys.read_health_status(method="GET")
before = client.sys.get_encryption_key_status()
client.sys.rotate_encryption_key()
after = client.sys.get_encryption_key_status()
out({"health": health, "before": before["data"]["term"], "after": after["data"]["term"],
     "top_level_term": after.get("term"), "install_time": after["data"].get("install_time")})
"#,
        )
        .await;
    assert_eq!(rotated["health"]["initialized"], true, "{rotated}");
    assert_eq!(rotated["health"]["sealed"], false, "{rotated}");
    assert_eq!(rotated["health"]["standby"], false, "{rotated}");
    assert_eq!(
        (rotated["before"].clone(), rotated["after"].clone()),
        (json!(1), json!(2)),
        "{rotated}"
    );
    assert_eq!(
        rotated["top_level_term"], 2,
        "key-status data is also copied to the top level: {rotated}"
    );
    assert!(rotated["install_time"].is_string(), "{rotated}");

    server.stop().await;
    server.start_again().await;

    let after_restart = server
        .hvac()
        .run(&format!(
            r#"
keys = json.loads(r'''{keys_json}''')
sealed_before = client.sys.is_sealed()
r = client.sys.submit_unseal_keys(keys[2:5])
out({{"sealed_before": sealed_before, "sealed_after": r["sealed"]}})
"#
        ))
        .await;
    assert_eq!(
        after_restart,
        json!({"sealed_before": true, "sealed_after": false})
    );
    server.wait_active().await;
    let term = server
        .hvac()
        .run(r#"out(client.sys.get_encryption_key_status()["data"]["term"])"#)
        .await;
    assert_eq!(term, 2, "the rotation must survive a restart");
}
