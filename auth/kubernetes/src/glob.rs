//! The glob matching of `bound_service_account_names`/`_namespaces`: `*` stands for any run of characters
//! (possibly empty); everything else matches itself.

/// Whether `value` matches `pattern`.
pub(crate) fn matches(pattern: &str, value: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return value.is_empty();
    };
    let Some(mut rest) = value.strip_prefix(first) else {
        return false;
    };
    let middle: Vec<&str> = parts.collect();
    let Some((last, inner)) = middle.split_last() else {
        // No `*` at all: an exact match.
        return rest.is_empty();
    };
    for part in inner {
        match rest.find(part) {
            Some(at) => rest = rest.get(at + part.len()..).unwrap_or_default(),
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// Whether `value` matches any pattern of `list`.
pub(crate) fn any(list: &[String], value: &str) -> bool {
    list.iter().any(|p| matches(p, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(matches("*", ""));
        assert!(matches("*", "anything"));
        assert!(matches("app", "app"));
        assert!(!matches("app", "app2"));
        assert!(!matches("app", "ap"));
        assert!(matches("app-*", "app-web"));
        assert!(matches("app-*", "app-"));
        assert!(!matches("app-*", "ap-web"));
        assert!(matches("*-web", "team-web"));
        assert!(!matches("*-web", "team-web2"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(matches("a*b*c", "abc"));
        assert!(!matches("a*b*c", "acb"));
        assert!(matches("team-*-prod", "team-x-prod"));
        assert!(!matches("team-*-prod", "team-x-dev"));
        // The suffix may not reuse characters the prefix consumed.
        assert!(!matches("ab*ba", "aba"));
        assert!(any(&["x".into(), "y*".into()], "yes"));
        assert!(!any(&[], "x"));
    }
}
