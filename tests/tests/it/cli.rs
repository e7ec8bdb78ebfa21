//! Our `coffer` CLI against dev and durable servers, side by side with the real `bao` doing the same.

use serde_json::Value;
use testkit::{Cli, TestServer};

use crate::key_term;

/// Runs `args` with both CLIs; asserts they exit with `code` and returns (coffer, bao) outputs.
async fn both(
    coffer: &Cli,
    bao: &Cli,
    args: &[&str],
    code: i32,
) -> (testkit::CmdOutput, testkit::CmdOutput) {
    let c = coffer.run(args).await;
    let b = bao.run(args).await;
    b.expect_code(code, &format!("bao {}", args.join(" ")));
    c.expect_code(
        code,
        &format!("coffer {} (bao exits {code})", args.join(" ")),
    );
    (c, b)
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_against_a_dev_server() {
    let server = TestServer::dev().await;
    let coffer = server.coffer_cli();
    let bao = server.bao();

    let (c, b) = both(&coffer, &bao, &["status", "-format=json"], 0).await;
    for out in [c.json(), b.json()] {
        assert_eq!(out["sealed"], false, "{out}");
        assert_eq!(out["initialized"], true, "{out}");
    }
    both(&coffer, &bao, &["status"], 0).await;

    // read sys/key-status, as JSON.
    let (c, b) = both(
        &coffer,
        &bao,
        &["read", "-format=json", "sys/key-status"],
        0,
    )
    .await;
    assert_eq!(c.json()["data"]["term"], 1, "{}", c.stdout);
    assert_eq!(b.json()["data"]["term"], 1, "{}", b.stdout);

    // operator rotate / key-status.
    coffer
        .run(&["operator", "rotate"])
        .await
        .expect_code(0, "coffer operator rotate");
    assert_eq!(key_term(&server.api()).await, 2);
    bao.run(&["operator", "rotate"])
        .await
        .expect_code(0, "bao operator rotate");
    let (c, b) = both(
        &coffer,
        &bao,
        &["operator", "key-status", "-format=json"],
        0,
    )
    .await;
    let (cj, bj) = (c.json(), b.json());
    let term = |v: &Value| {
        v.get("term")
            .or_else(|| v.pointer("/data/term"))
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(term(&cj), 3, "coffer: {cj}");
    assert_eq!(term(&bj), 3, "bao: {bj}");
    let (c, _) = both(&coffer, &bao, &["operator", "key-status"], 0).await;
    assert!(
        c.stdout.contains("Key Term") && c.stdout.contains('3'),
        "table output: {}",
        c.stdout
    );

    // write then read the rotation config.
    coffer
        .run(&[
            "write",
            "sys/rotate/keyring/config",
            "max_operations=2000000",
        ])
        .await
        .expect_code(0, "coffer write sys/rotate/keyring/config");
    let (c, b) = both(
        &coffer,
        &bao,
        &["read", "-format=json", "sys/rotate/keyring/config"],
        0,
    )
    .await;
    assert_eq!(
        c.json()["data"]["max_operations"],
        2_000_000,
        "{}",
        c.stdout
    );
    assert_eq!(
        b.json()["data"]["max_operations"],
        2_000_000,
        "{}",
        b.stdout
    );
    let field = coffer
        .run(&["read", "-field=max_operations", "sys/rotate/keyring/config"])
        .await;
    field.expect_code(0, "coffer read -field");
    assert_eq!(field.stdout.trim(), "2000000");
    bao.run(&[
        "write",
        "sys/rotate/keyring/config",
        "max_operations=3000000",
    ])
    .await
    .expect_code(0, "bao write");
    let c = coffer
        .json(&["read", "-format=json", "sys/rotate/keyring/config"])
        .await;
    assert_eq!(c["data"]["max_operations"], 3_000_000, "{c}");

    // Unknown paths: list → exit 2 "No value found", delete/read → exit 2 with the server's error.
    let (c, b) = both(&coffer, &bao, &["list", "nope/thing"], 2).await;
    assert!(
        b.stderr.contains("No value found at nope/thing"),
        "bao: {}",
        b.stderr
    );
    assert!(
        c.stderr.contains("No value found at nope/thing"),
        "coffer: {}",
        c.stderr
    );
    let (c, _) = both(&coffer, &bao, &["delete", "nope/thing"], 2).await;
    assert!(
        c.stderr.contains("no handler for route \"nope/thing\""),
        "coffer: {}",
        c.stderr
    );
    let (c, _) = both(&coffer, &bao, &["read", "nope/thing"], 2).await;
    assert!(c.stderr.contains("nope/thing"), "coffer: {}", c.stderr);

    // VAULT_TOKEN honoured: a wrong one is denied, none is denied.
    let bad_c = coffer.clone().token(Some("wrong"));
    let bad_b = bao.clone().token(Some("wrong"));
    let (c, _) = both(&bad_c, &bad_b, &["read", "sys/key-status"], 2).await;
    assert!(
        c.stderr.contains("permission denied"),
        "coffer: {}",
        c.stderr
    );

    // -address= overrides VAULT_ADDR.
    let dead = format!("http://127.0.0.1:{}", testkit::free_port());
    let c = Cli::coffer(&dead).token(Some("root"));
    let b = Cli::bao(&dead).token(Some("root"));
    both(&c, &b, &["status"], 1).await;
    let addr_flag = format!("-address={}", server.url());
    both(&c, &b, &["read", &addr_flag, "sys/key-status"], 0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_against_a_durable_server() {
    let mut server = TestServer::durable().await;
    let coffer = server.coffer_cli();
    let bao = server.bao();

    both(&coffer, &bao, &["status"], 2).await;
    let init = coffer
        .json(&[
            "operator",
            "init",
            "-key-shares=3",
            "-key-threshold=2",
            "-format=json",
        ])
        .await;
    let keys: Vec<String> = init["unseal_keys_b64"]
        .as_array()
        .unwrap_or_else(|| panic!("no unseal_keys_b64: {init}"))
        .iter()
        .map(|k| k.as_str().expect("key").to_owned())
        .collect();
    assert_eq!(keys.len(), 3, "{init}");
    assert_eq!(
        init["unseal_keys_hex"].as_array().map(Vec::len),
        Some(3),
        "{init}"
    );
    assert_eq!(init["unseal_threshold"], 2, "{init}");
    let root = init["root_token"].as_str().expect("root_token").to_owned();
    server.set_root_token(&root);
    let coffer = server.coffer_cli();
    let bao = server.bao();

    // Initializing twice fails the same way for both.
    let (c, _) = both(
        &coffer,
        &bao,
        &["operator", "init", "-key-shares=1", "-key-threshold=1"],
        2,
    )
    .await;
    assert!(
        c.stderr.contains("already initialized"),
        "coffer: {}",
        c.stderr
    );

    let (c, _) = both(&coffer, &bao, &["status", "-format=json"], 2).await;
    let st = c.json();
    assert_eq!(
        (st["sealed"].clone(), st["t"].clone(), st["n"].clone()),
        (true.into(), 2.into(), 3.into()),
        "{st}"
    );

    // coffer unseal: progress, then unsealed.
    let s = coffer
        .json(&["operator", "unseal", "-format=json", &keys[0]])
        .await;
    assert_eq!(
        (s["sealed"].clone(), s["progress"].clone()),
        (true.into(), 1.into()),
        "{s}"
    );
    let s = coffer
        .json(&["operator", "unseal", "-reset", "-format=json"])
        .await;
    assert_eq!(s["progress"], 0, "{s}");
    coffer
        .run(&["operator", "unseal", &keys[0]])
        .await
        .expect_code(0, "coffer operator unseal");
    let s = coffer
        .json(&["operator", "unseal", "-format=json", &keys[1]])
        .await;
    assert_eq!(s["sealed"], false, "{s}");
    server.wait_active().await;
    both(&coffer, &bao, &["status"], 0).await;

    coffer
        .run(&["operator", "rotate"])
        .await
        .expect_code(0, "coffer operator rotate");
    let ks = coffer
        .json(&["operator", "key-status", "-format=json"])
        .await;
    assert_eq!(
        ks.get("term").or_else(|| ks.pointer("/data/term")).cloned(),
        Some(2.into()),
        "{ks}"
    );
    both(&coffer, &bao, &["operator", "step-down"], 0).await;
    server.wait_active().await;

    // coffer seals; bao unseals with the shares coffer printed.
    coffer
        .run(&["operator", "seal"])
        .await
        .expect_code(0, "coffer operator seal");
    both(&coffer, &bao, &["status"], 2).await;
    let (c, _) = both(&coffer, &bao, &["read", "sys/key-status"], 2).await;
    assert!(c.stderr.contains("Vault is sealed"), "coffer: {}", c.stderr);
    for key in &keys[1..] {
        bao.run(&["operator", "unseal", key])
            .await
            .expect_code(0, "bao operator unseal");
    }
    server.wait_active().await;
    assert_eq!(key_term(&server.api()).await, 2);

    // No VAULT_TOKEN: both CLIs fall back to ~/.vault-token (what `login` writes).
    let coffer_anon = Cli::coffer(&server.url());
    let bao_anon = Cli::bao(&server.url());
    let (c, _) = both(&coffer_anon, &bao_anon, &["read", "sys/key-status"], 2).await;
    assert!(
        c.stderr.contains("permission denied"),
        "coffer: {}",
        c.stderr
    );
    for cli in [&coffer_anon, &bao_anon] {
        std::fs::write(cli.home().join(".vault-token"), &root).expect("write ~/.vault-token");
    }
    both(&coffer_anon, &bao_anon, &["read", "sys/key-status"], 0).await;
    server.stop().await;
}
