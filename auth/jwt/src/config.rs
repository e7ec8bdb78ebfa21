//! The mount's configuration: where verification keys come from, the required issuer, the accepted algorithms
//! and the default role. A write replaces the whole configuration, as in OpenBao.

use engine_sdk::{Storage, View, field};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::JwtError;
use crate::jwt::Alg;
use crate::paths::CONFIG;

/// Format version of [`JwtConfig`].
const CONFIG_VERSION: u32 = 1;

/// The stored configuration. Holds no secret (public keys, URLs, CA certificates).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct JwtConfig {
    /// Format version of this record.
    pub(crate) version: u32,
    /// Base URL of an OIDC discovery document whose `jwks_uri` holds the keys.
    pub(crate) oidc_discovery_url: String,
    /// CA bundle for the discovery URL (system roots when empty).
    pub(crate) oidc_discovery_ca_pem: String,
    /// URL of a JWKS.
    pub(crate) jwks_url: String,
    /// CA bundle for the JWKS URL (system roots when empty).
    pub(crate) jwks_ca_pem: String,
    /// PEM public keys.
    pub(crate) jwt_validation_pubkeys: Vec<String>,
    /// The required `iss` (none when empty).
    pub(crate) bound_issuer: String,
    /// Accepted algorithms (all supported when empty).
    pub(crate) jwt_supported_algs: Vec<String>,
    /// Role used by logins that name none.
    pub(crate) default_role: String,
}

/// A string field, "" when absent.
fn text(data: &Map<String, Value>, name: &str) -> Result<String, JwtError> {
    Ok(field::string(data, name)?.unwrap_or_default())
}

impl JwtConfig {
    /// Builds a configuration from a write's fields and checks what can be checked without the network.
    /// Returns it and whether `skip_jwks_validation` was asked for.
    pub(crate) fn from_request(data: &Map<String, Value>) -> Result<(Self, bool), JwtError> {
        for unsupported in ["oidc_client_id", "oidc_client_secret"] {
            if !text(data, unsupported)?.is_empty() {
                return Err(JwtError::invalid(format!(
                    "{unsupported} is for the browser OIDC login flow, which this server does not implement; \
                     configure JWT validation only (role_type=jwt)"
                )));
            }
        }
        if data
            .get("provider_config")
            .is_some_and(|v| v.as_object().is_some_and(|m| !m.is_empty()))
        {
            return Err(JwtError::invalid(
                "provider_config is not supported by this server",
            ));
        }
        let config = Self {
            version: CONFIG_VERSION,
            oidc_discovery_url: text(data, "oidc_discovery_url")?,
            oidc_discovery_ca_pem: text(data, "oidc_discovery_ca_pem")?,
            jwks_url: text(data, "jwks_url")?,
            jwks_ca_pem: text(data, "jwks_ca_pem")?,
            jwt_validation_pubkeys: field::strings(data, "jwt_validation_pubkeys")?
                .unwrap_or_default(),
            bound_issuer: text(data, "bound_issuer")?,
            jwt_supported_algs: field::strings(data, "jwt_supported_algs")?.unwrap_or_default(),
            default_role: text(data, "default_role")?.to_lowercase(),
        };
        let skip = field::boolean(data, "skip_jwks_validation")?.unwrap_or(false);

        let methods = [
            !config.oidc_discovery_url.is_empty(),
            !config.jwks_url.is_empty(),
            !config.jwt_validation_pubkeys.is_empty(),
        ];
        if methods.iter().filter(|m| **m).count() != 1 {
            return Err(JwtError::invalid(
                "exactly one of 'jwt_validation_pubkeys', 'jwks_url', or 'oidc_discovery_url' must be set",
            ));
        }
        if config
            .oidc_discovery_url
            .contains(".well-known/openid-configuration")
        {
            return Err(JwtError::invalid(
                "'oidc_discovery_url' contains '.well-known' component",
            ));
        }
        for alg in &config.jwt_supported_algs {
            if Alg::parse(alg).is_none() {
                return Err(JwtError::invalid(format!(
                    "invalid jwt_supported_algs: unsupported signing algorithm {alg:?}"
                )));
            }
        }
        Ok((config, skip))
    }

    /// The algorithms a token may use.
    pub(crate) fn algorithms(&self) -> Vec<Alg> {
        if self.jwt_supported_algs.is_empty() {
            Alg::ALL.to_vec()
        } else {
            self.jwt_supported_algs
                .iter()
                .filter_map(|a| Alg::parse(a))
                .collect()
        }
    }

    /// The read response.
    pub(crate) fn to_data(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("oidc_discovery_url".into(), json!(self.oidc_discovery_url));
        m.insert(
            "oidc_discovery_ca_pem".into(),
            json!(self.oidc_discovery_ca_pem),
        );
        m.insert("oidc_client_id".into(), json!(""));
        m.insert("jwks_url".into(), json!(self.jwks_url));
        m.insert("jwks_ca_pem".into(), json!(self.jwks_ca_pem));
        m.insert(
            "jwt_validation_pubkeys".into(),
            json!(self.jwt_validation_pubkeys),
        );
        m.insert("bound_issuer".into(), json!(self.bound_issuer));
        m.insert("jwt_supported_algs".into(), json!(self.jwt_supported_algs));
        m.insert("default_role".into(), json!(self.default_role));
        m.insert("provider_config".into(), json!({}));
        m
    }
}

/// The stored configuration, if any.
pub(crate) async fn load(storage: &View) -> Result<Option<JwtConfig>, JwtError> {
    match storage.get(CONFIG).await? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

/// Stores the configuration.
pub(crate) async fn save(storage: &View, config: &JwtConfig) -> Result<(), JwtError> {
    storage.put(CONFIG, &serde_json::to_vec(config)?).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn exactly_one_key_source() {
        for bad in [
            json!({}),
            json!({"jwks_url": "https://a/", "oidc_discovery_url": "https://b/"}),
            json!({"jwks_url": "https://a/", "jwt_validation_pubkeys": ["x"]}),
        ] {
            let err = JwtConfig::from_request(&m(bad)).unwrap_err();
            assert!(err.to_string().starts_with("exactly one of"), "{err}");
        }
        let (c, skip) = JwtConfig::from_request(&m(
            json!({"jwks_url": "https://a/keys", "default_role": "Dev", "skip_jwks_validation": true}),
        ))
        .unwrap();
        assert!(skip);
        assert_eq!(c.default_role, "dev");
        assert_eq!(c.algorithms().len(), Alg::ALL.len());
    }

    #[test]
    fn refusals() {
        let cases = [
            (
                json!({"oidc_discovery_url": "https://a/.well-known/openid-configuration"}),
                "contains '.well-known'",
            ),
            (
                json!({"jwks_url": "https://a/", "jwt_supported_algs": "RS256,HS256"}),
                "unsupported signing algorithm \"HS256\"",
            ),
            (
                json!({"jwks_url": "https://a/", "jwt_supported_algs": ["none"]}),
                "unsupported signing algorithm \"none\"",
            ),
            (
                json!({"jwks_url": "https://a/", "oidc_client_id": "c"}),
                "browser OIDC login flow",
            ),
            (
                json!({"jwks_url": "https://a/", "provider_config": {"provider": "azure"}}),
                "provider_config",
            ),
        ];
        for (data, want) in cases {
            let err = JwtConfig::from_request(&m(data.clone())).unwrap_err();
            assert!(err.to_string().contains(want), "{data}: {err}");
        }
        let (c, _) = JwtConfig::from_request(&m(
            json!({"jwks_url": "https://a/", "jwt_supported_algs": "ES256"}),
        ))
        .unwrap();
        assert_eq!(c.algorithms(), vec![Alg::Es256]);
    }
}
