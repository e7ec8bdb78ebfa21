//! The token store: service and batch tokens, their accessors and hierarchy, kept under salted hashes so that no
//! token or accessor appears in a storage key, the raft log or a snapshot; and the `auth/token/` backend that
//! serves OpenBao's token API over it.
//!
//! The core uses [`TokenStore`] on every request ([`TokenStore::check`]) and mounts [`Backend`] at `auth/token/`.

mod backend;
#[cfg(test)]
mod backend_tests;
mod batch;
mod cidr;
mod entry;
mod error;
mod hook;
mod path_accessors;
mod path_create;
mod path_lookup;
mod path_renew;
mod path_revoke;
mod path_roles;
mod paths;
mod policies;
mod role;
mod salt;
mod store;
#[cfg(test)]
mod testutil;
mod ttl;

use std::time::{SystemTime, UNIX_EPOCH};

pub use backend::Backend;
pub use entry::{TokenEntry, TokenType};
pub use error::TokenError;
pub use hook::{NoopHook, RevokeHook};
pub use role::{Role, RoleTokenType};
pub use store::{CreateToken, Created, Parent, Renewed, TidyReport, TokenStore};
pub use ttl::{SYSTEM_MAX_TTL, TtlLimits};

/// Unix seconds (0 before the epoch).
pub(crate) fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
