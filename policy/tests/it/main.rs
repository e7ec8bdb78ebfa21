//! Property tests of the public API: the compiled ACL against a naive model of OpenBao's matching rules,
//! exact-rule capabilities, monotonicity of merging, and robustness on arbitrary input.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers: a broken fixture should fail loudly"
)]

use std::collections::HashMap;

use policy::{Acl, Capabilities, Operation, Policy};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// A generated rule: pattern text and the capability names it grants.
#[derive(Debug, Clone)]
struct GenRule {
    pattern: String,
    caps: Vec<&'static str>,
}

const CAPS: [&str; 9] = [
    "create", "read", "update", "patch", "delete", "list", "sudo", "scan", "deny",
];
const OPS: [Operation; 7] = [
    Operation::Read,
    Operation::List,
    Operation::Create,
    Operation::Update,
    Operation::Delete,
    Operation::Patch,
    Operation::Scan,
];

fn segment() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "ab", "x", "", "a+b"]).prop_map(str::to_owned)
}

fn pattern() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop_oneof![4 => segment(), 1 => Just("+".to_owned())], 1..5),
        prop::sample::select(vec!["", "*", "/*"]),
    )
        .prop_map(|(segs, glob)| format!("{}{glob}", segs.join("/")))
        .prop_filter("'+*' is forbidden", |p| !p.contains("+*"))
}

fn request_path() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(segment(), 1..6),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(segs, slash, lead)| {
            let mut p = segs.join("/");
            if slash {
                p.push('/');
            }
            if lead {
                p.insert(0, '/');
            }
            p
        })
}

fn caps() -> impl Strategy<Value = Vec<&'static str>> {
    prop_oneof![
        8 => prop::sample::subsequence(CAPS[..8].to_vec(), 0..5),
        1 => Just(vec!["deny"]),
    ]
}

fn rule() -> impl Strategy<Value = GenRule> {
    (pattern(), caps()).prop_map(|(pattern, caps)| GenRule { pattern, caps })
}

fn policies() -> impl Strategy<Value = Vec<Vec<GenRule>>> {
    prop::collection::vec(prop::collection::vec(rule(), 0..8), 1..5)
}

fn hcl(rules: &[GenRule]) -> String {
    rules
        .iter()
        .map(|r| {
            let caps: Vec<String> = r.caps.iter().map(|c| format!("\"{c}\"")).collect();
            format!(
                "path \"{}\" {{\n  capabilities = [{}]\n}}\n",
                r.pattern,
                caps.join(", ")
            )
        })
        .collect()
}

fn json(rules: &[GenRule]) -> String {
    let paths: Vec<Value> = rules
        .iter()
        .map(|r| serde_json::json!({ r.pattern.clone(): { "capabilities": r.caps } }))
        .collect();
    serde_json::json!({ "path": paths }).to_string()
}

fn parse_all(sets: &[Vec<GenRule>]) -> Vec<Policy> {
    sets.iter()
        .enumerate()
        .map(|(i, rules)| Policy::parse(&format!("p{i}"), &hcl(rules)).unwrap())
        .collect()
}

fn cap_set(names: &[&str]) -> Capabilities {
    let mut set = Capabilities::NONE;
    for n in names {
        let c = Capabilities::from_name(n).unwrap();
        if c == Capabilities::DENY {
            return Capabilities::DENY;
        }
        set |= c;
    }
    set
}

// ------------------------------------------------------------------------------------------------------
// A deliberately naive model of OpenBao's matching: every rule is tried, all candidates are ranked.

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Kind {
    Exact,
    Prefix,
    Segment,
}

fn key(pattern: &str) -> (Kind, String) {
    let p = pattern.strip_prefix('/').unwrap_or(pattern);
    if p == "+" || p.contains("/+") || p.starts_with("+/") {
        (Kind::Segment, p.to_owned())
    } else if let Some(s) = p.strip_suffix('*') {
        (Kind::Prefix, s.to_owned())
    } else {
        (Kind::Exact, p.to_owned())
    }
}

fn merged(sets: &[Vec<GenRule>]) -> HashMap<(Kind, String), Capabilities> {
    let mut m: HashMap<(Kind, String), Capabilities> = HashMap::new();
    for rules in sets {
        for r in rules {
            let c = cap_set(&r.caps);
            m.entry(key(&r.pattern))
                .and_modify(|e| {
                    if !e.is_deny() {
                        *e = if c.is_deny() {
                            Capabilities::DENY
                        } else {
                            *e | c
                        };
                    }
                })
                .or_insert(c);
        }
    }
    m
}

/// (first wildcard, is prefix, wildcard count, stripped pattern) if `pattern` matches `path`.
fn rank(kind: &Kind, pattern: &str, path: &str) -> Option<(usize, bool, usize, String)> {
    match kind {
        Kind::Exact => None,
        Kind::Prefix => path
            .starts_with(pattern)
            .then(|| (pattern.len(), true, 0, pattern.to_owned())),
        Kind::Segment => {
            let (stripped, is_prefix) = match pattern.strip_suffix('*') {
                Some(s) => (s, true),
                None => (pattern, false),
            };
            let pat: Vec<&str> = stripped.split('/').collect();
            let parts: Vec<&str> = path.split('/').collect();
            if parts.len() < pat.len() || (!is_prefix && parts.len() != pat.len()) {
                return None;
            }
            for (i, seg) in pat.iter().enumerate() {
                let last = i + 1 == pat.len();
                let ok = *seg == "+"
                    || *seg == parts[i]
                    || (is_prefix && last && parts[i].starts_with(seg));
                if !ok {
                    return None;
                }
            }
            let wildcards = pat.iter().filter(|s| **s == "+").count();
            Some((
                pattern.find('+').unwrap(),
                is_prefix,
                wildcards,
                stripped.to_owned(),
            ))
        }
    }
}

fn best_non_exact(
    rules: &HashMap<(Kind, String), Capabilities>,
    path: &str,
) -> Option<Capabilities> {
    let mut cands: Vec<((usize, bool, usize, String), Capabilities)> = rules
        .iter()
        .filter_map(|((k, p), c)| rank(k, p, path).map(|r| (r, *c)))
        .collect();
    // Highest priority last: later wildcard, not a prefix, fewer `+`, longer, lexically greater.
    cands.sort_by(|(a, _), (b, _)| {
        a.0.cmp(&b.0)
            .then(b.1.cmp(&a.1))
            .then(b.2.cmp(&a.2))
            .then(a.3.len().cmp(&b.3.len()))
            .then(a.3.cmp(&b.3))
    });
    cands.last().map(|(_, c)| *c)
}

fn model(sets: &[Vec<GenRule>], op: Operation, path: &str) -> Option<Capabilities> {
    let rules = merged(sets);
    let path = path.trim_start_matches('/');
    let listing = matches!(op, Operation::List | Operation::Scan);
    let exact = |p: &str| rules.get(&(Kind::Exact, p.to_owned())).copied();
    if let Some(c) = exact(path) {
        return Some(c);
    }
    let trimmed = path.strip_suffix('/');
    if listing && let Some(c) = trimmed.and_then(exact) {
        return Some(c);
    }
    if let Some(c) = best_non_exact(&rules, path) {
        return Some(c);
    }
    if listing {
        return trimmed.and_then(|t| best_non_exact(&rules, t));
    }
    None
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".*".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::hash_map(".*", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The compiled ACL picks the same rule as the naive model for every operation.
    #[test]
    fn acl_agrees_with_model(sets in policies(), paths in prop::collection::vec(request_path(), 1..8)) {
        let parsed = parse_all(&sets);
        let acl = Acl::new(&parsed);
        for path in &paths {
            for op in OPS {
                let d = acl.decide(op, path, None);
                let want = model(&sets, op, path).unwrap_or(Capabilities::NONE);
                prop_assert_eq!(d.capabilities, want, "{:?} {}", op, path);
                prop_assert_eq!(d.allowed, want.contains(op.capability()) && !want.is_deny());
            }
        }
    }

    /// (a) A path with an exact rule gets exactly that pattern's merged capabilities, whatever globs and
    /// wildcards also match; a deny anywhere on that pattern leaves only deny.
    #[test]
    fn exact_rule_wins(sets in policies(), extra in rule()) {
        let mut sets = sets;
        let exact = extra.pattern.replace(['*', '+'], "z");
        sets[0].push(GenRule { pattern: exact.clone(), caps: extra.caps });
        let parsed = parse_all(&sets);
        let acl = Acl::new(&parsed);
        let mut want = Capabilities::NONE;
        for r in sets.iter().flatten() {
            if r.pattern.strip_prefix('/').unwrap_or(&r.pattern) == exact.strip_prefix('/').unwrap_or(&exact) {
                let c = cap_set(&r.caps);
                if want.is_deny() {
                    continue;
                }
                want = if c.is_deny() { Capabilities::DENY } else { want | c };
            }
        }
        // Policies strip one leading `/`, requests all of them: a pattern still starting with `/` is
        // unreachable, as in OpenBao.
        let request = exact.strip_prefix('/').unwrap_or(&exact);
        prop_assume!(!request.starts_with('/'));
        let d = acl.decide(Operation::Read, request, None);
        prop_assert_eq!(d.capabilities, want);
    }

    /// (b) Adding a policy over patterns already present never removes a capability, except by deny.
    #[test]
    fn adding_a_policy_only_adds(
        sets in policies(),
        picks in prop::collection::vec((any::<prop::sample::Index>(), caps()), 1..6),
        paths in prop::collection::vec(request_path(), 1..8),
    ) {
        let existing: Vec<&GenRule> = sets.iter().flatten().collect();
        prop_assume!(!existing.is_empty());
        let extra: Vec<GenRule> = picks
            .iter()
            .map(|(i, caps)| GenRule { pattern: i.get(&existing).pattern.clone(), caps: caps.clone() })
            .collect();
        let before = Acl::new(&parse_all(&sets));
        let mut more = sets.clone();
        more.push(extra);
        let after = Acl::new(&parse_all(&more));
        for path in &paths {
            for op in OPS {
                let b = before.decide(op, path, None).capabilities;
                let a = after.decide(op, path, None).capabilities;
                prop_assert!(a.is_deny() || a.contains(b), "{:?} {}: {:?} -> {:?}", op, path, b, a);
            }
        }
    }

    /// HCL and JSON spellings of the same policy compile to the same decisions.
    #[test]
    fn json_and_hcl_agree(rules in prop::collection::vec(rule(), 0..8), path in request_path()) {
        let from_hcl = Policy::parse("p", &hcl(&rules)).unwrap();
        let from_json = Policy::parse("p", &json(&rules)).unwrap();
        prop_assert_eq!(from_hcl.paths().len(), from_json.paths().len());
        for (h, j) in from_hcl.paths().iter().zip(from_json.paths()) {
            prop_assert_eq!(&h.path, &j.path);
            prop_assert_eq!(h.capabilities, j.capabilities);
        }
        let (a, b) = (Acl::new([&from_hcl]), Acl::new([&from_json]));
        prop_assert_eq!(a.capabilities(&path), b.capabilities(&path));
    }

    /// (c) Arbitrary UTF-8 paths and parameters never panic.
    #[test]
    fn decide_never_panics(
        sets in policies(),
        path in "\\PC*",
        raw in ".*",
        op in prop::sample::select(OPS.to_vec()),
        params in prop::collection::hash_map("[a-zA-Z*_]{0,6}|.*", arb_json(), 0..5),
        wrap in prop::option::of(0u64..10_000),
    ) {
        let mut parsed = parse_all(&sets);
        parsed.push(Policy::parse("constraints", r#"
            path "*" {
              capabilities = ["create", "read", "update", "patch", "list", "scan"]
              allowed_parameters = { "a" = ["x*", 1, true], "*" = [] }
              denied_parameters = { "b" = ["*y", null] , "policies" = ["root"] }
              required_parameters = ["c"]
              pagination_limit = 5
            }
        "#).unwrap());
        let acl = Acl::new(&parsed);
        let params: Map<String, Value> = params.into_iter().collect();
        for p in [path.as_str(), raw.as_str()] {
            let d = acl.decide_wrapped(op, p, Some(&params), wrap.map(std::time::Duration::from_secs));
            let mut copy = params.clone();
            d.apply_pagination(&mut copy);
            let _ = acl.capabilities(p);
        }
    }

    /// Arbitrary text never panics the parser.
    #[test]
    fn parse_never_panics(text in ".*", json_text in "\\{.*") {
        let _ = Policy::parse("p", &text);
        let _ = Policy::parse("p", &json_text);
    }
}
