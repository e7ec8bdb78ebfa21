//! Step one: HCL text → raw stanzas, mirroring Vault's file shape, plus warnings for unknown keys.
//!
//! The text is parsed with `hcl-edit`, which keeps spans, so unknown keys are reported with their line. The body is
//! walked in order (repeated `listener` blocks keep their order); each stanza's body then goes through serde into
//! the structs below. Leaf values stay [`hcl::Value`] so that Vault's loose typing (`tls_disable = "true"`,
//! `max_request_size = "1024"`) is judged in validation, where the error can name the key.

use std::collections::BTreeMap;
use std::fmt;

use hcl::edit::Span as _;
use hcl::edit::structure::{Body as EditBody, Structure};
use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::error::{ConfigError, Location};
use super::keys::{self, Schema};

/// One value or a list of them: HCL turns a repeated block into a list and a single one into a map.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// Repeated blocks. Tried first: serde would otherwise read a list positionally into a struct.
    Many(Vec<T>),
    /// A single block.
    One(T),
}

impl<T> OneOrMany<T> {
    /// All values, in file order.
    pub fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(v) => vec![v],
            OneOrMany::Many(v) => v,
        }
    }
}

/// Top-level attributes.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct RawSettings {
    /// URL advertised to clients and other nodes.
    pub api_addr: Option<hcl::Value>,
    /// URL advertised to other nodes for cluster traffic.
    pub cluster_addr: Option<hcl::Value>,
    /// Cluster name.
    pub cluster_name: Option<hcl::Value>,
    /// Boolean (or Vault string boolean).
    pub disable_mlock: Option<hcl::Value>,
    /// Boolean.
    pub ui: Option<hcl::Value>,
    /// `trace|debug|info|warn|error` (and Vault's aliases).
    pub log_level: Option<hcl::Value>,
    /// `standard|json`.
    pub log_format: Option<hcl::Value>,
    /// Duration.
    pub default_lease_ttl: Option<hcl::Value>,
    /// Duration.
    pub max_lease_ttl: Option<hcl::Value>,
    /// Duration; the listeners' default `max_request_duration`.
    pub default_max_request_duration: Option<hcl::Value>,
    /// Boolean.
    pub unsafe_allow_api_audit_creation: Option<hcl::Value>,
    /// Boolean.
    pub allow_audit_log_prefixing: Option<hcl::Value>,
    /// Integer (Coffer): revocation attempts before a lease is irrevocable.
    pub lease_revocation_max_attempts: Option<hcl::Value>,
    /// Integer (Coffer): expired-lease revocations per second, at most.
    pub lease_revocation_rate: Option<hcl::Value>,
}

/// `listener "<type>" { ... }`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct RawListener {
    /// `IP:port`.
    pub address: Option<hcl::Value>,
    /// `IP:port` for cluster traffic.
    pub cluster_address: Option<hcl::Value>,
    /// Boolean; TLS is on unless this is true.
    pub tls_disable: Option<hcl::Value>,
    /// PEM certificate chain path.
    pub tls_cert_file: Option<hcl::Value>,
    /// PEM private key path.
    pub tls_key_file: Option<hcl::Value>,
    /// `tls12|tls13`.
    pub tls_min_version: Option<hcl::Value>,
    /// Bytes; 0 = default, negative = unlimited.
    pub max_request_size: Option<hcl::Value>,
    /// Duration.
    pub max_request_duration: Option<hcl::Value>,
    /// Boolean; refused when true (not implemented).
    pub tls_require_and_verify_client_cert: Option<hcl::Value>,
    /// Path; refused when set (not implemented).
    pub tls_client_ca_file: Option<hcl::Value>,
}

/// `storage "raft" { ... }`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct RawRaft {
    /// Data directory.
    pub path: Option<hcl::Value>,
    /// This node's raft id.
    pub node_id: Option<hcl::Value>,
    /// Integer 0..=10.
    pub performance_multiplier: Option<hcl::Value>,
    /// Nodes to join at start.
    pub retry_join: Option<OneOrMany<RawRetryJoin>>,
}

/// `retry_join { ... }` inside `storage "raft"`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct RawRetryJoin {
    /// URL of a node to join through.
    pub leader_api_addr: Option<hcl::Value>,
    /// CA certificate path to verify the leader.
    pub leader_ca_cert_file: Option<hcl::Value>,
    /// Client certificate path.
    pub leader_client_cert_file: Option<hcl::Value>,
    /// Client key path.
    pub leader_client_key_file: Option<hcl::Value>,
    /// TLS server name to expect from the leader.
    pub leader_tls_servername: Option<hcl::Value>,
}

/// A `storage` stanza; the type is its label.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RawStorage {
    /// `storage "raft"`.
    Raft(Box<RawRaft>),
    /// `storage "inmem"`.
    InMem,
    /// Any other type (file, postgresql, ...), kept only to be refused by validation.
    Other,
}

/// `seal "<type>" { ... }`: options vary per type, so all are kept.
#[derive(Clone, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct RawSeal {
    /// The stanza's key/values (may include credentials: never printed).
    pub options: IndexMap<String, hcl::Value>,
}

impl fmt::Debug for RawSeal {
    // Seal stanzas carry KMS credentials and transit tokens, so only key names are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawSeal")
            .field("keys", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// `audit "<type>" "<path>" { ... }` (or `type`/`path` inside the block).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct RawAudit {
    /// Device type when not given as the first label.
    #[serde(rename = "type")]
    pub kind: Option<hcl::Value>,
    /// Mount path when not given as the second label.
    pub path: Option<hcl::Value>,
    /// Free text.
    pub description: Option<hcl::Value>,
    /// Device options, a string map.
    pub options: Option<IndexMap<String, hcl::Value>>,
    /// Boolean.
    pub local: Option<hcl::Value>,
}

/// One stanza with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Stanza<T> {
    /// The block labels (`listener "tcp"` → `["tcp"]`); empty for the top level.
    pub labels: Vec<String>,
    /// Line of the block (1 for the top level).
    pub line: usize,
    /// Line of each attribute or sub-block in this body, by key (first occurrence).
    pub key_lines: BTreeMap<String, usize>,
    /// The decoded body.
    pub body: T,
}

impl<T> Stanza<T> {
    /// Line of `key` if present, else the block's line.
    pub fn line_of(&self, key: &str) -> usize {
        self.key_lines.get(key).copied().unwrap_or(self.line)
    }
}

/// The whole file, stanza by stanza, before validation.
#[derive(Debug, Clone, PartialEq)]
pub struct RawConfig {
    /// File name used in messages.
    pub file: String,
    /// Top-level attributes.
    pub settings: Stanza<RawSettings>,
    /// `listener` stanzas in file order.
    pub listeners: Vec<Stanza<RawListener>>,
    /// `storage` (or legacy `backend`) stanzas.
    pub storage: Vec<Stanza<RawStorage>>,
    /// `seal` stanzas.
    pub seals: Vec<Stanza<RawSeal>>,
    /// `audit` stanzas in file order.
    pub audit: Vec<Stanza<RawAudit>>,
}

impl RawConfig {
    /// Parses HCL text. `file` names the source in messages. Returns the raw config and warnings such as
    /// `coffer.hcl:12: unknown key "foo" in listener "tcp"`.
    pub fn parse(text: &str, file: &str) -> Result<(RawConfig, Vec<String>), ConfigError> {
        let body = hcl::edit::parser::parse_body(text).map_err(|e| ConfigError::Parse {
            file: file.to_owned(),
            line: e.location().line(),
            column: e.location().column(),
            message: e.message().to_owned(),
        })?;
        let mut walker = Walker {
            text,
            file,
            warnings: Vec::new(),
        };
        let raw = walker.top(&body)?;
        Ok((raw, walker.warnings))
    }
}

/// Walks the parsed body, collecting warnings.
struct Walker<'a> {
    text: &'a str,
    file: &'a str,
    warnings: Vec<String>,
}

impl Walker<'_> {
    fn line(&self, span: Option<std::ops::Range<usize>>) -> usize {
        let offset = span.map_or(0, |s| s.start);
        let before = self.text.get(..offset).unwrap_or(self.text);
        before.bytes().filter(|b| *b == b'\n').count() + 1
    }

    fn location(&self, line: usize) -> Location {
        Location {
            file: self.file.to_owned(),
            line: Some(line),
        }
    }

    fn invalid(&self, line: usize, message: String) -> ConfigError {
        ConfigError::Invalid {
            location: self.location(line),
            message,
        }
    }

    fn warn_key(&mut self, line: usize, key: &str, ctx: &str, ignored: bool) {
        let place = if ctx.is_empty() {
            String::new()
        } else {
            format!(" in {ctx}")
        };
        let what = if ignored {
            "ignoring unsupported key"
        } else {
            "unknown key"
        };
        self.warnings
            .push(format!("{}:{line}: {what} {key:?}{place}", self.file));
    }

    fn top(&mut self, body: &EditBody) -> Result<RawConfig, ConfigError> {
        let mut settings_body = EditBody::new();
        let mut settings_lines = BTreeMap::new();
        let mut listeners = Vec::new();
        let mut storage = Vec::new();
        let mut seals = Vec::new();
        let mut audit = Vec::new();

        for structure in body.iter() {
            match structure {
                Structure::Attribute(attr) => {
                    let key = attr.key.as_str();
                    let line = self.line(attr.key.span());
                    if keys::TOP_ATTRIBUTES.contains(&key) {
                        // The parser already refuses repeated attributes.
                        settings_lines.insert(key.to_owned(), line);
                        settings_body.push(Structure::Attribute(attr.clone()));
                    } else if matches!(key, "listener" | "storage" | "backend" | "seal" | "audit") {
                        return Err(self.invalid(
                            line,
                            format!("{key:?} must be a block, e.g. {key} \"<type>\" {{ ... }}"),
                        ));
                    } else if key != "telemetry" {
                        let ignored = is_top_ignored(key);
                        self.warn_key(line, key, "", ignored);
                    }
                }
                Structure::Block(block) => {
                    let ident = block.ident.as_str();
                    let line = self.line(block.ident.span());
                    let labels: Vec<String> =
                        block.labels.iter().map(|l| l.as_str().to_owned()).collect();
                    match ident {
                        "listener" => {
                            let ctx = self.one_label(ident, &labels, line)?;
                            let key_lines = self.check_body(&block.body, &ctx, &keys::LISTENER)?;
                            let body = self.decode(&block.body, line, &ctx)?;
                            listeners.push(Stanza {
                                labels,
                                line,
                                key_lines,
                                body,
                            });
                        }
                        "storage" | "backend" => {
                            let ctx = self.one_label(ident, &labels, line)?;
                            let (key_lines, body) = match labels.first().map(String::as_str) {
                                Some("raft") => (
                                    self.check_body(&block.body, &ctx, &keys::RAFT)?,
                                    RawStorage::Raft(Box::new(self.decode(
                                        &block.body,
                                        line,
                                        &ctx,
                                    )?)),
                                ),
                                Some("inmem") => (
                                    self.check_body(&block.body, &ctx, &keys::INMEM)?,
                                    RawStorage::InMem,
                                ),
                                // Refused in validation; its keys are not ours to judge.
                                _ => (BTreeMap::new(), RawStorage::Other),
                            };
                            storage.push(Stanza {
                                labels,
                                line,
                                key_lines,
                                body,
                            });
                        }
                        "seal" => {
                            let ctx = self.one_label(ident, &labels, line)?;
                            let body = self.decode(&block.body, line, &ctx)?;
                            seals.push(Stanza {
                                labels,
                                line,
                                key_lines: BTreeMap::new(),
                                body,
                            });
                        }
                        "audit" => {
                            let ctx = format!(
                                "audit{}",
                                labels.iter().map(|l| format!(" {l:?}")).collect::<String>()
                            );
                            let key_lines = self.check_body(&block.body, &ctx, &keys::AUDIT)?;
                            let body = self.decode(&block.body, line, &ctx)?;
                            audit.push(Stanza {
                                labels,
                                line,
                                key_lines,
                                body,
                            });
                        }
                        // Accepted for compatibility; Coffer's metrics need no configuration.
                        "telemetry" => {}
                        _ if keys::TOP_ATTRIBUTES.contains(&ident) => {
                            return Err(self.invalid(
                                line,
                                format!("{ident:?} must be an attribute ({ident} = ...)"),
                            ));
                        }
                        _ => {
                            let ignored = is_top_ignored(ident);
                            self.warn_key(line, ident, "", ignored);
                        }
                    }
                }
            }
        }

        let settings = Stanza {
            labels: Vec::new(),
            line: 1,
            key_lines: settings_lines,
            body: self.decode(&settings_body, 1, "top level")?,
        };
        Ok(RawConfig {
            file: self.file.to_owned(),
            settings,
            listeners,
            storage,
            seals,
            audit,
        })
    }

    /// Requires exactly one label (`listener "tcp"`) and returns the stanza's name for messages.
    fn one_label(
        &self,
        ident: &str,
        labels: &[String],
        line: usize,
    ) -> Result<String, ConfigError> {
        match labels {
            [label] => Ok(format!("{ident} {label:?}")),
            _ => Err(self.invalid(
                line,
                format!(
                    "{ident} needs exactly one type label, e.g. {ident} \"{}\" {{ ... }}",
                    match ident {
                        "listener" => "tcp",
                        "seal" => "shamir",
                        _ => "raft",
                    }
                ),
            )),
        }
    }

    /// Warns about unknown and ignored keys in `body` (recursing into checked sub-blocks) and returns the
    /// line of each known key.
    fn check_body(
        &mut self,
        body: &EditBody,
        ctx: &str,
        schema: &Schema,
    ) -> Result<BTreeMap<String, usize>, ConfigError> {
        let mut lines = BTreeMap::new();
        for structure in body.iter() {
            let (key, span, block) = match structure {
                Structure::Attribute(a) => (a.key.as_str(), a.key.span(), None),
                Structure::Block(b) => (b.ident.as_str(), b.ident.span(), Some(b)),
            };
            let line = self.line(span);
            if schema.known.contains(&key) {
                lines.entry(key.to_owned()).or_insert(line);
                if let (Some(block), Some(nested)) = (block, schema.nested(key)) {
                    self.check_body(&block.body, &format!("{ctx} {key}"), nested)?;
                }
            } else {
                self.warn_key(line, key, ctx, schema.is_ignored(key));
            }
        }
        Ok(lines)
    }

    /// Decodes a body through serde; failures point at the stanza.
    fn decode<T: DeserializeOwned>(
        &self,
        body: &EditBody,
        line: usize,
        ctx: &str,
    ) -> Result<T, ConfigError> {
        hcl::from_body(hcl::Body::from(body.clone()))
            .map_err(|e| self.invalid(line, format!("{ctx}: {e}")))
    }
}

fn is_top_ignored(key: &str) -> bool {
    let schema = Schema {
        known: &[],
        ignored: keys::TOP_IGNORED,
        nested: &[],
    };
    schema.is_ignored(key)
}
