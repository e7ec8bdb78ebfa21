//! The broker: the enabled devices, written to in parallel, fail-closed when none records an entry.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use engine_sdk::{Op, Storage};
use serde::Serialize;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::device::{AuditDevice, BrokenDevice, DeviceError, Parsed};
use crate::format::{FormatOptions, format};
use crate::hmac::Hasher;
use crate::input::{AuditInput, EntryKind, RequestInfo};
use crate::table::{Table, TableEntry, encode_key, load_key};
use crate::{AuditError, paths, random};

/// How long the broker waits for one device to record one entry, unless configured otherwise.
pub const DEFAULT_DEVICE_TIMEOUT: Duration = Duration::from_secs(5);

/// After a device times out, it is skipped (counted as failed, without waiting) for this long, doubling while
/// it keeps timing out: a hung device costs one timeout per pause instead of one per request.
const FIRST_PAUSE: Duration = Duration::from_secs(1);
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// An enabled device as `sys/audit` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceInfo {
    /// Path with a trailing slash.
    pub path: String,
    /// Device type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Description.
    pub description: String,
    /// Options as given at enable (without `skip_test`).
    pub options: BTreeMap<String, String>,
    /// Whether the device is local to this cluster (not replicated).
    pub local: bool,
    /// Where the device comes from: `Some(true)` an `audit` stanza of the server configuration, `Some(false)`
    /// `sys/audit`, `None` not recorded (enabled by a build that did not record it). Not part of OpenBao's
    /// listing.
    #[serde(skip)]
    pub declared: Option<bool>,
}

/// `DeviceInfo::declared` packed into an atomic (it changes when an unrecorded device is adopted).
fn origin_code(declared: Option<bool>) -> u8 {
    match declared {
        None => 0,
        Some(false) => 1,
        Some(true) => 2,
    }
}

fn origin(code: u8) -> Option<bool> {
    match code {
        1 => Some(false),
        2 => Some(true),
        _ => None,
    }
}

/// What enabling a device needs besides its path.
struct NewDevice<'a> {
    kind: &'a str,
    description: &'a str,
    options: BTreeMap<String, String>,
    local: bool,
    declared: bool,
}

/// One enabled device with what the broker keeps about it.
struct Mounted {
    info: DeviceInfo,
    format: FormatOptions,
    hasher: Hasher,
    device: Arc<dyn AuditDevice>,
    /// Request entries the device failed to record.
    request_failures: AtomicU64,
    /// Response entries the device failed to record.
    response_failures: AtomicU64,
    /// Milliseconds since the broker's epoch before which the device is skipped.
    paused_until: AtomicU64,
    /// The current pause length, in milliseconds (0 = not timing out).
    pause: AtomicU64,
    /// [`origin_code`] of where the device comes from; `info.declared` is not kept up to date.
    origin: AtomicU8,
}

impl Mounted {
    fn new(
        info: DeviceInfo,
        format: FormatOptions,
        hasher: Hasher,
        device: Arc<dyn AuditDevice>,
    ) -> Self {
        Self {
            origin: AtomicU8::new(origin_code(info.declared)),
            info,
            format,
            hasher,
            device,
            request_failures: AtomicU64::new(0),
            response_failures: AtomicU64::new(0),
            paused_until: AtomicU64::new(0),
            pause: AtomicU64::new(0),
        }
    }

    fn info(&self) -> DeviceInfo {
        DeviceInfo {
            declared: origin(self.origin.load(Ordering::Relaxed)),
            ..self.info.clone()
        }
    }
}

/// How many entries one enabled device failed to record, since it was enabled or restored (`sys/metrics`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFailures {
    /// Device path with a trailing slash.
    pub path: String,
    /// Device type.
    pub kind: String,
    /// Request entries not recorded.
    pub request: u64,
    /// Response entries not recorded.
    pub response: u64,
}

/// The audit devices of one node. Share it as `Arc<Broker>`; every method takes `&self`.
pub struct Broker {
    // The server's `allow_audit_log_prefixing`; read when a device is enabled.
    allow_prefixing: AtomicBool,
    timeout: Duration,
    // Read on every request without a lock; replaced whole on enable/disable/restore/seal.
    devices: ArcSwap<Vec<Arc<Mounted>>>,
    // Serialises changes to the device table (read-modify-write of one storage value).
    config: tokio::sync::Mutex<()>,
    epoch: Instant,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("devices", &self.list())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A device path with one trailing slash, validated like a mount path.
fn normalize(path: &str) -> Result<String, AuditError> {
    let p = path.trim_matches('/');
    if p.is_empty() {
        return Err(AuditError::InvalidRequest(
            "audit device path is empty".into(),
        ));
    }
    if !p.bytes().all(|b| b.is_ascii_graphic()) || p.split('/').any(|s| s.is_empty() || s == "..") {
        return Err(AuditError::InvalidRequest(format!(
            "audit device path {path:?} must be printable ASCII without empty or \"..\" segments"
        )));
    }
    Ok(format!("{p}/"))
}

/// The entry written when a device is enabled, to prove it works.
fn test_input() -> AuditInput {
    let mut data = Map::new();
    data.insert(
        "test".into(),
        Value::String("audit device test entry".into()),
    );
    AuditInput::request(
        SystemTime::now(),
        RequestInfo {
            operation: "update".into(),
            path: "sys/audit/test".into(),
            data: Some(data),
            ..RequestInfo::default()
        },
    )
}

impl Broker {
    /// A broker without devices; `allow_prefixing` is the server's `allow_audit_log_prefixing`.
    pub fn new(allow_prefixing: bool) -> Arc<Self> {
        Self::with_device_timeout(allow_prefixing, DEFAULT_DEVICE_TIMEOUT)
    }

    /// A broker that waits at most `timeout` for each device to record an entry.
    pub fn with_device_timeout(allow_prefixing: bool, timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            allow_prefixing: AtomicBool::new(allow_prefixing),
            timeout,
            devices: ArcSwap::from_pointee(Vec::new()),
            config: tokio::sync::Mutex::new(()),
            epoch: Instant::now(),
        })
    }

    /// Sets the server's `allow_audit_log_prefixing`: whether devices may be enabled with a `prefix` option.
    /// Devices already enabled keep their prefix either way.
    pub fn set_allow_prefixing(&self, allow: bool) {
        self.allow_prefixing.store(allow, Ordering::Relaxed);
    }

    /// The server's `allow_audit_log_prefixing`, as last set.
    pub fn allow_prefixing(&self) -> bool {
        self.allow_prefixing.load(Ordering::Relaxed)
    }

    /// Whether any device is enabled (when none is, nothing needs recording).
    pub fn active(&self) -> bool {
        !self.devices.load().is_empty()
    }

    fn now_ms(&self) -> u64 {
        ms(self.epoch.elapsed())
    }

    /// Records `input` on every device, in parallel, each bounded by the device timeout. Succeeds when at least
    /// one device recorded it (or none is enabled); otherwise the request must fail.
    pub async fn log(&self, input: &AuditInput) -> Result<(), AuditError> {
        let devices = self.devices.load_full();
        if devices.is_empty() {
            return Ok(());
        }
        let results =
            futures::future::join_all(devices.iter().map(|m| self.log_one(m, input))).await;
        let mut recorded = false;
        let mut reasons = Vec::new();
        for (m, r) in devices.iter().zip(results) {
            match r {
                Ok(()) => recorded = true,
                Err(e) => {
                    match input.kind {
                        EntryKind::Request => &m.request_failures,
                        EntryKind::Response => &m.response_failures,
                    }
                    .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(device = %m.info.path, kind = m.device.kind(), error = %e, "audit device failed to record an entry");
                    reasons.push(format!("{}: {e}", m.info.path));
                }
            }
        }
        if recorded {
            Ok(())
        } else {
            tracing::error!(reasons = %reasons.join("; "), "no audit device recorded the entry");
            Err(AuditError::NoDeviceRecorded(reasons.join("; ")))
        }
    }

    async fn log_one(&self, m: &Mounted, input: &AuditInput) -> Result<(), DeviceError> {
        let now = self.now_ms();
        let until = m.paused_until.load(Ordering::Relaxed);
        if now < until {
            return Err(DeviceError(format!(
                "skipped: the device timed out recently (next attempt in {} ms)",
                until - now
            )));
        }
        let entry = format(input, m.format, &m.hasher)
            .map_err(|e| DeviceError(format!("formatting the entry: {e}")))?;
        match tokio::time::timeout(self.timeout, m.device.write(&entry)).await {
            Ok(Ok(())) => {
                m.pause.store(0, Ordering::Relaxed);
                Ok(())
            }
            Ok(Err(e)) => Err(e),
            Err(_) => {
                let pause = m
                    .pause
                    .load(Ordering::Relaxed)
                    .saturating_mul(2)
                    .clamp(ms(FIRST_PAUSE), ms(MAX_PAUSE));
                m.pause.store(pause, Ordering::Relaxed);
                m.paused_until
                    .store(self.now_ms().saturating_add(pause), Ordering::Relaxed);
                Err(DeviceError(format!(
                    "timed out after {}",
                    api_spec::duration::format(self.timeout)
                )))
            }
        }
    }

    /// Enables a device of type `kind` at `path` (through `sys/audit`): validates `options` (unknown ones are
    /// refused), creates its salt (and chain key), writes a test entry unless `skip_test=true`, then persists
    /// the device table.
    pub async fn enable(
        &self,
        storage: &dyn Storage,
        path: &str,
        kind: &str,
        description: &str,
        options: BTreeMap<String, String>,
        local: bool,
    ) -> Result<(), AuditError> {
        let new = NewDevice {
            kind,
            description,
            options,
            local,
            declared: false,
        };
        self.enable_device(storage, path, new).await
    }

    /// Enables a device declared by an `audit` stanza of the server configuration, as [`Broker::enable`]
    /// does; the table records its origin, so `sys/audit` cannot disable it and removing the stanza does.
    pub async fn enable_declared(
        &self,
        storage: &dyn Storage,
        path: &str,
        kind: &str,
        description: &str,
        options: BTreeMap<String, String>,
        local: bool,
    ) -> Result<(), AuditError> {
        let new = NewDevice {
            kind,
            description,
            options,
            local,
            declared: true,
        };
        self.enable_device(storage, path, new).await
    }

    async fn enable_device(
        &self,
        storage: &dyn Storage,
        path: &str,
        new: NewDevice<'_>,
    ) -> Result<(), AuditError> {
        let NewDevice {
            kind,
            description,
            options,
            local,
            declared,
        } = new;
        let path = normalize(path)?;
        let parsed = Parsed::new(kind, &options, self.allow_prefixing.load(Ordering::Relaxed))?;
        let _config = self.config.lock().await;
        let mut table = Table::load(storage).await?;
        if let Some(e) = table
            .entries
            .iter()
            .find(|e| e.path.starts_with(&path) || path.starts_with(&e.path))
        {
            return Err(AuditError::PathInUse(e.path.clone()));
        }

        let mut ops = Vec::new();
        let salt = random::key()?;
        ops.push(Op::Put {
            key: paths::salt_key(&path),
            value: encode_key(&salt),
        });
        let chain_key = if parsed.chained() {
            Some(self.chain_key_or_new(storage, &path, &mut ops).await?)
        } else {
            None
        };
        let device = parsed.build(chain_key.as_deref().map(|k| k.as_slice()));
        device.prepare().await.map_err(|e| {
            AuditError::InvalidRequest(format!("audit device {path} cannot be used: {e}"))
        })?;
        let mut stored = options;
        stored.remove("skip_test");
        let info = DeviceInfo {
            path: path.clone(),
            kind: kind.to_owned(),
            description: description.to_owned(),
            options: stored.clone(),
            local,
            declared: Some(declared),
        };
        let mounted = Arc::new(Mounted::new(
            info,
            parsed.common.format,
            Hasher::new(&salt),
            device,
        ));
        if !parsed.common.skip_test {
            self.log_one(&mounted, &test_input()).await.map_err(|e| {
                AuditError::InvalidRequest(format!(
                    "audit device {path} failed its test entry: {e}"
                ))
            })?;
        }

        table.entries.push(TableEntry {
            path: path.clone(),
            kind: kind.to_owned(),
            description: description.to_owned(),
            options: stored,
            local,
            declared: Some(declared),
        });
        ops.push(Op::Put {
            key: paths::AUDIT_TABLE.to_owned(),
            value: table.encode()?,
        });
        storage.batch(ops).await?;

        let mut devices = (*self.devices.load_full()).clone();
        devices.push(mounted);
        devices.sort_by(|a, b| a.info.path.cmp(&b.info.path));
        self.devices.store(Arc::new(devices));
        tracing::info!(path = %path, kind, declared, "audit device enabled");
        Ok(())
    }

    /// The chain key kept for `path`, or a new one (added to `ops` to be stored with the table).
    async fn chain_key_or_new(
        &self,
        storage: &dyn Storage,
        path: &str,
        ops: &mut Vec<Op>,
    ) -> Result<Zeroizing<Vec<u8>>, AuditError> {
        if let Some(k) = load_key(storage, &paths::chain_key(path)).await? {
            return Ok(k);
        }
        let k = random::key()?;
        ops.push(Op::Put {
            key: paths::chain_key(path),
            value: encode_key(&k),
        });
        Ok(k)
    }

    /// Disables the device at `path` (through `sys/audit`) and discards its salt: its HMACs can no longer be
    /// reproduced, even if a device is enabled at the same path again. The chain key is kept so its files stay
    /// verifiable. Disabling a path with no device succeeds, as in OpenBao; a device declared in the server
    /// configuration is refused (it goes when its stanza does).
    pub async fn disable(&self, storage: &dyn Storage, path: &str) -> Result<(), AuditError> {
        self.remove(storage, path, |e| {
            if e.declared == Some(true) {
                Err(AuditError::InvalidRequest(format!(
                    "cannot disable configuration-managed audit device {}: remove its `audit` stanza from the \
                     server configuration file and reload the server (SIGHUP)",
                    e.path
                )))
            } else {
                Ok(true)
            }
        })
        .await
        .map(|_| ())
    }

    /// Disables the device at `path` if the server configuration declared it, as [`Broker::disable`] does;
    /// a device enabled through `sys/audit` is left alone. Returns whether a device was disabled.
    pub async fn disable_declared(
        &self,
        storage: &dyn Storage,
        path: &str,
    ) -> Result<bool, AuditError> {
        self.remove(storage, path, |e| Ok(e.declared == Some(true)))
            .await
    }

    /// Removes the table entry at `path` when `check` says so; without an entry, only forgets the in-memory
    /// device (if any). Returns whether an entry was removed.
    async fn remove(
        &self,
        storage: &dyn Storage,
        path: &str,
        check: impl FnOnce(&TableEntry) -> Result<bool, AuditError>,
    ) -> Result<bool, AuditError> {
        let path = normalize(path)?;
        let _config = self.config.lock().await;
        let mut table = Table::load(storage).await?;
        let removed = match table.entries.iter().find(|e| e.path == path) {
            Some(e) if !check(e)? => return Ok(false),
            Some(_) => {
                table.entries.retain(|e| e.path != path);
                storage
                    .batch(vec![
                        Op::Put {
                            key: paths::AUDIT_TABLE.to_owned(),
                            value: table.encode()?,
                        },
                        Op::Delete {
                            key: paths::salt_key(&path),
                        },
                    ])
                    .await?;
                tracing::info!(path = %path, "audit device disabled");
                true
            }
            None => false,
        };
        let devices: Vec<_> = self
            .devices
            .load()
            .iter()
            .filter(|m| m.info.path != path)
            .cloned()
            .collect();
        self.devices.store(Arc::new(devices));
        Ok(removed)
    }

    /// Records that the device at `path`, whose origin was not recorded (enabled before Coffer kept it), is
    /// the one the server configuration declares: from now on it is managed like a declared device.
    pub async fn adopt_declared(
        &self,
        storage: &dyn Storage,
        path: &str,
    ) -> Result<(), AuditError> {
        let path = normalize(path)?;
        let _config = self.config.lock().await;
        let mut table = Table::load(storage).await?;
        let Some(entry) = table.find_mut(&path) else {
            return Err(AuditError::InvalidRequest(format!(
                "no audit device is enabled at {path}"
            )));
        };
        if entry.declared.is_some() {
            return Err(AuditError::InvalidRequest(format!(
                "the origin of audit device {path} is already recorded"
            )));
        }
        entry.declared = Some(true);
        storage.put(paths::AUDIT_TABLE, &table.encode()?).await?;
        for m in self.devices.load().iter().filter(|m| m.info.path == path) {
            m.origin.store(origin_code(Some(true)), Ordering::Relaxed);
        }
        Ok(())
    }

    /// The enabled devices, sorted by path.
    pub fn list(&self) -> Vec<DeviceInfo> {
        self.devices.load().iter().map(|m| m.info()).collect()
    }

    /// `hmac-sha256:<hex>` of `input` under the salt of the device at `path` (`sys/audit-hash`).
    pub async fn hash(
        &self,
        storage: &dyn Storage,
        path: &str,
        input: &str,
    ) -> Result<String, AuditError> {
        let path = normalize(path)?;
        if !self.devices.load().iter().any(|m| m.info.path == path) {
            return Err(AuditError::InvalidRequest(format!(
                "no audit device is enabled at {path}"
            )));
        }
        let salt = load_key(storage, &paths::salt_key(&path))
            .await?
            .ok_or_else(|| {
                AuditError::Internal(format!("the salt of audit device {path} is missing"))
            })?;
        Ok(Hasher::new(&salt).hash(input))
    }

    /// The chain key of the file device at `path` (enabled now or in the past), for `coffer audit verify`.
    pub async fn chain_key(
        &self,
        storage: &dyn Storage,
        path: &str,
    ) -> Result<Zeroizing<Vec<u8>>, AuditError> {
        let path = normalize(path)?;
        load_key(storage, &paths::chain_key(&path))
            .await?
            .ok_or_else(|| {
                AuditError::InvalidRequest(format!(
                    "no chain key is kept for audit device path {path}"
                ))
            })
    }

    /// Rebuilds the devices of the persisted table (at unseal or on becoming active). A device that cannot be
    /// rebuilt stays listed and fails every write, so the broker stays fail-closed; files and sockets are
    /// (re)opened lazily, so a destination that is down now does not block the unseal.
    pub async fn restore(&self, storage: &dyn Storage) -> Result<(), AuditError> {
        let _config = self.config.lock().await;
        let table = Table::load(storage).await?;
        let mut devices = Vec::with_capacity(table.entries.len());
        for e in table.entries {
            let info = DeviceInfo {
                path: e.path.clone(),
                kind: e.kind.clone(),
                description: e.description.clone(),
                options: e.options.clone(),
                local: e.local,
                declared: e.declared,
            };
            let mounted = match self.rebuild(storage, &e).await {
                Ok((format, hasher, device)) => {
                    if let Err(err) = device.prepare().await {
                        tracing::error!(device = %e.path, error = %err, "audit device not usable after restore; its writes will fail until it is");
                    }
                    Mounted::new(info, format, hasher, device)
                }
                Err(AuditError::Storage(err)) => return Err(AuditError::Storage(err)),
                Err(err) => {
                    tracing::error!(device = %e.path, error = %err, "audit device could not be restored; it will fail every write");
                    let device = Arc::new(BrokenDevice {
                        kind: "unknown",
                        reason: err.to_string(),
                    });
                    Mounted::new(info, FormatOptions::default(), Hasher::new(&[]), device)
                }
            };
            devices.push(Arc::new(mounted));
        }
        devices.sort_by(|a, b| a.info.path.cmp(&b.info.path));
        tracing::info!(devices = devices.len(), "audit devices restored");
        self.devices.store(Arc::new(devices));
        Ok(())
    }

    async fn rebuild(
        &self,
        storage: &dyn Storage,
        e: &TableEntry,
    ) -> Result<(FormatOptions, Hasher, Arc<dyn AuditDevice>), AuditError> {
        // A prefix persisted while prefixing was allowed is honoured: the gate is on creating devices.
        let parsed = Parsed::new(&e.kind, &e.options, true)?;
        let salt = load_key(storage, &paths::salt_key(&e.path))
            .await?
            .ok_or_else(|| {
                AuditError::Internal(format!("the salt of audit device {} is missing", e.path))
            })?;
        let chain_key = if parsed.chained() {
            let mut ops = Vec::new();
            let k = self.chain_key_or_new(storage, &e.path, &mut ops).await?;
            if !ops.is_empty() {
                storage.batch(ops).await?;
            }
            Some(k)
        } else {
            None
        };
        let device = parsed.build(chain_key.as_deref().map(|k| k.as_slice()));
        Ok((parsed.common.format, Hasher::new(&salt), device))
    }

    /// Drops every device (at seal: their salts live behind the barrier).
    pub fn seal(&self) {
        self.devices.store(Arc::new(Vec::new()));
    }

    /// Asks every device to reopen its destination before its next write (SIGHUP, log rotation).
    pub fn reopen(&self) {
        for m in self.devices.load().iter() {
            m.device.reopen();
        }
    }

    /// How many entries (requests and responses) each enabled device failed to record since it was enabled or
    /// restored.
    pub fn failures(&self) -> Vec<(String, u64)> {
        self.device_failures()
            .into_iter()
            .map(|f| (f.path, f.request.saturating_add(f.response)))
            .collect()
    }

    /// Each enabled device's failures, split by entry type, sorted by path.
    pub fn device_failures(&self) -> Vec<DeviceFailures> {
        self.devices
            .load()
            .iter()
            .map(|m| DeviceFailures {
                path: m.info.path.clone(),
                kind: m.info.kind.clone(),
                request: m.request_failures.load(Ordering::Relaxed),
                response: m.response_failures.load(Ordering::Relaxed),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalized() {
        assert_eq!(normalize("file").unwrap(), "file/");
        assert_eq!(normalize("/a/b/").unwrap(), "a/b/");
        assert!(normalize("").is_err());
        assert!(normalize("/").is_err());
        assert!(normalize("a/../b").is_err());
        assert!(normalize("a b").is_err());
    }
}
