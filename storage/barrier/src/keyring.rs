//! The keyring (every term's data key), its persisted form, key status and the rotation config.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ring::aead::LessSafeKey;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::BarrierError;

/// The state of the active keyring term, as `sys/key-status` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatus {
    /// The active term (1 after initialization, +1 per rotation).
    pub term: u32,
    /// When the active term was installed.
    pub install_time: SystemTime,
    /// Encryptions done under the active term (approximate across restarts; see [`crate::Barrier`]).
    pub encryptions: u64,
}

/// Vault's default and largest `max_operations`: 2^32 × 0.9 GCM encryptions per key (NIST SP 800-38D
/// bound for random nonces, with margin).
pub const MAX_OPERATIONS_LIMIT: u64 = 3_865_470_566;
/// The smallest `max_operations` `sys/rotate/config` accepts.
pub const MIN_MAX_OPERATIONS: u64 = 1_000_000;
/// The shortest non-zero rotation `interval` `sys/rotate/config` accepts.
pub const MIN_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// When the barrier rotates its keyring by itself (`sys/rotate/config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationConfig {
    /// Whether automatic rotation is on.
    pub enabled: bool,
    /// Rotate once the active term has done this many encryptions.
    pub max_operations: u64,
    /// Rotate once the active term is this old; zero means never (whole seconds are kept).
    pub interval: Duration,
}

impl Default for RotationConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_operations: MAX_OPERATIONS_LIMIT,
            interval: Duration::ZERO,
        }
    }
}

impl RotationConfig {
    /// Checks the bounds Vault enforces on `sys/rotate/config` (max_operations in 1,000,000..=3,865,470,566;
    /// interval zero or at least 24h). The barrier itself accepts any `max_operations` in 1..=limit.
    pub fn validate(&self) -> Result<(), BarrierError> {
        if !(MIN_MAX_OPERATIONS..=MAX_OPERATIONS_LIMIT).contains(&self.max_operations) {
            return Err(BarrierError::InvalidConfig(format!(
                "max_operations must be between {MIN_MAX_OPERATIONS} and {MAX_OPERATIONS_LIMIT}"
            )));
        }
        if !self.interval.is_zero() && self.interval < MIN_INTERVAL {
            return Err(BarrierError::InvalidConfig(
                "interval must be at least 24h, or 0 to disable".into(),
            ));
        }
        Ok(())
    }

    /// Whether a term with `status` is due for rotation at `now`.
    pub(crate) fn is_due(&self, status: &KeyStatus, now: SystemTime) -> bool {
        if !self.enabled {
            return false;
        }
        let by_ops = status.encryptions >= self.max_operations;
        let by_age = !self.interval.is_zero()
            && now
                .duration_since(status.install_time)
                .is_ok_and(|age| age >= self.interval);
        by_ops || by_age
    }
}

const ROTATION_VERSION: u32 = 1;

/// The persisted rotation config (JSON: it holds no secret).
#[derive(Serialize, Deserialize)]
struct PersistedRotation {
    version: u32,
    enabled: bool,
    max_operations: u64,
    interval_secs: u64,
}

impl RotationConfig {
    pub(crate) fn encode(&self) -> Result<Vec<u8>, BarrierError> {
        let p = PersistedRotation {
            version: ROTATION_VERSION,
            enabled: self.enabled,
            max_operations: self.max_operations,
            interval_secs: self.interval.as_secs(),
        };
        serde_json::to_vec(&p)
            .map_err(|e| BarrierError::Corrupt(format!("encoding rotation config: {e}")))
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, BarrierError> {
        let p: PersistedRotation = serde_json::from_slice(bytes)
            .map_err(|e| BarrierError::Corrupt(format!("rotation config: {e}")))?;
        if p.version != ROTATION_VERSION {
            return Err(BarrierError::Corrupt(format!(
                "unknown rotation config version {}",
                p.version
            )));
        }
        Ok(Self {
            enabled: p.enabled,
            max_operations: p.max_operations,
            interval: Duration::from_secs(p.interval_secs),
        })
    }
}

/// One term's data key.
pub(crate) struct TermKey {
    pub(crate) term: u32,
    pub(crate) install_time: SystemTime,
    key: Zeroizing<[u8; 32]>,
    pub(crate) aead: LessSafeKey,
}

impl TermKey {
    fn new(
        term: u32,
        install_time: SystemTime,
        key: Zeroizing<[u8; 32]>,
    ) -> Result<Self, BarrierError> {
        let aead = crate::envelope::aead_key(&key)?;
        Ok(Self {
            term,
            install_time,
            key,
            aead,
        })
    }

    fn duplicate(&self) -> Result<Self, BarrierError> {
        Self::new(self.term, self.install_time, self.key.clone())
    }
}

/// Every term's key; the active (encrypting) term is always the highest. Immutable once built.
pub(crate) struct Keyring {
    active: TermKey,
    /// Older terms, kept to decrypt values written before a rotation, ascending.
    old: Vec<TermKey>,
}

/// The persisted keyring format this build writes.
const KEYRING_VERSION: u8 = 1;
/// Bytes per persisted term: term, install seconds, install nanoseconds, key.
const ENTRY_LEN: usize = 4 + 8 + 4 + 32;

impl Keyring {
    /// A new keyring with term 1.
    pub(crate) fn first(now: SystemTime) -> Result<Self, BarrierError> {
        Ok(Self {
            active: TermKey::new(1, now, crate::rand::key()?)?,
            old: Vec::new(),
        })
    }

    /// A copy of this keyring with a fresh active term one above the current one.
    pub(crate) fn rotated(&self, now: SystemTime) -> Result<Self, BarrierError> {
        let term = self
            .active
            .term
            .checked_add(1)
            .ok_or(BarrierError::TermsExhausted)?;
        let mut old = Vec::with_capacity(self.old.len() + 1);
        for k in self.old.iter().chain(std::iter::once(&self.active)) {
            old.push(k.duplicate()?);
        }
        Ok(Self {
            active: TermKey::new(term, now, crate::rand::key()?)?,
            old,
        })
    }

    pub(crate) fn active(&self) -> &TermKey {
        &self.active
    }

    pub(crate) fn term(&self, term: u32) -> Option<&TermKey> {
        if term == self.active.term {
            return Some(&self.active);
        }
        self.old
            .binary_search_by_key(&term, |k| k.term)
            .ok()
            .and_then(|i| self.old.get(i))
    }

    /// Number of terms held.
    pub(crate) fn len(&self) -> usize {
        self.old.len() + 1
    }

    /// The persisted form: `[version][encryptions: u64][count: u32]` then per term
    /// `[term: u32][install secs: u64][install nanos: u32][key: 32]`, all big-endian, ascending terms.
    pub(crate) fn encode(&self, encryptions: u64) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(1 + 8 + 4 + ENTRY_LEN * self.len()));
        out.push(KEYRING_VERSION);
        out.extend_from_slice(&encryptions.to_be_bytes());
        out.extend_from_slice(&u32::try_from(self.len()).unwrap_or(u32::MAX).to_be_bytes());
        for k in self.old.iter().chain(std::iter::once(&self.active)) {
            let since = k
                .install_time
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            out.extend_from_slice(&k.term.to_be_bytes());
            out.extend_from_slice(&since.as_secs().to_be_bytes());
            out.extend_from_slice(&since.subsec_nanos().to_be_bytes());
            out.extend_from_slice(k.key.as_slice());
        }
        out
    }

    /// Parses [`Keyring::encode`]'s output; returns the keyring and the persisted encryption count.
    pub(crate) fn decode(bytes: &[u8]) -> Result<(Self, u64), BarrierError> {
        let corrupt = |what: &str| BarrierError::Corrupt(format!("keyring: {what}"));
        let mut r = Reader(bytes);
        let version = r.array::<1>().ok_or_else(|| corrupt("empty"))?;
        if version != [KEYRING_VERSION] {
            return Err(corrupt(&format!("unknown version {}", version[0])));
        }
        let encryptions = r
            .array()
            .map(u64::from_be_bytes)
            .ok_or_else(|| corrupt("truncated header"))?;
        let count = r
            .array()
            .map(u32::from_be_bytes)
            .ok_or_else(|| corrupt("truncated header"))?;
        let count = usize::try_from(count).map_err(|_| corrupt("term count"))?;
        if count == 0 || r.0.len() != count.saturating_mul(ENTRY_LEN) {
            return Err(corrupt("term count does not match length"));
        }
        let mut terms: Vec<TermKey> = Vec::with_capacity(count);
        for _ in 0..count {
            let (Some(term), Some(secs), Some(nanos), Some(key)) =
                (r.array(), r.array(), r.array(), r.array::<32>())
            else {
                return Err(corrupt("truncated term"));
            };
            let key = Zeroizing::new(key);
            let term = u32::from_be_bytes(term);
            if terms.last().is_some_and(|prev| prev.term >= term) {
                return Err(corrupt("terms not ascending"));
            }
            let nanos = u32::from_be_bytes(nanos);
            if nanos >= 1_000_000_000 {
                return Err(corrupt("install time"));
            }
            let install = UNIX_EPOCH
                .checked_add(Duration::new(u64::from_be_bytes(secs), nanos))
                .ok_or_else(|| corrupt("install time"))?;
            terms.push(TermKey::new(term, install, key)?);
        }
        let active = terms.pop().ok_or_else(|| corrupt("no terms"))?;
        Ok((Self { active, old: terms }, encryptions))
    }
}

/// A bounds-checked big-endian reader.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_keeps_terms() {
        let t0 = UNIX_EPOCH + Duration::new(1_700_000_000, 123);
        let k = Keyring::first(t0).unwrap();
        let k = k
            .rotated(t0 + Duration::from_secs(5))
            .unwrap()
            .rotated(t0 + Duration::from_secs(9))
            .unwrap();
        let bytes = k.encode(42);
        let (d, enc) = Keyring::decode(&bytes).unwrap();
        assert_eq!(enc, 42);
        assert_eq!(d.active().term, 3);
        assert_eq!(d.len(), 3);
        for t in 1..=3 {
            let (a, b) = (k.term(t).unwrap(), d.term(t).unwrap());
            assert_eq!(a.install_time, b.install_time);
            assert_eq!(*a.key, *b.key);
        }
        assert_eq!(d.term(1).unwrap().install_time, t0);
        assert!(d.term(0).is_none() && d.term(4).is_none());
    }

    #[test]
    fn decode_rejects_garbage() {
        let good = Keyring::first(SystemTime::now()).unwrap().encode(0);
        assert!(Keyring::decode(&[]).is_err());
        assert!(Keyring::decode(&good[..good.len() - 1]).is_err());
        let mut bad = good.to_vec();
        bad[0] = 2;
        assert!(matches!(
            Keyring::decode(&bad),
            Err(BarrierError::Corrupt(_))
        ));
        let mut extra = good.to_vec();
        extra.push(0);
        assert!(Keyring::decode(&extra).is_err());
    }

    #[test]
    fn rotation_config_round_trip_and_validate() {
        let c = RotationConfig {
            enabled: false,
            max_operations: 2_000_000,
            interval: Duration::from_secs(90_000),
        };
        assert_eq!(RotationConfig::decode(&c.encode().unwrap()).unwrap(), c);
        assert!(c.validate().is_ok());
        assert!(RotationConfig::default().validate().is_ok());
        assert!(
            RotationConfig {
                max_operations: 10,
                ..c.clone()
            }
            .validate()
            .is_err()
        );
        assert!(
            RotationConfig {
                max_operations: MAX_OPERATIONS_LIMIT + 1,
                ..c.clone()
            }
            .validate()
            .is_err()
        );
        assert!(
            RotationConfig {
                interval: Duration::from_secs(3600),
                ..c.clone()
            }
            .validate()
            .is_err()
        );
        assert!(
            RotationConfig {
                interval: Duration::ZERO,
                ..c
            }
            .validate()
            .is_ok()
        );
    }

    #[test]
    fn due_by_ops_or_age() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let c = RotationConfig {
            enabled: true,
            max_operations: 10,
            interval: Duration::from_secs(100),
        };
        let s = |enc| KeyStatus {
            term: 1,
            install_time: t0,
            encryptions: enc,
        };
        assert!(!c.is_due(&s(9), t0 + Duration::from_secs(99)));
        assert!(c.is_due(&s(10), t0));
        assert!(c.is_due(&s(0), t0 + Duration::from_secs(100)));
        assert!(
            !RotationConfig {
                enabled: false,
                ..c.clone()
            }
            .is_due(&s(10), t0)
        );
        assert!(
            !RotationConfig {
                interval: Duration::ZERO,
                ..c
            }
            .is_due(&s(0), t0 + Duration::from_secs(10_000))
        );
    }
}
