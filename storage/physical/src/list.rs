//! Key validation and Vault's one-level list semantics, shared by every backend.

use crate::StorageError;

/// Rejects keys no backend should store: empty, absolute, with empty or dot segments, or with NUL.
pub fn validate_key(key: &str) -> Result<(), StorageError> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key.contains('\0')
        || key.split('/').any(|seg| seg == "." || seg == "..");
    if bad {
        Err(StorageError::InvalidKey(key.to_owned()))
    } else {
        Ok(())
    }
}

/// Turns a sorted stream of full keys under `prefix` into the immediate children Vault's `List` returns:
/// leaf names, and sub-folders once each with a trailing `/`. The input must be sorted and start with `prefix`.
pub fn children<'a, I>(prefix: &str, sorted_keys: I) -> Vec<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut out: Vec<String> = Vec::new();
    for key in sorted_keys {
        let Some(rest) = key.strip_prefix(prefix) else {
            continue;
        };
        if rest.is_empty() {
            continue;
        }
        let child = match rest.find('/') {
            Some(i) => rest.get(..=i).unwrap_or(rest),
            None => rest,
        };
        if out.last().map(String::as_str) != Some(child) {
            out.push(child.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_folds_folders() {
        let keys = ["a/b", "a/c/d", "a/c/e", "a/f/", "b"];
        assert_eq!(children("a/", keys), vec!["b", "c/", "f/"]);
        assert_eq!(children("", keys), vec!["a/", "b"]);
    }

    #[test]
    fn bad_keys_rejected() {
        for k in ["", "/abs", "a/../b", "a/./b", "a\0b"] {
            assert!(validate_key(k).is_err(), "{k:?}");
        }
        assert!(validate_key("core/keyring").is_ok());
    }
}
