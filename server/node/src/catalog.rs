//! The builtin catalog: engine and auth-method type names → factories.

use server_core::Catalog;

/// Every backend type this build can mount (`kv-v1`/`kv-v2` are aliases the core resolves to `kv`).
pub(crate) fn builtin() -> Catalog {
    let mut c = Catalog::new();
    c.insert("kv", engine_kv::factory());
    c.insert("userpass", auth_userpass::factory());
    c.insert("database", engine_database::factory());
    c.insert("kubernetes", auth_kubernetes::factory());
    c.insert("approle", auth_approle::factory());
    c.insert("jwt", auth_jwt::factory());
    c
}
