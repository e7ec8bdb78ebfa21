//! What a SIGHUP applies from the re-read config file. As in OpenBao, a running server takes only its audit
//! settings: the `audit` stanzas, `unsafe_allow_api_audit_creation` and `allow_audit_log_prefixing`. Every
//! other key (listeners, storage, seal, addresses, TTLs, log settings, ...) needs a restart; a reload names the
//! ones that changed so the operator knows.

use super::validate::Config;

impl Config {
    /// The settings a running server applies on SIGHUP. `dev` servers always allow API audit creation.
    pub fn reloadable(&self, dev: bool) -> server_core::ReloadableConfig {
        server_core::ReloadableConfig {
            declared_audit: self
                .audit
                .iter()
                .map(|a| server_core::DeclaredAudit {
                    kind: a.kind.clone(),
                    path: a.path.clone(),
                    description: a.description.clone(),
                    local: a.local,
                    options: a.options.clone(),
                })
                .collect(),
            allow_api_audit_creation: self.unsafe_allow_api_audit_creation || dev,
            allow_audit_log_prefixing: self.allow_audit_log_prefixing,
        }
    }

    /// `self` (the running config) with the reloadable settings of `newer`.
    pub fn with_reloaded(&self, newer: &Config) -> Config {
        Config {
            unsafe_allow_api_audit_creation: newer.unsafe_allow_api_audit_creation,
            allow_audit_log_prefixing: newer.allow_audit_log_prefixing,
            audit: newer.audit.clone(),
            ..self.clone()
        }
    }

    /// The config keys whose value in `newer` differs from `self` (the running config) and that only a restart
    /// applies, in file-key spelling.
    pub fn restart_only_changes(&self, newer: &Config) -> Vec<&'static str> {
        // Destructured so that a new field cannot be forgotten here.
        let Config {
            listeners,
            storage,
            seal,
            api_addr,
            cluster_addr,
            cluster_name,
            disable_mlock,
            ui,
            log_level,
            log_format,
            default_lease_ttl,
            max_lease_ttl,
            unsafe_allow_api_audit_creation: _,
            allow_audit_log_prefixing: _,
            audit: _,
            leases,
        } = self;
        [
            ("listener", *listeners != newer.listeners),
            ("storage", *storage != newer.storage),
            ("seal", *seal != newer.seal),
            ("api_addr", *api_addr != newer.api_addr),
            ("cluster_addr", *cluster_addr != newer.cluster_addr),
            ("cluster_name", *cluster_name != newer.cluster_name),
            ("disable_mlock", *disable_mlock != newer.disable_mlock),
            ("ui", *ui != newer.ui),
            ("log_level", *log_level != newer.log_level),
            ("log_format", *log_format != newer.log_format),
            (
                "default_lease_ttl",
                *default_lease_ttl != newer.default_lease_ttl,
            ),
            ("max_lease_ttl", *max_lease_ttl != newer.max_lease_ttl),
            (
                "lease_revocation_max_attempts",
                leases.max_attempts != newer.leases.max_attempts,
            ),
            (
                "lease_revocation_rate",
                leases.rate_per_sec != newer.leases.rate_per_sec,
            ),
        ]
        .into_iter()
        .filter_map(|(key, changed)| changed.then_some(key))
        .collect()
    }
}
