//! The mount's `config` entry: where the API server is and how to trust and call it, how to check JWTs locally.

use std::time::Duration;

use engine_sdk::{Storage, View, field};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use zeroize::Zeroize;

use crate::KubernetesError;
use crate::jwt::PublicKey;
use crate::paths::CONFIG_KEY;
use crate::review_http;

/// Format version of [`ConfigEntry`].
const CONFIG_VERSION: u32 = 1;
/// The TokenReview timeout when none is configured.
pub(crate) const DEFAULT_REVIEW_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest TokenReview timeout accepted: a login should never wait longer.
const MAX_REVIEW_TIMEOUT: Duration = Duration::from_secs(300);

fn yes() -> bool {
    true
}

/// The stored configuration. The reviewer JWT is a credential: wiped on drop, never printed or read back.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct ConfigEntry {
    /// Format version of this record.
    #[serde(default)]
    pub(crate) version: u32,
    /// The API server: a host, `host:port` or URL.
    pub(crate) kubernetes_host: String,
    /// PEM CA bundle for the API server's certificate ("" = the pod's CA, else the system roots).
    #[serde(default)]
    pub(crate) kubernetes_ca_cert: String,
    /// Bearer for TokenReview ("" = the pod's token, else the client's own JWT).
    #[serde(default)]
    pub(crate) token_reviewer_jwt: String,
    /// PEM public keys or certificates to verify JWT signatures locally (none = no local check).
    #[serde(default)]
    pub(crate) pem_keys: Vec<String>,
    /// Expected `iss` when issuer validation is on ("" = `kubernetes/serviceaccount`).
    #[serde(default)]
    pub(crate) issuer: String,
    /// Skip the `iss` check (the default: the API server checks it during the review).
    #[serde(default = "yes")]
    pub(crate) disable_iss_validation: bool,
    /// Never default to the pod's CA and token.
    #[serde(default)]
    pub(crate) disable_local_ca_jwt: bool,
    /// TokenReview timeout in seconds (0 = [`DEFAULT_REVIEW_TIMEOUT`]); a Coffer addition.
    #[serde(default)]
    pub(crate) review_timeout: u64,
}

impl Drop for ConfigEntry {
    fn drop(&mut self) {
        self.token_reviewer_jwt.zeroize();
    }
}

impl std::fmt::Debug for ConfigEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigEntry")
            .field("kubernetes_host", &self.kubernetes_host)
            .field("pem_keys", &self.pem_keys.len())
            .field(
                "token_reviewer_jwt_set",
                &!self.token_reviewer_jwt.is_empty(),
            )
            .field("disable_local_ca_jwt", &self.disable_local_ca_jwt)
            .finish_non_exhaustive()
    }
}

impl ConfigEntry {
    /// A configuration built from a write's fields. As in OpenBao, a write replaces the whole configuration:
    /// fields not sent take their defaults.
    pub(crate) fn from_request(data: &Map<String, Value>) -> Result<Self, KubernetesError> {
        let text = |name: &str| -> Result<String, KubernetesError> {
            Ok(field::string(data, name)?.unwrap_or_default())
        };
        let host = text("kubernetes_host")?.trim().to_owned();
        if host.is_empty() {
            return Err(KubernetesError::InvalidField("no host provided".into()));
        }
        review_http::base_url(&host).map_err(KubernetesError::InvalidField)?;

        let ca = text("kubernetes_ca_cert")?;
        let disable_local_ca_jwt = field::boolean(data, "disable_local_ca_jwt")?.unwrap_or(false);
        if disable_local_ca_jwt && ca.trim().is_empty() {
            return Err(KubernetesError::InvalidField(
                "kubernetes_ca_cert must be given when disable_local_ca_jwt is true".into(),
            ));
        }
        if !ca.trim().is_empty() {
            review_http::parse_ca(&ca).map_err(KubernetesError::InvalidField)?;
        }

        let reviewer = text("token_reviewer_jwt")?.trim().to_owned();
        if !reviewer.is_empty() && !crate::jwt::looks_like_jwt(&reviewer) {
            return Err(KubernetesError::InvalidField(
                "token_reviewer_jwt is not a JWT".into(),
            ));
        }

        let pem_keys = pem_list(data)?;
        for (i, pem) in pem_keys.iter().enumerate() {
            PublicKey::from_pem(pem)
                .map_err(|e| KubernetesError::InvalidField(format!("pem_keys entry {i}: {e}")))?;
        }

        let timeout = field::duration(data, "review_timeout")?.unwrap_or_default();
        if timeout > MAX_REVIEW_TIMEOUT {
            return Err(KubernetesError::InvalidField(format!(
                "review_timeout may be at most {}s",
                MAX_REVIEW_TIMEOUT.as_secs()
            )));
        }
        if !timeout.is_zero() && timeout < Duration::from_secs(1) {
            return Err(KubernetesError::InvalidField(
                "review_timeout must be at least 1s".into(),
            ));
        }

        Ok(Self {
            version: CONFIG_VERSION,
            kubernetes_host: host,
            kubernetes_ca_cert: ca,
            token_reviewer_jwt: reviewer,
            pem_keys,
            issuer: text("issuer")?,
            disable_iss_validation: field::boolean(data, "disable_iss_validation")?.unwrap_or(true),
            disable_local_ca_jwt,
            review_timeout: timeout.as_secs(),
        })
    }

    /// The read response: everything but the reviewer JWT, whose presence alone is shown.
    pub(crate) fn to_data(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("kubernetes_host".into(), json!(self.kubernetes_host));
        m.insert("kubernetes_ca_cert".into(), json!(self.kubernetes_ca_cert));
        m.insert("pem_keys".into(), json!(self.pem_keys));
        m.insert("issuer".into(), json!(self.issuer));
        m.insert(
            "disable_iss_validation".into(),
            json!(self.disable_iss_validation),
        );
        m.insert(
            "disable_local_ca_jwt".into(),
            json!(self.disable_local_ca_jwt),
        );
        m.insert(
            "token_reviewer_jwt_set".into(),
            json!(!self.token_reviewer_jwt.is_empty()),
        );
        m.insert("review_timeout".into(), json!(self.timeout().as_secs()));
        m
    }

    /// The effective TokenReview timeout.
    pub(crate) fn timeout(&self) -> Duration {
        if self.review_timeout == 0 {
            DEFAULT_REVIEW_TIMEOUT
        } else {
            Duration::from_secs(self.review_timeout)
        }
    }

    /// The parsed `pem_keys` (validated on write, so a failure here means a corrupted entry).
    pub(crate) fn public_keys(&self) -> Result<Vec<PublicKey>, KubernetesError> {
        self.pem_keys
            .iter()
            .map(|p| {
                PublicKey::from_pem(p).map_err(|e| {
                    KubernetesError::Engine(engine_sdk::EngineError::Internal(format!(
                        "stored pem_keys entry unusable: {e}"
                    )))
                })
            })
            .collect()
    }
}

/// `pem_keys`: a list, or one string that may hold several PEM blocks (the CLI's `pem_keys=@file`); each block
/// becomes one entry.
fn pem_list(data: &Map<String, Value>) -> Result<Vec<String>, KubernetesError> {
    let raw: Vec<String> = match data.get("pem_keys") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    KubernetesError::InvalidField("pem_keys must be a list of strings".into())
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(KubernetesError::InvalidField(
                "pem_keys must be a list of strings".into(),
            ));
        }
    };
    let mut out = Vec::new();
    for item in raw {
        let blocks = split_pem_blocks(&item);
        if blocks.is_empty() {
            if !item.trim().is_empty() {
                out.push(item);
            }
        } else {
            out.extend(blocks);
        }
    }
    Ok(out)
}

/// The `-----BEGIN ...-----` ... `-----END ...-----` blocks of `text`, each with a trailing newline.
fn split_pem_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("-----BEGIN ") {
            current = Some(format!("{line}\n"));
        } else if let Some(block) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
            if line.starts_with("-----END ") {
                blocks.extend(current.take());
            }
        }
    }
    blocks
}

/// The stored configuration, if any.
pub(crate) async fn load(storage: &View) -> Result<Option<ConfigEntry>, KubernetesError> {
    match storage.get(CONFIG_KEY).await? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

/// Stores the configuration.
pub(crate) async fn save(storage: &View, entry: &ConfigEntry) -> Result<(), KubernetesError> {
    let bytes = zeroize::Zeroizing::new(serde_json::to_vec(entry)?);
    storage.put(CONFIG_KEY, &bytes).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_are_split() {
        let two = "-----BEGIN PUBLIC KEY-----\nAAA\n-----END PUBLIC KEY-----\n  -----BEGIN PUBLIC KEY-----\nBBB\n-----END PUBLIC KEY-----";
        let blocks = split_pem_blocks(two);
        assert_eq!(blocks.len(), 2);
        assert!(blocks[1].contains("BBB") && blocks[1].ends_with("-----END PUBLIC KEY-----\n"));
        assert!(split_pem_blocks("garbage").is_empty());
    }

    #[test]
    fn defaults_and_validation() {
        let m = |v: Value| v.as_object().cloned().unwrap();
        let c = ConfigEntry::from_request(&m(json!({"kubernetes_host": "10.0.0.1:6443"}))).unwrap();
        assert!(c.disable_iss_validation);
        assert_eq!(c.timeout(), DEFAULT_REVIEW_TIMEOUT);
        let d = c.to_data();
        assert_eq!(d["token_reviewer_jwt_set"], json!(false));
        assert!(!d.contains_key("token_reviewer_jwt"));

        let err = |v: Value| ConfigEntry::from_request(&m(v)).unwrap_err().to_string();
        assert_eq!(err(json!({})), "no host provided");
        assert!(err(json!({"kubernetes_host": "ftp://x"})).contains("invalid kubernetes_host"));
        assert!(
            err(json!({"kubernetes_host": "h", "disable_local_ca_jwt": true}))
                .contains("kubernetes_ca_cert must be given")
        );
        assert!(
            err(json!({"kubernetes_host": "h", "kubernetes_ca_cert": "junk"}))
                .contains("kubernetes_ca_cert")
        );
        assert!(
            err(json!({"kubernetes_host": "h", "token_reviewer_jwt": "not-a-jwt"}))
                .contains("not a JWT")
        );
        assert!(
            err(json!({"kubernetes_host": "h", "pem_keys": ["junk"]})).contains("pem_keys entry 0")
        );
        assert!(err(json!({"kubernetes_host": "h", "review_timeout": "1h"})).contains("at most"));
        assert!(
            err(json!({"kubernetes_host": "h", "review_timeout": "10ms"})).contains("at least")
        );
    }
}
