//! The response envelope (vault's `api.Secret`) and its parsing rules.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zeroize::Zeroize;

/// A vault response envelope. Serializes in the vault CLI's JSON field order.
#[derive(Default, Deserialize, Serialize)]
pub struct Secret {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Lease id, empty for non-leased data.
    #[serde(default)]
    pub lease_id: String,
    /// Lease duration in seconds.
    #[serde(default)]
    pub lease_duration: i64,
    /// Whether the lease is renewable.
    #[serde(default)]
    pub renewable: bool,
    /// Response data.
    #[serde(default)]
    pub data: Option<Map<String, Value>>,
    /// Warnings.
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
    /// Authentication result, for logins and token creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<SecretAuth>,
    /// Response-wrapping information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrap_info: Option<Value>,
}

/// The `auth` block of a response. Holds a token, so no `Debug` and zeroized on drop.
#[derive(Default, Deserialize, Serialize)]
pub struct SecretAuth {
    /// The token.
    #[serde(default)]
    pub client_token: String,
    /// The token's accessor.
    #[serde(default)]
    pub accessor: String,
    /// All policies.
    #[serde(default)]
    pub policies: Option<Vec<String>>,
    /// Policies attached to the token.
    #[serde(default)]
    pub token_policies: Option<Vec<String>>,
    /// Policies inherited from the identity.
    #[serde(default)]
    pub identity_policies: Option<Vec<String>>,
    /// Token metadata.
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    /// Whether the token is an orphan.
    #[serde(default)]
    pub orphan: bool,
    /// Entity id.
    #[serde(default)]
    pub entity_id: String,
    /// TTL in seconds (0 = never expires).
    #[serde(default)]
    pub lease_duration: i64,
    /// Whether the token is renewable.
    #[serde(default)]
    pub renewable: bool,
    /// MFA requirement (always printed, usually null).
    #[serde(default)]
    pub mfa_requirement: Option<Value>,
}

impl Drop for SecretAuth {
    fn drop(&mut self) {
        self.client_token.zeroize();
    }
}

/// Errors while decoding a response body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The body is not valid JSON of the expected shape.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// The body only carried error strings next to raw data.
    #[error("{0}")]
    Embedded(String),
}

impl Secret {
    /// Whether the secret carries warnings or data (what makes a 404 worth showing).
    pub fn has_content(&self) -> bool {
        self.warnings.as_ref().is_some_and(|w| !w.is_empty())
            || self.data.as_ref().is_some_and(|d| !d.is_empty())
    }

    /// The warnings, or an empty slice.
    pub fn warnings(&self) -> &[String] {
        self.warnings.as_deref().unwrap_or_default()
    }

    fn is_zero(&self) -> bool {
        self.request_id.is_empty()
            && self.lease_id.is_empty()
            && self.lease_duration == 0
            && !self.renewable
            && self.data.is_none()
            && self.warnings.is_none()
            && self.auth.is_none()
            && self.wrap_info.is_none()
    }

    /// Parse a response body like vault's `ParseSecret`: empty → `None`; a body without any
    /// envelope field becomes the data (so `read sys/leader` works); an error-only body → `None`.
    pub fn parse(body: &[u8]) -> Result<Option<Self>, ParseError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let mut secret: Secret = serde_json::from_slice(body)?;
        if !secret.is_zero() {
            return Ok(Some(secret));
        }
        let raw: Map<String, Value> = serde_json::from_slice(body)?;
        if let Some(errors) = raw.get("errors") {
            if raw.len() == 1 {
                return Ok(None);
            }
            let messages: Vec<String> = serde_json::from_value(errors.clone())?;
            return Err(ParseError::Embedded(messages.join(" ")));
        }
        if !raw.is_empty() {
            secret.data = Some(raw);
        }
        Ok(Some(secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_envelope_and_raw_bodies() {
        assert!(Secret::parse(b"").unwrap().is_none());
        assert!(Secret::parse(b"{\"errors\":[]}").unwrap().is_none());
        let s = Secret::parse(br#"{"request_id":"r","data":{"a":"1"},"warnings":null}"#)
            .unwrap()
            .unwrap();
        assert_eq!(s.data.unwrap().get("a").unwrap(), "1");
        let s = Secret::parse(br#"{"ha_enabled":false}"#).unwrap().unwrap();
        assert_eq!(s.data.unwrap().get("ha_enabled").unwrap(), false);
        assert!(Secret::parse(br#"{"errors":["boom"],"x":1}"#).is_err());
        let s = Secret::parse(br#"{"request_id":"r","data":null,"warnings":["careful"]}"#)
            .unwrap()
            .unwrap();
        assert!(s.has_content());
    }
}
