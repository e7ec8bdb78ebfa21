//! What secrets engines and auth methods plug into.
//!
//! An engine implements [`LogicalBackend`]: a table of [`PathSpec`]s (compiled once into a [`PathRouter`]) and
//! an async `handle`. It receives a [`Request`] carrying a storage [`View`] confined to its mount, the clock,
//! the mount's settings and what is known of the caller, and never sees the core, the barrier or raft.
#![warn(missing_docs)]

mod backend;
pub mod cidr;
mod clock;
mod error;
pub mod field;
mod path;
mod request;
mod response;
pub mod testing;
pub mod token_fields;

pub use backend::{BackendConfig, Factory, LogicalBackend, SpecialPaths};
pub use clock::{Clock, SystemClock};
pub use error::EngineError;
pub use path::{Field, FieldKind, LIST_FIELDS, PathRouter, PathSpec, RouteMatch, field};
pub use request::{
    Caller, LeaseRequest, MountInfo, Operation, PeriodicRequest, Request, SystemView,
};
pub use response::{Alias, Auth, Response, Secret};
pub use storage::{Op, Storage, StorageError, View};
