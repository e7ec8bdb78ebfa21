//! Salted hashing of token ids and accessors (HMAC-SHA256 under a random per-store salt).

use ring::hmac;

/// Hashes secrets for use in storage keys.
pub(crate) struct Salt {
    key: hmac::Key,
}

impl Salt {
    pub(crate) fn new(salt: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, salt),
        }
    }

    /// Hex HMAC of `value`, prefixed with `purpose` so ids and accessors never share a hash space.
    pub(crate) fn hash(&self, purpose: &str, value: &str) -> String {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(purpose.as_bytes());
        ctx.update(b"\0");
        ctx.update(value.as_bytes());
        let tag = ctx.sign();
        let mut out = String::with_capacity(64);
        for b in tag.as_ref() {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }
}
