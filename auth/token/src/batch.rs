//! Batch tokens: `b.` + base64url(nonce ‖ AES-256-GCM(entry)). The token carries its own entry, so nothing is
//! stored; the key lives in the token store's view (encrypted by the barrier).

use std::collections::BTreeMap;

use base64::Engine as _;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use serde::{Deserialize, Serialize};

use crate::TokenError;
use crate::entry::{ENTRY_VERSION, TokenEntry, TokenType};

/// Prefix of every batch token.
pub(crate) const PREFIX: &str = "b.";
/// Binds ciphertexts to their purpose and format.
const AAD: &[u8] = b"coffer/batch-token/v1";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The AEAD key sealing batch tokens.
pub(crate) struct BatchKey {
    key: LessSafeKey,
}

// Key material: never printed.
impl std::fmt::Debug for BatchKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BatchKey(..)")
    }
}

/// What a batch token carries (short field names keep tokens short).
#[derive(Serialize, Deserialize)]
struct Sealed {
    v: u32,
    #[serde(rename = "pa", default)]
    parent: String,
    #[serde(rename = "po", default)]
    policies: Vec<String>,
    #[serde(rename = "m", default)]
    meta: BTreeMap<String, String>,
    #[serde(rename = "d", default)]
    display_name: String,
    #[serde(rename = "c")]
    creation_time: u64,
    #[serde(rename = "t")]
    ttl: u64,
    #[serde(rename = "p", default)]
    path: String,
    #[serde(rename = "r", default)]
    role: String,
    #[serde(rename = "e", default)]
    entity_id: String,
    #[serde(rename = "b", default)]
    bound_cidrs: Vec<String>,
}

impl BatchKey {
    pub(crate) fn new(bytes: &[u8]) -> Result<Self, TokenError> {
        let key = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| TokenError::Corrupt("batch token key has the wrong length".into()))?;
        Ok(Self {
            key: LessSafeKey::new(key),
        })
    }

    /// Seals `entry` into a batch token.
    pub(crate) fn seal(
        &self,
        entry: &TokenEntry,
        nonce: [u8; NONCE_LEN],
    ) -> Result<String, TokenError> {
        let sealed = Sealed {
            v: 1,
            parent: entry.parent.clone(),
            policies: entry.policies.clone(),
            meta: entry.meta.clone(),
            display_name: entry.display_name.clone(),
            creation_time: entry.creation_time,
            ttl: entry.ttl,
            path: entry.path.clone(),
            role: entry.role.clone(),
            entity_id: entry.entity_id.clone(),
            bound_cidrs: entry.bound_cidrs.clone(),
        };
        let mut buf =
            serde_json::to_vec(&sealed).map_err(|e| TokenError::Internal(e.to_string()))?;
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut buf,
            )
            .map_err(|_| TokenError::Internal("batch token encryption failed".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(format!("{PREFIX}{}", B64.encode(out)))
    }

    /// Opens a batch token; `None` if it is malformed, forged or sealed under another key.
    pub(crate) fn open(&self, token: &str) -> Option<TokenEntry> {
        let body = token.strip_prefix(PREFIX)?;
        let raw = B64.decode(body).ok()?;
        let (nonce, ct) = raw.split_at_checked(NONCE_LEN)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut ct = ct.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(AAD), &mut ct)
            .ok()?;
        let s: Sealed = serde_json::from_slice(plain).ok()?;
        Some(TokenEntry {
            v: ENTRY_VERSION,
            parent: s.parent,
            policies: s.policies,
            meta: s.meta,
            display_name: s.display_name,
            creation_time: s.creation_time,
            ttl: s.ttl,
            expire_time: if s.ttl == 0 {
                0
            } else {
                s.creation_time.saturating_add(s.ttl)
            },
            lease_ttl: s.ttl,
            path: s.path,
            token_type: TokenType::Batch,
            entity_id: s.entity_id,
            bound_cidrs: s.bound_cidrs,
            role: s.role,
            ..TokenEntry::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let key = BatchKey::new(&[7u8; 32]).unwrap();
        let entry = TokenEntry {
            policies: vec!["default".into(), "web".into()],
            creation_time: 100,
            ttl: 60,
            path: "auth/token/create".into(),
            display_name: "token".into(),
            ..TokenEntry::default()
        };
        let token = key.seal(&entry, [1u8; NONCE_LEN]).unwrap();
        assert!(token.starts_with("b."));
        let back = key.open(&token).unwrap();
        assert_eq!(back.policies, entry.policies);
        assert_eq!((back.expire_time, back.token_type), (160, TokenType::Batch));
        assert!(back.accessor.is_empty() && !back.renewable);

        let other = BatchKey::new(&[8u8; 32]).unwrap();
        assert!(other.open(&token).is_none());
        let mut chars: Vec<char> = token.chars().collect();
        let last = chars.len() - 1;
        chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert!(key.open(&tampered).is_none());
        assert!(key.open("b.").is_none());
        assert!(key.open("s.abc").is_none());
        assert!(BatchKey::new(&[0u8; 5]).is_err());
    }
}
