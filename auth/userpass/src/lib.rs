//! The userpass auth method: users with passwords (PBKDF2-hashed) stored in the mount, and a login that turns a
//! correct username and password into a token.
#![warn(missing_docs)]

mod backend;
mod error;
mod password;
mod path_login;
mod path_user_password;
mod path_user_policies;
mod path_users;
mod paths;
mod user;

#[cfg(test)]
mod tests;

pub use backend::factory;
pub use error::UserpassError;
