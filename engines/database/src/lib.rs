//! The database secrets engine: dynamic credentials (a database user per lease, revoked when the lease ends)
//! and static roles (an existing user whose password the engine rotates) for PostgreSQL and MySQL/MariaDB,
//! with OpenBao's API (`config/`, `roles/`, `creds/`, `static-roles/`, `static-creds/`, `rotate-role/`,
//! `rotate-root/`, `reset/`).
//!
//! Databases sit behind the [`driver::DatabaseDriver`] trait; each config gets a connection pool cached by the
//! backend and rebuilt whenever the config changes.
#![warn(missing_docs)]

mod backend;
mod conn_string;
pub mod cron;
pub mod driver;
mod error;
mod fields;
mod gotime;
mod mysql;
mod path_config;
mod path_creds;
mod path_roles;
mod path_rotate_root;
mod path_static_roles;
mod paths;
mod pending;
mod pool;
mod postgres;
mod rotation;
mod secret_creds;
pub mod settings;
pub mod statements;
mod store;
mod tls;
pub mod username;

pub use backend::factory;
pub use error::DbError;
