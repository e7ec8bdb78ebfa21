//! `coffer login -method=kubernetes|jwt|approle|userpass` against a Coffer server, beside the real `bao` CLI:
//! the stored token carries the role's policies, the printed table is bao's, and a wrong credential exits 2 with
//! the same error text bao prints. OpenBao's CLI has no `jwt` or `approle` login handler, so for those two the
//! reference is `bao write auth/<path>/login`, which sends the same request.

use serde_json::Value;
use testkit::k8s::{FakeApiServer, MintOpts};
use testkit::{Cli, CmdOutput, TestServer};

use crate::support::str_at;

/// The key/value table of a login or write output with generated values masked (from the `Key` header on, so
/// `login`'s success paragraph is left out). The `token_meta_*` rows are sorted: bao prints them in Go's random
/// map order, Coffer sorted.
fn masked_table(out: &str) -> Vec<String> {
    const GENERATED: [&str; 5] = [
        "token",
        "token_accessor",
        "secret_id",
        "secret_id_accessor",
        "token_meta_service_account_uid",
    ];
    let (mut meta, mut rows): (Vec<String>, Vec<String>) = out
        .lines()
        .skip_while(|line| !line.starts_with("Key "))
        .map(|line| match line.split_once(' ') {
            Some((key, _)) if GENERATED.contains(&key) => format!("{key} <masked>"),
            _ => line.to_owned(),
        })
        .partition(|line| line.starts_with("token_meta_"));
    meta.sort();
    rows.append(&mut meta);
    rows
}

/// An error as printed after the CLI's own prefix (`Error authenticating: `, `Error writing data to P: `).
fn server_error(out: &CmdOutput) -> String {
    out.stderr
        .split_once(": ")
        .map_or_else(|| out.stderr.clone(), |(_, rest)| rest.to_owned())
}

/// The sorted `policies` of the token the CLI stored (looked up with the token file, no `VAULT_TOKEN`).
async fn stored_token_policies(cli: &Cli) -> Vec<String> {
    let stored = std::fs::read_to_string(cli.home().join(".vault-token")).expect("token file");
    assert!(!stored.trim().is_empty(), "a token was stored");
    let lookup = cli.json(&["token", "lookup", "-format=json"]).await;
    assert_eq!(str_at(&lookup, "/data/id"), stored.trim(), "{lookup}");
    let mut policies: Vec<String> = lookup["data"]["policies"]
        .as_array()
        .unwrap_or_else(|| panic!("policies in {lookup}"))
        .iter()
        .map(|p| p.as_str().unwrap_or_default().to_owned())
        .collect();
    policies.sort();
    policies
}

/// `coffer login ARGS` must succeed, print the success paragraph and the token table.
async fn login_ok(cli: &Cli, args: &[&str], stdin: Option<&str>) -> CmdOutput {
    let out = cli.run_with_stdin(args, stdin).await;
    out.expect_code(0, &format!("coffer {}", args.join(" ")));
    assert!(
        out.stdout
            .starts_with("Success! You are now authenticated."),
        "{}",
        out.stdout
    );
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn kubernetes_and_jwt_logins_store_a_token_with_the_roles_policies() {
    let k8s = FakeApiServer::start();
    let server = TestServer::dev().await;
    let root = server.bao();
    let dir = server.dir().join("cli-login");
    std::fs::create_dir_all(&dir).expect("dir");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, k8s.ca_pem()).expect("ca");
    for args in [
        vec!["auth", "enable", "kubernetes"],
        vec!["auth", "enable", "-path=ci-jwt", "jwt"],
    ] {
        root.run(&args)
            .await
            .expect_code(0, &format!("bao {}", args.join(" ")));
    }
    let k8s_config = [
        "write".to_owned(),
        "auth/kubernetes/config".to_owned(),
        format!("kubernetes_host={}", k8s.url()),
        format!("kubernetes_ca_cert=@{}", ca.display()),
        format!("token_reviewer_jwt={}", k8s.reviewer_jwt()),
    ];
    let jwt_config = [
        "write".to_owned(),
        "auth/ci-jwt/config".to_owned(),
        format!("oidc_discovery_url={}", k8s.issuer()),
        format!("oidc_discovery_ca_pem=@{}", ca.display()),
    ];
    for args in [&k8s_config[..], &jwt_config[..]] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        root.run(&args).await.expect_code(0, "auth config");
    }
    for args in [
        &[
            "write",
            "auth/kubernetes/role/web",
            "bound_service_account_names=web",
            "bound_service_account_namespaces=apps",
            "token_policies=web-read",
            "token_ttl=1h",
        ][..],
        &[
            "write",
            "auth/ci-jwt/role/ci",
            "role_type=jwt",
            "bound_audiences=coffer",
            "user_claim=sub",
            "token_policies=ci-deploy",
            "token_ttl=30m",
        ][..],
    ] {
        root.run(args).await.expect_code(0, "role");
    }

    // kubernetes: `jwt=@file`, the default path.
    let jwt_file = dir.join("sa-token");
    std::fs::write(
        &jwt_file,
        k8s.mint("apps", "web", "uid-web", MintOpts::projected()),
    )
    .expect("token file");
    let jwt_arg = format!("jwt=@{}", jwt_file.display());
    let k8s_login = ["login", "-method=kubernetes", "role=web", jwt_arg.as_str()];
    let coffer = server.coffer_cli().token(None);
    let ours = login_ok(&coffer, &k8s_login, None).await;
    assert_eq!(
        stored_token_policies(&coffer).await,
        ["default", "web-read"]
    );
    // bao's kubernetes handler prints the same table for the same login.
    let bao = server.bao().token(None);
    let theirs = bao.run(&k8s_login).await;
    theirs.expect_code(0, "bao login -method=kubernetes");
    assert_eq!(masked_table(&ours.stdout), masked_table(&theirs.stdout));
    assert!(
        ours.stdout.contains("\ntoken_policies ") && ours.stdout.contains("\"web-read\""),
        "{}",
        ours.stdout
    );

    // A service account the role does not bind: exit 2 with OpenBao's bare 403, exactly as bao prints it.
    let wrong = dir.join("wrong-sa-token");
    std::fs::write(
        &wrong,
        k8s.mint("apps", "db", "uid-db", MintOpts::projected()),
    )
    .expect("token");
    let wrong_arg = format!("jwt=@{}", wrong.display());
    let refused = [
        "login",
        "-method=kubernetes",
        "role=web",
        wrong_arg.as_str(),
    ];
    let ours = coffer.run(&refused).await;
    let theirs = bao.run(&refused).await;
    ours.expect_code(2, "coffer login with a foreign service account");
    theirs.expect_code(2, "bao login with a foreign service account");
    assert_eq!(ours.stderr, theirs.stderr);
    assert!(
        ours.stderr
            .starts_with("Error authenticating: Error making API request.")
            && ours
                .stderr
                .contains("Code: 403. Errors:\n\n* permission denied"),
        "{}",
        ours.stderr
    );

    // jwt (Coffer's handler): `-path`, the token on stdin via `jwt=-`.
    let ci_jwt = k8s.mint(
        "ci",
        "pipeline",
        "uid-ci",
        MintOpts::projected().audience("coffer"),
    );
    let coffer = server.coffer_cli().token(None);
    let jwt_login = ["login", "-method=jwt", "-path=ci-jwt", "role=ci", "jwt=-"];
    let ours = login_ok(&coffer, &jwt_login, Some(&ci_jwt)).await;
    assert_eq!(
        stored_token_policies(&coffer).await,
        ["ci-deploy", "default"]
    );
    let theirs = bao
        .run_with_stdin(
            &["write", "auth/ci-jwt/login", "role=ci", "jwt=-"],
            Some(&ci_jwt),
        )
        .await;
    theirs.expect_code(0, "bao write auth/ci-jwt/login");
    assert_eq!(masked_table(&ours.stdout), masked_table(&theirs.stdout));
    // The wrong audience: exit 2 with the server's reason, as bao's write shows it.
    let other = k8s.mint(
        "ci",
        "pipeline",
        "uid-ci",
        MintOpts::projected().audience("elsewhere"),
    );
    let other_arg = format!("jwt={other}");
    let ours = coffer
        .run(&[
            "login",
            "-method=jwt",
            "-path=ci-jwt",
            "role=ci",
            &other_arg,
        ])
        .await;
    let theirs = bao
        .run(&["write", "auth/ci-jwt/login", "role=ci", &other_arg])
        .await;
    ours.expect_code(2, "coffer login with a foreign audience");
    theirs.expect_code(2, "bao write with a foreign audience");
    assert!(
        ours.stderr.starts_with("Error authenticating: "),
        "{}",
        ours.stderr
    );
    assert_eq!(server_error(&ours), server_error(&theirs));
    assert!(
        server_error(&ours).contains("Code: 400."),
        "{}",
        ours.stderr
    );
    // The stored token is still the good one.
    assert_eq!(
        stored_token_policies(&coffer).await,
        ["ci-deploy", "default"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn approle_and_userpass_logins_and_the_secret_id_output() {
    let server = TestServer::dev().await;
    let root = server.bao();
    let coffer_root = server.coffer_cli();
    for args in [
        &["auth", "enable", "approle"][..],
        &["auth", "enable", "userpass"][..],
        &[
            "write",
            "auth/approle/role/deploy",
            "token_policies=deployer",
            "secret_id_ttl=1h",
            "secret_id_num_uses=5",
            "token_ttl=20m",
        ][..],
        &[
            "write",
            "auth/approle/role/deploy/role-id",
            "role_id=deploy-role-id",
        ][..],
        &[
            "write",
            "auth/userpass/users/alice",
            "password=correct horse",
            "token_policies=reader",
        ][..],
    ] {
        root.run(args)
            .await
            .expect_code(0, &format!("bao {}", args.join(" ")));
    }

    // `write auth/approle/role/x/secret-id` prints bao's table and JSON.
    let secret_id_write = ["write", "-f", "auth/approle/role/deploy/secret-id"];
    let ours = coffer_root.run(&secret_id_write).await;
    let theirs = root.run(&secret_id_write).await;
    ours.expect_code(0, "coffer write secret-id");
    theirs.expect_code(0, "bao write secret-id");
    assert_eq!(masked_table(&ours.stdout), masked_table(&theirs.stdout));
    assert_eq!(
        masked_table(&ours.stdout),
        [
            "Key                   Value",
            "---                   -----",
            "secret_id <masked>",
            "secret_id_accessor <masked>",
            "secret_id_num_uses    5",
            "secret_id_ttl         1h",
        ]
    );
    assert_eq!(ours.stderr, theirs.stderr);
    let json_write = [
        "write",
        "-f",
        "-format=json",
        "auth/approle/role/deploy/secret-id",
    ];
    let ours = coffer_root.json(&json_write).await;
    let theirs = root.json(&json_write).await;
    for out in [&ours, &theirs] {
        assert_eq!(out["data"]["secret_id_num_uses"], 5, "{out}");
        assert_eq!(out["data"]["secret_id_ttl"], 3600, "{out}");
    }
    let keys = |v: &Value| -> Vec<String> {
        v.as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    assert_eq!(keys(&ours), keys(&theirs));
    assert_eq!(keys(&ours["data"]), keys(&theirs["data"]));
    let no_data = coffer_root
        .run(&["write", "auth/approle/role/deploy/secret-id"])
        .await;
    no_data.expect_code(1, "write without data");
    assert_eq!(no_data.stderr, "Must supply data or use -force\n");

    // approle (Coffer's handler): the stored token has the role's policies; the table is bao's write output.
    let secret_id = str_at(&ours, "/data/secret_id");
    let secret_arg = format!("secret_id={secret_id}");
    let coffer = server.coffer_cli().token(None);
    let ours = login_ok(
        &coffer,
        &[
            "login",
            "-method=approle",
            "role_id=deploy-role-id",
            &secret_arg,
        ],
        None,
    )
    .await;
    assert_eq!(
        stored_token_policies(&coffer).await,
        ["default", "deployer"]
    );
    let secret_id = str_at(&theirs, "/data/secret_id");
    let theirs = server
        .bao()
        .token(None)
        .run(&[
            "write",
            "auth/approle/login",
            "role_id=deploy-role-id",
            &format!("secret_id={secret_id}"),
        ])
        .await;
    theirs.expect_code(0, "bao write auth/approle/login");
    assert_eq!(masked_table(&ours.stdout), masked_table(&theirs.stdout));
    // A wrong secret id: exit 2 with OpenBao's message, the same as bao's write prints.
    let wrong = ["role_id=deploy-role-id", "secret_id=not-the-secret"];
    let ours = coffer
        .run(&["login", "-method=approle", wrong[0], wrong[1]])
        .await;
    let theirs = server
        .bao()
        .token(None)
        .run(&["write", "auth/approle/login", wrong[0], wrong[1]])
        .await;
    ours.expect_code(2, "coffer login with a wrong secret id");
    theirs.expect_code(2, "bao write with a wrong secret id");
    assert_eq!(server_error(&ours), server_error(&theirs));
    assert!(
        ours.stderr
            .starts_with("Error authenticating: Error making API request.")
            && ours.stderr.contains("* invalid role or secret ID"),
        "{}",
        ours.stderr
    );
    // A missing role_id never reaches the server.
    let out = coffer
        .run(&["login", "-method=approle", "secret_id=x"])
        .await;
    out.expect_code(2, "approle login without role_id");
    assert_eq!(
        out.stderr,
        "Error authenticating: 'role_id' must be supplied\n"
    );

    // userpass: same table as bao's login; a wrong password exits 2 with bao's exact error.
    let coffer = server.coffer_cli().token(None);
    let bao = server.bao().token(None);
    let good = [
        "login",
        "-method=userpass",
        "username=alice",
        "password=correct horse",
    ];
    let ours = login_ok(&coffer, &good, None).await;
    let theirs = bao.run(&good).await;
    theirs.expect_code(0, "bao login -method=userpass");
    assert_eq!(masked_table(&ours.stdout), masked_table(&theirs.stdout));
    assert_eq!(stored_token_policies(&coffer).await, ["default", "reader"]);
    let bad = [
        "login",
        "-method=userpass",
        "username=alice",
        "password=wrong",
    ];
    let ours = coffer.run(&bad).await;
    let theirs = bao.run(&bad).await;
    ours.expect_code(2, "coffer login with a wrong password");
    theirs.expect_code(2, "bao login with a wrong password");
    assert_eq!(ours.stderr, theirs.stderr);
    assert!(
        ours.stderr.contains("* invalid username or password"),
        "{}",
        ours.stderr
    );

    // Methods neither CLI knows: usage error, exit 1.
    let out = coffer.run(&["login", "-method=github", "token=x"]).await;
    out.expect_code(1, "unknown method");
    assert!(
        out.stderr.starts_with("Unknown auth method: github."),
        "{}",
        out.stderr
    );
}
