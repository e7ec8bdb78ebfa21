//! The kv secrets engine, versions 1 and 2.
//!
//! Version 1 stores one JSON object per path. Version 2 keeps numbered versions of each secret with
//! metadata (check-and-set, soft delete, undelete, destroy, automatic deletion, custom metadata), following
//! OpenBao's API. [`factory`] picks the version from the mount's `version` option and upgrades version-1
//! data in place when a mount is switched to version 2.

mod backend;
mod error;
mod path_config;
mod path_data;
mod path_delete;
mod path_metadata;
mod path_subkeys;
mod path_v1;
mod store;
mod upgrade;

#[cfg(test)]
mod tests;

pub use backend::factory;
