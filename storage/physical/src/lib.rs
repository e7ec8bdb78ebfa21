//! Storage traits shared by every layer below the request pipeline.
//!
//! Two sides with the same shape: [`physical::Backend`] stores opaque (ciphertext) values and is implemented by
//! the in-memory backend and raft-store; [`Storage`] stores plaintext values and is implemented only by the
//! barrier and its prefix views. Keys are `/`-separated paths and are never secret.

pub mod error;
pub mod physical;
pub mod testing;

mod inmem;
mod list;
mod logical;

pub use error::StorageError;
pub use inmem::InMem;
pub use list::{children, validate_key};
pub use logical::{Storage, View};
pub use physical::{Backend, Op};
