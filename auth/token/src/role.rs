//! Token-store roles (`auth/token/roles/:name`), kept in the token store's view.

use serde::{Deserialize, Serialize};
use storage::Storage;

use crate::{TokenError, TokenStore, paths};

const ROLE_VERSION: u32 = 1;

/// Which token type a role creates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoleTokenType {
    /// Always service tokens.
    Service,
    /// Always batch tokens.
    Batch,
    /// Service unless the request asks for batch.
    #[default]
    DefaultService,
    /// Batch unless the request asks for service.
    DefaultBatch,
}

impl RoleTokenType {
    /// The name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            RoleTokenType::Service => "service",
            RoleTokenType::Batch => "batch",
            RoleTokenType::DefaultService => "default-service",
            RoleTokenType::DefaultBatch => "default-batch",
        }
    }

    /// Parses an API name (`default` means `default-service`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "service" => Some(RoleTokenType::Service),
            "batch" => Some(RoleTokenType::Batch),
            "" | "default" | "default-service" => Some(RoleTokenType::DefaultService),
            "default-batch" => Some(RoleTokenType::DefaultBatch),
            _ => None,
        }
    }
}

/// A token role. Durations are whole seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Role {
    /// Format version.
    pub v: u32,
    /// The role name.
    pub name: String,
    /// Policies tokens may get instead of a subset of the caller's.
    pub allowed_policies: Vec<String>,
    /// Policies tokens may not get.
    pub disallowed_policies: Vec<String>,
    /// Globs of allowed policies.
    pub allowed_policies_glob: Vec<String>,
    /// Globs of disallowed policies.
    pub disallowed_policies_glob: Vec<String>,
    /// Tokens have no parent.
    pub orphan: bool,
    /// Tokens may be renewed.
    pub renewable: bool,
    /// Appended to the token path (`auth/token/create/<role>/<suffix>`).
    pub path_suffix: String,
    /// Entity aliases the creator may name (globs, lowercased).
    pub allowed_entity_aliases: Vec<String>,
    /// Token type.
    pub token_type: RoleTokenType,
    /// CIDRs tokens are bound to.
    pub token_bound_cidrs: Vec<String>,
    /// Explicit max TTL of tokens.
    pub token_explicit_max_ttl: u64,
    /// Leave `default` out.
    pub token_no_default_policy: bool,
    /// Use limit of tokens (0 = unlimited).
    pub token_num_uses: u32,
    /// Period of tokens.
    pub token_period: u64,
    /// Deprecated `period`, kept so reads return what was written.
    pub period: u64,
    /// Deprecated `explicit_max_ttl`.
    pub explicit_max_ttl: u64,
    /// Deprecated `bound_cidrs`.
    pub bound_cidrs: Vec<String>,
}

impl Role {
    /// A new role with OpenBao's defaults (`renewable = true`, `default-service`).
    pub fn new(name: &str) -> Self {
        Self {
            v: ROLE_VERSION,
            name: name.to_owned(),
            renewable: true,
            ..Self::default()
        }
    }
}

/// Whether `name` is a valid role name (OpenBao's `GenericNameRegex`: word characters, `-` and `.` inside).
pub(crate) fn valid_name(name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let (Some(first), Some(last)) = (name.chars().next(), name.chars().last()) else {
        return false;
    };
    word(first) && word(last) && name.chars().all(|c| word(c) || c == '-' || c == '.')
}

impl TokenStore {
    /// The role `name`, if any.
    pub async fn role(&self, name: &str) -> Result<Option<Role>, TokenError> {
        if !valid_name(name) {
            return Ok(None);
        }
        let Some(bytes) = self
            .view()
            .get(&format!("{}{name}", paths::ROLES_PREFIX))
            .await?
        else {
            return Ok(None);
        };
        let role: Role =
            serde_json::from_slice(&bytes).map_err(|e| TokenError::Corrupt(e.to_string()))?;
        Ok(Some(role))
    }

    /// Creates or replaces a role.
    pub async fn put_role(&self, role: &Role) -> Result<(), TokenError> {
        if !valid_name(&role.name) {
            return Err(TokenError::invalid("role name cannot be empty"));
        }
        let mut role = role.clone();
        role.v = ROLE_VERSION;
        let bytes = serde_json::to_vec(&role).map_err(|e| TokenError::Internal(e.to_string()))?;
        self.view()
            .put(&format!("{}{}", paths::ROLES_PREFIX, role.name), &bytes)
            .await?;
        Ok(())
    }

    /// Deletes a role (no error if absent).
    pub async fn delete_role(&self, name: &str) -> Result<(), TokenError> {
        if valid_name(name) {
            self.view()
                .delete(&format!("{}{name}", paths::ROLES_PREFIX))
                .await?;
        }
        Ok(())
    }

    /// Role names, sorted.
    pub async fn list_roles(&self) -> Result<Vec<String>, TokenError> {
        let mut names: Vec<String> = self
            .view()
            .list(paths::ROLES_PREFIX)
            .await?
            .into_iter()
            .filter(|n| !n.ends_with('/'))
            .collect();
        names.sort();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "web-1", "x.y", "A_b"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", ".a", "a/b", "a b", "a."] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert_eq!(
            RoleTokenType::parse("default"),
            Some(RoleTokenType::DefaultService)
        );
        assert_eq!(RoleTokenType::parse("nope"), None);
        assert_eq!(RoleTokenType::DefaultBatch.as_str(), "default-batch");
    }
}
