//! Policy-list rules shared by token creation paths (OpenBao's `policyutil` and `strutil` helpers).

/// Policies no token may carry.
pub(crate) const NON_ASSIGNABLE: &[&str] = &["response-wrapping", "control-group"];

/// Trims and lowercases names, drops empties and duplicates (sorted); `root` swallows everything else;
/// with `add_default`, `default` is added unless `root` is present.
pub(crate) fn sanitize(policies: &[String], add_default: bool) -> Vec<String> {
    let mut out: Vec<String> = policies
        .iter()
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    if out.iter().any(|p| p == "root") {
        return vec!["root".into()];
    }
    if add_default && !out.iter().any(|p| p == "default") {
        out.push("default".into());
    }
    out.sort();
    out.dedup();
    out
}

/// Trims, lowercases, sorts and deduplicates (no `root` or `default` rules).
pub(crate) fn dedup_lower(list: &[String]) -> Vec<String> {
    let mut out: Vec<String> = list
        .iter()
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether every item of `sub` is in `sup`.
pub(crate) fn is_subset(sup: &[String], sub: &[String]) -> bool {
    sub.iter().all(|p| sup.contains(p))
}

/// Whether any pattern in `globs` matches `value` (`*` matches any run of characters).
pub(crate) fn any_glob(globs: &[String], value: &str) -> bool {
    globs.iter().any(|g| glob(g, value))
}

/// Minimal glob: `*` is the only wildcard, as in go-glob.
pub(crate) fn glob(pattern: &str, value: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == value;
    }
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    let Some(mut rest) = value.strip_prefix(first) else {
        return false;
    };
    let middle = parts.get(1..parts.len() - 1).unwrap_or(&[]);
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = rest.get(i + part.len()..).unwrap_or(""),
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn sanitize_rules() {
        assert_eq!(
            sanitize(&v(&[" Web", "web", "", "a"]), true),
            v(&["a", "default", "web"])
        );
        assert_eq!(sanitize(&v(&["web", "root"]), true), v(&["root"]));
        assert_eq!(sanitize(&[], true), v(&["default"]));
        assert_eq!(sanitize(&[], false), Vec::<String>::new());
    }

    #[test]
    fn globs() {
        assert!(glob("dev-*", "dev-web"));
        assert!(!glob("dev-*", "prod-web"));
        assert!(glob("*-web", "dev-web"));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXcYYb"));
        assert!(glob("*", "anything"));
        assert!(glob("exact", "exact") && !glob("exact", "exactly"));
        assert!(any_glob(&v(&["x", "d*"]), "default"));
        assert!(is_subset(&v(&["a", "b"]), &v(&["b"])));
        assert!(!is_subset(&v(&["a"]), &v(&["a", "b"])));
    }
}
