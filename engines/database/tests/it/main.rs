//! The database engine against real throwaway PostgreSQL and MariaDB servers (testkit fixtures).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub
)]

mod fixtures;
mod harness;
mod mysql;
mod postgres;
mod validation;
