//! Capabilities (what a path rule grants) and operations (what a request does).

use std::fmt;

/// A set of capabilities, stored as bits (like OpenBao's capability bitmap).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Capabilities(u16);

impl Capabilities {
    /// No capability at all.
    pub const NONE: Capabilities = Capabilities(0);
    /// `deny`: overrides every other capability of the rule.
    pub const DENY: Capabilities = Capabilities(1);
    /// `create` (POST/PUT on a missing key).
    pub const CREATE: Capabilities = Capabilities(1 << 1);
    /// `read` (GET).
    pub const READ: Capabilities = Capabilities(1 << 2);
    /// `update` (POST/PUT on an existing key).
    pub const UPDATE: Capabilities = Capabilities(1 << 3);
    /// `delete` (DELETE).
    pub const DELETE: Capabilities = Capabilities(1 << 4);
    /// `list` (LIST).
    pub const LIST: Capabilities = Capabilities(1 << 5);
    /// `sudo`: access to root-protected paths, on top of the operation's capability.
    pub const SUDO: Capabilities = Capabilities(1 << 6);
    /// `patch` (PATCH).
    pub const PATCH: Capabilities = Capabilities(1 << 7);
    /// `scan` (SCAN, OpenBao's recursive list).
    pub const SCAN: Capabilities = Capabilities(1 << 8);
    /// Every granting capability (everything but `deny`), as the root policy has.
    pub const ALL: Capabilities = Capabilities(0b1_1111_1110);

    /// Capability names in alphabetical order, the order `sys/capabilities` answers in.
    const NAMED: [(&'static str, Capabilities); 9] = [
        ("create", Self::CREATE),
        ("delete", Self::DELETE),
        ("deny", Self::DENY),
        ("list", Self::LIST),
        ("patch", Self::PATCH),
        ("read", Self::READ),
        ("scan", Self::SCAN),
        ("sudo", Self::SUDO),
        ("update", Self::UPDATE),
    ];

    /// The capability called `name` (`"read"`, `"deny"`, ...), if it is one.
    pub fn from_name(name: &str) -> Option<Capabilities> {
        Self::NAMED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, c)| c)
    }

    /// The raw bits.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Whether no capability is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every capability in `other` is also in `self`.
    pub const fn contains(self, other: Capabilities) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether `self` and `other` share a capability.
    pub const fn intersects(self, other: Capabilities) -> bool {
        self.0 & other.0 != 0
    }

    /// Both sets together.
    pub const fn union(self, other: Capabilities) -> Capabilities {
        Capabilities(self.0 | other.0)
    }

    /// Whether this set denies (`deny` wins over everything else).
    pub const fn is_deny(self) -> bool {
        self.intersects(Self::DENY)
    }

    /// Names of the capabilities in the set, alphabetically.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMED
            .iter()
            .filter(move |&&(_, c)| self.contains(c))
            .map(|&(n, _)| n)
    }

    /// Index of a single capability bit, used to key per-capability tables.
    pub(crate) fn bit_index(self) -> usize {
        self.0.trailing_zeros() as usize
    }
}

impl std::ops::BitOr for Capabilities {
    type Output = Capabilities;
    fn bitor(self, rhs: Capabilities) -> Capabilities {
        self.union(rhs)
    }
}

impl std::ops::BitOrAssign for Capabilities {
    fn bitor_assign(&mut self, rhs: Capabilities) {
        *self = self.union(rhs);
    }
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

impl fmt::Display for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for name in self.names() {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            f.write_str(name)?;
        }
        Ok(())
    }
}

/// What a request does to a path; the server maps HTTP verbs (and its own internal operations such as renew
/// or revoke, which OpenBao checks as `update`) onto these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// GET.
    Read,
    /// LIST or GET `?list=true`.
    List,
    /// POST/PUT on a key that does not exist yet.
    Create,
    /// POST/PUT on an existing key.
    Update,
    /// DELETE.
    Delete,
    /// PATCH.
    Patch,
    /// SCAN (recursive list).
    Scan,
}

impl Operation {
    /// The capability a rule must grant for this operation.
    pub const fn capability(self) -> Capabilities {
        match self {
            Operation::Read => Capabilities::READ,
            Operation::List => Capabilities::LIST,
            Operation::Create => Capabilities::CREATE,
            Operation::Update => Capabilities::UPDATE,
            Operation::Delete => Capabilities::DELETE,
            Operation::Patch => Capabilities::PATCH,
            Operation::Scan => Capabilities::SCAN,
        }
    }

    /// List and scan work on prefixes, so their paths get the trailing-slash fallback.
    pub(crate) const fn is_listing(self) -> bool {
        matches!(self, Operation::List | Operation::Scan)
    }

    /// Operations whose request parameters are checked against parameter constraints.
    pub(crate) const fn checks_parameters(self) -> bool {
        matches!(
            self,
            Operation::Read | Operation::Update | Operation::Create | Operation::Patch
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort() {
        for name in [
            "create", "read", "update", "patch", "delete", "list", "sudo", "deny", "scan",
        ] {
            let cap = Capabilities::from_name(name).unwrap();
            assert_eq!(cap.names().collect::<Vec<_>>(), vec![name]);
        }
        assert_eq!(Capabilities::from_name("write"), None);
        assert_eq!(Capabilities::from_name("READ"), None);
        let set = Capabilities::UPDATE | Capabilities::READ | Capabilities::CREATE;
        assert_eq!(
            set.names().collect::<Vec<_>>(),
            ["create", "read", "update"]
        );
        assert_eq!(set.to_string(), "create,read,update");
        assert!(!Capabilities::ALL.is_deny());
        assert_eq!(Capabilities::ALL.names().count(), 8);
    }

    #[test]
    fn bit_index_is_distinct_per_capability() {
        let mut seen = std::collections::HashSet::new();
        for (_, c) in Capabilities::NAMED {
            assert!(seen.insert(c.bit_index()));
            assert!(c.bit_index() < 9);
        }
    }
}
