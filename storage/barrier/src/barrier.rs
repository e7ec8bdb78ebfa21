//! The barrier: plaintext [`Storage`] over a ciphertext [`Backend`], with an in-memory keyring of terms.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwapOption;
use async_trait::async_trait;
use storage::{Backend, Op, Storage, StorageError};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::envelope::{self, OpenError, ROOT_TERM};
use crate::keyring::{KeyStatus, Keyring, MAX_OPERATIONS_LIMIT, RotationConfig};
use crate::{BarrierError, RootKey, Seal, paths};

/// How often (in encryptions of the active term) the count is written back into the stored keyring. A restart
/// loses at most this many counts; against the 3.87e9 default limit that is negligible.
const PERSIST_COUNT_EVERY: u64 = 1 << 20;

/// The encrypted barrier. Values are AES-256-GCM encrypted under the active keyring term with the storage path as
/// AAD; the keyring is stored at [`paths::KEYRING`] encrypted with the root key.
///
/// While unsealed the keyring is an immutable snapshot swapped atomically (rotation, reload); no lock is taken
/// on the read/write path. Administrative operations (initialize, unseal, rotate, config) are serialized.
///
/// The per-term encryption count lives in memory and is persisted with the keyring on rotation, on root-key
/// rotation, and every 2^20 encryptions (best effort, on the write that crosses the mark).
pub struct Barrier {
    physical: Arc<dyn Backend>,
    state: ArcSwapOption<Unsealed>,
    /// Serializes keyring reads-modify-writes; never taken on the value path.
    admin: tokio::sync::Mutex<()>,
    persist_every: u64,
}

/// Everything the barrier holds while unsealed.
#[derive(Clone)]
struct Unsealed {
    root: Arc<RootKey>,
    keyring: Arc<Keyring>,
    /// Encryptions under `keyring`'s active term.
    encryptions: Arc<AtomicU64>,
    rotation: RotationConfig,
}

impl Unsealed {
    fn status(&self) -> KeyStatus {
        let active = self.keyring.active();
        KeyStatus {
            term: active.term,
            install_time: active.install_time,
            encryptions: self.encryptions.load(Ordering::Relaxed),
        }
    }
}

impl std::fmt::Debug for Barrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Barrier")
            .field("sealed", &self.is_sealed())
            .finish_non_exhaustive()
    }
}

impl Barrier {
    /// A sealed barrier over `physical`.
    pub fn new(physical: Arc<dyn Backend>) -> Barrier {
        Barrier {
            physical,
            state: ArcSwapOption::empty(),
            admin: tokio::sync::Mutex::new(()),
            persist_every: PERSIST_COUNT_EVERY,
        }
    }

    /// The ciphertext backend underneath.
    pub fn physical(&self) -> &Arc<dyn Backend> {
        &self.physical
    }

    /// Whether a keyring is stored.
    pub async fn is_initialized(&self) -> Result<bool, BarrierError> {
        Ok(self.physical.get(paths::KEYRING).await?.is_some())
    }

    /// Creates a keyring with term 1, encrypted under `root`. The barrier stays sealed. Store the root key (with
    /// [`crate::store_root_key`]) before calling this, so a failure here can simply be retried.
    pub async fn initialize(&self, root: &RootKey) -> Result<(), BarrierError> {
        let _admin = self.admin.lock().await;
        if self.physical.get(paths::KEYRING).await?.is_some() {
            return Err(BarrierError::AlreadyInitialized);
        }
        let keyring = Keyring::first(SystemTime::now())?;
        self.write_keyring(root, &keyring, 0).await
    }

    /// Loads the keyring with `root`. A wrong root key is [`BarrierError::InvalidKey`]; unsealing an unsealed
    /// barrier succeeds only with the same root key.
    pub async fn unseal(&self, root: &RootKey) -> Result<(), BarrierError> {
        let _admin = self.admin.lock().await;
        if let Some(cur) = self.state.load_full() {
            return if bool::from(cur.root.ct_eq(root)) {
                Ok(())
            } else {
                Err(BarrierError::InvalidKey)
            };
        }
        let (keyring, encryptions) = self.read_keyring(root).await?;
        let rotation = self.read_rotation(&keyring).await?;
        self.state.store(Some(Arc::new(Unsealed {
            root: Arc::new(root.duplicate()),
            keyring: Arc::new(keyring),
            encryptions: Arc::new(AtomicU64::new(encryptions)),
            rotation,
        })));
        Ok(())
    }

    /// Drops the in-memory keyring and root key; they are zeroized once in-flight operations finish.
    pub fn seal(&self) {
        self.state.store(None);
    }

    /// Whether the barrier is sealed.
    pub fn is_sealed(&self) -> bool {
        self.state.load().is_none()
    }

    /// Adds a new active term; older terms stay for decryption. Persists the keyring.
    pub async fn rotate(&self) -> Result<KeyStatus, BarrierError> {
        let _admin = self.admin.lock().await;
        let cur = self.unsealed()?;
        self.rotate_locked(&cur, SystemTime::now()).await
    }

    /// The active term's status.
    pub fn key_status(&self) -> Result<KeyStatus, BarrierError> {
        Ok(self.unsealed()?.status())
    }

    /// The automatic rotation config (defaults if never set).
    pub async fn rotation_config(&self) -> Result<RotationConfig, BarrierError> {
        Ok(self.unsealed()?.rotation.clone())
    }

    /// Stores the rotation config through the barrier at [`paths::ROTATION_CONFIG`]. Only `max_operations` in
    /// 1..=3,865,470,566 is enforced here; the API applies Vault's bounds with [`RotationConfig::validate`].
    /// The interval is kept in whole seconds.
    pub async fn set_rotation_config(&self, config: RotationConfig) -> Result<(), BarrierError> {
        if !(1..=MAX_OPERATIONS_LIMIT).contains(&config.max_operations) {
            return Err(BarrierError::InvalidConfig(format!(
                "max_operations must be between 1 and {MAX_OPERATIONS_LIMIT}"
            )));
        }
        let config = RotationConfig {
            interval: Duration::from_secs(config.interval.as_secs()),
            ..config
        };
        let _admin = self.admin.lock().await;
        let cur = self.unsealed()?;
        let (value, _) = self.encrypt(&cur, paths::ROTATION_CONFIG, &config.encode()?)?;
        self.physical.put(paths::ROTATION_CONFIG, value).await?;
        self.replace(
            &cur,
            Unsealed {
                rotation: config,
                ..(*cur).clone()
            },
        )?;
        Ok(())
    }

    /// Rotates when the config is enabled and the active term reached `max_operations` encryptions or is older
    /// than `interval`; returns the new status if it rotated.
    pub async fn rotate_if_needed(&self) -> Result<Option<KeyStatus>, BarrierError> {
        self.rotate_if_needed_at(SystemTime::now()).await
    }

    /// [`Barrier::rotate_if_needed`] with an explicit clock reading.
    pub async fn rotate_if_needed_at(
        &self,
        now: SystemTime,
    ) -> Result<Option<KeyStatus>, BarrierError> {
        let _admin = self.admin.lock().await;
        let cur = self.unsealed()?;
        if !cur.rotation.is_due(&cur.status(), now) {
            return Ok(None);
        }
        self.rotate_locked(&cur, now).await.map(Some)
    }

    /// Re-reads the keyring and rotation config from storage (after another node rotated, or on becoming the
    /// active node). Reads do this by themselves when they meet a newer term.
    pub async fn reload_keyring(&self) -> Result<(), BarrierError> {
        let _admin = self.admin.lock().await;
        let cur = self.unsealed()?;
        let (keyring, persisted) = self.read_keyring(&cur.root).await?;
        let rotation = self.read_rotation(&keyring).await?;
        let same_term = keyring.active().term == cur.keyring.active().term;
        let encryptions = if same_term {
            Arc::clone(&cur.encryptions)
        } else {
            Arc::new(AtomicU64::new(persisted))
        };
        self.replace(
            &cur,
            Unsealed {
                root: Arc::clone(&cur.root),
                keyring: Arc::new(keyring),
                encryptions,
                rotation,
            },
        )?;
        Ok(())
    }

    /// Re-encrypts the keyring under `new_root` and stores `new_root` wrapped by `seal`, in one atomic batch
    /// (`sys/rotate/root`).
    pub async fn rotate_root_key(
        &self,
        seal: &dyn Seal,
        new_root: RootKey,
    ) -> Result<(), BarrierError> {
        let _admin = self.admin.lock().await;
        let cur = self.unsealed()?;
        let (keyring, persisted) = self.read_keyring(&cur.root).await?;
        let same_term = keyring.active().term == cur.keyring.active().term;
        let count = if same_term {
            cur.encryptions.load(Ordering::Relaxed).max(persisted)
        } else {
            persisted
        };
        let keyring_value = keyring_value(&new_root, &keyring, count)?;
        let root_value = crate::seal::wrap_root_key(seal, &new_root).await?;
        self.physical
            .batch(vec![
                Op::Put {
                    key: paths::KEYRING.to_owned(),
                    value: keyring_value,
                },
                Op::Put {
                    key: paths::ROOT_KEY.to_owned(),
                    value: root_value,
                },
            ])
            .await?;
        let encryptions = if same_term {
            Arc::clone(&cur.encryptions)
        } else {
            Arc::new(AtomicU64::new(persisted))
        };
        self.replace(
            &cur,
            Unsealed {
                root: Arc::new(new_root),
                keyring: Arc::new(keyring),
                encryptions,
                rotation: cur.rotation.clone(),
            },
        )?;
        Ok(())
    }

    fn unsealed(&self) -> Result<Arc<Unsealed>, BarrierError> {
        self.state.load_full().ok_or(BarrierError::Sealed)
    }

    /// Installs `next` if `cur` is still installed; a concurrent `seal()` wins (the barrier stays sealed).
    fn replace(&self, cur: &Arc<Unsealed>, next: Unsealed) -> Result<Arc<Unsealed>, BarrierError> {
        let next = Arc::new(next);
        let expected = Some(Arc::clone(cur));
        let prev = self
            .state
            .compare_and_swap(&expected, Some(Arc::clone(&next)));
        match &*prev {
            Some(p) if Arc::ptr_eq(p, cur) => Ok(next),
            _ => Err(BarrierError::Sealed),
        }
    }

    /// Rotation with the admin lock held: builds on the stored keyring, which is the source of truth.
    async fn rotate_locked(
        &self,
        cur: &Arc<Unsealed>,
        now: SystemTime,
    ) -> Result<KeyStatus, BarrierError> {
        let (stored, _) = self.read_keyring(&cur.root).await?;
        let next = stored.rotated(now)?;
        self.write_keyring(&cur.root, &next, 0).await?;
        let next = self.replace(
            cur,
            Unsealed {
                root: Arc::clone(&cur.root),
                keyring: Arc::new(next),
                encryptions: Arc::new(AtomicU64::new(0)),
                rotation: cur.rotation.clone(),
            },
        )?;
        tracing::info!(term = next.keyring.active().term, "barrier keyring rotated");
        Ok(next.status())
    }

    async fn read_keyring(&self, root: &RootKey) -> Result<(Keyring, u64), BarrierError> {
        let Some(value) = self.physical.get(paths::KEYRING).await? else {
            return Err(BarrierError::NotInitialized);
        };
        let mut value = Zeroizing::new(value);
        match envelope::term_of(&value) {
            Ok(ROOT_TERM) => {}
            Ok(term) => {
                return Err(BarrierError::Corrupt(format!(
                    "keyring written under term {term}"
                )));
            }
            Err(OpenError::Corrupt(m)) => return Err(BarrierError::Corrupt(m)),
            Err(_) => return Err(BarrierError::Corrupt("keyring truncated".into())),
        }
        let key = envelope::aead_key(root.as_bytes())?;
        envelope::open(&key, paths::KEYRING, &mut value).map_err(|_| BarrierError::InvalidKey)?;
        Keyring::decode(&value)
    }

    async fn write_keyring(
        &self,
        root: &RootKey,
        keyring: &Keyring,
        encryptions: u64,
    ) -> Result<(), BarrierError> {
        self.physical
            .put(paths::KEYRING, keyring_value(root, keyring, encryptions)?)
            .await?;
        Ok(())
    }

    async fn read_rotation(&self, keyring: &Keyring) -> Result<RotationConfig, BarrierError> {
        let Some(mut value) = self.physical.get(paths::ROTATION_CONFIG).await? else {
            return Ok(RotationConfig::default());
        };
        open_with(keyring, paths::ROTATION_CONFIG, &mut value)
            .map_err(|e| open_error(e, paths::ROTATION_CONFIG))?;
        RotationConfig::decode(&value)
    }

    /// Encrypts under the active term; also says whether the count just crossed a persistence mark.
    fn encrypt(
        &self,
        u: &Unsealed,
        path: &str,
        plaintext: &[u8],
    ) -> Result<(Vec<u8>, bool), BarrierError> {
        let active = u.keyring.active();
        let value = envelope::seal(&active.aead, active.term, path, plaintext)?;
        let n = u
            .encryptions
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1);
        Ok((value, n.is_multiple_of(self.persist_every)))
    }

    /// Decrypts `value` read from `path`; a term newer than ours means another node rotated: reload once.
    async fn decrypt(
        &self,
        u: Arc<Unsealed>,
        path: &str,
        mut value: Vec<u8>,
    ) -> Result<Vec<u8>, BarrierError> {
        match open_with(&u.keyring, path, &mut value) {
            Ok(()) => Ok(value),
            Err(OpenError::UnknownTerm(t)) if t > u.keyring.active().term => {
                drop(u);
                self.reload_keyring().await?;
                let u = self.unsealed()?;
                open_with(&u.keyring, path, &mut value).map_err(|e| open_error(e, path))?;
                Ok(value)
            }
            Err(e) => Err(open_error(e, path)),
        }
    }

    /// Writes the current count into the stored keyring; failures are logged, not returned (the write that
    /// triggered it already succeeded).
    async fn persist_count(&self, seen: &Arc<Unsealed>) {
        if let Err(e) = self.try_persist_count(seen).await {
            tracing::warn!(error = %e, "could not persist the barrier encryption count");
        }
    }

    async fn try_persist_count(&self, seen: &Arc<Unsealed>) -> Result<(), BarrierError> {
        let _admin = self.admin.lock().await;
        let Some(cur) = self.state.load_full() else {
            return Ok(());
        };
        if !Arc::ptr_eq(&cur.keyring, &seen.keyring) {
            return Ok(());
        }
        // Never overwrite a keyring another node has rotated since we loaded ours.
        let (stored, _) = self.read_keyring(&cur.root).await?;
        if stored.active().term != cur.keyring.active().term || stored.len() != cur.keyring.len() {
            return Ok(());
        }
        self.write_keyring(
            &cur.root,
            &cur.keyring,
            cur.encryptions.load(Ordering::Relaxed),
        )
        .await
    }
}

/// The stored keyring value: the encoded keyring sealed with the root key under term 0.
fn keyring_value(
    root: &RootKey,
    keyring: &Keyring,
    encryptions: u64,
) -> Result<Vec<u8>, BarrierError> {
    let plain = keyring.encode(encryptions);
    envelope::seal(
        &envelope::aead_key(root.as_bytes())?,
        ROOT_TERM,
        paths::KEYRING,
        &plain,
    )
}

fn open_with(keyring: &Keyring, path: &str, value: &mut Vec<u8>) -> Result<(), OpenError> {
    let term = envelope::term_of(value)?;
    let key = keyring.term(term).ok_or(OpenError::UnknownTerm(term))?;
    envelope::open(&key.aead, path, value)
}

fn open_error(e: OpenError, path: &str) -> BarrierError {
    match e {
        OpenError::Corrupt(m) => BarrierError::Corrupt(format!("{path}: {m}")),
        OpenError::UnknownTerm(_) | OpenError::Integrity => BarrierError::Integrity {
            path: path.to_owned(),
        },
    }
}

/// Keys the plaintext side may use: valid, and not reserved for the barrier or the seal.
fn check_key(key: &str) -> Result<(), StorageError> {
    storage::validate_key(key)?;
    if paths::is_reserved(key) {
        return Err(StorageError::InvalidKey(key.to_owned()));
    }
    Ok(())
}

#[async_trait]
impl Storage for Barrier {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let u = self.unsealed()?;
        check_key(key)?;
        let Some(value) = self.physical.get(key).await? else {
            return Ok(None);
        };
        Ok(Some(self.decrypt(u, key, value).await?))
    }

    async fn put(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        let u = self.unsealed()?;
        check_key(key)?;
        let (value, persist) = self.encrypt(&u, key, value)?;
        self.physical.put(key, value).await?;
        if persist {
            self.persist_count(&u).await;
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.unsealed()?;
        check_key(key)?;
        self.physical.delete(key).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.unsealed()?;
        if !prefix.is_empty() {
            storage::validate_key(prefix)?;
        }
        self.physical.list(prefix).await
    }

    async fn batch(&self, ops: Vec<Op>) -> Result<(), StorageError> {
        let u = self.unsealed()?;
        let mut persist = false;
        let mut sealed_ops = Vec::with_capacity(ops.len());
        for op in ops {
            check_key(op.key())?;
            sealed_ops.push(match op {
                Op::Put { key, value } => {
                    let (value, p) = self.encrypt(&u, &key, &value)?;
                    persist |= p;
                    Op::Put { key, value }
                }
                Op::Delete { key } => Op::Delete { key },
            });
        }
        self.physical.batch(sealed_ops).await?;
        if persist {
            self.persist_count(&u).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ShamirSeal;
    use proptest::prelude::*;
    use storage::{InMem, View};

    async fn unsealed() -> (Arc<InMem>, Barrier, RootKey) {
        let physical = Arc::new(InMem::new());
        let barrier = Barrier::new(physical.clone());
        let root = RootKey::generate().unwrap();
        assert!(!barrier.is_initialized().await.unwrap());
        barrier.initialize(&root).await.unwrap();
        assert!(barrier.is_initialized().await.unwrap());
        assert!(barrier.is_sealed(), "initialize leaves the barrier sealed");
        barrier.unseal(&root).await.unwrap();
        assert!(!barrier.is_sealed());
        (physical, barrier, root)
    }

    fn term_at(raw: &[u8]) -> u32 {
        u32::from_be_bytes(raw[1..5].try_into().unwrap())
    }

    #[tokio::test]
    async fn round_trip_through_inmem() {
        let (physical, b, _) = unsealed().await;
        b.put("secret/foo", b"bar").await.unwrap();
        assert_eq!(
            b.get("secret/foo").await.unwrap().as_deref(),
            Some(&b"bar"[..])
        );
        let raw = physical.get("secret/foo").await.unwrap().unwrap();
        assert_ne!(raw.as_slice(), b"bar");
        assert_eq!(raw[0], envelope::VERSION);
        assert_eq!(term_at(&raw), 1);
        assert_eq!(b.get("secret/missing").await.unwrap(), None);
        assert_eq!(b.list("secret/").await.unwrap(), vec!["foo"]);
        b.delete("secret/foo").await.unwrap();
        assert_eq!(b.get("secret/foo").await.unwrap(), None);
        assert!(matches!(
            b.put("/abs", b"x").await,
            Err(StorageError::InvalidKey(_))
        ));
    }

    /// The plaintext side behaves like any backend (run under a prefix: the keyring lives at the root).
    #[tokio::test]
    async fn plaintext_side_conformance() {
        struct AsBackend(View);
        #[async_trait]
        impl Backend for AsBackend {
            async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
                self.0.get(key).await
            }
            async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
                self.0.list(prefix).await
            }
            async fn batch(&self, ops: Vec<Op>) -> Result<(), StorageError> {
                self.0.batch(ops).await
            }
        }
        let (_, b, _) = unsealed().await;
        let view = View::new(Arc::new(b), "data/");
        storage::testing::exercise_backend(&AsBackend(view)).await;
    }

    #[tokio::test]
    async fn moved_or_tampered_ciphertext_fails_integrity() {
        let (physical, b, _) = unsealed().await;
        b.put("a/one", b"value one").await.unwrap();
        let raw = physical.get("a/one").await.unwrap().unwrap();
        physical.put("a/two", raw.clone()).await.unwrap();
        assert!(matches!(b.get("a/two").await, Err(StorageError::Integrity(p)) if p == "a/two"));

        let mut tampered = raw.clone();
        *tampered.last_mut().unwrap() ^= 0x80;
        physical.put("a/three", tampered).await.unwrap();
        assert!(matches!(
            b.get("a/three").await,
            Err(StorageError::Integrity(_))
        ));

        physical.put("a/four", raw[..10].to_vec()).await.unwrap();
        assert!(matches!(
            b.get("a/four").await,
            Err(StorageError::Integrity(_))
        ));

        let mut old_term = raw.clone();
        old_term[1..5].copy_from_slice(&0u32.to_be_bytes());
        physical.put("a/five", old_term).await.unwrap();
        assert!(matches!(
            b.get("a/five").await,
            Err(StorageError::Integrity(_))
        ));

        let mut version = raw;
        version[0] = 99;
        physical.put("a/six", version).await.unwrap();
        assert!(matches!(
            b.get("a/six").await,
            Err(StorageError::Corrupt(_))
        ));
    }

    #[tokio::test]
    async fn init_and_unseal_errors() {
        let physical: Arc<dyn Backend> = Arc::new(InMem::new());
        let b = Barrier::new(physical.clone());
        let root = RootKey::generate().unwrap();
        assert!(matches!(
            b.unseal(&root).await,
            Err(BarrierError::NotInitialized)
        ));
        b.initialize(&root).await.unwrap();
        assert!(matches!(
            b.initialize(&root).await,
            Err(BarrierError::AlreadyInitialized)
        ));

        let wrong = RootKey::generate().unwrap();
        assert!(matches!(
            b.unseal(&wrong).await,
            Err(BarrierError::InvalidKey)
        ));
        assert!(b.is_sealed());
        b.unseal(&root).await.unwrap();
        b.unseal(&root).await.unwrap(); // idempotent with the right key
        assert!(matches!(
            b.unseal(&wrong).await,
            Err(BarrierError::InvalidKey)
        ));
        assert!(!b.is_sealed());
    }

    #[tokio::test]
    async fn sealed_refuses_everything() {
        let (_, b, root) = unsealed().await;
        b.put("k", b"v").await.unwrap();
        b.seal();
        assert!(b.is_sealed());
        assert!(matches!(b.get("k").await, Err(StorageError::Sealed)));
        assert!(matches!(b.put("k", b"w").await, Err(StorageError::Sealed)));
        assert!(matches!(b.delete("k").await, Err(StorageError::Sealed)));
        assert!(matches!(b.list("").await, Err(StorageError::Sealed)));
        assert!(matches!(
            b.batch(vec![Op::Delete { key: "k".into() }]).await,
            Err(StorageError::Sealed)
        ));
        assert!(matches!(
            b.get(paths::KEYRING).await,
            Err(StorageError::Sealed)
        ));
        assert!(matches!(b.key_status(), Err(BarrierError::Sealed)));
        assert!(matches!(b.rotate().await, Err(BarrierError::Sealed)));
        assert!(matches!(
            b.rotation_config().await,
            Err(BarrierError::Sealed)
        ));
        assert!(matches!(
            b.rotate_if_needed().await,
            Err(BarrierError::Sealed)
        ));
        b.unseal(&root).await.unwrap();
        assert_eq!(b.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    }

    #[tokio::test]
    async fn reserved_keys_refused() {
        let (physical, b, _) = unsealed().await;
        let keyring_before = physical.get(paths::KEYRING).await.unwrap();
        for key in paths::RESERVED {
            assert!(
                matches!(b.put(key, b"x").await, Err(StorageError::InvalidKey(_))),
                "{key}"
            );
            assert!(
                matches!(b.delete(key).await, Err(StorageError::InvalidKey(_))),
                "{key}"
            );
            assert!(
                matches!(b.get(key).await, Err(StorageError::InvalidKey(_))),
                "{key}"
            );
        }
        let batch = vec![
            Op::Put {
                key: "ok".into(),
                value: b"x".to_vec(),
            },
            Op::Delete {
                key: paths::KEYRING.into(),
            },
        ];
        assert!(matches!(
            b.batch(batch).await,
            Err(StorageError::InvalidKey(_))
        ));
        assert_eq!(
            b.get("ok").await.unwrap(),
            None,
            "rejected batch wrote nothing"
        );
        assert_eq!(physical.get(paths::KEYRING).await.unwrap(), keyring_before);
    }

    #[tokio::test]
    async fn rotation_keeps_old_values_and_writes_new_term() {
        let (physical, b, root) = unsealed().await;
        b.put("old", b"written under term 1").await.unwrap();
        let before = b.key_status().unwrap();
        assert_eq!((before.term, before.encryptions), (1, 1));

        let status = b.rotate().await.unwrap();
        assert_eq!((status.term, status.encryptions), (2, 0));
        assert!(status.install_time >= before.install_time);
        b.put("new", b"written under term 2").await.unwrap();
        assert_eq!(term_at(&physical.get("old").await.unwrap().unwrap()), 1);
        assert_eq!(term_at(&physical.get("new").await.unwrap().unwrap()), 2);
        assert_eq!(
            b.get("old").await.unwrap().as_deref(),
            Some(&b"written under term 1"[..])
        );
        assert_eq!(b.key_status().unwrap().encryptions, 1);

        // The rotated keyring is persisted: a fresh barrier reads both terms.
        let fresh = Barrier::new(physical.clone());
        fresh.unseal(&root).await.unwrap();
        assert_eq!(fresh.key_status().unwrap().term, 2);
        assert_eq!(
            fresh.get("old").await.unwrap().as_deref(),
            Some(&b"written under term 1"[..])
        );
        assert_eq!(
            fresh.get("new").await.unwrap().as_deref(),
            Some(&b"written under term 2"[..])
        );
    }

    #[tokio::test]
    async fn rotate_if_needed_at_max_operations() {
        let (_, b, _) = unsealed().await;
        assert_eq!(
            b.rotation_config().await.unwrap(),
            RotationConfig::default()
        );
        let cfg = RotationConfig {
            enabled: true,
            max_operations: 5,
            interval: Duration::ZERO,
        };
        b.set_rotation_config(cfg.clone()).await.unwrap();
        assert_eq!(b.rotation_config().await.unwrap(), cfg);
        // Storing the config was itself one encryption.
        assert_eq!(b.key_status().unwrap().encryptions, 1);
        for i in 0..3 {
            b.put(&format!("k{i}"), b"v").await.unwrap();
        }
        assert_eq!(b.key_status().unwrap().encryptions, 4);
        assert_eq!(b.rotate_if_needed().await.unwrap(), None);
        b.put("k3", b"v").await.unwrap();
        let rotated = b
            .rotate_if_needed()
            .await
            .unwrap()
            .expect("due at max_operations");
        assert_eq!((rotated.term, rotated.encryptions), (2, 0));
        assert_eq!(
            b.rotate_if_needed().await.unwrap(),
            None,
            "a fresh term is not due"
        );

        // Disabled: never.
        b.set_rotation_config(RotationConfig {
            enabled: false,
            ..cfg
        })
        .await
        .unwrap();
        for i in 0..6 {
            b.put(&format!("d{i}"), b"v").await.unwrap();
        }
        assert_eq!(b.rotate_if_needed().await.unwrap(), None);
        assert!(matches!(
            b.set_rotation_config(RotationConfig {
                max_operations: 0,
                ..RotationConfig::default()
            })
            .await,
            Err(BarrierError::InvalidConfig(_))
        ));
    }

    #[tokio::test]
    async fn rotate_if_needed_by_interval_and_config_persists() {
        let (physical, b, root) = unsealed().await;
        let cfg = RotationConfig {
            enabled: true,
            max_operations: 1_000_000,
            interval: Duration::from_secs(86_400),
        };
        b.set_rotation_config(cfg.clone()).await.unwrap();
        let installed = b.key_status().unwrap().install_time;
        assert_eq!(
            b.rotate_if_needed_at(installed + Duration::from_secs(86_399))
                .await
                .unwrap(),
            None
        );
        let later = installed + Duration::from_secs(86_400);
        let s = b.rotate_if_needed_at(later).await.unwrap().unwrap();
        assert_eq!((s.term, s.install_time), (2, later));

        let fresh = Barrier::new(physical.clone());
        fresh.unseal(&root).await.unwrap();
        assert_eq!(
            fresh.rotation_config().await.unwrap(),
            cfg,
            "config written under term 1, read after rotation"
        );
        // The config is stored encrypted.
        let raw = physical.get(paths::ROTATION_CONFIG).await.unwrap().unwrap();
        assert!(!raw.windows(14).any(|w| w == b"max_operations"));
    }

    #[tokio::test]
    async fn stale_node_reloads_keyring_on_newer_term() {
        let (physical, leader, root) = unsealed().await;
        let standby = Barrier::new(physical.clone());
        standby.unseal(&root).await.unwrap();
        leader.rotate().await.unwrap();
        leader.put("fresh", b"term 2 value").await.unwrap();
        assert_eq!(standby.key_status().unwrap().term, 1);
        assert_eq!(
            standby.get("fresh").await.unwrap().as_deref(),
            Some(&b"term 2 value"[..])
        );
        assert_eq!(standby.key_status().unwrap().term, 2, "reloaded");
        // A stale node's rotation builds on the stored keyring, so no term is lost.
        let third = Barrier::new(physical.clone());
        third.unseal(&root).await.unwrap();
        leader.rotate().await.unwrap();
        leader.put("newest", b"term 3").await.unwrap();
        assert_eq!(third.rotate().await.unwrap().term, 4);
        assert_eq!(
            leader.get("newest").await.unwrap().as_deref(),
            Some(&b"term 3"[..])
        );
    }

    #[tokio::test]
    async fn encryption_count_persisted_every_n() {
        let physical = Arc::new(InMem::new());
        let mut b = Barrier::new(physical.clone());
        b.persist_every = 3;
        let root = RootKey::generate().unwrap();
        b.initialize(&root).await.unwrap();
        b.unseal(&root).await.unwrap();
        for i in 0..4 {
            b.put(&format!("k{i}"), b"v").await.unwrap();
        }
        let fresh = Barrier::new(physical.clone());
        fresh.unseal(&root).await.unwrap();
        assert_eq!(
            fresh.key_status().unwrap().encryptions,
            3,
            "persisted at the 3rd encryption"
        );
        b.rotate().await.unwrap();
        let fresh = Barrier::new(physical);
        fresh.unseal(&root).await.unwrap();
        assert_eq!(fresh.key_status().unwrap().encryptions, 0);
    }

    #[tokio::test]
    async fn root_key_rotation() {
        let (physical, b, old_root) = unsealed().await;
        let seal = ShamirSeal::new(ShamirSeal::generate_kek().unwrap()).unwrap();
        crate::store_root_key(physical.as_ref(), &seal, &old_root)
            .await
            .unwrap();
        b.put("k", b"v").await.unwrap();
        b.rotate_root_key(&seal, RootKey::generate().unwrap())
            .await
            .unwrap();
        assert_eq!(b.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));

        let fresh = Barrier::new(physical.clone());
        assert!(matches!(
            fresh.unseal(&old_root).await,
            Err(BarrierError::InvalidKey)
        ));
        let new_root = crate::load_root_key(physical.as_ref(), &seal)
            .await
            .unwrap();
        assert!(!bool::from(new_root.ct_eq(&old_root)));
        fresh.unseal(&new_root).await.unwrap();
        assert_eq!(fresh.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    }

    #[tokio::test]
    async fn no_plaintext_window_reaches_physical() {
        let (physical, b, _) = unsealed().await;
        let secret = b"correct horse battery staple: s.9a8b7c6d5e4f3a2b1c0d";
        b.put("secret/data/app", secret).await.unwrap();
        b.batch(vec![Op::Put {
            key: "secret/data/batched".into(),
            value: secret.to_vec(),
        }])
        .await
        .unwrap();
        b.set_rotation_config(RotationConfig::default())
            .await
            .unwrap();
        b.rotate().await.unwrap();
        b.put("secret/data/after", secret).await.unwrap();

        let mut stack = vec![String::new()];
        let mut seen = 0;
        while let Some(prefix) = stack.pop() {
            for child in physical.list(&prefix).await.unwrap() {
                let key = format!("{prefix}{child}");
                if key.ends_with('/') {
                    stack.push(key);
                    continue;
                }
                let raw = physical.get(&key).await.unwrap().unwrap();
                seen += 1;
                for w in secret.windows(8) {
                    assert!(
                        !raw.windows(8).any(|r| r == w),
                        "{key} leaks {:?}",
                        String::from_utf8_lossy(w)
                    );
                }
            }
        }
        assert_eq!(seen, 5, "keyring, rotation config and three values checked");
    }

    #[test]
    fn proptest_round_trip_through_barrier() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (physical, b, _) = rt.block_on(unsealed());
        let strategy = (
            "[a-z0-9_-]{1,12}(/[a-z0-9_-]{1,12}){0,3}",
            proptest::collection::vec(any::<u8>(), 0..4096),
        );
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(128));
        runner
            .run(&strategy, |(path, data)| {
                rt.block_on(async {
                    b.put(&path, &data).await.unwrap();
                    let raw = physical.get(&path).await.unwrap().unwrap();
                    prop_assert_eq!(
                        raw.len(),
                        envelope::HEADER_LEN + data.len() + envelope::TAG_LEN
                    );
                    prop_assert_eq!(b.get(&path).await.unwrap(), Some(data));
                    Ok(())
                })
            })
            .unwrap();
    }

    #[test]
    fn debug_is_redacted() {
        let b = Barrier::new(Arc::new(InMem::new()));
        assert_eq!(format!("{b:?}"), "Barrier { sealed: true, .. }");
    }
}
