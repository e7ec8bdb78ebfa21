//! HMAC-SHA256 of sensitive values under a device's salt, written as `hmac-sha256:<hex>` (OpenBao's form).

use ring::hmac;
use serde_json::{Map, Value};

/// The prefix that identifies the hash function in a hashed value.
pub(crate) const HMAC_PREFIX: &str = "hmac-sha256:";

/// A device's salt, ready to hash values. The key schedule is kept; the salt bytes themselves are not.
pub(crate) struct Hasher {
    key: hmac::Key,
}

impl Hasher {
    /// A hasher keyed by `salt`.
    pub(crate) fn new(salt: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, salt),
        }
    }

    /// `hmac-sha256:<hex>` of `value`.
    pub(crate) fn hash(&self, value: &str) -> String {
        let tag = hmac::sign(&self.key, value.as_bytes());
        let mut out = String::with_capacity(HMAC_PREFIX.len() + 64);
        out.push_str(HMAC_PREFIX);
        push_hex(&mut out, tag.as_ref());
        out
    }

    /// A copy of `data` with every string value (recursively; keys untouched) replaced by its HMAC, except under
    /// a key in `ignored`. As in OpenBao, the key that counts is the nearest enclosing object key: a string inside
    /// an array is governed by the array's key, a string in a nested object by its own key. Built in one pass:
    /// cloning first and hashing in place would allocate every string twice.
    pub(crate) fn hashed_map(
        &self,
        data: &Map<String, Value>,
        ignored: &[String],
    ) -> Map<String, Value> {
        data.iter()
            .map(|(k, v)| {
                let skip = ignored.iter().any(|i| i == k);
                (k.clone(), self.hashed_value(v, ignored, skip))
            })
            .collect()
    }

    fn hashed_value(&self, v: &Value, ignored: &[String], skip: bool) -> Value {
        match v {
            Value::String(s) if !skip => Value::String(self.hash(s)),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.hashed_value(item, ignored, skip))
                    .collect(),
            ),
            Value::Object(m) => Value::Object(self.hashed_map(m, ignored)),
            other => other.clone(),
        }
    }
}

/// Appends `bytes` as lowercase hex (the `hex` crate's encoder goes char by char: several times slower, and this
/// runs a few times per audited request).
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digit = |n: u8| char::from(DIGITS.get(usize::from(n)).copied().unwrap_or(b'0'));
    out.reserve(bytes.len() * 2);
    for b in bytes {
        out.push(digit(b >> 4));
        out.push(digit(b & 0x0f));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn push_hex_matches_the_hex_crate() {
        let bytes: Vec<u8> = (0..=255).collect();
        let mut out = String::from("x");
        push_hex(&mut out, &bytes);
        assert_eq!(out, format!("x{}", hex::encode(&bytes)));
    }

    #[test]
    fn known_value_with_fixed_salt() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let h = Hasher::new(b"Jefe");
        assert_eq!(
            h.hash("what do ya want for nothing?"),
            "hmac-sha256:5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn strings_hashed_recursively_and_ignored_keys_follow_the_nearest_key() {
        let h = Hasher::new(&[7u8; 32]);
        let data = json!({
            "password": "hunter2",
            "n": 5, "b": true, "nothing": null,
            "list": ["a", 1, {"inner": "b"}],
            "public": ["x", "y"],
            "nested": {"public": "clear", "other": "hidden"},
            "public_obj": {"deep": "hashed"}
        });
        let Value::Object(m) = &data else {
            unreachable!()
        };
        let data = Value::Object(h.hashed_map(m, &["public".into(), "public_obj".into()]));
        assert_eq!(data["password"], json!(h.hash("hunter2")));
        assert_eq!(data["n"], json!(5));
        assert_eq!(data["b"], json!(true));
        assert_eq!(data["nothing"], Value::Null);
        assert_eq!(data["list"][0], json!(h.hash("a")));
        assert_eq!(data["list"][1], json!(1));
        assert_eq!(data["list"][2]["inner"], json!(h.hash("b")));
        assert_eq!(data["public"], json!(["x", "y"]));
        assert_eq!(data["nested"]["public"], json!("clear"));
        assert_eq!(data["nested"]["other"], json!(h.hash("hidden")));
        // Only the nearest key counts: a nested object under an ignored key is hashed by its own keys.
        assert_eq!(data["public_obj"]["deep"], json!(h.hash("hashed")));
    }
}
