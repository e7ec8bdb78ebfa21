//! Drives the client against a real OpenBao dev server (`bao server -dev`), when `bao` is on PATH.

use std::ffi::OsString;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use clap::Parser as _;
use serde_json::Value;
use zeroize::Zeroizing;

use super::{Cli, ClientEnv, Io, normalize_args, run_client_with};

mod compare;

/// A running dev server, killed on drop.
struct BaoDev {
    child: Child,
    address: String,
    unseal_key: String,
    dir: tempfile::TempDir,
}

impl Drop for BaoDev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Output {
    code: i32,
    out: String,
    err: String,
}

fn bao_on_path() -> bool {
    Process::new("bao")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn env(token: Option<&str>, token_file: Option<PathBuf>) -> ClientEnv {
    ClientEnv {
        token: token.map(|t| Zeroizing::new(t.to_owned())),
        token_file,
        stdin_is_tty: false,
        stdout_is_tty: false,
    }
}

fn run(address: &str, env: &ClientEnv, args: &[&str], stdin: &str) -> Output {
    let mut argv: Vec<OsString> = vec!["coffer".into()];
    argv.extend(args.iter().map(OsString::from));
    argv.push(format!("-address={address}").into());
    let cli = Cli::try_parse_from(normalize_args(argv)).unwrap();
    let mut input = Cursor::new(stdin.as_bytes().to_vec());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = {
        let mut io = Io {
            stdin: &mut input,
            stdout: &mut out,
            stderr: &mut err,
        };
        run_client_with(&cli.global, cli.command, env, &mut io)
    };
    Output {
        code,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
    }
}

fn start_bao() -> BaoDev {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let address = format!("http://127.0.0.1:{port}");
    let log_path = dir.path().join("bao.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let child = Process::new("bao")
        .args([
            "server",
            "-dev",
            "-dev-root-token-id=root",
            &format!("-dev-listen-address=127.0.0.1:{port}"),
        ])
        // The dev server writes ~/.vault-token: keep it out of the real home.
        .env("HOME", dir.path())
        .env_remove("VAULT_ADDR")
        .env_remove("BAO_ADDR")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut server = BaoDev {
        child,
        address,
        unseal_key: String::new(),
        dir,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = run(&server.address, &env(None, None), &["status"], "");
        if status.code == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "bao dev server did not come up: {}",
            read_log(&log_path)
        );
        assert!(
            server.child.try_wait().unwrap().is_none(),
            "bao exited: {}",
            read_log(&log_path)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The dev server prints its single unseal key.
    loop {
        let log = read_log(&log_path);
        if let Some(key) = log
            .lines()
            .find_map(|l| l.trim().strip_prefix("Unseal Key: "))
        {
            server.unseal_key = key.trim().to_owned();
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no unseal key in the dev server output: {log}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn against_openbao_dev_server() {
    if !bao_on_path() {
        eprintln!("skipping: `bao` is not on PATH");
        return;
    }
    let bao = start_bao();
    let addr = bao.address.as_str();
    let root = env(Some("root"), None);

    // status: unsealed → 0, table and JSON.
    let out = run(addr, &root, &["status"], "");
    assert_eq!(out.code, 0, "{}", out.err);
    assert!(
        out.out
            .starts_with("Key             Value\n---             -----\nSeal Type       shamir\n"),
        "{}",
        out.out
    );
    assert!(
        out.out.contains("\nSealed          false\n")
            && out.out.contains("\nHA Enabled      false\n"),
        "{}",
        out.out
    );
    let out = run(addr, &root, &["status", "-format=json"], "");
    assert_eq!(out.code, 0);
    let json: Value = serde_json::from_str(&out.out).unwrap();
    assert_eq!(
        (
            json["sealed"].clone(),
            json["ha_enabled"].clone(),
            json["n"].clone()
        ),
        (false.into(), false.into(), 1.into())
    );

    // A KV v1 mount to exercise plain read/write/list/delete.
    let out = run(addr, &root, &["write", "sys/mounts/kv", "type=kv"], "");
    assert_eq!(
        (out.code, out.out.as_str()),
        (0, "Success! Data written to: sys/mounts/kv\n"),
        "{}",
        out.err
    );

    let file = bao.dir.path().join("value.txt");
    std::fs::write(&file, "from a file").unwrap();
    let out = run(
        addr,
        &root,
        &[
            "write",
            "kv/foo",
            "a=1",
            &format!("b=@{}", file.display()),
            "ttl=1h",
        ],
        "",
    );
    assert_eq!(
        (out.code, out.out.as_str()),
        (0, "Success! Data written to: kv/foo\n"),
        "{}",
        out.err
    );
    let out = run(
        addr,
        &root,
        &["write", "kv/bar", "-"],
        r#"{"n": 5, "s": "x"}"#,
    );
    assert_eq!(out.code, 0, "{}", out.err);
    let out = run(addr, &root, &["write", "kv/foo"], "");
    assert_eq!(
        (out.code, out.err.as_str()),
        (1, "Must supply data or use -force\n")
    );
    let out = run(addr, &root, &["write", "kv/foo", "novalue"], "");
    assert_eq!(out.code, 1);
    assert!(
        out.err
            .starts_with("Failed to parse K=V data: invalid key/value pair \"novalue\""),
        "{}",
        out.err
    );

    // read: table, -field, json.
    let out = run(addr, &root, &["read", "kv/foo"], "");
    assert_eq!(out.code, 0, "{}", out.err);
    assert_eq!(
        out.out,
        "Key                 Value\n---                 -----\nrefresh_interval    1h\na                   1\nb                   from a file\nttl                 1h\n"
    );
    let out = run(addr, &root, &["read", "-field=b", "kv/foo"], "");
    assert_eq!((out.code, out.out.as_str()), (0, "from a file"));
    let out = run(addr, &root, &["read", "-field=zz", "kv/foo"], "");
    assert_eq!(
        (out.code, out.err.as_str()),
        (1, "Field \"zz\" not present in secret\n")
    );
    let out = run(addr, &root, &["read", "kv/bar", "-format=json"], "");
    assert_eq!(out.code, 0);
    let json: Value = serde_json::from_str(&out.out).unwrap();
    assert_eq!(json["data"], serde_json::json!({"n": 5, "s": "x"}));
    assert_eq!(json["lease_duration"], 2_764_800);
    assert!(json.get("auth").is_none() && json["warnings"].is_null());

    // list.
    let out = run(addr, &root, &["list", "kv"], "");
    assert_eq!(
        (out.code, out.out.as_str()),
        (0, "Keys\n----\nbar\nfoo\n"),
        "{}",
        out.err
    );
    let out = run(addr, &root, &["list", "-format=json", "kv/"], "");
    assert_eq!(
        serde_json::from_str::<Value>(&out.out).unwrap(),
        serde_json::json!(["bar", "foo"])
    );
    let out = run(addr, &root, &["list", "kv/nope"], "");
    assert_eq!(
        (out.code, out.err.as_str()),
        (2, "No value found at kv/nope\n")
    );
    let out = run(addr, &root, &["list", "kv/nope", "-format=json"], "");
    assert_eq!((out.code, out.out.as_str()), (2, "{}\n"));

    // delete, then read → not found.
    let out = run(addr, &root, &["delete", "kv/foo"], "");
    assert_eq!(
        (out.code, out.out.as_str()),
        (0, "Success! Data deleted (if it existed) at: kv/foo\n")
    );
    let out = run(addr, &root, &["read", "kv/foo"], "");
    assert_eq!(
        (out.code, out.out.as_str(), out.err.as_str()),
        (2, "", "No value found at kv/foo\n")
    );

    // API errors: permission denied and bad request exit 2 with vault's message.
    let bad = env(Some("not-a-token"), None);
    let out = run(addr, &bad, &["read", "kv/bar"], "");
    assert_eq!(out.code, 2);
    assert_eq!(
        out.err,
        format!(
            "Error reading kv/bar: Error making API request.\n\nURL: GET {addr}/v1/kv/bar\nCode: 403. Errors:\n\n* permission denied\n"
        )
    );
    let out = run(addr, &bad, &["delete", "kv/bar"], "");
    assert_eq!(out.code, 2);
    assert!(
        out.err
            .starts_with("Error deleting kv/bar: Error making API request."),
        "{}",
        out.err
    );
    let out = run(addr, &root, &["operator", "init"], "");
    assert_eq!(out.code, 2);
    assert!(
        out.err.contains("URL: PUT")
            && out.err.contains("Code: 400")
            && out.err.contains("* Vault is already initialized"),
        "{}",
        out.err
    );
    let out = run(addr, &root, &["operator", "init", "-status"], "");
    assert_eq!((out.code, out.out.as_str()), (0, "Vault is initialized\n"));

    // login stores the token; a bad token is rejected with exit 2.
    let token_file = bao.dir.path().join("client-home").join(".vault-token");
    std::fs::create_dir_all(token_file.parent().unwrap()).unwrap();
    let no_token = env(None, Some(token_file.clone()));
    let out = run(addr, &no_token, &["login", "-"], "root\n");
    assert_eq!(out.code, 0, "{}", out.err);
    assert!(
        out.out.starts_with("Success! You are now authenticated."),
        "{}",
        out.out
    );
    assert!(
        out.out.contains("\ntoken                root\n")
            && out.out.contains("\npolicies             [\"root\"]\n"),
        "{}",
        out.out
    );
    assert_eq!(std::fs::read_to_string(&token_file).unwrap(), "root");
    // The stored token is used when VAULT_TOKEN is absent.
    let out = run(addr, &no_token, &["read", "kv/bar", "-field=s"], "");
    assert_eq!((out.code, out.out.as_str()), (0, "x"), "{}", out.err);
    let out = run(addr, &no_token, &["login", "bogus"], "");
    assert_eq!(out.code, 2);
    assert!(
        out.err
            .starts_with("Error authenticating: error looking up token: Error making API request."),
        "{}",
        out.err
    );
    assert_eq!(std::fs::read_to_string(&token_file).unwrap(), "root");
    let out = run(addr, &no_token, &["login", "-format=json", "root"], "");
    let json: Value = serde_json::from_str(&out.out).unwrap();
    assert_eq!(json["auth"]["client_token"], "root");
    assert!(json["data"].is_null() && json["auth"]["identity_policies"].is_null());

    // Keyring.
    let out = run(addr, &root, &["operator", "key-status"], "");
    assert_eq!(out.code, 0, "{}", out.err);
    assert!(
        out.out
            .starts_with("Key Term            1\nInstall Time        "),
        "{}",
        out.out
    );
    let out = run(addr, &root, &["operator", "rotate"], "");
    assert_eq!(out.code, 0, "{}", out.err);
    assert!(
        out.out
            .starts_with("Success! Rotated key\n\nKey Term            2\n"),
        "{}",
        out.out
    );
    let out = run(addr, &root, &["operator", "key-status", "-format=json"], "");
    assert_eq!(serde_json::from_str::<Value>(&out.out).unwrap()["term"], 2);

    // Seal → status 2 → unseal (reset, then the key) → status 0.
    let out = run(addr, &bad, &["operator", "seal"], "");
    assert_eq!(out.code, 2);
    let out = run(addr, &root, &["operator", "seal"], "");
    assert_eq!(
        (out.code, out.out.as_str()),
        (0, "Success! Vault is sealed.\n"),
        "{}",
        out.err
    );
    let out = run(addr, &root, &["status"], "");
    assert_eq!(out.code, 2);
    assert!(
        out.out.contains("\nSealed             true\n")
            && out.out.contains("\nUnseal Progress    0/1\n"),
        "{}",
        out.out
    );
    let out = run(addr, &root, &["read", "kv/bar"], "");
    assert_eq!(out.code, 2);
    assert!(
        out.err.contains("Code: 503. Errors:\n\n* Vault is sealed"),
        "{}",
        out.err
    );
    let out = run(addr, &root, &["operator", "unseal", "-reset"], "");
    assert_eq!(out.code, 0, "{}", out.err);
    let out = run(addr, &root, &["operator", "unseal", "not-a-key"], "");
    assert_eq!(out.code, 2);
    assert!(
        out.err
            .starts_with("Error unsealing: Error making API request."),
        "{}",
        out.err
    );
    let out = run(
        addr,
        &root,
        &["operator", "unseal", "-format=json"],
        &format!("{}\n", bao.unseal_key),
    );
    assert_eq!(out.code, 0, "{}", out.err);
    assert_eq!(
        serde_json::from_str::<Value>(&out.out).unwrap()["sealed"],
        false
    );
    let out = run(addr, &root, &["status"], "");
    assert_eq!(out.code, 0, "{}", out.out);

    // Connection failures: status exits 1, other commands 2; no Debug output.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let out = run(&dead, &root, &["status"], "");
    assert_eq!(out.code, 1);
    assert!(
        out.err.starts_with(&format!(
            "Error checking seal status: Get \"{dead}/v1/sys/seal-status\": "
        )),
        "{}",
        out.err
    );
    let out = run(&dead, &root, &["read", "kv/x"], "");
    assert_eq!(out.code, 2);
    assert!(
        out.err
            .starts_with(&format!("Error reading kv/x: Get \"{dead}/v1/kv/x\": ")),
        "{}",
        out.err
    );
    assert!(
        !out.err.contains("reqwest::") && !out.err.contains("Error {"),
        "{}",
        out.err
    );
}
