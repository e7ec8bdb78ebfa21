//! Coffer's ACL policies, compatible with Vault/OpenBao.
//!
//! Policy text (HCL or JSON) is parsed into a [`Policy`]; a token's policies are compiled once into an
//! [`Acl`] (exact-path hash map, prefix trie for globs, a list of `+` patterns), which then answers
//! [`Acl::decide`] per request without parsing or allocating. Pure and synchronous: no I/O, no async.
//!
//! [`password`] holds the unrelated OpenBao *password* policies: a length and charset rules, and a
//! generator for passwords that satisfy them.
//!
//! ```
//! use policy::{Acl, Operation, Policy};
//!
//! let p = Policy::parse("app", r#"
//!     path "secret/*"          { capabilities = ["read", "list"] }
//!     path "secret/super-secret" { capabilities = ["deny"] }
//! "#).unwrap();
//! let acl = Acl::new([&p]);
//! assert!(acl.decide(Operation::Read, "secret/foo", None).allowed);
//! assert!(!acl.decide(Operation::Read, "secret/super-secret", None).allowed);
//! assert_eq!(acl.capabilities("secret/foo"), ["list", "read"]);
//! ```

mod acl;
mod builtin;
mod capability;
mod error;
mod params;
mod parse;
pub mod password;
mod template;
mod time;

pub use acl::{Acl, Decision, DenyReason, GrantingPolicies};
pub use builtin::{DEFAULT_POLICY, RESPONSE_WRAPPING_POLICY, SUDO_PATHS, is_sudo_path};
pub use capability::{Capabilities, Operation};
pub use error::PolicyError;
pub use parse::{
    DEFAULT_POLICY_NAME, PathRule, Policy, RESPONSE_WRAPPING_POLICY_NAME, ROOT_POLICY_NAME,
    normalize_name, validate_name,
};
pub use password::{CharsetRule, PasswordPolicy};
pub use template::{Entity, EntityAlias, Group, Identity};
