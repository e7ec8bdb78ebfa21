//! The AppRole auth method: named roles with a public `role_id` and issued `secret_id`s (stored only under salted
//! HMACs), and a login that turns a matching pair into a token. Built for machines (CI/CD, services).
#![warn(missing_docs)]

mod backend;
mod cidr_subset;
mod error;
mod locks;
mod path_login;
mod path_role;
mod path_role_fields;
mod path_secret_id;
mod path_tidy;
mod paths;
mod role;
mod salt;
mod secret_id;

pub use backend::factory;
pub use error::ApproleError;
