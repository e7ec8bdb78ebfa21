use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::*;

const OPENBAO_RAFT: &str = r#"
ui = true
cluster_addr = "http://127.0.0.1:8201"
api_addr = "http://127.0.0.1:8200"
disable_mlock = true
storage "raft" {
  path = "/opt/openbao/data"
  node_id = "node1"
}
listener "tcp" {
  address = "127.0.0.1:8200"
  tls_disable = "true"
}
"#;

fn load(text: &str) -> (Config, Vec<String>) {
    Config::from_str(text, "coffer.hcl").unwrap()
}

fn load_err(text: &str) -> String {
    Config::from_str(text, "coffer.hcl")
        .unwrap_err()
        .to_string()
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A minimal valid file with `extra` appended.
fn with(extra: &str) -> String {
    format!("storage \"inmem\" {{}}\nlistener \"tcp\" {{\n  tls_disable = true\n}}\n{extra}")
}

#[test]
fn openbao_single_node_raft_config_loads_unchanged() {
    let (config, warnings) = load(OPENBAO_RAFT);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        config,
        Config {
            listeners: vec![Listener {
                address: addr("127.0.0.1:8200"),
                cluster_address: None,
                tls: None,
                max_request_size: 33_554_432,
                max_request_duration: Duration::from_secs(90),
            }],
            storage: StorageConfig::Raft(RaftStorage {
                path: PathBuf::from("/opt/openbao/data"),
                node_id: "node1".into(),
                performance_multiplier: 5,
                retry_join: vec![],
            }),
            seal: SealConfig::Shamir,
            api_addr: Some("http://127.0.0.1:8200".into()),
            cluster_addr: Some("http://127.0.0.1:8201".into()),
            cluster_name: None,
            disable_mlock: true,
            ui: true,
            log_level: LogLevel::Info,
            log_format: LogFormat::Standard,
            default_lease_ttl: Duration::from_secs(768 * 3600),
            max_lease_ttl: Duration::from_secs(768 * 3600),
            unsafe_allow_api_audit_creation: false,
            allow_audit_log_prefixing: false,
            audit: vec![],
            leases: server_core::ExpirationConfig::default(),
        }
    );
    assert_eq!(
        config.listeners[0].cluster_address(),
        Some(addr("127.0.0.1:8201"))
    );
}

#[test]
fn defaults_apply_when_keys_are_absent() {
    let (config, warnings) = load("storage \"inmem\" {}\nlistener \"tcp\" { tls_disable = 1 }\n");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(config.listeners, vec![Listener::plain(DEFAULT_ADDRESS)]);
    assert_eq!(config.storage, StorageConfig::InMem);
    assert_eq!(config.seal, SealConfig::Shamir);
    assert_eq!(config.default_lease_ttl, DEFAULT_LEASE_TTL);
    assert_eq!(config.max_lease_ttl, DEFAULT_LEASE_TTL);
    assert_eq!(config.log_level, LogLevel::Info);
    assert_eq!(config.log_format, LogFormat::Standard);
    assert!(!config.ui && !config.disable_mlock && !config.unsafe_allow_api_audit_creation);
    assert!(!config.allow_audit_log_prefixing);
    assert_eq!(config.api_addr, None);
}

#[test]
fn repeated_listeners_keep_file_order() {
    let (config, _) = load(
        r#"
storage "inmem" {}
listener "tcp" {
  address = "0.0.0.0:8200"
  cluster_address = "0.0.0.0:9201"
  tls_cert_file = "/etc/coffer/cert.pem"
  tls_key_file = "/etc/coffer/key.pem"
  tls_min_version = "tls13"
  max_request_size = "1048576"
  max_request_duration = 30
}
listener "tcp" {
  address = "[::1]:8300"
  tls_disable = "1"
  max_request_size = -1
  max_request_duration = "2m"
}
listener "tcp" {
  address = "127.0.0.1:8400"
  tls_disable = true
  max_request_size = 0
}
"#,
    );
    let [a, b, c] = config.listeners.as_slice() else {
        panic!("expected three listeners: {:?}", config.listeners);
    };
    assert_eq!(a.address, addr("0.0.0.0:8200"));
    assert_eq!(a.cluster_address(), Some(addr("0.0.0.0:9201")));
    assert_eq!(
        a.tls,
        Some(TlsConfig {
            cert_file: "/etc/coffer/cert.pem".into(),
            key_file: "/etc/coffer/key.pem".into(),
            min_version: TlsVersion::Tls13,
        })
    );
    assert_eq!(a.max_request_size, 1_048_576);
    assert_eq!(a.max_request_duration, Duration::from_secs(30));
    assert_eq!(b.address, addr("[::1]:8300"));
    assert_eq!(b.tls, None);
    assert_eq!(b.max_request_size, Listener::NO_SIZE_LIMIT);
    assert_eq!(b.max_request_duration, Duration::from_secs(120));
    assert_eq!(c.max_request_size, DEFAULT_MAX_REQUEST_SIZE);
    assert_eq!(c.cluster_address(), Some(addr("127.0.0.1:8401")));
}

#[test]
fn string_booleans_and_numbers_follow_vault() {
    for (text, want) in [
        ("\"true\"", true),
        ("\"1\"", true),
        ("\"T\"", true),
        ("1", true),
        ("true", true),
        ("\"false\"", false),
        ("\"0\"", false),
        ("0", false),
        ("false", false),
    ] {
        let (config, _) = load(&with(&format!(
            "ui = {text}\nunsafe_allow_api_audit_creation = {text}\nallow_audit_log_prefixing = {text}"
        )));
        assert_eq!(config.ui, want, "ui = {text}");
        assert_eq!(config.unsafe_allow_api_audit_creation, want, "{text}");
        assert_eq!(config.allow_audit_log_prefixing, want, "{text}");
    }
    let err = load_err(&with("ui = \"yes\""));
    assert_eq!(err, "coffer.hcl:5: ui \"yes\": expected a boolean");
    let err = load_err("storage \"inmem\" {}\nlistener \"tcp\" {\n  tls_disable = \"maybe\"\n}\n");
    assert_eq!(
        err,
        "coffer.hcl:3: listener \"tcp\": tls_disable \"maybe\": expected a boolean"
    );
}

#[test]
fn unknown_keys_warn_with_file_line_and_stanza() {
    let text = r#"
ui = true
foo = "bar"
storage "raft" {
  path = "/data"
  snapshot_threshold = 8192
  retry_join {
    leader_api_addr = "https://a:8200"
    bogus = 1
  }
  node_id = "n1"
}
listener "tcp" {
  address = "127.0.0.1:8200"
  tls_disable = true
  foo = 1
  telemetry {
    unauthenticated_metrics_access = true
  }
}
cache_size = 10
frobnicate {}
telemetry {
  prometheus_retention_time = "24h"
}
"#;
    let (config, warnings) = load(text);
    assert_eq!(config.listeners.len(), 1);
    assert_eq!(
        warnings,
        vec![
            "coffer.hcl:3: unknown key \"foo\"",
            "coffer.hcl:6: ignoring unsupported key \"snapshot_threshold\" in storage \"raft\"",
            "coffer.hcl:9: unknown key \"bogus\" in storage \"raft\" retry_join",
            "coffer.hcl:16: unknown key \"foo\" in listener \"tcp\"",
            "coffer.hcl:17: ignoring unsupported key \"telemetry\" in listener \"tcp\"",
            "coffer.hcl:21: ignoring unsupported key \"cache_size\"",
            "coffer.hcl:22: unknown key \"frobnicate\"",
        ]
    );
}

#[test]
fn bad_address_names_the_key() {
    let err = load_err(
        "storage \"inmem\" {}\nlistener \"tcp\" {\n  tls_disable = true\n  address = \"abc\"\n}\n",
    );
    assert!(
        err.starts_with("coffer.hcl:4: listener \"tcp\": address \"abc\": invalid socket address"),
        "{err}"
    );
    let err = load_err(
        "storage \"inmem\" {}\nlistener \"tcp\" {\n  tls_disable = true\n  cluster_address = 8201\n}\n",
    );
    assert!(
        err.starts_with(
            "coffer.hcl:4: listener \"tcp\": cluster_address 8201: invalid socket address"
        ),
        "{err}"
    );
}

#[test]
fn tls_is_on_by_default_and_needs_both_files() {
    let err =
        load_err("storage \"inmem\" {}\nlistener \"tcp\" {\n  address = \"127.0.0.1:8200\"\n}\n");
    assert_eq!(
        err,
        "coffer.hcl:2: listener \"tcp\": tls_cert_file is required when TLS is enabled \
         (set tls_disable = true to serve plain HTTP)"
    );
    let err =
        load_err("storage \"inmem\" {}\nlistener \"tcp\" {\n  tls_cert_file = \"c.pem\"\n}\n");
    assert!(
        err.contains("tls_key_file is required when TLS is enabled"),
        "{err}"
    );
    let (config, _) = load(
        "storage \"inmem\" {}\nlistener \"tcp\" {\n  tls_cert_file = \"c.pem\"\n  tls_key_file = \"k.pem\"\n}\n",
    );
    assert_eq!(
        config.listeners[0].tls,
        Some(TlsConfig {
            cert_file: "c.pem".into(),
            key_file: "k.pem".into(),
            min_version: TlsVersion::Tls12,
        })
    );
}

#[test]
fn tls_settings_that_cannot_be_honoured_are_refused() {
    let base = "storage \"inmem\" {}\nlistener \"tcp\" {\n  tls_cert_file = \"c\"\n  tls_key_file = \"k\"\n";
    let err = load_err(&format!("{base}  tls_min_version = \"tls10\"\n}}\n"));
    assert!(
        err.starts_with(
            "coffer.hcl:5: listener \"tcp\": tls_min_version \"tls10\" is not supported"
        ),
        "{err}"
    );
    let err = load_err(&format!("{base}  tls_min_version = \"ssl3\"\n}}\n"));
    assert!(err.contains("tls_min_version \"ssl3\": expected"), "{err}");
    let err = load_err(&format!(
        "{base}  tls_require_and_verify_client_cert = \"true\"\n}}\n"
    ));
    assert!(
        err.starts_with(
            "coffer.hcl:5: listener \"tcp\": tls_require_and_verify_client_cert is not supported"
        ),
        "{err}"
    );
    let (config, _) = load(&format!(
        "{base}  tls_require_and_verify_client_cert = false\n}}\n"
    ));
    assert!(config.listeners[0].tls.is_some());
}

#[test]
fn unsupported_seal_is_an_error() {
    let err = load_err(&with(
        "seal \"transit\" {\n  address = \"https://vault:8200\"\n  token = \"s.secret\"\n}\n",
    ));
    assert_eq!(
        err,
        "coffer.hcl:5: seal type \"transit\" is not supported yet"
    );
    let (config, _) = load(&with("seal \"shamir\" {}\n"));
    assert_eq!(config.seal, SealConfig::Shamir);
    // Seal options may hold credentials; the raw Debug shows key names only.
    let (raw, _) = RawConfig::parse(
        &with("seal \"transit\" {\n  token = \"s.secret\"\n}\n"),
        "x",
    )
    .unwrap();
    let debug = format!("{raw:?}");
    assert!(
        debug.contains("token") && !debug.contains("s.secret"),
        "{debug}"
    );
}

#[test]
fn exactly_one_storage_stanza() {
    let err = load_err(
        "storage \"raft\" {\n  path = \"/a\"\n}\nstorage \"inmem\" {}\nlistener \"tcp\" { tls_disable = true }\n",
    );
    assert_eq!(
        err,
        "coffer.hcl:4: exactly one storage stanza is allowed, found 2 (lines 1, 4)"
    );
    let err = load_err(
        "storage \"raft\" {\n  path = \"/a\"\n}\nstorage \"raft\" {\n  path = \"/b\"\n}\nlistener \"tcp\" { tls_disable = true }\n",
    );
    assert!(err.contains("exactly one storage stanza"), "{err}");
    let err = load_err("listener \"tcp\" { tls_disable = true }\n");
    assert!(err.starts_with("coffer.hcl: no storage stanza"), "{err}");
    let err = load_err(
        "storage \"file\" {\n  path = \"/x\"\n}\nlistener \"tcp\" { tls_disable = true }\n",
    );
    assert_eq!(
        err,
        "coffer.hcl:1: storage \"file\": storage type \"file\" is not supported (use \"raft\" or \"inmem\")"
    );
    let (config, _) = load("backend \"inmem\" {}\nlistener \"tcp\" { tls_disable = true }\n");
    assert_eq!(config.storage, StorageConfig::InMem);
}

#[test]
fn listener_is_required_and_must_be_tcp() {
    let err = load_err("storage \"inmem\" {}\n");
    assert!(err.starts_with("coffer.hcl: no listener stanza"), "{err}");
    let err =
        load_err("storage \"inmem\" {}\nlistener \"unix\" {\n  address = \"/run/bao.sock\"\n}\n");
    assert_eq!(
        err,
        "coffer.hcl:2: listener \"unix\": listener type \"unix\" is not supported (only \"tcp\")"
    );
}

#[test]
fn raft_settings_and_retry_join() {
    let (config, warnings) = load(
        r#"
storage "raft" {
  path = "/openbao/data"
  performance_multiplier = "2"
  retry_join {
    leader_api_addr = "https://openbao-0.openbao-internal:8200"
    leader_ca_cert_file = "/tls/ca.crt"
    leader_client_cert_file = "/tls/tls.crt"
    leader_client_key_file = "/tls/tls.key"
    leader_tls_servername = "openbao.svc"
  }
  retry_join {
    leader_api_addr = "http://openbao-1.openbao-internal:8200"
  }
}
listener "tcp" {
  address = "[::]:8200"
  cluster_address = "[::]:8201"
  tls_disable = 1
}
"#,
    );
    assert_eq!(
        warnings,
        vec![
            "coffer.hcl:2: storage \"raft\": node_id is not set; using \"node1\". Set node_id explicitly: \
             a derived id changes when cluster_addr does"
        ]
    );
    let StorageConfig::Raft(raft) = config.storage else {
        panic!("expected raft: {:?}", config.storage);
    };
    assert_eq!(raft.node_id, DEFAULT_NODE_ID);
    assert_eq!(raft.performance_multiplier, 2);
    assert_eq!(
        raft.retry_join,
        vec![
            RetryJoin {
                leader_api_addr: "https://openbao-0.openbao-internal:8200".into(),
                leader_ca_cert_file: Some("/tls/ca.crt".into()),
                leader_client_cert_file: Some("/tls/tls.crt".into()),
                leader_client_key_file: Some("/tls/tls.key".into()),
                leader_tls_servername: Some("openbao.svc".into()),
            },
            RetryJoin {
                leader_api_addr: "http://openbao-1.openbao-internal:8200".into(),
                leader_ca_cert_file: None,
                leader_client_cert_file: None,
                leader_client_key_file: None,
                leader_tls_servername: None,
            },
        ]
    );

    let err = load_err("storage \"raft\" {}\nlistener \"tcp\" { tls_disable = true }\n");
    assert_eq!(err, "coffer.hcl:1: storage \"raft\": path is required");
    let err = load_err(
        "storage \"raft\" {\n  path = \"/d\"\n  performance_multiplier = 11\n}\nlistener \"tcp\" { tls_disable = true }\n",
    );
    assert_eq!(
        err,
        "coffer.hcl:3: storage \"raft\": performance_multiplier 11: expected 0..=10"
    );
    let err = load_err(
        "storage \"raft\" {\n  path = \"/d\"\n  retry_join {\n    auto_join = \"provider=k8s\"\n  }\n}\nlistener \"tcp\" { tls_disable = true }\n",
    );
    assert_eq!(
        err,
        "coffer.hcl:3: storage \"raft\" retry_join: leader_api_addr is required (auto_join is not supported)"
    );
}

#[test]
fn node_id_defaults_to_cluster_addr_host() {
    let (config, warnings) = load(
        "cluster_addr = \"https://openbao-1.openbao-internal:8201\"\nstorage \"raft\" {\n  path = \"/d\"\n}\nlistener \"tcp\" { tls_disable = true }\n",
    );
    let StorageConfig::Raft(raft) = config.storage else {
        panic!("expected raft");
    };
    assert_eq!(raft.node_id, "openbao-1.openbao-internal:8201");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with("coffer.hcl:2: storage \"raft\": node_id is not set"));
    let err = load_err(
        "storage \"raft\" {\n  path = \"/d\"\n  node_id = \" \"\n}\nlistener \"tcp\" { tls_disable = true }\n",
    );
    assert_eq!(
        err,
        "coffer.hcl:3: storage \"raft\": node_id must not be empty"
    );
}

#[test]
fn durations_accept_go_strings_and_seconds() {
    let (config, _) = load(&with(
        "default_lease_ttl = 3600\nmax_lease_ttl = \"768h\"\n",
    ));
    assert_eq!(config.default_lease_ttl, Duration::from_secs(3600));
    assert_eq!(config.max_lease_ttl, Duration::from_secs(768 * 3600));
    let (config, _) = load(&with(
        "default_lease_ttl = \"1h30m\"\nmax_lease_ttl = \"7d\"\n",
    ));
    assert_eq!(config.default_lease_ttl, Duration::from_secs(5400));
    assert_eq!(config.max_lease_ttl, Duration::from_secs(7 * 86400));
    // Only a lower max: the default follows it rather than failing.
    let (config, _) = load(&with("max_lease_ttl = \"1h\"\n"));
    assert_eq!(config.default_lease_ttl, Duration::from_secs(3600));
    let (config, _) = load(&with("default_max_request_duration = \"10s\"\n"));
    assert_eq!(
        config.listeners[0].max_request_duration,
        Duration::from_secs(10)
    );

    let err = load_err(&with(
        "default_lease_ttl = \"2h\"\nmax_lease_ttl = \"1h\"\n",
    ));
    assert_eq!(
        err,
        "coffer.hcl:5: default_lease_ttl 2h0m0s is larger than max_lease_ttl 1h0m0s"
    );
    let err = load_err(&with("max_lease_ttl = \"soon\"\n"));
    assert_eq!(
        err,
        "coffer.hcl:5: max_lease_ttl \"soon\": invalid duration \"soon\""
    );
    let err = load_err(&with("max_lease_ttl = -5\n"));
    assert!(
        err.starts_with("coffer.hcl:5: max_lease_ttl -5: expected a non-negative"),
        "{err}"
    );
}

#[test]
fn log_settings_accept_vault_aliases() {
    for (text, want) in [
        ("trace", LogLevel::Trace),
        ("DEBUG", LogLevel::Debug),
        ("notice", LogLevel::Info),
        ("warning", LogLevel::Warn),
        ("warn", LogLevel::Warn),
        ("err", LogLevel::Error),
    ] {
        let (config, _) = load(&with(&format!("log_level = \"{text}\"")));
        assert_eq!(config.log_level, want, "{text}");
    }
    let (config, _) = load(&with("log_format = \"json\""));
    assert_eq!(config.log_format, LogFormat::Json);
    let err = load_err(&with("log_level = \"loud\""));
    assert!(
        err.starts_with("coffer.hcl:5: log_level unknown log level \"loud\""),
        "{err}"
    );
    assert_eq!(tracing::Level::from(LogLevel::Warn), tracing::Level::WARN);
}

#[test]
fn addresses_must_be_urls() {
    let err = load_err(&with("api_addr = \"127.0.0.1:8200\""));
    assert_eq!(
        err,
        "coffer.hcl:5: api_addr \"127.0.0.1:8200\": expected a full URL such as https://10.0.0.1:8200"
    );
    let (config, _) = load(&with(
        "cluster_addr = \"https://node-1:8201\"\ncluster_name = \"prod\"",
    ));
    assert_eq!(config.cluster_addr.as_deref(), Some("https://node-1:8201"));
    assert_eq!(config.cluster_name.as_deref(), Some("prod"));
}

#[test]
fn audit_stanzas_keep_order_and_options() {
    let (config, warnings) = load(&with(
        r#"
audit "file" "to-stdout" {
  description = "Write audit information to standard output."
  options {
    file_path = "stdout"
    log_raw = false
    buffer = 10
  }
}
audit {
  type = "socket"
  path = "sock"
  local = "true"
  options = { address = "127.0.0.1:9090" }
}
"#,
    ));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        config.audit,
        vec![
            AuditStanza {
                kind: "file".into(),
                path: "to-stdout".into(),
                description: "Write audit information to standard output.".into(),
                local: false,
                options: [
                    ("buffer".to_owned(), "10".to_owned()),
                    ("file_path".to_owned(), "stdout".to_owned()),
                    ("log_raw".to_owned(), "false".to_owned()),
                ]
                .into(),
            },
            AuditStanza {
                kind: "socket".into(),
                path: "sock".into(),
                description: String::new(),
                local: true,
                options: [("address".to_owned(), "127.0.0.1:9090".to_owned())].into(),
            },
        ]
    );
    let err = load_err(&with("audit \"file\" \"a\" {}\naudit \"file\" \"a\" {}\n"));
    assert_eq!(
        err,
        "coffer.hcl:6: audit path \"a\" is used by two audit stanzas"
    );
    let err = load_err(&with(
        "audit \"file\" \"a\" {}\naudit \"socket\" \"a/\" {}\n",
    ));
    assert_eq!(
        err,
        "coffer.hcl:6: audit path \"a/\" is used by two audit stanzas"
    );
    let err = load_err(&with("audit \"file\" {}\n"));
    assert_eq!(
        err,
        "coffer.hcl:5: audit \"file\": type must be given: audit \"<type>\" \"<path>\" { ... }"
    );
}

#[test]
fn parse_errors_carry_line_and_column() {
    let err = Config::from_str(
        "ui = true\nlistener \"tcp\" {\n  address = \n}\n",
        "coffer.hcl",
    )
    .unwrap_err();
    let ConfigError::Parse { file, line, .. } = &err else {
        panic!("expected a parse error: {err:?}");
    };
    assert_eq!(file, "coffer.hcl");
    assert!(*line >= 3, "{err}");
    assert!(err.to_string().starts_with("coffer.hcl:"), "{err}");
}

#[test]
fn structural_mistakes_are_errors() {
    let err = load_err(&with("ui = true\nui = false\n"));
    assert!(
        err.starts_with("coffer.hcl:6:1: invalid attribute"),
        "{err}"
    );
    let err = load_err(&with("listener = \"tcp\"\n"));
    assert!(
        err.starts_with("coffer.hcl:5: \"listener\" must be a block"),
        "{err}"
    );
    let err = load_err(&with("ui {}\n"));
    assert!(
        err.starts_with("coffer.hcl:5: \"ui\" must be an attribute"),
        "{err}"
    );
    let err = load_err("storage {}\nlistener \"tcp\" { tls_disable = true }\n");
    assert!(
        err.starts_with("coffer.hcl:1: storage needs exactly one type label"),
        "{err}"
    );
    let err = load_err(
        "storage \"inmem\" {}\nlistener \"tcp\" {\n  tls_disable = true\n  address = \"127.0.0.1:1\"\n  address = \"127.0.0.1:2\"\n}\n",
    );
    assert!(err.starts_with("coffer.hcl:5:"), "{err}");
}

#[test]
fn dev_config_is_plain_inmem() {
    let config = Config::dev(addr("127.0.0.1:8200"));
    assert_eq!(config.storage, StorageConfig::InMem);
    assert_eq!(
        config.listeners,
        vec![Listener::plain(addr("127.0.0.1:8200"))]
    );
    assert_eq!(config.api_addr.as_deref(), Some("http://127.0.0.1:8200"));
    assert!(config.ui);
}

#[test]
fn load_reads_a_file_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.hcl");
    std::fs::write(&path, format!("{OPENBAO_RAFT}\nbogus = 1\n")).unwrap();
    let (config, warnings) = Config::load(&path).unwrap();
    assert!(matches!(config.storage, StorageConfig::Raft(_)));
    assert_eq!(
        warnings,
        vec![format!("{}:15: unknown key \"bogus\"", path.display())]
    );
    let err = Config::load(&dir.path().join("missing.hcl")).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err}");
}

#[test]
fn lease_revocation_settings() {
    let (config, _) = load(&with(
        "lease_revocation_max_attempts = 3\nlease_revocation_rate = 50\n",
    ));
    assert_eq!(config.leases.max_attempts, 3);
    assert_eq!(config.leases.rate_per_sec, 50);
    let err = load_err(&with("lease_revocation_max_attempts = 0\n"));
    assert!(err.contains("lease_revocation_max_attempts"), "{err}");
}

#[test]
fn a_reload_takes_only_the_audit_settings_and_names_the_other_changes() {
    let running = load(&format!(
        "{OPENBAO_RAFT}\naudit \"file\" \"a\" {{\n  options {{\n    file_path = \"discard\"\n  }}\n}}"
    ))
    .0;
    let newer = load(&format!(
        "{}\nunsafe_allow_api_audit_creation = true\nallow_audit_log_prefixing = true\n\
         audit \"file\" \"b\" {{\n  description = \"new\"\n  options {{\n    file_path = \"discard\"\n  }}\n}}",
        OPENBAO_RAFT
            .replace("ui = true", "ui = false")
            .replace("127.0.0.1:8200\"\n  tls", "127.0.0.1:9200\"\n  tls")
    ))
    .0;
    assert_eq!(running.restart_only_changes(&newer), vec!["listener", "ui"]);
    assert!(running.restart_only_changes(&running).is_empty());
    let applied = running.with_reloaded(&newer);
    assert_eq!(
        applied.listeners, running.listeners,
        "listeners need a restart"
    );
    assert!(applied.ui);
    assert_eq!(applied.audit, newer.audit);
    let r = applied.reloadable(false);
    assert!(r.allow_api_audit_creation && r.allow_audit_log_prefixing);
    assert_eq!(r.declared_audit.len(), 1);
    assert_eq!(
        (
            r.declared_audit[0].path.as_str(),
            r.declared_audit[0].description.as_str()
        ),
        ("b", "new")
    );
    assert_eq!(r.declared_audit[0].options["file_path"], "discard");
    // The running file's changes still show after the audit settings were applied.
    assert_eq!(applied.restart_only_changes(&newer), vec!["listener", "ui"]);
    assert!(running.reloadable(true).allow_api_audit_creation, "dev");
}
