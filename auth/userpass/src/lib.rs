//! The userpass auth method
