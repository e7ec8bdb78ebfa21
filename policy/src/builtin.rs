//! Built-in policy texts and the root-protected (sudo) paths.

/// The `default` policy written on first unseal: the same paths and capabilities as OpenBao's, so tokens
/// can inspect and manage themselves, use their cubbyhole, wrap/unwrap, hash, and reach OIDC authorize.
pub const DEFAULT_POLICY: &str = r#"
# Token self-service: look up, renew and revoke the calling token.
path "auth/token/lookup-self" {
    capabilities = ["read"]
}

path "auth/token/renew-self" {
    capabilities = ["update"]
}

path "auth/token/revoke-self" {
    capabilities = ["update"]
}

# Ask which capabilities the calling token has on some paths.
path "sys/capabilities-self" {
    capabilities = ["update"]
}

# Read the token's own identity entity, by id or by name.
path "identity/entity/id/{{identity.entity.id}}" {
    capabilities = ["read"]
}

path "identity/entity/name/{{identity.entity.name}}" {
    capabilities = ["read"]
}

# The merged ACL of the calling token, for UIs (internal, format may change).
path "sys/internal/ui/resultant-acl" {
    capabilities = ["read"]
}

# Renew a lease, or look one up, given its id in the request body.
path "sys/leases/renew" {
    capabilities = ["update"]
}

path "sys/leases/lookup" {
    capabilities = ["update"]
}

# The token's private cubbyhole.
path "cubbyhole/*" {
    capabilities = ["create", "read", "update", "delete", "list"]
}

# Response wrapping: wrap any data, inspect a wrapping token, unwrap.
path "sys/wrapping/wrap" {
    capabilities = ["update"]
}

path "sys/wrapping/lookup" {
    capabilities = ["update"]
}

path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}

# Hashing tools.
path "sys/tools/hash" {
    capabilities = ["update"]
}

path "sys/tools/hash/*" {
    capabilities = ["update"]
}

# OIDC provider authorization endpoint.
path "identity/oidc/provider/+/authorize" {
    capabilities = ["read", "update"]
}
"#;

/// The fixed `response-wrapping` policy of wrapping tokens: read their cubbyhole response and unwrap.
pub const RESPONSE_WRAPPING_POLICY: &str = r#"
path "cubbyhole/response" {
    capabilities = ["create", "read"]
}

path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}

path "auth/token/revoke-self" {
    capabilities = ["update"]
}
"#;

/// Paths that need `sudo` (or root) on top of the operation's capability, as full request paths under
/// `/v1/`. A trailing `*` is a prefix match, as in policies. These are the `sys/` and token-store paths
/// OpenBao marks root-protected (`PathsSpecial.Root`), plus `sys/seal` and `sys/step-down`, which its HTTP
/// handlers check the same way. Engine-specific ones (`pki/root`, relative to wherever PKI is mounted) and
/// field-dependent ones (`auth/token/create` with `period`/`no_parent`) are the owning backend's to check.
pub const SUDO_PATHS: &[&str] = &[
    "auth/token/accessors*",
    "auth/token/revoke-orphan/*",
    "sys/audit",
    // Coffer: the audit files' chain-verification keys.
    "sys/audit-verify-key/*",
    "sys/audit/*",
    "sys/auth/*",
    "sys/config/auditing/*",
    "sys/config/cors",
    "sys/config/ui/headers/*",
    "sys/internal/inspect/*",
    "sys/leases",
    "sys/leases/lookup/*",
    "sys/leases/revoke-force/*",
    "sys/leases/revoke-prefix/*",
    "sys/plugins/catalog/*",
    "sys/raw",
    "sys/raw/*",
    "sys/remount",
    "sys/revoke-force/*",
    "sys/revoke-prefix/*",
    "sys/rotate",
    "sys/rotate/keyring",
    "sys/rotate/root",
    "sys/seal",
    "sys/step-down",
];

/// Whether `path` (without `/v1/`, leading slashes ignored) is root-protected per [`SUDO_PATHS`].
pub fn is_sudo_path(path: &str) -> bool {
    let path = path.trim_start_matches('/');
    SUDO_PATHS
        .iter()
        .any(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == *pattern,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sudo_paths_match() {
        let cases = [
            ("sys/audit", true),
            ("sys/audit/file", true),
            ("/sys/seal", true),
            ("sys/seal-status", false),
            ("sys/auth", false),
            ("sys/auth/userpass", true),
            ("sys/auth/userpass/tune", true),
            ("sys/mounts/auth/userpass/tune", false),
            ("auth/token/accessors", true),
            ("auth/token/accessors/", true),
            ("auth/token/create", false),
            ("sys/leases/lookup/", true),
            ("sys/leases/lookup", false),
            ("sys/rotate", true),
            ("sys/rotate/root", true),
            ("sys/rotate/root/init", false),
            ("sys/policy/x", false),
        ];
        for (path, want) in cases {
            assert_eq!(is_sudo_path(path), want, "{path}");
        }
    }

    #[test]
    fn sudo_paths_are_sorted_and_unique() {
        let mut sorted = SUDO_PATHS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, SUDO_PATHS);
    }
}
