//! Which keys each stanza knows. Keys OpenBao documents but Coffer does not implement are listed separately,
//! so the warning says "ignored" rather than "unknown" (an OpenBao config must load with little or no change).

/// The keys of one HCL body.
pub(crate) struct Schema {
    /// Keys Coffer reads (attributes or sub-blocks).
    pub(crate) known: &'static [&'static str],
    /// OpenBao keys Coffer accepts and ignores; an entry ending in `*` matches a prefix.
    pub(crate) ignored: &'static [&'static str],
    /// Sub-blocks whose own keys are checked too.
    pub(crate) nested: &'static [(&'static str, &'static Schema)],
}

impl Schema {
    /// Whether `key` is an OpenBao key that Coffer ignores.
    pub(crate) fn is_ignored(&self, key: &str) -> bool {
        self.ignored
            .iter()
            .any(|pattern| match pattern.strip_suffix('*') {
                Some(prefix) => key.starts_with(prefix),
                None => *pattern == key,
            })
    }

    /// The schema of the sub-block `key`, if its keys are checked.
    pub(crate) fn nested(&self, key: &str) -> Option<&'static Schema> {
        self.nested
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, schema)| *schema)
    }
}

/// Top-level attributes Coffer reads.
pub(crate) const TOP_ATTRIBUTES: &[&str] = &[
    "api_addr",
    "cluster_addr",
    "cluster_name",
    "disable_mlock",
    "ui",
    "log_level",
    "log_format",
    "default_lease_ttl",
    "max_lease_ttl",
    "default_max_request_duration",
    "unsafe_allow_api_audit_creation",
    "allow_audit_log_prefixing",
    "lease_revocation_max_attempts",
    "lease_revocation_rate",
];

/// Top-level keys (attributes or blocks) OpenBao knows and Coffer ignores.
pub(crate) const TOP_IGNORED: &[&str] = &[
    "ha_storage",
    "ha_backend",
    "service_registration",
    "user_lockout",
    "initialize",
    "plugin",
    "plugin_*",
    "cache_size",
    "disable_cache",
    "disable_printable_check",
    "cluster_cipher_suites",
    "enable_response_header_hostname",
    "enable_response_header_raft_node_id",
    "log_requests_level",
    "log_file",
    "log_rotate_*",
    "detect_deadlocks",
    "imprecise_lease_role_tracking",
    "unsafe_cross_namespace_identity",
    "unsafe_relative_paths",
    "disable_standby_reads",
    "allow_unauthenticated_workflows",
    "pid_file",
    "raw_storage_endpoint",
    "enable_raw_endpoint",
    "introspection_endpoint",
    "disable_clustering",
    "disable_sealwrap",
    "disable_performance_standby",
    "api_addr_template",
];

/// `listener "tcp" { ... }`.
pub(crate) const LISTENER: Schema = Schema {
    known: &[
        "address",
        "cluster_address",
        "tls_disable",
        "tls_cert_file",
        "tls_key_file",
        "tls_min_version",
        "max_request_size",
        "max_request_duration",
        // Read only to refuse them: client-certificate checks must not be dropped silently.
        "tls_require_and_verify_client_cert",
        "tls_client_ca_file",
    ],
    ignored: &[
        "purpose",
        "role",
        "max_request_json_memory",
        "max_request_json_strings",
        "require_request_header",
        "tls_max_version",
        "tls_cipher_suites",
        "tls_key_exchange_preferences",
        "tls_disable_client_certs",
        "tls_auto_reload",
        "tls_auto_reload_interval",
        "tls_prefer_server_cipher_suites",
        "tls_acme_*",
        "http_*",
        "proxy_protocol_*",
        "x_forwarded_for_*",
        "telemetry",
        "profiling",
        "inflight_requests_logging",
        "cors_*",
        "custom_response_headers",
        "disable_unauthed_rekey_endpoints",
        "disable_unauthed_generate_root_endpoints",
        "disable_replication_status_endpoints",
        "agent_api",
        "proxy_api",
        "socket_mode",
        "socket_user",
        "socket_group",
    ],
    nested: &[],
};

/// `retry_join { ... }` inside `storage "raft"`.
pub(crate) const RETRY_JOIN: Schema = Schema {
    known: &[
        "leader_api_addr",
        "leader_ca_cert_file",
        "leader_client_cert_file",
        "leader_client_key_file",
        "leader_tls_servername",
    ],
    ignored: &[
        "auto_join",
        "auto_join_scheme",
        "auto_join_port",
        "leader_ca_cert",
        "leader_client_cert",
        "leader_client_key",
    ],
    nested: &[],
};

/// `storage "raft" { ... }`.
pub(crate) const RAFT: Schema = Schema {
    known: &["path", "node_id", "performance_multiplier", "retry_join"],
    ignored: &[
        "trailing_logs",
        "snapshot_threshold",
        "snapshot_interval",
        "retry_join_as_non_voter",
        "max_entry_size",
        "max_transaction_size",
        "autopilot_*",
        "autopilot",
        "raft_log_verifier_enabled",
        "raft_log_verification_interval",
    ],
    nested: &[("retry_join", &RETRY_JOIN)],
};

/// `storage "inmem" {}` has no keys.
pub(crate) const INMEM: Schema = Schema {
    known: &[],
    ignored: &[],
    nested: &[],
};

/// `audit "<type>" "<path>" { ... }`; `options` is free-form.
pub(crate) const AUDIT: Schema = Schema {
    known: &["type", "path", "description", "options", "local"],
    ignored: &[],
    nested: &[],
};
