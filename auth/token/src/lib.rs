//! The token store: service tokens and their accessors, kept under salted hashes so that no token appears in a
//! storage key, the raft log or a snapshot.
//!
//! This is the foundation's slice of OpenBao's token store (root tokens, lookup, revoke); the `auth/token/*`
//! endpoints, TTLs, children and batch tokens build on it.

mod entry;
mod error;
mod paths;
mod salt;
mod store;

pub use entry::TokenEntry;
pub use error::TokenError;
pub use store::TokenStore;
