//! Policy text (HCL or JSON) → [`Policy`].
//!
//! Both formats are first turned into a small ordered tree ([`Node`]) that keeps repeated keys and, for
//! HCL, line numbers; the path rules are then read from that tree the same way for both. HCL is walked
//! through `hcl::edit` (the span-carrying syntax tree under `hcl::parse`) so that repeated
//! `path "x"` blocks survive in order and semantic errors can name their line.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use hcl::edit::Span as _;
use hcl::edit::expr::{Expression, ObjectKey};
use hcl::edit::structure::{Body, Structure};
use hcl::edit::template::Element;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::capability::Capabilities;
use crate::error::PolicyError;
use crate::template;

/// Name of the built-in policy that allows everything.
pub const ROOT_POLICY_NAME: &str = "root";
/// Name of the policy attached to every token unless it opts out.
pub const DEFAULT_POLICY_NAME: &str = "default";
/// Name of the fixed policy given to response-wrapping tokens.
pub const RESPONSE_WRAPPING_POLICY_NAME: &str = "response-wrapping";

/// A parsed ACL policy: its name and its path rules in the order they were written.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    name: String,
    paths: Vec<PathRule>,
    templated: bool,
    allow_slashes_in_identity_templates: bool,
    allow_wildcards_in_identity_templates: bool,
}

/// One `path "..." { ... }` block, validated. Blocks for the same path are kept separately here and merged
/// when an [`Acl`](crate::Acl) is compiled, as OpenBao does.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PathRule {
    /// The path as written (may hold `*`, `+` and `{{...}}` templates).
    pub path: String,
    /// Granted capabilities; exactly [`Capabilities::DENY`] for a denying block.
    pub capabilities: Capabilities,
    /// Parameters that must be present.
    pub required_parameters: Vec<String>,
    /// Allowed parameters, keys lower-cased; an empty value list allows any value.
    pub allowed_parameters: BTreeMap<String, Vec<Value>>,
    /// Denied parameters, keys lower-cased; an empty value list denies any value.
    pub denied_parameters: BTreeMap<String, Vec<Value>>,
    /// Smallest response-wrapping TTL a client may ask for (forces wrapping).
    pub min_wrapping_ttl: Option<Duration>,
    /// Largest response-wrapping TTL a client may ask for (forces wrapping).
    pub max_wrapping_ttl: Option<Duration>,
    /// Largest `limit` a paginated list/scan may ask for.
    pub pagination_limit: Option<u32>,
    /// After this instant the block no longer applies.
    pub expiration: Option<SystemTime>,
    /// OpenBao's `list_scan_response_keys_filter_path` template, passed through for the list filter.
    pub response_keys_filter_path: Option<String>,
    /// MFA method ids; accepted and kept, not enforced (OpenBao does not enforce them either).
    pub mfa_methods: Vec<String>,
    /// The ignored `comment`.
    pub comment: Option<String>,
    /// 1-based line of the block in HCL input.
    pub line: Option<usize>,
    /// Whether [`path`](Self::path) holds `{{...}}` directives.
    pub templated: bool,
}

impl PathRule {
    fn new(path: String, line: Option<usize>, templated: bool) -> PathRule {
        PathRule {
            path,
            capabilities: Capabilities::NONE,
            required_parameters: Vec::new(),
            allowed_parameters: BTreeMap::new(),
            denied_parameters: BTreeMap::new(),
            min_wrapping_ttl: None,
            max_wrapping_ttl: None,
            pagination_limit: None,
            expiration: None,
            response_keys_filter_path: None,
            mfa_methods: Vec::new(),
            comment: None,
            line,
            templated,
        }
    }
}

impl Policy {
    /// Parses policy text (HCL, or JSON when the text starts with `{`). `name` is stored as given; see
    /// [`normalize_name`] and [`validate_name`] for what the policy store does with names.
    pub fn parse(name: &str, text: &str) -> Result<Policy, PolicyError> {
        let blocks = if text.trim_start().starts_with('{') {
            json_blocks(text)?
        } else {
            hcl_blocks(text)?
        };
        let mut paths = Vec::with_capacity(blocks.len());
        for block in blocks {
            paths.push(parse_rule(block)?);
        }
        let templated = paths.iter().any(|p| p.templated);
        Ok(Policy {
            name: name.to_owned(),
            paths,
            templated,
            allow_slashes_in_identity_templates: false,
            allow_wildcards_in_identity_templates: false,
        })
    }

    /// The built-in `root` policy: an ACL holding it allows everything.
    pub fn root() -> Policy {
        Policy {
            name: ROOT_POLICY_NAME.to_owned(),
            paths: Vec::new(),
            templated: false,
            allow_slashes_in_identity_templates: false,
            allow_wildcards_in_identity_templates: false,
        }
    }

    /// Sets OpenBao's `allow_slashes_in_identity_templates` / `allow_wildcards_in_identity_templates`
    /// (stored beside the policy text, both false by default): whether substituted identity values may
    /// contain `/`, or `*` and `+`.
    #[must_use]
    pub fn with_identity_template_options(
        mut self,
        allow_slashes: bool,
        allow_wildcards: bool,
    ) -> Policy {
        self.allow_slashes_in_identity_templates = allow_slashes;
        self.allow_wildcards_in_identity_templates = allow_wildcards;
        self
    }

    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this is the `root` policy.
    pub fn is_root(&self) -> bool {
        self.name == ROOT_POLICY_NAME
    }

    /// The path rules in written order.
    pub fn paths(&self) -> &[PathRule] {
        &self.paths
    }

    /// Whether any path uses identity templating.
    pub fn is_templated(&self) -> bool {
        self.templated
    }

    /// Whether substituted identity values may contain `/`.
    pub fn allows_slashes_in_identity_templates(&self) -> bool {
        self.allow_slashes_in_identity_templates
    }

    /// Whether substituted identity values may contain `*` or `+`.
    pub fn allows_wildcards_in_identity_templates(&self) -> bool {
        self.allow_wildcards_in_identity_templates
    }
}

/// Normalizes a policy name as OpenBao's policy store does: surrounding whitespace trimmed, lower-cased.
pub fn normalize_name(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Rejects names the policy store cannot hold: empty (after trimming) or containing `/` (names are storage
/// keys, and a slash would make a policy look like a folder in listings).
pub fn validate_name(name: &str) -> Result<(), PolicyError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(PolicyError::InvalidName("policy name must be provided"));
    }
    if trimmed.contains('/') {
        return Err(PolicyError::InvalidName("policy name must not contain '/'"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(PolicyError::InvalidName(
            "policy name must not contain control characters",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// The shared tree.

/// A value from either format. Objects keep order and repeated keys.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Lined>),
    Object(Vec<(String, Lined)>),
}

/// A node and the 1-based line it starts on (HCL only).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lined {
    node: Node,
    line: Option<usize>,
}

impl Node {
    fn kind(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "a bool",
            Node::Number(_) => "a number",
            Node::String(_) => "a string",
            Node::Array(_) => "a list",
            Node::Object(_) => "an object",
        }
    }

    fn into_value(self) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(b),
            Node::Number(n) => Value::Number(n),
            Node::String(s) => Value::String(s),
            Node::Array(items) => {
                Value::Array(items.into_iter().map(|l| l.node.into_value()).collect())
            }
            Node::Object(entries) => Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, v.node.into_value()))
                    .collect(),
            ),
        }
    }
}

/// A `path` block before validation: label, line, entries.
struct RawBlock {
    path: String,
    line: Option<usize>,
    entries: Vec<(String, Lined)>,
}

// ---------------------------------------------------------------------------------------------------------
// HCL.

/// Byte offset → 1-based line.
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Lines {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines(starts)
    }

    fn line(&self, span: Option<std::ops::Range<usize>>) -> Option<usize> {
        let start = span?.start;
        Some(self.0.partition_point(|&s| s <= start))
    }
}

fn hcl_blocks(text: &str) -> Result<Vec<RawBlock>, PolicyError> {
    let body = hcl::edit::parser::parse_body(text).map_err(|e| PolicyError::Syntax {
        line: e.location().line(),
        column: e.location().column(),
        message: e.message().to_owned(),
    })?;
    let lines = Lines::new(text);
    let mut blocks = Vec::new();
    for structure in body.iter() {
        match structure {
            Structure::Block(block) => {
                let line = lines.line(block.span());
                let ident = block.ident.as_str();
                if ident != "path" {
                    return Err(PolicyError::UnknownKey {
                        key: ident.to_owned(),
                        line,
                    });
                }
                let [label] = block.labels.as_slice() else {
                    return Err(PolicyError::Malformed {
                        reason: "a path block needs exactly one label: path \"<path>\" { ... }"
                            .to_owned(),
                        line,
                    });
                };
                blocks.push(RawBlock {
                    path: label.as_str().to_owned(),
                    line,
                    entries: body_entries(&block.body, &lines)?,
                });
            }
            Structure::Attribute(attr) => {
                let line = lines.line(attr.span());
                match attr.key.as_str() {
                    // OpenBao decodes and then overwrites `name`; it carries no meaning.
                    "name" => {}
                    // `path = { "<path>" = { ... } }`, the object form HCL v1 also accepted.
                    "path" => {
                        let node = expr_node(&attr.value, &lines)?;
                        path_object_blocks(node, &mut blocks)?;
                    }
                    other => {
                        return Err(PolicyError::UnknownKey {
                            key: other.to_owned(),
                            line,
                        });
                    }
                }
            }
        }
    }
    Ok(blocks)
}

/// A block body as ordered entries; nested blocks (`allowed_parameters { ... }`) become objects.
fn body_entries(body: &Body, lines: &Lines) -> Result<Vec<(String, Lined)>, PolicyError> {
    let mut entries = Vec::new();
    for structure in body.iter() {
        match structure {
            Structure::Attribute(attr) => {
                let node = expr_node(&attr.value, lines)?;
                entries.push((attr.key.as_str().to_owned(), node));
            }
            Structure::Block(block) => {
                let line = lines.line(block.span());
                let mut node = Lined {
                    node: Node::Object(body_entries(&block.body, lines)?),
                    line,
                };
                for label in block.labels.iter().rev() {
                    node = Lined {
                        node: Node::Object(vec![(label.as_str().to_owned(), node)]),
                        line,
                    };
                }
                entries.push((block.ident.as_str().to_owned(), node));
            }
        }
    }
    Ok(entries)
}

fn expr_node(expr: &Expression, lines: &Lines) -> Result<Lined, PolicyError> {
    let line = lines.line(expr.span());
    let node = match expr {
        Expression::Null(_) => Node::Null,
        Expression::Bool(b) => Node::Bool(*b.value()),
        Expression::Number(n) => {
            Node::Number(hcl_number(n.value()).ok_or_else(|| PolicyError::Malformed {
                reason: "number out of range".to_owned(),
                line,
            })?)
        }
        Expression::String(s) => Node::String(s.value().clone()),
        Expression::Array(items) => Node::Array(
            items
                .iter()
                .map(|e| expr_node(e, lines))
                .collect::<Result<_, _>>()?,
        ),
        Expression::Object(obj) => {
            let mut entries = Vec::with_capacity(obj.len());
            for (key, value) in obj.iter() {
                let key = match key {
                    ObjectKey::Ident(ident) => ident.as_str().to_owned(),
                    ObjectKey::Expression(e) => match expr_node(e, lines)?.node {
                        Node::String(s) => s,
                        other => {
                            return Err(PolicyError::Malformed {
                                reason: format!(
                                    "object keys must be strings, found {}",
                                    other.kind()
                                ),
                                line: lines.line(e.span()),
                            });
                        }
                    },
                };
                entries.push((key, expr_node(value.expr(), lines)?));
            }
            Node::Object(entries)
        }
        Expression::Parenthesis(inner) => return expr_node(inner.inner(), lines),
        Expression::StringTemplate(t) => Node::String(literal_template(t.iter(), line)?),
        Expression::HeredocTemplate(h) => Node::String(literal_template(h.template.iter(), line)?),
        _ => {
            return Err(PolicyError::Malformed {
                reason: "only literal values are allowed in a policy (no variables, functions or operators)"
                    .to_owned(),
                line,
            });
        }
    };
    Ok(Lined { node, line })
}

/// A template made only of literal text (`"a${"$"}b"` is not); interpolations are not policy syntax.
fn literal_template<'a>(
    elements: impl Iterator<Item = &'a Element>,
    line: Option<usize>,
) -> Result<String, PolicyError> {
    let mut out = String::new();
    for element in elements {
        let Some(literal) = element.as_literal() else {
            return Err(PolicyError::Malformed {
                reason: "template interpolations and directives (${...}, %{...}) are not allowed in a policy"
                    .to_owned(),
                line,
            });
        };
        out.push_str(literal.value());
    }
    Ok(out)
}

fn hcl_number(n: &hcl::Number) -> Option<serde_json::Number> {
    if let Some(u) = n.as_u64() {
        return Some(u.into());
    }
    if let Some(i) = n.as_i64() {
        return Some(i.into());
    }
    serde_json::Number::from_f64(n.as_f64()?)
}

// ---------------------------------------------------------------------------------------------------------
// JSON.

/// JSON into [`Node`], keeping key order and repeated keys (serde_json's `Value` would keep only the last).
struct JsonNode(Node);

impl<'de> Deserialize<'de> for JsonNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = JsonNode;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<JsonNode, E> {
        Ok(JsonNode(Node::Null))
    }
    fn visit_none<E>(self) -> Result<JsonNode, E> {
        Ok(JsonNode(Node::Null))
    }
    fn visit_bool<E>(self, v: bool) -> Result<JsonNode, E> {
        Ok(JsonNode(Node::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<JsonNode, E> {
        Ok(JsonNode(Node::Number(v.into())))
    }
    fn visit_u64<E>(self, v: u64) -> Result<JsonNode, E> {
        Ok(JsonNode(Node::Number(v.into())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<JsonNode, E> {
        serde_json::Number::from_f64(v)
            .map(|n| JsonNode(Node::Number(n)))
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E>(self, v: &str) -> Result<JsonNode, E> {
        Ok(JsonNode(Node::String(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<JsonNode, E> {
        Ok(JsonNode(Node::String(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonNode, A::Error> {
        let mut items = Vec::new();
        while let Some(JsonNode(node)) = seq.next_element()? {
            items.push(Lined { node, line: None });
        }
        Ok(JsonNode(Node::Array(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonNode, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, JsonNode(node))) = map.next_entry::<String, JsonNode>()? {
            entries.push((key, Lined { node, line: None }));
        }
        Ok(JsonNode(Node::Object(entries)))
    }
}

fn json_blocks(text: &str) -> Result<Vec<RawBlock>, PolicyError> {
    let JsonNode(root) = serde_json::from_str(text).map_err(|e| PolicyError::Syntax {
        line: e.line(),
        column: e.column(),
        message: format!("invalid JSON: {e}"),
    })?;
    let Node::Object(entries) = root else {
        return Err(PolicyError::Malformed {
            reason: "a JSON policy must be an object".to_owned(),
            line: None,
        });
    };
    let mut blocks = Vec::new();
    for (key, value) in entries {
        match key.as_str() {
            "name" => {}
            "path" => path_object_blocks(value, &mut blocks)?,
            _ => return Err(PolicyError::UnknownKey { key, line: None }),
        }
    }
    Ok(blocks)
}

/// `{"<path>": {...}, "<path>": [{...}, {...}]}` (or a list of such objects) into blocks, in order.
fn path_object_blocks(value: Lined, blocks: &mut Vec<RawBlock>) -> Result<(), PolicyError> {
    let malformed = |line| PolicyError::Malformed {
        reason: "\"path\" must map each path to an object of settings".to_owned(),
        line,
    };
    match value.node {
        Node::Object(paths) => {
            for (path, rule) in paths {
                match rule.node {
                    Node::Object(entries) => blocks.push(RawBlock {
                        path,
                        line: rule.line,
                        entries,
                    }),
                    Node::Array(items) => {
                        for item in items {
                            let Node::Object(entries) = item.node else {
                                return Err(malformed(item.line));
                            };
                            blocks.push(RawBlock {
                                path: path.clone(),
                                line: item.line,
                                entries,
                            });
                        }
                    }
                    _ => return Err(malformed(rule.line)),
                }
            }
            Ok(())
        }
        Node::Array(items) => {
            for item in items {
                path_object_blocks(item, blocks)?;
            }
            Ok(())
        }
        _ => Err(malformed(value.line)),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Path rules.

const PATH_KEYS: &[&str] = &[
    "comment",
    "policy",
    "capabilities",
    "allowed_parameters",
    "denied_parameters",
    "required_parameters",
    "min_wrapping_ttl",
    "max_wrapping_ttl",
    "mfa_methods",
    "pagination_limit",
    "expiration",
    "list_scan_response_keys_filter_path",
    "control_group",
];

/// Checks that a path is structurally usable before any templating: OpenBao forbids `+*`.
pub(crate) fn check_wildcards(path: &str) -> bool {
    !path.contains("+*")
}

fn parse_rule(block: RawBlock) -> Result<PathRule, PolicyError> {
    let RawBlock {
        path,
        line,
        entries,
    } = block;

    // Unknown and repeated keys first, as OpenBao checks keys before decoding.
    let mut seen: Vec<&str> = Vec::with_capacity(entries.len());
    for (key, value) in &entries {
        if !PATH_KEYS.contains(&key.as_str()) {
            return Err(PolicyError::UnknownPathKey {
                path,
                key: key.clone(),
                line: value.line.or(line),
            });
        }
        if seen.contains(&key.as_str()) {
            return Err(PolicyError::DuplicateKey {
                path,
                key: key.clone(),
                line: value.line.or(line),
            });
        }
        seen.push(key);
    }

    let templated = template::validate(&path).map_err(|_| PolicyError::UnbalancedTemplate {
        path: path.clone(),
        line,
    })?;
    let mut rule = PathRule::new(path, line, templated);
    let mut ctx = Ctx {
        path: &rule.path,
        block_line: line,
    };

    let mut capabilities: Vec<(String, Option<usize>)> = Vec::new();
    let mut legacy: Option<(String, Option<usize>)> = None;
    let mut allowed = None;
    let mut denied = None;
    let mut required = None;
    let mut min_ttl = None;
    let mut max_ttl = None;
    let mut pagination = None;
    let mut expiration = None;
    let mut filter = None;
    let mut mfa = None;
    let mut comment = None;

    for (key, value) in entries {
        ctx.block_line = value.line.or(line);
        match key.as_str() {
            "capabilities" => capabilities = ctx.string_list(&key, value)?,
            "policy" => {
                let l = value.line;
                legacy = Some((ctx.string(&key, value)?, l));
            }
            "allowed_parameters" => allowed = Some(ctx.param_map(&key, value)?),
            "denied_parameters" => denied = Some(ctx.param_map(&key, value)?),
            "required_parameters" => {
                required = Some(
                    ctx.string_list(&key, value)?
                        .into_iter()
                        .map(|(s, _)| s)
                        .collect::<Vec<_>>(),
                );
            }
            "min_wrapping_ttl" => min_ttl = Some((value, key)),
            "max_wrapping_ttl" => max_ttl = Some((value, key)),
            "pagination_limit" => pagination = Some(ctx.limit(&key, value)?),
            "expiration" => expiration = Some(ctx.expiration(&key, value)?),
            "list_scan_response_keys_filter_path" => filter = Some(ctx.string(&key, value)?),
            "mfa_methods" => {
                mfa = Some(
                    ctx.string_list(&key, value)?
                        .into_iter()
                        .map(|(s, _)| s)
                        .collect::<Vec<_>>(),
                );
            }
            "comment" => {
                comment = Some(match value.node {
                    Node::String(s) => s,
                    other => other.into_value().to_string(),
                });
            }
            "control_group" => {
                return Err(PolicyError::Unsupported {
                    path: rule.path.clone(),
                    key,
                    line: value.line.or(line),
                });
            }
            _ => {}
        }
    }
    rule.comment = comment;
    rule.expiration = expiration;
    rule.mfa_methods = mfa.unwrap_or_default();

    if !check_wildcards(&rule.path) {
        return Err(PolicyError::InvalidWildcard {
            path: rule.path.clone(),
            line,
        });
    }

    // Legacy `policy = "..."` adds to (or, for deny, replaces) the capability list.
    if let Some((value, l)) = legacy {
        let extra: &[&str] = match value.as_str() {
            "deny" => {
                capabilities.clear();
                &["deny"]
            }
            "read" => &["read", "list"],
            "write" => &["create", "read", "update", "delete", "list"],
            "sudo" => &["create", "read", "update", "delete", "list", "sudo"],
            _ => {
                return Err(PolicyError::InvalidLegacyPolicy {
                    path: rule.path.clone(),
                    value,
                    line: l.or(line),
                });
            }
        };
        capabilities.extend(extra.iter().map(|s| ((*s).to_owned(), l)));
    }

    for (name, l) in &capabilities {
        match Capabilities::from_name(name) {
            // A denying block keeps nothing else; OpenBao stops validating it here.
            Some(Capabilities::DENY) => {
                rule.capabilities = Capabilities::DENY;
                return Ok(rule);
            }
            Some(cap) => rule.capabilities |= cap,
            None => {
                return Err(PolicyError::InvalidCapability {
                    path: rule.path.clone(),
                    capability: name.clone(),
                    line: l.or(line),
                });
            }
        }
    }

    rule.allowed_parameters = allowed.unwrap_or_default();
    rule.denied_parameters = denied.unwrap_or_default();
    if let Some((value, key)) = min_ttl {
        let ctx = Ctx {
            path: &rule.path,
            block_line: value.line.or(line),
        };
        rule.min_wrapping_ttl = ctx.duration(&key, value)?;
    }
    if let Some((value, key)) = max_ttl {
        let ctx = Ctx {
            path: &rule.path,
            block_line: value.line.or(line),
        };
        rule.max_wrapping_ttl = ctx.duration(&key, value)?;
    }
    if let (Some(min), Some(max)) = (rule.min_wrapping_ttl, rule.max_wrapping_ttl)
        && max < min
    {
        return Err(PolicyError::WrappingTtlOrder {
            path: rule.path.clone(),
            line,
        });
    }
    rule.required_parameters = required.unwrap_or_default();
    if let Some(template) = filter {
        if !rule.capabilities.contains(Capabilities::LIST) {
            return Err(PolicyError::InvalidValue {
                path: rule.path.clone(),
                key: "list_scan_response_keys_filter_path".to_owned(),
                reason: "needs to be used on a path with the list capability".to_owned(),
                line,
            });
        }
        if !template.contains(".key") {
            return Err(PolicyError::InvalidValue {
                path: rule.path.clone(),
                key: "list_scan_response_keys_filter_path".to_owned(),
                reason: "must use {{ .key }}, or every key would map to the same path".to_owned(),
                line,
            });
        }
        rule.response_keys_filter_path = Some(template);
    }
    rule.pagination_limit = pagination.flatten();
    Ok(rule)
}

/// Error context while reading one block.
struct Ctx<'a> {
    path: &'a str,
    block_line: Option<usize>,
}

impl Ctx<'_> {
    fn invalid(&self, key: &str, reason: impl Into<String>, line: Option<usize>) -> PolicyError {
        PolicyError::InvalidValue {
            path: self.path.to_owned(),
            key: key.to_owned(),
            reason: reason.into(),
            line: line.or(self.block_line),
        }
    }

    fn string(&self, key: &str, value: Lined) -> Result<String, PolicyError> {
        match value.node {
            Node::String(s) => Ok(s),
            other => Err(self.invalid(
                key,
                format!("expected a string, found {}", other.kind()),
                value.line,
            )),
        }
    }

    /// A list of strings; a single string counts as a list of one, as HCL v1 decoding allowed.
    fn string_list(
        &self,
        key: &str,
        value: Lined,
    ) -> Result<Vec<(String, Option<usize>)>, PolicyError> {
        match value.node {
            Node::String(s) => Ok(vec![(s, value.line)]),
            Node::Array(items) => items
                .into_iter()
                .map(|item| match item.node {
                    Node::String(s) => Ok((s, item.line.or(value.line))),
                    other => Err(self.invalid(
                        key,
                        format!("expected a list of strings, found {} in it", other.kind()),
                        item.line.or(value.line),
                    )),
                })
                .collect(),
            other => Err(self.invalid(
                key,
                format!("expected a list of strings, found {}", other.kind()),
                value.line,
            )),
        }
    }

    /// `{ "<param>" = [values...] }`; keys are lower-cased, a scalar value counts as a list of one.
    fn param_map(
        &self,
        key: &str,
        value: Lined,
    ) -> Result<BTreeMap<String, Vec<Value>>, PolicyError> {
        let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let objects = match value.node {
            Node::Object(entries) => vec![entries],
            // HCL v1's JSON form could wrap the object in a list.
            Node::Array(items) => {
                let mut objects = Vec::with_capacity(items.len());
                for item in items {
                    let Node::Object(entries) = item.node else {
                        return Err(self.invalid(
                            key,
                            "expected an object of parameter name to list of values",
                            item.line.or(value.line),
                        ));
                    };
                    objects.push(entries);
                }
                objects
            }
            other => {
                return Err(self.invalid(
                    key,
                    format!(
                        "expected an object of parameter name to list of values, found {}",
                        other.kind()
                    ),
                    value.line,
                ));
            }
        };
        for entries in objects {
            for (param, values) in entries {
                let list = match values.node {
                    Node::Array(items) => items.into_iter().map(|i| i.node.into_value()).collect(),
                    Node::Object(_) => {
                        return Err(self.invalid(
                            key,
                            format!("values of {param:?} must be a list"),
                            values.line,
                        ));
                    }
                    scalar => vec![scalar.into_value()],
                };
                out.insert(param.to_lowercase(), list);
            }
        }
        Ok(out)
    }

    /// A Go-style duration string or a number of seconds (OpenBao's `ParseDurationSecond`); zero is unset.
    fn duration(&self, key: &str, value: Lined) -> Result<Option<Duration>, PolicyError> {
        let d = match &value.node {
            Node::String(s) => {
                api_spec::duration::parse(s).map_err(|source| PolicyError::InvalidDuration {
                    path: self.path.to_owned(),
                    key: key.to_owned(),
                    source,
                    line: value.line.or(self.block_line),
                })?
            }
            Node::Number(n) => {
                if let Some(secs) = n.as_u64() {
                    Duration::from_secs(secs)
                } else if let Some(secs) = n.as_f64().filter(|f| *f >= 0.0 && f.is_finite()) {
                    // Go converts the float to whole seconds first, dropping the fraction.
                    Duration::from_secs(secs.trunc() as u64)
                } else {
                    return Err(self.invalid(key, "must not be negative", value.line));
                }
            }
            other => {
                return Err(self.invalid(
                    key,
                    format!("expected a duration, found {}", other.kind()),
                    value.line,
                ));
            }
        };
        if d > api_spec::duration::MAX {
            return Err(self.invalid(key, "duration too large", value.line));
        }
        Ok((!d.is_zero()).then_some(d))
    }

    fn limit(&self, key: &str, value: Lined) -> Result<Option<u32>, PolicyError> {
        let n = match &value.node {
            Node::Number(n) => n.as_i64(),
            Node::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        let Some(n) = n else {
            return Err(self.invalid(key, "expected an integer", value.line));
        };
        // Zero or negative means no limit, as in OpenBao's `> 0` checks.
        Ok(u32::try_from(n).ok().filter(|n| *n > 0))
    }

    fn expiration(&self, key: &str, value: Lined) -> Result<SystemTime, PolicyError> {
        let line = value.line;
        let text = self.string(key, value)?;
        crate::time::parse_absolute(&text).ok_or_else(|| {
            self.invalid(
                key,
                format!("invalid expiration time {text:?} (expected RFC 3339)"),
                line,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(text: &str) -> Vec<PathRule> {
        Policy::parse("p", text).unwrap().paths().to_vec()
    }

    fn caps(names: &[&str]) -> Capabilities {
        names
            .iter()
            .map(|n| Capabilities::from_name(n).unwrap())
            .fold(Capabilities::NONE, |a, b| a | b)
    }

    #[test]
    fn hcl_and_json_give_the_same_rules() {
        let hcl = r#"
            # comment
            name = "ignored"
            path "secret/foo" {
              capabilities = ["read", "list"]
            }
            path "secret/restricted" {
              capabilities = ["create"]
              allowed_parameters = {
                "foo" = []
                "Bar" = ["zip", "zap", 1, true]
              }
              denied_parameters = { "*" = [] }
              required_parameters = ["foo"]
              min_wrapping_ttl = "1s"
              max_wrapping_ttl = 90
            }
        "#;
        let json = r#"
            {"name": "ignored", "path": {
              "secret/foo": {"capabilities": ["read", "list"]},
              "secret/restricted": {
                "capabilities": ["create"],
                "allowed_parameters": {"foo": [], "Bar": ["zip", "zap", 1, true]},
                "denied_parameters": {"*": []},
                "required_parameters": ["foo"],
                "min_wrapping_ttl": "1s",
                "max_wrapping_ttl": 90
              }
            }}
        "#;
        let from_hcl = rules(hcl);
        let from_json = rules(json);
        assert_eq!(from_hcl.len(), 2);
        for (h, j) in from_hcl.iter().zip(&from_json) {
            assert_eq!(h.path, j.path);
            assert_eq!(h.capabilities, j.capabilities);
            assert_eq!(h.allowed_parameters, j.allowed_parameters);
            assert_eq!(h.denied_parameters, j.denied_parameters);
            assert_eq!(h.required_parameters, j.required_parameters);
            assert_eq!(h.min_wrapping_ttl, j.min_wrapping_ttl);
            assert_eq!(h.max_wrapping_ttl, j.max_wrapping_ttl);
        }
        let r = &from_hcl[1];
        assert_eq!(r.capabilities, Capabilities::CREATE);
        assert_eq!(
            r.allowed_parameters.get("bar").unwrap(),
            &vec![json!("zip"), json!("zap"), json!(1), json!(true)]
        );
        assert_eq!(
            r.allowed_parameters.get("foo").unwrap(),
            &Vec::<Value>::new()
        );
        assert_eq!(r.min_wrapping_ttl, Some(Duration::from_secs(1)));
        assert_eq!(r.max_wrapping_ttl, Some(Duration::from_secs(90)));
        assert_eq!(from_hcl[0].line, Some(4));
        assert_eq!(from_hcl[1].line, Some(7));
        assert_eq!(from_json[0].line, None);
    }

    #[test]
    fn repeated_paths_survive_in_order() {
        let hcl = r#"
            path "a" { capabilities = ["read"] }
            path "b" { capabilities = ["list"] }
            path "a" { capabilities = ["update"] }
        "#;
        let got: Vec<_> = rules(hcl)
            .iter()
            .map(|r| (r.path.clone(), r.capabilities))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a".to_owned(), Capabilities::READ),
                ("b".to_owned(), Capabilities::LIST),
                ("a".to_owned(), Capabilities::UPDATE),
            ]
        );
        let json =
            r#"{"path": {"a": {"capabilities": ["read"]}, "a": {"capabilities": ["update"]}}}"#;
        assert_eq!(rules(json).len(), 2);
        let json_list = r#"{"path": [{"a": {"capabilities": ["read"]}}, {"a": [{"capabilities": ["list"]}, {"capabilities": ["sudo"]}]}]}"#;
        let got: Vec<_> = rules(json_list).iter().map(|r| r.capabilities).collect();
        assert_eq!(
            got,
            [Capabilities::READ, Capabilities::LIST, Capabilities::SUDO]
        );
    }

    #[test]
    fn capability_forms() {
        let cases: &[(&str, Capabilities)] = &[
            (
                r#"capabilities = ["create","read","update","patch","delete","list","sudo","scan"]"#,
                Capabilities::ALL,
            ),
            (
                r#"capabilities = ["read", "deny", "list"]"#,
                Capabilities::DENY,
            ),
            (r#"capabilities = ["deny", "bogus"]"#, Capabilities::DENY),
            (r#"capabilities = "read""#, Capabilities::READ),
            (r#"capabilities = []"#, Capabilities::NONE),
            (r#"policy = "read""#, caps(&["read", "list"])),
            (
                r#"policy = "write""#,
                caps(&["create", "read", "update", "delete", "list"]),
            ),
            (
                r#"policy = "sudo""#,
                caps(&["create", "read", "update", "delete", "list", "sudo"]),
            ),
            (r#"policy = "deny""#, Capabilities::DENY),
            (
                "policy = \"deny\"\ncapabilities = [\"read\"]",
                Capabilities::DENY,
            ),
            (
                "policy = \"read\"\ncapabilities = [\"patch\"]",
                caps(&["read", "list", "patch"]),
            ),
        ];
        for (body, want) in cases {
            let text = format!("path \"x\" {{\n{body}\n}}");
            assert_eq!(rules(&text)[0].capabilities, *want, "{body}");
        }
    }

    #[test]
    fn deny_block_drops_everything_else() {
        let r = &rules(
            r#"path "x" {
                capabilities = ["read", "deny"]
                allowed_parameters = { "a" = [] }
                max_wrapping_ttl = "1m"
            }"#,
        )[0];
        assert_eq!(r.capabilities, Capabilities::DENY);
        assert!(r.allowed_parameters.is_empty());
        assert_eq!(r.max_wrapping_ttl, None);
    }

    #[test]
    fn other_settings() {
        let r = &rules(
            r#"path "kv/metadata/*" {
                capabilities = ["list", "scan"]
                pagination_limit = 100
                expiration = "2006-01-02T15:04:05Z"
                list_scan_response_keys_filter_path = "{{ .path }}{{ .key }}"
                mfa_methods = ["m1"]
                comment = "why"
                min_wrapping_ttl = "0"
            }"#,
        )[0];
        assert_eq!(r.pagination_limit, Some(100));
        assert_eq!(
            crate::time::unix_seconds(r.expiration.unwrap()),
            1_136_214_245
        );
        assert_eq!(
            r.response_keys_filter_path.as_deref(),
            Some("{{ .path }}{{ .key }}")
        );
        assert_eq!(r.mfa_methods, ["m1"]);
        assert_eq!(r.comment.as_deref(), Some("why"));
        assert_eq!(r.min_wrapping_ttl, None);
    }

    #[test]
    fn hcl_variants_accepted() {
        // Nested-block form of a map, heredoc-free literal template, object-form `path`, parentheses.
        let r = &rules(
            r#"path "x" {
                capabilities = ["update"]
                allowed_parameters {
                  password = []
                }
                max_wrapping_ttl = ("1h30m")
            }
            path = { "y" = { capabilities = ["read"] } }"#,
        );
        assert_eq!(r[0].allowed_parameters.get("password").unwrap().len(), 0);
        assert_eq!(r[0].max_wrapping_ttl, Some(Duration::from_secs(5400)));
        assert_eq!(r[1].path, "y");
        assert!(rules("").is_empty());
        assert!(rules("  {}  ").is_empty());
        assert!(rules("# only a comment\n").is_empty());
    }

    #[test]
    fn templated_paths_are_flagged() {
        let p = Policy::parse(
            "t",
            r#"path "secret/data/{{identity.entity.id}}/*" { capabilities = ["read"] }
               path "secret/plain" { capabilities = ["read"] }"#,
        )
        .unwrap();
        assert!(p.is_templated());
        assert!(p.paths()[0].templated);
        assert!(!p.paths()[1].templated);
        assert!(!Policy::parse("n", r#"path "a" {}"#).unwrap().is_templated());
    }

    #[test]
    fn errors_name_the_problem_and_line() {
        let cases: &[(&str, &str, Option<usize>)] = &[
            (
                "path \"x\" {\n  capabilities = [\"read\"\n",
                "failed to parse policy",
                Some(2),
            ),
            (
                "path \"x\" {\n  capabilities = [\"read\", \"wrte\"]\n}",
                r#"path "x": invalid capability "wrte""#,
                Some(2),
            ),
            (
                "path \"x\" {\n  capabilities = [\"read\"]\n  capabilites = [\"list\"]\n}",
                r#"path "x": invalid key "capabilites""#,
                Some(3),
            ),
            ("\n\nfoo = 1\n", r#"invalid key "foo""#, Some(3)),
            (
                "\nresource \"x\" {}\n",
                r#"invalid key "resource""#,
                Some(2),
            ),
            ("path {}\n", "exactly one label", Some(1)),
            ("path \"a\" \"b\" {}\n", "exactly one label", Some(1)),
            (
                "path \"x\" {\n policy = \"admin\"\n}",
                r#"path "x": invalid policy "admin""#,
                Some(2),
            ),
            (
                "path \"x\" {\n capabilities = [\"read\"]\n capabilities = [\"list\"]\n}",
                "redefined attribute",
                Some(3),
            ),
            (
                r#"{"path": {"x": {"capabilities": ["read"], "capabilities": ["list"]}}}"#,
                r#"path "x": duplicate key "capabilities""#,
                None,
            ),
            (
                "path \"x\" {\n capabilities = [\"read\"]\n max_wrapping_ttl = \"1x\"\n}",
                "error parsing max_wrapping_ttl",
                Some(3),
            ),
            (
                "path \"x\" {\n capabilities = [\"read\"]\n min_wrapping_ttl = \"2m\"\n max_wrapping_ttl = \"1m\"\n}",
                "max_wrapping_ttl cannot be less than min_wrapping_ttl",
                Some(1),
            ),
            (
                "path \"a/+*\" { capabilities = [\"read\"] }",
                "'+*' is forbidden",
                Some(1),
            ),
            (
                "path \"a/{{x\" { capabilities = [\"read\"] }",
                "unbalanced templating",
                Some(1),
            ),
            (
                "path \"a\" {\n capabilities = [read]\n}",
                "only literal values",
                Some(2),
            ),
            (
                "path \"a\" {\n capabilities = [\"${x}\"]\n}",
                "not allowed in a policy",
                Some(2),
            ),
            (
                "path \"a\" {\n capabilities = 3\n}",
                "expected a list of strings",
                Some(2),
            ),
            (
                "path \"a\" {\n allowed_parameters = [\"a\"]\n}",
                "expected an object",
                Some(2),
            ),
            (
                "path \"a\" {\n control_group = {}\n}",
                "control_group is not supported",
                Some(2),
            ),
            (
                "path \"a\" {\n capabilities = [\"read\"]\n list_scan_response_keys_filter_path = \"{{ .key }}\"\n}",
                "list capability",
                Some(1),
            ),
            (
                "path \"a\" {\n expiration = \"soon\"\n}",
                "invalid expiration",
                Some(2),
            ),
            (
                "{\"path\": {\"x\": {\"capabilities\": [\"nope\"]}}}",
                r#"invalid capability "nope""#,
                None,
            ),
            (
                "{\"path\": {\"x\": {\"capabilities\": [\"read\"], \"bogus\": 1}}}",
                r#"invalid key "bogus""#,
                None,
            ),
            ("{\"paths\": {}}", r#"invalid key "paths""#, None),
            ("{\"path\": {\"x\": 1}}", "must map each path", None),
            ("{\n\"path\": {\n\"x\": {,}}}", "invalid JSON", Some(3)),
        ];
        for (text, needle, line) in cases {
            let err = Policy::parse("p", text).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(needle), "{text:?}: {msg}");
            assert_eq!(err.line(), *line, "{text:?}: {msg}");
            if let Some(l) = line {
                assert!(msg.contains(&format!("line {l}")), "{text:?}: {msg}");
            }
        }
    }

    #[test]
    fn names() {
        assert_eq!(normalize_name("  Dev-Team "), "dev-team");
        assert!(validate_name("dev").is_ok());
        assert!(validate_name("with space").is_ok());
        for bad in ["", "   ", "a/b", "a\nb"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn builtin_policies_parse() {
        let p = Policy::parse(DEFAULT_POLICY_NAME, crate::DEFAULT_POLICY).unwrap();
        assert_eq!(p.paths().len(), 16);
        assert!(p.is_templated());
        let w = Policy::parse(
            RESPONSE_WRAPPING_POLICY_NAME,
            crate::RESPONSE_WRAPPING_POLICY,
        )
        .unwrap();
        // cubbyhole/response, sys/wrapping/unwrap and auth/token/revoke-self, as OpenBao's.
        let paths: Vec<&str> = w.paths().iter().map(|r| r.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "cubbyhole/response",
                "sys/wrapping/unwrap",
                "auth/token/revoke-self"
            ]
        );
        assert!(Policy::root().is_root());
    }
}
