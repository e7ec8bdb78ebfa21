//! Config and storage errors at startup, OpenBao config compatibility, and a TLS listener.

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use serde_json::json;
use testkit::server::{CLUSTER_PORT, DATA_DIR, PORT};
use testkit::{ServerBuilder, TestServer, TlsFiles, wait_until_true};

/// A durable config with `listener_extra` inside the listener block and `extra` at the top level.
fn config(listener_extra: &str, extra: &str) -> String {
    format!(
        r#"storage "raft" {{
  path    = "{DATA_DIR}"
  node_id = "node1"
}}
listener "tcp" {{
  address     = "127.0.0.1:{PORT}"
  tls_disable = "true"
{listener_extra}
}}
api_addr     = "http://127.0.0.1:{PORT}"
cluster_addr = "http://127.0.0.1:{CLUSTER_PORT}"
{extra}
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_values_exit_1_naming_the_key() {
    let cases = [
        (
            "max_request_size",
            config("  max_request_size = \"lots\"", ""),
        ),
        (
            "address",
            config("", "").replace(
                &format!("127.0.0.1:{PORT}\"\n  tls"),
                "not an address\"\n  tls",
            ),
        ),
        ("log_level", config("", "log_level = \"loud\"")),
        (
            "performance_multiplier",
            config("", "").replace(
                "node_id = \"node1\"",
                "node_id = \"node1\"\n  performance_multiplier = \"fast\"",
            ),
        ),
        (
            "tls_cert_file",
            config("", "").replace("tls_disable = \"true\"", "tls_disable = \"false\""),
        ),
    ];
    for (key, text) in cases {
        assert!(
            text.contains(key) || key == "tls_cert_file",
            "test bug: {key} not in\n{text}"
        );
        let out = ServerBuilder::durable()
            .raw_config(&text)
            .run_to_exit()
            .await;
        assert_eq!(
            out.code,
            Some(1),
            "bad {key}: expected exit 1\nstdout:\n{}\nstderr:\n{}",
            out.stdout,
            out.stderr
        );
        assert!(
            out.stderr.contains(key),
            "stderr must name {key}:\n{}",
            out.stderr
        );
    }
}

/// `Error: A: A`: the same message printed twice (the error's source chain repeating its own text).
fn repeats_itself(line: &str) -> bool {
    let text = line.trim().trim_start_matches("Error: ");
    text.match_indices(": ").any(|(i, _)| {
        let (head, tail) = (&text[..i], &text[i + 2..]);
        !head.is_empty() && tail.starts_with(head)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn startup_errors_are_printed_once() {
    assert!(repeats_itself("Error: a: b: a: b"));
    assert!(!repeats_itself("Error: a: b: c"));
    let text = config("  max_request_size = \"lots\"", "");
    let out = ServerBuilder::durable()
        .raw_config(&text)
        .run_to_exit()
        .await;
    assert_eq!(out.code, Some(1));
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("max_request_size"))
        .unwrap_or_default();
    assert!(
        !repeats_itself(line),
        "the error message is printed twice: {line}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_key_is_a_warning_with_its_line() {
    let text = config("", "bogus_setting = \"x\"");
    let line = text
        .lines()
        .position(|l| l.starts_with("bogus_setting"))
        .expect("line")
        + 1;
    let server = ServerBuilder::durable()
        .raw_config(&text)
        .start()
        .await
        .expect("server starts despite an unknown key");
    wait_until_true(
        testkit::FIXTURE_TIMEOUT,
        "the unknown-key warning in the log",
        || {
            let found = server.log().contains("bogus_setting");
            async move { found }
        },
    )
    .await;
    let log = server.log();
    let warning = log
        .lines()
        .find(|l| l.contains("bogus_setting"))
        .unwrap_or_default();
    assert!(
        warning.contains(&format!(":{line}")) || warning.contains(&format!("line {line}")),
        "the warning must give line {line}: {warning}"
    );
    assert!(
        warning.to_lowercase().contains("warn"),
        "must be a warning: {warning}"
    );
    let (status, _) = server.anon().get("sys/health").await;
    assert_eq!(status, 501, "the server runs (uninitialized)");
}

#[tokio::test(flavor = "multi_thread")]
async fn openbao_single_node_raft_config_starts_unchanged() {
    // The shape of OpenBao's documented single-node raft config, including number-typed booleans.
    let text = format!(
        r#"ui            = true
disable_mlock = true
cluster_name  = "coffer-compat"
log_level     = "info"

storage "raft" {{
  path    = "{DATA_DIR}"
  node_id = "openbao-0"
}}

listener "tcp" {{
  address         = "127.0.0.1:{PORT}"
  cluster_address = "127.0.0.1:{CLUSTER_PORT}"
  tls_disable     = 1
}}

api_addr     = "http://127.0.0.1:{PORT}"
cluster_addr = "http://127.0.0.1:{CLUSTER_PORT}"
"#
    );
    let mut server = ServerBuilder::durable()
        .raw_config(&text)
        .start()
        .await
        .expect("OpenBao config starts");
    let bao = server.bao();
    let init = bao
        .json(&[
            "operator",
            "init",
            "-key-shares=1",
            "-key-threshold=1",
            "-format=json",
        ])
        .await;
    let key = init["unseal_keys_b64"][0].as_str().expect("key").to_owned();
    server.set_root_token(init["root_token"].as_str().expect("root token"));
    bao.run(&["operator", "unseal", &key])
        .await
        .expect_code(0, "bao operator unseal");
    server.wait_active().await;
    let (_, health) = server.anon().get("sys/health").await;
    assert_eq!(health["cluster_name"], "coffer-compat", "{health}");
    server.stop().await;
}

fn redb_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("data dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "redb"))
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread")]
async fn truncated_storage_file_refuses_to_start() {
    let mut server = TestServer::durable().await;
    let init = server.init(1, 1).await;
    server.unseal_with(&init.keys).await;
    for _ in 0..3 {
        assert_eq!(
            server
                .api()
                .send("PUT", "sys/rotate", None, &[])
                .await
                .status,
            204
        );
    }
    server.stop().await;

    let files = redb_files(server.data_dir());
    assert!(
        !files.is_empty(),
        "no *.redb file in {}",
        server.data_dir().display()
    );
    let backups: Vec<(std::path::PathBuf, Vec<u8>)> = files
        .iter()
        .map(|p| (p.clone(), std::fs::read(p).expect("read redb file")))
        .collect();
    let restore = || {
        for (path, bytes) in &backups {
            std::fs::write(path, bytes).expect("restore redb file");
        }
    };

    for (victim, original) in &backups {
        let name = victim
            .file_name()
            .and_then(|n| n.to_str())
            .expect("file name")
            .to_owned();
        for (how, len) in [("truncated to half", original.len() / 2), ("emptied", 0)] {
            restore();
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(victim)
                .expect("open for truncation");
            file.set_len(u64::try_from(len).expect("length"))
                .expect("truncate");
            drop(file);
            let out = server.start_again_to_exit().await;
            assert_eq!(
                out.code,
                Some(1),
                "{name} {how} must stop the server\nstderr:\n{}",
                out.stderr
            );
            assert!(
                out.stderr.contains(&name),
                "the error for {name} {how} must name the file:\n{}",
                out.stderr
            );
        }
    }

    // Control: the intact files start, unseal and still hold the rotations.
    restore();
    server.start_again().await;
    server.unseal_with(&init.keys).await;
    assert_eq!(crate::key_term(&server.api()).await, 4);
    server.stop().await;
}

/// A CA and a leaf for 127.0.0.1/localhost signed by it, written as PEM files into `dir`.
fn make_tls(dir: &Path) -> TlsFiles {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "coffer test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
        .expect("CA cert");

    let leaf_key = KeyPair::generate().expect("leaf key");
    let mut leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("leaf params");
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "coffer");
    leaf_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = leaf_params.signed_by(&leaf_key, &ca).expect("leaf cert");

    let files = TlsFiles {
        cert_file: dir.join("server.pem"),
        key_file: dir.join("server-key.pem"),
        ca_file: dir.join("ca.pem"),
    };
    std::fs::write(&files.cert_file, format!("{}{}", leaf.pem(), ca.pem())).expect("write cert");
    std::fs::write(&files.key_file, leaf_key.serialize_pem()).expect("write key");
    std::fs::write(&files.ca_file, ca.pem()).expect("write CA");
    files
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_listener_with_a_generated_certificate() {
    let certs = tempfile::tempdir().expect("temp dir");
    let tls = make_tls(certs.path());
    let mut server = ServerBuilder::durable()
        .tls(tls.clone())
        .start()
        .await
        .expect("TLS server starts");
    assert!(server.url().starts_with("https://"));

    // reqwest trusting only our CA.
    let (status, body) = server.anon().get("sys/health").await;
    assert_eq!(status, 501, "{body}");
    assert_eq!(body["initialized"], false);

    // The real bao CLI with -ca-cert: exit 2 (uninitialized = sealed), JSON status.
    let bao = testkit::Bao::new(&server.url());
    let ca_flag = format!("-ca-cert={}", tls.ca_file.display());
    let out = bao.run(&["status", &ca_flag, "-format=json"]).await;
    out.expect_code(2, "bao status over TLS");
    assert_eq!(out.json()["initialized"], false, "{}", out.stdout);
    // Without trusting the CA the handshake fails: exit 1.
    let out = bao.run(&["status"]).await;
    out.expect_code(1, "bao status without the CA");
    assert!(
        out.stderr.contains("certificate"),
        "expected a certificate error: {}",
        out.stderr
    );

    // Full lifecycle over TLS.
    let init = server.init(1, 1).await;
    server.unseal_with(&init.keys).await;
    server
        .bao()
        .run(&["status"])
        .await
        .expect_code(0, "bao status over TLS, unsealed");
    assert_eq!(
        server.api().get("sys/init").await,
        (200, json!({"initialized": true}))
    );
    server.stop().await;
}
