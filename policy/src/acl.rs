//! The compiled ACL: a token's policies merged once into lookup structures, then asked per request.
//!
//! Matching follows OpenBao exactly:
//! 1. an exact rule for the path wins outright (for list/scan, also the path without its trailing `/`);
//! 2. otherwise every glob (`foo*`) and segment-wildcard (`foo/+/bar`, `foo/+/ba*`) rule that matches is a
//!    candidate, and the highest-priority one wins: the first `+`/`*` later in the pattern, then not ending
//!    in `*`, then fewer `+` segments, then longer, then lexically greater;
//! 3. for list/scan of `foo/`, when nothing matched, step 2 is retried with `foo`.
//!
//! The same pattern in several policies (or several blocks) is merged: capabilities are united, a `deny`
//! anywhere leaves only `deny`, parameter lists are combined, and the lowest wrapping TTLs and pagination
//! limit win. Only the winning pattern counts; lower-priority patterns never add or remove anything.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use crate::capability::{Capabilities, Operation};
use crate::params;
use crate::parse::{PathRule, Policy, check_wildcards};
use crate::template::{self, Identity};

/// Names of the policies that granted a capability, shared with the compiled ACL (cloning is cheap).
pub type GrantingPolicies = Arc<[Arc<str>]>;

/// Why a request was denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DenyReason {
    /// No rule matches the path.
    NoMatchingRule,
    /// The winning rule is `deny`.
    ExplicitDeny,
    /// The winning rule does not grant the operation's capability.
    MissingCapability,
    /// The rule sets `min_wrapping_ttl`/`max_wrapping_ttl` and the request is not wrapped, or its wrap TTL
    /// is outside the range.
    WrappingTtl,
    /// A `required_parameters` entry is missing from the request.
    RequiredParameterMissing,
    /// A parameter (or value) is listed in `denied_parameters`.
    ParameterDenied,
    /// A parameter (or value) is not allowed by `allowed_parameters`.
    ParameterNotAllowed,
    /// The list/scan `limit` breaks the rule's `pagination_limit`.
    PaginationLimit,
}

/// The outcome of one access check.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Decision {
    /// Whether the request may proceed (sudo-protected paths additionally need [`is_sudo`](Self::is_sudo)).
    pub allowed: bool,
    /// Whether the token holds the root policy.
    pub root: bool,
    /// Whether the winning rule grants `sudo` (always true for root): what root-protected paths require.
    pub is_sudo: bool,
    /// Capabilities of the winning rule (empty when nothing matched).
    pub capabilities: Capabilities,
    /// Policies that granted the operation's capability on the winning rule (`["root"]` for root).
    pub granting_policies: GrantingPolicies,
    /// Why the request was denied; `None` when allowed.
    pub denied_reason: Option<DenyReason>,
    /// The winning rule's minimum response-wrapping TTL.
    pub min_wrapping_ttl: Option<Duration>,
    /// The winning rule's maximum response-wrapping TTL.
    pub max_wrapping_ttl: Option<Duration>,
    /// For list/scan: the winning rule's `pagination_limit`; see [`apply_pagination`](Self::apply_pagination).
    pub pagination_limit: Option<u32>,
    /// For list/scan: the winning rule's `list_scan_response_keys_filter_path` template.
    pub response_keys_filter_path: Option<Arc<str>>,
    /// The operation that was checked.
    pub operation: Operation,
}

impl Decision {
    /// Rewrites a list/scan request's `limit` as OpenBao does after an allowed check: with a
    /// `pagination_limit`, a missing, `"max"` or `0` limit becomes that limit; without one, `"max"` becomes
    /// `"0"` (no limit). Does nothing for denied or non-listing requests.
    pub fn apply_pagination(&self, params: &mut Map<String, Value>) {
        if !self.allowed || self.root || !self.operation.is_listing() {
            return;
        }
        let current = params.get(LIMIT);
        match self.pagination_limit {
            Some(limit) => {
                let replace = match current {
                    None => true,
                    Some(Value::String(s)) if s == "max" => true,
                    Some(v) => int_value(v) == Some(0),
                };
                if replace {
                    params.insert(LIMIT.to_owned(), Value::String(limit.to_string()));
                }
            }
            None => {
                if matches!(current, Some(Value::String(s)) if s == "max") {
                    params.insert(LIMIT.to_owned(), Value::String("0".to_owned()));
                }
            }
        }
    }
}

const LIMIT: &str = "limit";

/// A compiled, immutable ACL for one set of policies (and one identity, for templated paths). Build it once
/// per policy set and share it; [`decide`](Acl::decide) does no parsing and allocates nothing in the common
/// case.
#[derive(Debug, Clone)]
pub struct Acl {
    root: bool,
    exact: HashMap<Box<str>, u32>,
    prefix: PrefixTrie,
    segment: Vec<SegmentPattern>,
    segment_trie: SegmentTrie,
    rules: Vec<Rule>,
    /// Literal part (up to the first wildcard) of every pattern granting something, for [`Acl::has_rules_under`].
    granting_prefixes: Vec<Box<str>>,
    valid_until: Option<SystemTime>,
    no_policies: GrantingPolicies,
    root_policies: GrantingPolicies,
}

/// Merged permissions of one pattern.
#[derive(Debug, Clone)]
struct Rule {
    caps: Capabilities,
    min_wrap: Option<Duration>,
    max_wrap: Option<Duration>,
    /// Lower-cased, as OpenBao looks them up.
    required: Box<[Box<str>]>,
    allowed: ParamList,
    denied: ParamList,
    pagination_limit: Option<u32>,
    filter_path: Option<Arc<str>>,
    /// Granting policies per capability bit.
    granting: [GrantingPolicies; 9],
}

/// Parameter constraints sorted by (lower-cased) name for binary search.
type ParamList = Box<[(Box<str>, Box<[Value]>)]>;

/// A pattern containing `+` segments, with what ranking needs.
#[derive(Debug, Clone)]
struct SegmentPattern {
    /// Pattern without the trailing `*`.
    stripped: Box<str>,
    is_prefix: bool,
    first_wildcard: usize,
    wildcards: usize,
    rule: u32,
}

/// The `+` patterns as a trie over path segments, so a lookup only walks the branches the path can take
/// (one literal child and the `+` child per level) instead of trying every pattern.
#[derive(Debug, Clone)]
struct SegmentTrie {
    nodes: Vec<SegmentNode>,
}

#[derive(Debug, Clone, Default)]
struct SegmentNode {
    /// Literal next segments, sorted.
    children: Vec<(Box<str>, u32)>,
    /// The `+` next segment.
    plus: Option<u32>,
    /// Patterns without a trailing `*` that end here: they match when the path ends here too.
    ends: Vec<u32>,
    /// Patterns with a trailing `*` whose last segment is this text: they match when the path's next
    /// segment starts with it (any further segments allowed).
    prefix_ends: Vec<(Box<str>, u32)>,
}

impl SegmentTrie {
    fn new() -> SegmentTrie {
        SegmentTrie {
            nodes: vec![SegmentNode::default()],
        }
    }

    fn is_empty(&self) -> bool {
        self.nodes.len() == 1
            && self
                .nodes
                .first()
                .is_none_or(|n| n.ends.is_empty() && n.prefix_ends.is_empty())
    }

    /// Adds pattern number `id` with segments `stripped.split('/')`.
    fn insert(&mut self, stripped: &str, is_prefix: bool, id: u32) {
        let mut segments: Vec<&str> = stripped.split('/').collect();
        let last = if is_prefix { segments.pop() } else { None };
        let mut node = 0usize;
        for seg in segments {
            let next_id = self.nodes.len();
            let Some(current) = self.nodes.get_mut(node) else {
                return;
            };
            let existing = if seg == "+" {
                current.plus
            } else {
                current
                    .children
                    .binary_search_by(|(k, _)| (**k).cmp(seg))
                    .ok()
                    .and_then(|i| current.children.get(i))
                    .map(|c| c.1)
            };
            node = match existing {
                Some(child) => child as usize,
                None => {
                    let child = u32::try_from(next_id).unwrap_or(u32::MAX);
                    if seg == "+" {
                        current.plus = Some(child);
                    } else {
                        let at = current.children.partition_point(|(k, _)| &**k < seg);
                        current.children.insert(at, (Box::from(seg), child));
                    }
                    self.nodes.push(SegmentNode::default());
                    next_id
                }
            };
        }
        let Some(n) = self.nodes.get_mut(node) else {
            return;
        };
        match last {
            Some(last) => n.prefix_ends.push((Box::from(last), id)),
            None => n.ends.push(id),
        }
    }

    /// Calls `found` with every pattern matching the path whose remaining segments are `rest` (`None`
    /// once every segment is consumed). Each trie node is visited at most once.
    fn visit(&self, node: u32, rest: Option<&str>, found: &mut impl FnMut(u32)) {
        let Some(n) = self.nodes.get(node as usize) else {
            return;
        };
        let Some(rest) = rest else {
            for &id in &n.ends {
                found(id);
            }
            return;
        };
        let (seg, next) = match rest.split_once('/') {
            Some((seg, next)) => (seg, Some(next)),
            None => (rest, None),
        };
        for (last, id) in &n.prefix_ends {
            if seg.starts_with(&**last) {
                found(*id);
            }
        }
        if let Ok(i) = n.children.binary_search_by(|(k, _)| (**k).cmp(seg))
            && let Some(&(_, child)) = n.children.get(i)
        {
            self.visit(child, next, found);
        }
        if let Some(plus) = n.plus {
            self.visit(plus, next, found);
        }
    }
}

/// A matching non-exact pattern, ranked by OpenBao's priority rules.
#[derive(Clone, Copy)]
struct Candidate<'a> {
    first_wildcard: usize,
    is_prefix: bool,
    wildcards: usize,
    pattern: &'a str,
    rule: u32,
}

impl Candidate<'_> {
    /// Whether `self` has lower priority than `other`.
    fn lower_than(&self, other: &Candidate<'_>) -> bool {
        if self.first_wildcard != other.first_wildcard {
            return self.first_wildcard < other.first_wildcard;
        }
        if self.is_prefix != other.is_prefix {
            return self.is_prefix;
        }
        if self.wildcards != other.wildcards {
            return self.wildcards > other.wildcards;
        }
        if self.pattern.len() != other.pattern.len() {
            return self.pattern.len() < other.pattern.len();
        }
        self.pattern < other.pattern
    }
}

/// A byte trie answering "longest stored prefix of this path".
#[derive(Debug, Clone)]
struct PrefixTrie {
    nodes: Vec<TrieNode>,
}

#[derive(Debug, Clone, Default)]
struct TrieNode {
    rule: Option<u32>,
    /// Sorted by byte.
    children: Vec<(u8, u32)>,
}

impl PrefixTrie {
    fn new() -> PrefixTrie {
        PrefixTrie {
            nodes: vec![TrieNode::default()],
        }
    }

    fn is_empty(&self) -> bool {
        self.nodes.len() == 1 && self.nodes.first().is_none_or(|n| n.rule.is_none())
    }

    fn insert(&mut self, key: &[u8], rule: u32) {
        let mut node = 0usize;
        for &b in key {
            let next_id = self.nodes.len();
            let Some(current) = self.nodes.get_mut(node) else {
                return;
            };
            node = match current.children.binary_search_by_key(&b, |c| c.0) {
                Ok(i) => current.children.get(i).map_or(0, |c| c.1 as usize),
                Err(i) => {
                    current.children.insert(i, (b, next_id as u32));
                    self.nodes.push(TrieNode::default());
                    next_id
                }
            };
        }
        if let Some(n) = self.nodes.get_mut(node) {
            n.rule = Some(rule);
        }
    }

    /// Length of the longest stored prefix of `path`, and its rule.
    fn longest(&self, path: &[u8]) -> Option<(usize, u32)> {
        let mut node = self.nodes.first()?;
        let mut best = node.rule.map(|r| (0, r));
        for (i, b) in path.iter().enumerate() {
            let Ok(pos) = node.children.binary_search_by_key(b, |c| c.0) else {
                break;
            };
            let Some(next) = node
                .children
                .get(pos)
                .and_then(|c| self.nodes.get(c.1 as usize))
            else {
                break;
            };
            node = next;
            if let Some(r) = node.rule {
                best = Some((i + 1, r));
            }
        }
        best
    }
}

/// How a (template-resolved) policy path is matched.
#[derive(Debug, PartialEq, Eq, Hash, Clone)]
enum PatternKey {
    Exact(String),
    Prefix(String),
    Segment(String),
}

fn classify(path: &str) -> PatternKey {
    // OpenBao strips one leading slash: policy paths start after `/v1/`.
    let p = path.strip_prefix('/').unwrap_or(path);
    let has_segment_wildcard = p == "+" || p.contains("/+") || p.starts_with("+/");
    if has_segment_wildcard {
        return PatternKey::Segment(p.to_owned());
    }
    match p.strip_suffix('*') {
        Some(stripped) => PatternKey::Prefix(stripped.to_owned()),
        None => PatternKey::Exact(p.to_owned()),
    }
}

/// A rule being merged.
struct RuleBuilder {
    caps: Capabilities,
    min_wrap: Option<Duration>,
    max_wrap: Option<Duration>,
    required: Vec<String>,
    allowed: BTreeMap<String, Vec<Value>>,
    denied: BTreeMap<String, Vec<Value>>,
    pagination_limit: Option<u32>,
    filter_path: Option<String>,
    granting: [Vec<Arc<str>>; 9],
}

impl RuleBuilder {
    fn new(rule: &PathRule, policy: &Arc<str>) -> RuleBuilder {
        let mut b = RuleBuilder {
            caps: rule.capabilities,
            min_wrap: rule.min_wrapping_ttl,
            max_wrap: rule.max_wrapping_ttl,
            required: rule.required_parameters.clone(),
            allowed: rule.allowed_parameters.clone(),
            denied: rule.denied_parameters.clone(),
            pagination_limit: rule.pagination_limit,
            filter_path: rule.response_keys_filter_path.clone(),
            granting: Default::default(),
        };
        b.add_granting(rule.capabilities, policy);
        b
    }

    fn add_granting(&mut self, caps: Capabilities, policy: &Arc<str>) {
        for cap in caps.names().filter_map(Capabilities::from_name) {
            if let Some(list) = self.granting.get_mut(cap.bit_index())
                && !list.iter().any(|p| p == policy)
            {
                list.push(Arc::clone(policy));
            }
        }
    }

    /// OpenBao's merge of a later block for the same pattern into this one.
    fn merge(&mut self, rule: &PathRule, policy: &Arc<str>) {
        if self.caps.is_deny() {
            return;
        }
        if rule.capabilities.is_deny() {
            self.caps = Capabilities::DENY;
            self.allowed.clear();
            self.denied.clear();
            return;
        }
        self.caps |= rule.capabilities;
        self.add_granting(rule.capabilities, policy);
        // The shortest wrapping TTLs win, keeping wrapped responses as short-lived as possible.
        self.max_wrap = lowest(self.max_wrap, rule.max_wrapping_ttl);
        self.min_wrap = lowest(self.min_wrap, rule.min_wrapping_ttl);
        merge_params(&mut self.allowed, &rule.allowed_parameters);
        merge_params(&mut self.denied, &rule.denied_parameters);
        for p in &rule.required_parameters {
            if !self.required.contains(p) {
                self.required.push(p.clone());
            }
        }
        self.pagination_limit = lowest(self.pagination_limit, rule.pagination_limit);
        if self.filter_path.is_none() {
            self.filter_path.clone_from(&rule.response_keys_filter_path);
        }
    }

    fn build(self, empty: &GrantingPolicies) -> Rule {
        let params = |m: BTreeMap<String, Vec<Value>>| -> ParamList {
            m.into_iter()
                .map(|(k, v)| (k.into_boxed_str(), v.into_boxed_slice()))
                .collect()
        };
        let granting = self.granting.map(|list| {
            if list.is_empty() {
                Arc::clone(empty)
            } else {
                list.into()
            }
        });
        Rule {
            caps: self.caps,
            min_wrap: self.min_wrap,
            max_wrap: self.max_wrap,
            required: self
                .required
                .iter()
                .map(|r| r.to_lowercase().into_boxed_str())
                .collect(),
            allowed: params(self.allowed),
            denied: params(self.denied),
            pagination_limit: self.pagination_limit,
            filter_path: self.filter_path.map(Arc::from),
            granting,
        }
    }
}

fn lowest<T: Ord + Copy>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// OpenBao's merge of parameter constraints: an empty list (any value) absorbs, otherwise values are
/// concatenated.
fn merge_params(into: &mut BTreeMap<String, Vec<Value>>, from: &BTreeMap<String, Vec<Value>>) {
    for (key, values) in from {
        match into.get_mut(key) {
            Some(existing) if values.is_empty() || existing.is_empty() => existing.clear(),
            Some(existing) => {
                let mut merged = values.clone();
                merged.append(existing);
                *existing = merged;
            }
            None => {
                into.insert(key.clone(), values.clone());
            }
        }
    }
}

impl Acl {
    /// Compiles `policies` for a token without identity (templated paths are skipped), checking path
    /// expirations against the system clock.
    pub fn new<'a>(policies: impl IntoIterator<Item = &'a Policy>) -> Acl {
        Acl::compile(policies, None, SystemTime::now())
    }

    /// Compiles `policies` resolving templated paths against `identity`.
    pub fn new_with_identity<'a>(
        policies: impl IntoIterator<Item = &'a Policy>,
        identity: &Identity,
    ) -> Acl {
        Acl::compile(policies, Some(identity), SystemTime::now())
    }

    /// The general form: `now` decides which path `expiration`s have passed and feeds `{{time.now}}`.
    /// A policy named `root` makes the whole ACL root (the token store never mixes root with others).
    pub fn compile<'a>(
        policies: impl IntoIterator<Item = &'a Policy>,
        identity: Option<&Identity>,
        now: SystemTime,
    ) -> Acl {
        let no_policies: GrantingPolicies = Arc::from(Vec::<Arc<str>>::new());
        let root_policies: GrantingPolicies = Arc::from(vec![Arc::<str>::from("root")]);
        let mut acl = Acl {
            root: false,
            exact: HashMap::new(),
            prefix: PrefixTrie::new(),
            segment: Vec::new(),
            segment_trie: SegmentTrie::new(),
            rules: Vec::new(),
            granting_prefixes: Vec::new(),
            valid_until: None,
            no_policies,
            root_policies,
        };
        let mut index: HashMap<PatternKey, usize> = HashMap::new();
        let mut builders: Vec<(PatternKey, RuleBuilder)> = Vec::new();

        for policy in policies {
            if policy.is_root() {
                acl.root = true;
                continue;
            }
            let name: Arc<str> = Arc::from(policy.name());
            let mut blocked: Vec<&str> = Vec::with_capacity(3);
            if !policy.allows_slashes_in_identity_templates() {
                blocked.push("/");
            }
            if !policy.allows_wildcards_in_identity_templates() {
                blocked.extend(["*", "+"]);
            }
            for rule in policy.paths() {
                if let Some(expiration) = rule.expiration {
                    if now > expiration {
                        continue;
                    }
                    acl.valid_until = lowest(acl.valid_until, Some(expiration));
                }
                let key = if rule.templated {
                    // OpenBao's rule: a path whose template cannot be resolved is left out, not an error.
                    let Ok(path) = template::populate(&rule.path, identity, &blocked, now) else {
                        continue;
                    };
                    if !check_wildcards(&path) {
                        continue;
                    }
                    classify(&path)
                } else {
                    classify(&rule.path)
                };
                match index.get(&key).and_then(|&i| builders.get_mut(i)) {
                    Some((_, existing)) => existing.merge(rule, &name),
                    None => {
                        index.insert(key.clone(), builders.len());
                        builders.push((key, RuleBuilder::new(rule, &name)));
                    }
                }
            }
        }
        if acl.root {
            // Root allows everything; no rule can change that.
            return Acl {
                valid_until: None,
                ..acl
            };
        }

        for (i, (key, builder)) in builders.into_iter().enumerate() {
            let id = u32::try_from(i).unwrap_or(u32::MAX);
            let rule = builder.build(&acl.no_policies);
            if !rule.caps.is_deny() && rule.caps != Capabilities::NONE {
                let text = match &key {
                    PatternKey::Exact(p) | PatternKey::Prefix(p) | PatternKey::Segment(p) => {
                        p.as_str()
                    }
                };
                let literal = text.split(['*', '+']).next().unwrap_or("");
                acl.granting_prefixes.push(Box::from(literal));
            }
            acl.rules.push(rule);
            match key {
                PatternKey::Exact(p) => {
                    acl.exact.insert(p.into_boxed_str(), id);
                }
                PatternKey::Prefix(p) => acl.prefix.insert(p.as_bytes(), id),
                PatternKey::Segment(full) => {
                    let first_wildcard = full.find('+').unwrap_or(0);
                    let (stripped, is_prefix) = match full.strip_suffix('*') {
                        Some(s) => (s, true),
                        None => (full.as_str(), false),
                    };
                    let wildcards = stripped.split('/').filter(|s| *s == "+").count();
                    let pattern_id = u32::try_from(acl.segment.len()).unwrap_or(u32::MAX);
                    acl.segment_trie.insert(stripped, is_prefix, pattern_id);
                    acl.segment.push(SegmentPattern {
                        stripped: Box::from(stripped),
                        is_prefix,
                        first_wildcard,
                        wildcards,
                        rule: id,
                    });
                }
            }
        }
        acl
    }

    /// Whether this ACL holds the root policy.
    pub fn is_root(&self) -> bool {
        self.root
    }

    /// Whether some non-deny rule applies to a path at or below `prefix` (a mount path): OpenBao's test for
    /// whether a token may see a mount at all, e.g. `secret/data/app/*` gives access to the `secret/` mount.
    pub fn has_rules_under(&self, prefix: &str) -> bool {
        self.root || self.granting_prefixes.iter().any(|p| p.starts_with(prefix))
    }

    /// The earliest path `expiration` still ahead: a cached ACL must be recompiled after it.
    pub fn valid_until(&self) -> Option<SystemTime> {
        self.valid_until
    }

    /// Checks `op` on `path` with request parameters `params`, for a request that is not response-wrapped.
    pub fn decide(
        &self,
        op: Operation,
        path: &str,
        params: Option<&Map<String, Value>>,
    ) -> Decision {
        self.decide_wrapped(op, path, params, None)
    }

    /// [`decide`](Self::decide) for a request asking for response wrapping with `wrap_ttl` (`None` when it
    /// does not): rules with `min_wrapping_ttl`/`max_wrapping_ttl` require wrapping within that range.
    pub fn decide_wrapped(
        &self,
        op: Operation,
        path: &str,
        params: Option<&Map<String, Value>>,
        wrap_ttl: Option<Duration>,
    ) -> Decision {
        if self.root {
            return Decision {
                allowed: true,
                root: true,
                is_sudo: true,
                capabilities: Capabilities::ALL,
                granting_policies: Arc::clone(&self.root_policies),
                denied_reason: None,
                min_wrapping_ttl: None,
                max_wrapping_ttl: None,
                pagination_limit: None,
                response_keys_filter_path: None,
                operation: op,
            };
        }
        let Some(rule) = self.lookup(op, path) else {
            return Decision {
                allowed: false,
                root: false,
                is_sudo: false,
                capabilities: Capabilities::NONE,
                granting_policies: Arc::clone(&self.no_policies),
                denied_reason: Some(DenyReason::NoMatchingRule),
                min_wrapping_ttl: None,
                max_wrapping_ttl: None,
                pagination_limit: None,
                response_keys_filter_path: None,
                operation: op,
            };
        };
        let listing = op.is_listing();
        let mut d = Decision {
            allowed: false,
            root: false,
            is_sudo: rule.caps.contains(Capabilities::SUDO),
            capabilities: rule.caps,
            granting_policies: Arc::clone(&self.no_policies),
            denied_reason: None,
            min_wrapping_ttl: rule.min_wrap,
            max_wrapping_ttl: rule.max_wrap,
            pagination_limit: if listing { rule.pagination_limit } else { None },
            response_keys_filter_path: if listing {
                rule.filter_path.clone()
            } else {
                None
            },
            operation: op,
        };
        let needed = op.capability();
        if !rule.caps.contains(needed) {
            d.denied_reason = Some(if rule.caps.is_deny() {
                DenyReason::ExplicitDeny
            } else {
                DenyReason::MissingCapability
            });
            return d;
        }
        if let Some(granting) = rule.granting.get(needed.bit_index()) {
            d.granting_policies = Arc::clone(granting);
        }
        if let Err(reason) = check_wrapping(rule, wrap_ttl).and_then(|()| {
            if op.checks_parameters() {
                check_parameters(rule, params)
            } else if listing {
                check_pagination(rule, params)
            } else {
                Ok(())
            }
        }) {
            d.denied_reason = Some(reason);
            return d;
        }
        d.allowed = true;
        d
    }

    /// Capabilities on `path` as `sys/capabilities` reports them: sorted names, `["root"]` for root,
    /// `["deny"]` when nothing matches or the winning rule denies.
    pub fn capabilities(&self, path: &str) -> Vec<&'static str> {
        if self.root {
            return vec!["root"];
        }
        // OpenBao looks paths up as a list request here, so `foo/` also finds a rule for `foo`.
        match self.lookup(Operation::List, path) {
            Some(rule) if !rule.caps.is_deny() && !rule.caps.is_empty() => {
                rule.caps.names().collect()
            }
            _ => vec!["deny"],
        }
    }

    /// The winning rule for `path`, if any.
    fn lookup(&self, op: Operation, path: &str) -> Option<&Rule> {
        let path = path.trim_start_matches('/');
        let listing = op.is_listing();
        let trimmed = path.strip_suffix('/');
        let found = self
            .exact
            .get(path)
            .or_else(|| {
                if listing {
                    trimmed.and_then(|t| self.exact.get(t))
                } else {
                    None
                }
            })
            .copied()
            .or_else(|| self.non_exact(path))
            .or_else(|| {
                // A list of `foo/` may be granted by a pattern written for `foo`; any match on the full path
                // is longer and so would have won above.
                if listing {
                    trimmed.and_then(|t| self.non_exact(t))
                } else {
                    None
                }
            })?;
        self.rules.get(found as usize)
    }

    /// The highest-priority glob or segment-wildcard rule matching `path`.
    fn non_exact(&self, path: &str) -> Option<u32> {
        let mut best: Option<Candidate<'_>> = None;
        if !self.prefix.is_empty()
            && let Some((len, rule)) = self.prefix.longest(path.as_bytes())
        {
            best = Some(Candidate {
                first_wildcard: len,
                is_prefix: true,
                wildcards: 0,
                // The trie matched whole UTF-8 keys, so `len` is a char boundary.
                pattern: path.get(..len).unwrap_or_default(),
                rule,
            });
        }
        if self.segment_trie.is_empty() {
            return best.map(|c| c.rule);
        }
        self.segment_trie.visit(0, Some(path), &mut |id| {
            let Some(sp) = self.segment.get(id as usize) else {
                return;
            };
            let candidate = Candidate {
                first_wildcard: sp.first_wildcard,
                is_prefix: sp.is_prefix,
                wildcards: sp.wildcards,
                pattern: &sp.stripped,
                rule: sp.rule,
            };
            if best.is_none_or(|b| b.lower_than(&candidate)) {
                best = Some(candidate);
            }
        });
        best.map(|c| c.rule)
    }
}

fn check_wrapping(rule: &Rule, wrap_ttl: Option<Duration>) -> Result<(), DenyReason> {
    if let Some(max) = rule.max_wrap
        && wrap_ttl.is_none_or(|ttl| ttl > max)
    {
        return Err(DenyReason::WrappingTtl);
    }
    if let Some(min) = rule.min_wrap
        && wrap_ttl.is_none_or(|ttl| ttl < min)
    {
        return Err(DenyReason::WrappingTtl);
    }
    // Merging can produce max < min even though each block was checked.
    if let (Some(min), Some(max)) = (rule.min_wrap, rule.max_wrap)
        && max < min
    {
        return Err(DenyReason::WrappingTtl);
    }
    Ok(())
}

fn find<'a>(list: &'a ParamList, key: &str) -> Option<&'a [Value]> {
    list.binary_search_by(|(k, _)| (**k).cmp(key))
        .ok()
        .and_then(|i| list.get(i))
        .map(|(_, v)| &**v)
}

/// [`find`] with the request's key lower-cased; allocates only for keys that are not already lower-case
/// ASCII.
fn find_lowercased<'a>(list: &'a ParamList, key: &str) -> Option<&'a [Value]> {
    if key.is_ascii() && !key.bytes().any(|b| b.is_ascii_uppercase()) {
        find(list, key)
    } else {
        find(list, &key.to_lowercase())
    }
}

fn check_parameters(rule: &Rule, params: Option<&Map<String, Value>>) -> Result<(), DenyReason> {
    for required in &rule.required {
        if !params.is_some_and(|p| p.contains_key(&**required)) {
            return Err(DenyReason::RequiredParameterMissing);
        }
    }
    let Some(data) = params.filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    if !rule.denied.is_empty() {
        if find(&rule.denied, "*").is_some() {
            return Err(DenyReason::ParameterDenied);
        }
        for (key, value) in data {
            if let Some(list) = find_lowercased(&rule.denied, key) {
                let lowered = params::lowercases_values(key).then(|| params::lowercased(value));
                let value = lowered.as_ref().and_then(Option::as_ref).unwrap_or(value);
                if params::denied(value, list) {
                    return Err(DenyReason::ParameterDenied);
                }
            }
        }
    }
    if rule.allowed.is_empty() {
        return Ok(());
    }
    let allow_all = find(&rule.allowed, "*").is_some();
    if allow_all && rule.allowed.len() == 1 {
        return Ok(());
    }
    for (key, value) in data {
        match find_lowercased(&rule.allowed, key) {
            None if !allow_all => return Err(DenyReason::ParameterNotAllowed),
            None => {}
            Some(list) => {
                let lowered = params::lowercases_values(key).then(|| params::lowercased(value));
                let value = lowered.as_ref().and_then(Option::as_ref).unwrap_or(value);
                if !params::allowed(value, list) {
                    return Err(DenyReason::ParameterNotAllowed);
                }
            }
        }
    }
    Ok(())
}

/// An integer `limit`, given as a JSON integer or a decimal string.
fn int_value(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn check_pagination(rule: &Rule, params: Option<&Map<String, Value>>) -> Result<(), DenyReason> {
    let Some(limit) = rule.pagination_limit else {
        return Ok(());
    };
    match params.and_then(|p| p.get(LIMIT)) {
        // Callers unaware of pagination still work unless the policy requires `limit`.
        None => {
            if rule.required.iter().any(|r| &**r == LIMIT) {
                Err(DenyReason::PaginationLimit)
            } else {
                Ok(())
            }
        }
        Some(value) => match int_value(value) {
            Some(n) if n < 0 || n > i64::from(limit) => Err(DenyReason::PaginationLimit),
            Some(_) => Ok(()),
            None if matches!(value, Value::String(s) if s == "max") => Ok(()),
            None => Err(DenyReason::PaginationLimit),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{Entity, EntityAlias, Group};
    use serde_json::json;
    use std::time::UNIX_EPOCH;

    fn policy(name: &str, text: &str) -> Policy {
        Policy::parse(name, text).unwrap()
    }

    fn params(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    /// One policy per pattern, named after it, granting read: the winner is the granting policy.
    fn winner(patterns: &[&str], path: &str) -> Option<String> {
        let policies: Vec<Policy> = patterns
            .iter()
            .map(|p| policy(p, &format!("path \"{p}\" {{ capabilities = [\"read\"] }}")))
            .collect();
        let acl = Acl::new(&policies);
        let d = acl.decide(Operation::Read, path, None);
        d.allowed
            .then(|| d.granting_policies.first().unwrap().to_string())
    }

    #[test]
    fn priority_matching() {
        let cases: &[(&[&str], &str, Option<&str>)] = &[
            // The docs' example: same first wildcard position, both globs, fewer `+` wins.
            (
                &["secret/*", "secret/+/+/foo/*"],
                "secret/a/b/foo/c",
                Some("secret/*"),
            ),
            // First wildcard later wins.
            (&["foo/a*", "foo/+"], "foo/ab", Some("foo/a*")),
            (
                &["foo/bar/+/baz", "foo/+/bar/baz"],
                "foo/bar/bar/baz",
                Some("foo/bar/+/baz"),
            ),
            (
                &["foo/bar/+/baz", "foo/+/+/baz"],
                "foo/bar/x/baz",
                Some("foo/bar/+/baz"),
            ),
            // Not ending in `*` wins.
            (&["foo/+/bar", "foo/+/ba*"], "foo/x/bar", Some("foo/+/bar")),
            (&["foo/+", "foo/*"], "foo/x", Some("foo/+")),
            // Longer wins.
            (
                &["foo/+/bar/ba*", "foo/+/bar/b*"],
                "foo/x/bar/baz",
                Some("foo/+/bar/ba*"),
            ),
            (
                &["secret/*", "secret/foo*"],
                "secret/food",
                Some("secret/foo*"),
            ),
            // Exact wins over everything.
            (
                &["secret/foo", "secret/f*", "secret/+"],
                "secret/foo",
                Some("secret/foo"),
            ),
            // Globs are prefixes of the whole path, `+` is one segment.
            (&["secret/foo"], "secret/food", None),
            (
                &["secret/bar/*"],
                "secret/bar/zip/zap",
                Some("secret/bar/*"),
            ),
            (&["secret/bar/*"], "secret/bars/zip", None),
            (
                &["secret/zip-*"],
                "secret/zip-zap/zong",
                Some("secret/zip-*"),
            ),
            (&["secret/zip-*"], "secret/zip/zap", None),
            (
                &["secret/+/teamb"],
                "secret/foo/teamb",
                Some("secret/+/teamb"),
            ),
            (&["secret/+/teamb"], "secret/foo/bar/teamb", None),
            (
                &["secret/+/+/teamb"],
                "secret/foo/bar/teamb",
                Some("secret/+/+/teamb"),
            ),
            (
                &["secret/+/teamb*"],
                "secret/x/teamb-1/more",
                Some("secret/+/teamb*"),
            ),
            (&["secret/+"], "secret/", Some("secret/+")),
            (&["+/foo"], "anything/foo", Some("+/foo")),
            (&["+"], "top", Some("+")),
            (&["+"], "a/b", None),
            (&["*"], "", Some("*")),
            (&["*"], "a/b/c", Some("*")),
            // Leading slashes are ignored on both sides.
            (&["/secret/foo"], "secret/foo", Some("/secret/foo")),
            (&["secret/foo"], "//secret/foo", Some("secret/foo")),
            // A `+` inside a segment is literal.
            (&["a+b/c"], "a+b/c", Some("a+b/c")),
            (&["a+b/c"], "axb/c", None),
        ];
        for (patterns, path, want) in cases {
            assert_eq!(
                winner(patterns, path).as_deref(),
                *want,
                "{patterns:?} on {path}"
            );
        }
    }

    #[test]
    fn only_the_winning_pattern_counts() {
        let p = policy(
            "p",
            r#"
            path "secret/*" { capabilities = ["create", "read", "update", "patch", "delete", "list", "scan"] }
            path "secret/super-secret" { capabilities = ["deny"] }
            path "secret/locked/*" { capabilities = ["deny"] }
            path "secret/locked/open/*" { capabilities = ["read"] }
            path "secret/narrow" { capabilities = ["read"] }
        "#,
        );
        let acl = Acl::new([&p]);
        let d = acl.decide(Operation::Read, "secret/super-secret", None);
        assert!(!d.allowed);
        assert_eq!(d.denied_reason, Some(DenyReason::ExplicitDeny));
        assert!(!acl.decide(Operation::Read, "secret/locked/x", None).allowed);
        assert!(
            acl.decide(Operation::Read, "secret/locked/open/x", None)
                .allowed
        );
        // A narrower exact rule replaces the broad one rather than adding to it.
        let d = acl.decide(Operation::Update, "secret/narrow", None);
        assert_eq!(d.denied_reason, Some(DenyReason::MissingCapability));
        assert_eq!(d.capabilities, Capabilities::READ);
        assert!(acl.decide(Operation::Scan, "secret/a/", None).allowed);
        let none = acl.decide(Operation::Read, "other/x", None);
        assert_eq!(none.denied_reason, Some(DenyReason::NoMatchingRule));
        assert!(none.granting_policies.is_empty());
    }

    #[test]
    fn same_pattern_merges_across_policies_and_blocks() {
        let a = policy("a", r#"path "kv/x" { capabilities = ["read"] }"#);
        let b = policy(
            "b",
            r#"path "kv/x" { capabilities = ["update", "read"] }
               path "kv/x" { capabilities = ["list"] }"#,
        );
        let acl = Acl::new([&a, &b]);
        let d = acl.decide(Operation::Read, "kv/x", None);
        assert_eq!(
            d.capabilities,
            Capabilities::READ | Capabilities::UPDATE | Capabilities::LIST
        );
        assert_eq!(
            d.granting_policies.iter().map(|s| &**s).collect::<Vec<_>>(),
            ["a", "b"]
        );
        let d = acl.decide(Operation::Update, "kv/x", None);
        assert_eq!(
            d.granting_policies.iter().map(|s| &**s).collect::<Vec<_>>(),
            ["b"]
        );

        let deny = policy("d", r#"path "kv/x" { capabilities = ["deny"] }"#);
        for order in [[&a, &deny, &b], [&deny, &a, &b], [&a, &b, &deny]] {
            let acl = Acl::new(order);
            let d = acl.decide(Operation::Read, "kv/x", None);
            assert!(!d.allowed);
            assert_eq!(d.capabilities, Capabilities::DENY);
            assert_eq!(acl.capabilities("kv/x"), ["deny"]);
        }
        // Glob and exact forms of the same text are different patterns.
        let g = policy("g", r#"path "kv/x*" { capabilities = ["delete"] }"#);
        let acl = Acl::new([&a, &g]);
        assert_eq!(acl.capabilities("kv/x"), ["read"]);
        assert_eq!(acl.capabilities("kv/xy"), ["delete"]);
    }

    #[test]
    fn merged_constraints() {
        let a = policy(
            "a",
            r#"path "p" {
                capabilities = ["update"]
                allowed_parameters = { "x" = ["1"], "y" = [] , "z" = ["a"] }
                required_parameters = ["x"]
                max_wrapping_ttl = "10m"
                pagination_limit = 50
            }"#,
        );
        let b = policy(
            "b",
            r#"path "p" {
                capabilities = ["create", "list"]
                allowed_parameters = { "x" = ["2"], "y" = ["only"], "w" = [] }
                denied_parameters = { "z" = ["b"] }
                required_parameters = ["y", "x"]
                max_wrapping_ttl = "5m"
                min_wrapping_ttl = "1m"
                pagination_limit = 20
            }"#,
        );
        let acl = Acl::new([&a, &b]);
        let wrap = Some(Duration::from_secs(120));
        let check = |v: Value| {
            acl.decide_wrapped(Operation::Update, "p", Some(&params(v)), wrap)
                .denied_reason
        };
        assert_eq!(check(json!({"x": "1", "y": "anything"})), None);
        assert_eq!(check(json!({"x": "2", "y": "q", "w": 5})), None);
        assert_eq!(
            check(json!({"x": "3", "y": "q"})),
            Some(DenyReason::ParameterNotAllowed)
        );
        assert_eq!(
            check(json!({"x": "1"})),
            Some(DenyReason::RequiredParameterMissing)
        );
        assert_eq!(check(json!({"x": "1", "y": 1, "z": "a"})), None);
        assert_eq!(
            check(json!({"x": "1", "y": 1, "q": 1})),
            Some(DenyReason::ParameterNotAllowed)
        );
        let d = acl.decide_wrapped(
            Operation::Update,
            "p",
            Some(&params(json!({"x": "1", "y": 1}))),
            None,
        );
        assert_eq!(d.denied_reason, Some(DenyReason::WrappingTtl));
        assert_eq!(d.max_wrapping_ttl, Some(Duration::from_secs(300)));
        assert_eq!(d.min_wrapping_ttl, Some(Duration::from_secs(60)));
        for (ttl, ok) in [(30, false), (60, true), (300, true), (301, false)] {
            let d = acl.decide_wrapped(
                Operation::Update,
                "p",
                Some(&params(json!({"x": "1", "y": 1}))),
                Some(Duration::from_secs(ttl)),
            );
            assert_eq!(d.allowed, ok, "ttl {ttl}");
        }
        let d = acl.decide_wrapped(Operation::List, "p", None, wrap);
        assert!(d.allowed);
        assert_eq!(d.pagination_limit, Some(20));
    }

    #[test]
    fn parameter_constraints_from_the_docs() {
        let p = policy(
            "p",
            r#"
            path "secret/profile" {
              capabilities = ["create"]
              required_parameters = ["name", "id"]
            }
            path "auth/userpass/users/*" {
              capabilities = ["update"]
              allowed_parameters = { "password" = [] }
            }
            path "transit/keys/*" {
              capabilities = ["create", "update"]
              allowed_parameters = { "auto_rotate_period" = ["8h", "24h", "5d"] }
            }
            path "secret/foo" {
              capabilities = ["create"]
              allowed_parameters = { "bar" = ["zip", "zap"], "*" = [] }
            }
            path "auth/userpass/roles/*" {
              capabilities = ["update"]
              denied_parameters = { "token_policies" = [], "policies" = [] }
            }
            path "auth/token/roles/*" {
              capabilities = ["create", "update"]
              denied_parameters = { "allowed_policies" = ["admin"] }
            }
            path "transit/locked/*" {
              capabilities = ["create", "update"]
              denied_parameters = { "*" = [] }
            }
            path "secret/glob" {
              capabilities = ["create"]
              allowed_parameters = { "bar" = ["foo-*"] }
            }
            path "secret/nostore" {
              capabilities = ["create"]
              denied_parameters = { "no_store" = [false, "false"] }
            }
            path "auth/token/create" {
              capabilities = ["update"]
              denied_parameters = { "policies" = ["root", "admin*"] }
            }
        "#,
        );
        let acl = Acl::new([&p]);
        let cases: &[(Operation, &str, Value, Option<DenyReason>)] = &[
            (
                Operation::Create,
                "secret/profile",
                json!({"name": "a", "id": 1}),
                None,
            ),
            (
                Operation::Create,
                "secret/profile",
                json!({"name": "a"}),
                Some(DenyReason::RequiredParameterMissing),
            ),
            (
                Operation::Create,
                "secret/profile",
                json!({"NAME": "a", "id": 1}),
                Some(DenyReason::RequiredParameterMissing),
            ),
            (
                Operation::Update,
                "auth/userpass/users/bob",
                json!({"password": "x"}),
                None,
            ),
            (
                Operation::Update,
                "auth/userpass/users/bob",
                json!({"Password": "x"}),
                None,
            ),
            (
                Operation::Update,
                "auth/userpass/users/bob",
                json!({"token_ttl": "1h"}),
                Some(DenyReason::ParameterNotAllowed),
            ),
            (
                Operation::Update,
                "auth/userpass/users/bob",
                json!({}),
                None,
            ),
            (
                Operation::Update,
                "transit/keys/k",
                json!({"auto_rotate_period": "24h"}),
                None,
            ),
            (
                Operation::Update,
                "transit/keys/k",
                json!({"auto_rotate_period": "1h"}),
                Some(DenyReason::ParameterNotAllowed),
            ),
            (
                Operation::Create,
                "secret/foo",
                json!({"bar": "zap", "other": 1}),
                None,
            ),
            (
                Operation::Create,
                "secret/foo",
                json!({"bar": "zop"}),
                Some(DenyReason::ParameterNotAllowed),
            ),
            (
                Operation::Update,
                "auth/userpass/roles/r",
                json!({"token_ttl": "1h"}),
                None,
            ),
            (
                Operation::Update,
                "auth/userpass/roles/r",
                json!({"policies": "x"}),
                Some(DenyReason::ParameterDenied),
            ),
            (
                Operation::Update,
                "auth/token/roles/r",
                json!({"allowed_policies": "dev"}),
                None,
            ),
            (
                Operation::Update,
                "auth/token/roles/r",
                json!({"allowed_policies": "admin"}),
                Some(DenyReason::ParameterDenied),
            ),
            (
                Operation::Update,
                "auth/token/roles/r",
                json!({"allowed_policies": ["dev", "admin"]}),
                Some(DenyReason::ParameterDenied),
            ),
            (
                Operation::Update,
                "auth/token/roles/r",
                json!({"allowed_policies": "dev,admin"}),
                Some(DenyReason::ParameterDenied),
            ),
            (
                Operation::Update,
                "transit/locked/k",
                json!({"exportable": true}),
                Some(DenyReason::ParameterDenied),
            ),
            (Operation::Update, "transit/locked/k", json!({}), None),
            (
                Operation::Create,
                "secret/glob",
                json!({"bar": "foo-1"}),
                None,
            ),
            (
                Operation::Create,
                "secret/glob",
                json!({"bar": "bar-1"}),
                Some(DenyReason::ParameterNotAllowed),
            ),
            (
                Operation::Create,
                "secret/nostore",
                json!({"no_store": false}),
                Some(DenyReason::ParameterDenied),
            ),
            (
                Operation::Create,
                "secret/nostore",
                json!({"no_store": "false"}),
                Some(DenyReason::ParameterDenied),
            ),
            (
                Operation::Create,
                "secret/nostore",
                json!({"no_store": true, "value": "x"}),
                None,
            ),
            (
                Operation::Create,
                "secret/nostore",
                json!({"value": "x"}),
                None,
            ),
            (
                Operation::Update,
                "auth/token/create",
                json!({"policies": ["dev", "Root"]}),
                Some(DenyReason::ParameterDenied),
            ),
            (
                Operation::Update,
                "auth/token/create",
                json!({"policies": "ADMINS"}),
                Some(DenyReason::ParameterDenied),
            ),
            (
                Operation::Update,
                "auth/token/create",
                json!({"policies": ["dev"]}),
                None,
            ),
        ];
        for (op, path, body, want) in cases {
            let d = acl.decide(*op, path, Some(&params(body.clone())));
            assert_eq!(d.denied_reason, *want, "{op:?} {path} {body}");
            assert_eq!(d.allowed, want.is_none());
        }
        // Without a body, required parameters are missing; constraints are otherwise skipped.
        assert!(
            !acl.decide(Operation::Create, "secret/profile", None)
                .allowed
        );
        assert!(acl.decide(Operation::Create, "secret/foo", None).allowed);
        // Delete does not look at parameters.
        let p2 = policy(
            "d",
            "path \"x\" {\n capabilities = [\"delete\"]\n required_parameters = [\"a\"]\n}",
        );
        assert!(Acl::new([&p2]).decide(Operation::Delete, "x", None).allowed);
    }

    #[test]
    fn list_trailing_slash() {
        let p = policy(
            "p",
            r#"
            path "kv/exact" { capabilities = ["list"] }
            path "kv1/+" { capabilities = ["list", "scan"] }
            path "kv2/folder/" { capabilities = ["list"] }
        "#,
        );
        let acl = Acl::new([&p]);
        assert!(acl.decide(Operation::List, "kv/exact/", None).allowed);
        assert!(acl.decide(Operation::List, "kv1/a/", None).allowed);
        assert!(acl.decide(Operation::Scan, "kv1/a/", None).allowed);
        assert!(!acl.decide(Operation::Read, "kv/exact/", None).allowed);
        assert!(acl.decide(Operation::List, "kv2/folder/", None).allowed);
        assert!(!acl.decide(Operation::List, "kv2/folder", None).allowed);
        assert_eq!(acl.capabilities("kv1/a/"), ["list", "scan"]);
    }

    #[test]
    fn pagination() {
        let p = policy(
            "p",
            r#"
            path "opt/*" {
              capabilities = ["list"]
              pagination_limit = 10
            }
            path "req/*" {
              capabilities = ["list"]
              pagination_limit = 10
              required_parameters = ["limit"]
            }
            path "free/*" { capabilities = ["list"] }
        "#,
        );
        let acl = Acl::new([&p]);
        let list = |path: &str, limit: Option<Value>| {
            let mut m = Map::new();
            if let Some(l) = limit {
                m.insert("limit".into(), l);
            }
            let d = acl.decide(Operation::List, path, Some(&m));
            d.apply_pagination(&mut m);
            (d.allowed, m.get("limit").cloned())
        };
        assert_eq!(list("opt/", None), (true, Some(json!("10"))));
        assert_eq!(list("opt/", Some(json!("5"))), (true, Some(json!("5"))));
        assert_eq!(list("opt/", Some(json!(0))), (true, Some(json!("10"))));
        assert_eq!(list("opt/", Some(json!("max"))), (true, Some(json!("10"))));
        assert!(!list("opt/", Some(json!("11"))).0);
        assert!(!list("opt/", Some(json!(-1))).0);
        assert!(!list("opt/", Some(json!("lots"))).0);
        assert!(!list("req/", None).0);
        assert_eq!(list("req/", Some(json!("max"))), (true, Some(json!("10"))));
        assert_eq!(list("free/", Some(json!("max"))), (true, Some(json!("0"))));
        assert_eq!(
            list("free/", Some(json!("1000"))),
            (true, Some(json!("1000")))
        );
        assert_eq!(list("free/", None), (true, None));
    }

    fn identity() -> Identity {
        Identity {
            entity: Some(Entity {
                id: "e1".into(),
                name: "alice".into(),
                metadata: [("team".to_owned(), "blue".to_owned())].into(),
                aliases: vec![EntityAlias {
                    mount_accessor: "auth_kubernetes_1".into(),
                    metadata: [("service_account_namespace".to_owned(), "pay".to_owned())].into(),
                    ..Default::default()
                }],
            }),
            groups: vec![Group {
                id: "g1".into(),
                name: "ops".into(),
                ..Default::default()
            }],
        }
    }

    #[test]
    fn templated_paths() {
        let p = policy(
            "t",
            r#"
            path "secret/data/{{identity.entity.id}}/*" { capabilities = ["read"] }
            path "secret/data/{{identity.entity.aliases.auth_kubernetes_1.metadata.service_account_namespace}}/*" { capabilities = ["list"] }
            path "secret/groups/{{identity.groups.ids.g1.name}}/*" { capabilities = ["update"] }
            path "secret/meta/{{identity.entity.metadata.missing}}/*" { capabilities = ["read"] }
            path "secret/plain" { capabilities = ["read"] }
        "#,
        );
        let id = identity();
        let acl = Acl::new_with_identity([&p], &id);
        assert!(
            acl.decide(Operation::Read, "secret/data/e1/x", None)
                .allowed
        );
        assert!(
            !acl.decide(Operation::Read, "secret/data/e2/x", None)
                .allowed
        );
        assert!(
            acl.decide(Operation::List, "secret/data/pay/", None)
                .allowed
        );
        assert!(
            acl.decide(Operation::Update, "secret/groups/ops/a", None)
                .allowed
        );
        // Unresolvable template: skipped, not a literal `{{...}}` rule and not an error.
        assert_eq!(
            acl.capabilities("secret/meta/{{identity.entity.metadata.missing}}/x"),
            ["deny"]
        );
        assert!(acl.decide(Operation::Read, "secret/plain", None).allowed);

        // Without identity, every templated path is skipped and the rest still works.
        let anon = Acl::new([&p]);
        assert!(
            !anon
                .decide(Operation::Read, "secret/data/e1/x", None)
                .allowed
        );
        assert!(anon.decide(Operation::Read, "secret/plain", None).allowed);

        // Values with `/` are refused unless the policy allows slashes.
        let mut slashy = identity();
        if let Some(e) = slashy.entity.as_mut() {
            e.id = "a/b".into();
        }
        assert!(
            !Acl::new_with_identity([&p], &slashy)
                .decide(Operation::Read, "secret/data/a/b/x", None)
                .allowed
        );
        let lenient = p.clone().with_identity_template_options(true, false);
        assert!(
            Acl::new_with_identity([&lenient], &slashy)
                .decide(Operation::Read, "secret/data/a/b/x", None)
                .allowed
        );
    }

    #[test]
    fn default_policy_behaves() {
        let p = policy("default", crate::DEFAULT_POLICY);
        let acl = Acl::new_with_identity([&p], &identity());
        let allowed = [
            (Operation::Read, "auth/token/lookup-self"),
            (Operation::Update, "auth/token/renew-self"),
            (Operation::Update, "sys/capabilities-self"),
            (Operation::Read, "identity/entity/id/e1"),
            (Operation::Read, "identity/entity/name/alice"),
            (Operation::Create, "cubbyhole/x"),
            (Operation::List, "cubbyhole/"),
            (Operation::Update, "sys/tools/hash/sha2-256"),
            (Operation::Read, "identity/oidc/provider/p1/authorize"),
        ];
        for (op, path) in allowed {
            assert!(acl.decide(op, path, None).allowed, "{op:?} {path}");
        }
        for (op, path) in [
            (Operation::Read, "identity/entity/id/other"),
            (Operation::Read, "secret/x"),
            (Operation::Update, "sys/policy/default"),
            (Operation::Read, "auth/token/lookup"),
        ] {
            assert!(!acl.decide(op, path, None).allowed, "{op:?} {path}");
        }
    }

    #[test]
    fn root_allows_everything() {
        let acl = Acl::new([
            &Policy::root(),
            &policy("x", r#"path "a" { capabilities = ["deny"] }"#),
        ]);
        let d = acl.decide(Operation::Delete, "a", None);
        assert!(d.allowed && d.root && d.is_sudo);
        assert_eq!(&*d.granting_policies[0], "root");
        assert_eq!(acl.capabilities("anything"), ["root"]);
        assert!(acl.is_root());
    }

    #[test]
    fn sudo_and_capabilities_listing() {
        let p = policy(
            "p",
            r#"path "sys/audit/*" { capabilities = ["sudo", "update", "read", "create"] }
               path "sys/empty" { capabilities = [] }"#,
        );
        let acl = Acl::new([&p]);
        let d = acl.decide(Operation::Update, "sys/audit/file", None);
        assert!(d.allowed && d.is_sudo && !d.root);
        assert_eq!(
            acl.capabilities("sys/audit/file"),
            ["create", "read", "sudo", "update"]
        );
        assert_eq!(acl.capabilities("sys/empty"), ["deny"]);
        assert_eq!(acl.capabilities("nowhere"), ["deny"]);
        assert_eq!(Acl::new(&[]).capabilities("x"), ["deny"]);
    }

    #[test]
    fn expired_paths_are_skipped() {
        let p = policy(
            "p",
            r#"path "tmp" {
                 capabilities = ["read"]
                 expiration = "2030-01-01T00:00:00Z"
               }
               path "later" {
                 capabilities = ["read"]
                 expiration = "2040-01-01T00:00:00Z"
               }"#,
        );
        let before = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let after = UNIX_EPOCH + Duration::from_secs(1_900_000_000);
        let acl = Acl::compile([&p], None, before);
        assert!(acl.decide(Operation::Read, "tmp", None).allowed);
        assert_eq!(
            acl.valid_until(),
            crate::time::parse_absolute("2030-01-01T00:00:00Z")
        );
        let acl = Acl::compile([&p], None, after);
        assert!(!acl.decide(Operation::Read, "tmp", None).allowed);
        assert!(acl.decide(Operation::Read, "later", None).allowed);
    }

    #[test]
    fn acl_and_decision_are_shareable() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Acl>();
        assert_send_sync::<Decision>();
        assert_send_sync::<Policy>();
    }

    #[test]
    fn segment_trie_visits_matches() {
        let mut t = SegmentTrie::new();
        assert!(t.is_empty());
        t.insert("a/+/c", false, 0);
        t.insert("a/+/", true, 1);
        t.insert("+/b/c", false, 2);
        t.insert("a/b/c", false, 3);
        let mut found = Vec::new();
        t.visit(0, Some("a/b/c"), &mut |id| found.push(id));
        found.sort_unstable();
        assert_eq!(found, [0, 1, 2, 3]);
        found.clear();
        t.visit(0, Some("a/x/c/d"), &mut |id| found.push(id));
        assert_eq!(found, [1]);
        found.clear();
        t.visit(0, Some("a/x"), &mut |id| found.push(id));
        assert!(found.is_empty());
    }

    #[test]
    fn trie_longest_prefix() {
        let mut t = PrefixTrie::new();
        assert!(t.is_empty());
        t.insert(b"secret/", 0);
        t.insert(b"secret/data/", 1);
        t.insert(b"", 2);
        assert!(!t.is_empty());
        assert_eq!(t.longest(b"secret/data/x"), Some((12, 1)));
        assert_eq!(t.longest(b"secret/dat"), Some((7, 0)));
        assert_eq!(t.longest(b"other"), Some((0, 2)));
    }
}
