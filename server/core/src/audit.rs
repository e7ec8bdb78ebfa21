//! The audit broker's two call sites in the pipeline (DESIGN.md §2): the request is recorded after the ACL
//! decision and before routing (denied requests too), the response after routing. With devices enabled, a request
//! none of them records is not routed (fail closed). The devices live in `server-audit`; its `Broker` implements
//! [`AuditBroker`] below, converting the pipeline's view into the devices' input.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use storage::Storage;

use crate::metrics::{Counter, Metrics};
use crate::{CoreError, Request, Response, paths};

/// The mount a request was matched to (recorded even when the request is denied).
#[derive(Debug, Clone, Default)]
pub struct AuditMount {
    /// Mount path with a trailing slash.
    pub path: String,
    /// Engine type.
    pub kind: String,
    /// Mount accessor.
    pub accessor: String,
    /// Request data keys whose values are written in the clear (the mount's `audit_non_hmac_request_keys`).
    pub non_hmac_request_keys: Vec<String>,
    /// Response data keys whose values are written in the clear (`audit_non_hmac_response_keys`).
    pub non_hmac_response_keys: Vec<String>,
}

impl AuditMount {
    /// The audit view of a routed mount, taken from the in-memory mount table (no storage read).
    pub(crate) fn of(route: &crate::router::Route) -> Self {
        Self {
            path: route.info.path.clone(),
            kind: route.info.kind.clone(),
            accessor: route.info.accessor.clone(),
            non_hmac_request_keys: route.entry.config.audit_non_hmac_request_keys.clone(),
            non_hmac_response_keys: route.entry.config.audit_non_hmac_response_keys.clone(),
        }
    }
}

/// The request headers an entry carries, chosen by `sys/config/auditing/request-headers`; values are still in
/// the clear (each device HMACs those named in `hmac` under its own salt). `Debug` shows names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AuditHeaders {
    /// Lowercased header name → its values in request order.
    pub values: BTreeMap<String, Vec<String>>,
    /// The names (lowercased) whose values are HMAC'd.
    pub hmac: Vec<String>,
}

impl std::fmt::Debug for AuditHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditHeaders")
            .field("names", &self.values.keys().collect::<Vec<_>>())
            .field("hmac", &self.hmac)
            .finish()
    }
}

/// One audited header's setting, as `sys/config/auditing/request-headers` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HeaderSetting {
    pub(crate) hmac: bool,
}

/// Headers that carry credentials: always HMAC'd when audited, whatever their setting says (OpenBao writes them
/// in the clear when configured with `hmac=false`).
pub(crate) const ALWAYS_HMAC_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie"];

/// Headers never audited: the client token (the HTTP layer does not even pass it on, as OpenBao drops it).
const NEVER_AUDITED_HEADERS: &[&str] = &["x-vault-token"];

/// The stored form of the audited-headers configuration.
#[derive(Serialize, Deserialize)]
struct StoredHeaders {
    v: u32,
    headers: BTreeMap<String, HeaderSetting>,
}

/// The audited request headers (`sys/config/auditing/request-headers`): stored through the barrier, held in
/// memory and swapped whole on change, so the request path reads them without a lock or a storage read.
#[derive(Default)]
pub(crate) struct AuditedHeaders {
    config: ArcSwap<BTreeMap<String, HeaderSetting>>,
    // Serialises changes (read-modify-write of one storage value).
    change: tokio::sync::Mutex<()>,
}

impl AuditedHeaders {
    /// Loads the stored configuration (at unseal, before any request is served).
    pub(crate) async fn load(&self, storage: &dyn Storage) -> Result<(), CoreError> {
        let _change = self.change.lock().await;
        let headers = match storage.get(paths::AUDITED_HEADERS).await? {
            None => BTreeMap::new(),
            Some(bytes) => {
                let stored: StoredHeaders = serde_json::from_slice(&bytes).map_err(|e| {
                    CoreError::Internal(format!(
                        "the audited headers configuration is corrupt: {e}"
                    ))
                })?;
                // Names are lowercased on write; lowercase again so a hand-edited entry still matches.
                stored
                    .headers
                    .into_iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v))
                    .collect()
            }
        };
        self.config.store(Arc::new(headers));
        Ok(())
    }

    /// Forgets the configuration (at seal: it lives behind the barrier).
    pub(crate) fn clear(&self) {
        self.config.store(Arc::new(BTreeMap::new()));
    }

    /// Every configured header by lowercased name.
    pub(crate) fn all(&self) -> Arc<BTreeMap<String, HeaderSetting>> {
        self.config.load_full()
    }

    /// Audits header `name` (HMAC'd when `hmac`); returns the setting kept, which forces HMAC on credential
    /// headers.
    pub(crate) async fn set(
        &self,
        storage: &dyn Storage,
        name: &str,
        hmac: bool,
    ) -> Result<HeaderSetting, CoreError> {
        let name = name.to_ascii_lowercase();
        let setting = HeaderSetting {
            hmac: hmac || ALWAYS_HMAC_HEADERS.contains(&name.as_str()),
        };
        self.update(storage, |h| {
            h.insert(name, setting);
        })
        .await?;
        Ok(setting)
    }

    /// Stops auditing header `name` (nothing happens when it is not configured).
    pub(crate) async fn remove(&self, storage: &dyn Storage, name: &str) -> Result<(), CoreError> {
        let name = name.to_ascii_lowercase();
        if !self.config.load().contains_key(&name) {
            return Ok(());
        }
        self.update(storage, |h| {
            h.remove(&name);
        })
        .await
    }

    async fn update(
        &self,
        storage: &dyn Storage,
        change: impl FnOnce(&mut BTreeMap<String, HeaderSetting>),
    ) -> Result<(), CoreError> {
        let _change = self.change.lock().await;
        let mut headers = (**self.config.load()).clone();
        change(&mut headers);
        let bytes = serde_json::to_vec(&StoredHeaders {
            v: 1,
            headers: headers.clone(),
        })
        .map_err(|e| CoreError::Internal(e.to_string()))?;
        storage.put(paths::AUDITED_HEADERS, &bytes).await?;
        self.config.store(Arc::new(headers));
        Ok(())
    }

    /// The configured headers present in `request`, with the names to HMAC.
    pub(crate) fn select(&self, request: &crate::Headers) -> AuditHeaders {
        let config = self.config.load();
        let mut out = AuditHeaders::default();
        if config.is_empty() {
            return out;
        }
        for (name, value) in &request.0 {
            let name = name.to_ascii_lowercase();
            if NEVER_AUDITED_HEADERS.contains(&name.as_str()) {
                continue;
            }
            let Some(setting) = config.get(&name) else {
                continue;
            };
            if (setting.hmac || ALWAYS_HMAC_HEADERS.contains(&name.as_str()))
                && !out.hmac.contains(&name)
            {
                out.hmac.push(name.clone());
            }
            out.values.entry(name).or_default().push(value.clone());
        }
        out
    }
}

/// OpenBao's audit failure counters: a request (or response) that no device recorded.
#[derive(Clone, Default)]
pub(crate) struct FailureCounters {
    request: Counter,
    response: Counter,
}

impl FailureCounters {
    /// Registers `vault.audit.log_request_failure` and `vault.audit.log_response_failure`, and a collector of
    /// each device's own failures (`vault.audit.device.log_request_failure{path,type}` and
    /// `...log_response_failure`).
    pub(crate) fn register(metrics: &Metrics, devices: &Arc<server_audit::Broker>) -> Self {
        let devices = Arc::downgrade(devices);
        metrics.collector(move |out| {
            let Some(devices) = devices.upgrade() else {
                return;
            };
            for d in devices.device_failures() {
                let labels = [("path", d.path.as_str()), ("type", d.kind.as_str())];
                out.counter("vault.audit.device.log_request_failure", &labels, d.request);
                out.counter(
                    "vault.audit.device.log_response_failure",
                    &labels,
                    d.response,
                );
            }
        });
        Self {
            request: metrics.counter("vault.audit.log_request_failure", &[]),
            response: metrics.counter("vault.audit.log_response_failure", &[]),
        }
    }
}

/// What is known about the caller's token; the broker HMACs the token and accessor before writing.
#[derive(Clone, Default)]
pub struct AuditAuth {
    /// The client token as sent.
    pub client_token: String,
    /// Its accessor.
    pub accessor: String,
    /// Display name.
    pub display_name: String,
    /// Token policies.
    pub policies: Vec<String>,
    /// Token metadata.
    pub metadata: BTreeMap<String, String>,
    /// Entity id, or empty.
    pub entity_id: String,
    /// `service` or `batch`.
    pub token_type: String,
    /// The token's TTL in seconds.
    pub token_ttl: u64,
    /// Whether the ACL allowed the request (`None` before a decision was made).
    pub allowed: Option<bool>,
}

impl std::fmt::Debug for AuditAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditAuth")
            .field("display_name", &self.display_name)
            .field("policies", &self.policies)
            .finish_non_exhaustive()
    }
}

/// One audit record's subject: the request, what the pipeline learned about it, and the error if it failed.
#[derive(Debug)]
pub struct AuditEntry<'a> {
    /// The request as received.
    pub request: &'a Request,
    /// The audited request headers.
    pub headers: &'a AuditHeaders,
    /// The matched mount.
    pub mount: Option<&'a AuditMount>,
    /// The caller.
    pub auth: Option<&'a AuditAuth>,
    /// Why the request failed, when it did.
    pub error: Option<String>,
    /// A machine-readable reason code for a refused login (never shown to the client).
    pub reason: Option<String>,
}

/// Why no audit device recorded an entry.
#[derive(Debug, thiserror::Error)]
#[error("audit backend unavailable: {0}")]
pub struct AuditError(pub String);

/// The audit devices, seen from the pipeline.
#[async_trait]
pub trait AuditBroker: Send + Sync {
    /// Whether any device is enabled; when not, the pipeline builds no entries.
    fn active(&self) -> bool;
    /// Records a request; an error means no device recorded it and the request must not be routed.
    async fn log_request(&self, entry: &AuditEntry<'_>) -> Result<(), AuditError>;
    /// Records the response (or error) to a request.
    async fn log_response(
        &self,
        entry: &AuditEntry<'_>,
        response: Option<&Response>,
    ) -> Result<(), AuditError>;
}

#[derive(Default)]
struct State {
    mount: Option<AuditMount>,
    auth: Option<AuditAuth>,
    request_logged: bool,
}

/// One request's audit trail through the pipeline. Cheap when no device is enabled.
pub(crate) struct Trail<'a> {
    broker: &'a Arc<dyn AuditBroker>,
    failures: &'a FailureCounters,
    request: &'a Request,
    headers: AuditHeaders,
    active: bool,
    // A std mutex: held only to copy fields in or out, never across an await.
    state: Mutex<State>,
}

impl<'a> Trail<'a> {
    pub(crate) fn new(core: &'a crate::Core, request: &'a Request) -> Self {
        let broker = core.audit();
        let active = broker.active();
        Self {
            headers: if active {
                core.audited_headers().select(&request.headers)
            } else {
                AuditHeaders::default()
            },
            active,
            broker,
            failures: core.audit_failures(),
            request,
            state: Mutex::new(State::default()),
        }
    }

    /// Records the mount the request matched.
    pub(crate) fn mount(&self, f: impl FnOnce() -> AuditMount) {
        if self.active
            && let Ok(mut s) = self.state.lock()
        {
            s.mount = Some(f());
        }
    }

    /// Records the caller.
    pub(crate) fn auth(&self, f: impl FnOnce() -> AuditAuth) {
        if self.active
            && let Ok(mut s) = self.state.lock()
        {
            s.auth = Some(f());
        }
    }

    /// Records the ACL's verdict.
    pub(crate) fn decided(&self, allowed: bool) {
        if self.active
            && let Ok(mut s) = self.state.lock()
            && let Some(auth) = s.auth.as_mut()
        {
            auth.allowed = Some(allowed);
        }
    }

    fn snapshot(&self) -> (Option<AuditMount>, Option<AuditAuth>, bool) {
        match self.state.lock() {
            Ok(s) => (s.mount.clone(), s.auth.clone(), s.request_logged),
            Err(_) => (None, None, false),
        }
    }

    /// The request call site: called once the request is authorized, right before routing. Fails closed.
    pub(crate) async fn before_route(&self) -> Result<(), CoreError> {
        if !self.active {
            return Ok(());
        }
        let (mount, auth, _) = self.snapshot();
        self.log_request(mount.as_ref(), auth.as_ref(), None).await
    }

    async fn log_request(
        &self,
        mount: Option<&AuditMount>,
        auth: Option<&AuditAuth>,
        error: Option<String>,
    ) -> Result<(), CoreError> {
        let entry = AuditEntry {
            request: self.request,
            headers: &self.headers,
            mount,
            auth,
            error,
            reason: None,
        };
        self.broker.log_request(&entry).await.map_err(|e| {
            self.failures.request.inc();
            tracing::error!(request_id = %self.request.id, error = %e, "audit: request not recorded");
            CoreError::AuditUnavailable
        })?;
        if let Ok(mut s) = self.state.lock() {
            s.request_logged = true;
        }
        Ok(())
    }

    /// The response call site: records the outcome; a request that never reached routing (denied, invalid
    /// token, bad input) has its request entry written first, with the error.
    pub(crate) async fn finish(
        &self,
        outcome: Result<Response, CoreError>,
    ) -> Result<Response, CoreError> {
        if !self.active {
            return outcome;
        }
        let (mount, auth, logged) = self.snapshot();
        let error = outcome.as_ref().err().map(ToString::to_string);
        let reason = match &outcome {
            Err(CoreError::LoginDenied(r)) => Some(r.clone()),
            _ => None,
        };
        if !logged && !matches!(outcome, Err(CoreError::AuditUnavailable)) {
            self.log_request(mount.as_ref(), auth.as_ref(), error.clone())
                .await?;
        }
        let entry = AuditEntry {
            request: self.request,
            headers: &self.headers,
            mount: mount.as_ref(),
            auth: auth.as_ref(),
            error,
            reason,
        };
        if let Err(e) = self
            .broker
            .log_response(&entry, outcome.as_ref().ok())
            .await
        {
            self.failures.response.inc();
            tracing::error!(request_id = %self.request.id, error = %e, "audit: response not recorded");
            return Err(CoreError::AuditUnavailable);
        }
        outcome
    }
}

/// The devices' broker seen through the pipeline's trait: converts a request (and response) into the audit
/// crate's input, which HMACs and writes it.
#[async_trait]
impl AuditBroker for server_audit::Broker {
    fn active(&self) -> bool {
        server_audit::Broker::active(self)
    }

    async fn log_request(&self, entry: &AuditEntry<'_>) -> Result<(), AuditError> {
        self.log(&input(entry, server_audit::EntryKind::Request, None))
            .await
            .map_err(|e| AuditError(e.to_string()))
    }

    async fn log_response(
        &self,
        entry: &AuditEntry<'_>,
        response: Option<&Response>,
    ) -> Result<(), AuditError> {
        self.log(&input(
            entry,
            server_audit::EntryKind::Response,
            Some(response_info(entry, response)),
        ))
        .await
        .map_err(|e| AuditError(e.to_string()))
    }
}

fn operation(op: crate::Operation) -> &'static str {
    match op {
        crate::Operation::Read => "read",
        crate::Operation::List => "list",
        crate::Operation::Create => "create",
        crate::Operation::Update => "update",
        crate::Operation::Delete => "delete",
        crate::Operation::Patch => "patch",
    }
}

fn input(
    entry: &AuditEntry<'_>,
    kind: server_audit::EntryKind,
    response: Option<server_audit::ResponseInfo>,
) -> server_audit::AuditInput {
    let req = entry.request;
    let mount = entry.mount.cloned().unwrap_or_default();
    let auth = entry.auth.map(|a| server_audit::AuthInfo {
        client_token: a.client_token.clone(),
        accessor: a.accessor.clone(),
        display_name: a.display_name.clone(),
        policies: a.policies.clone(),
        token_policies: a.policies.clone(),
        metadata: a.metadata.clone(),
        entity_id: a.entity_id.clone(),
        token_type: a.token_type.clone(),
        token_ttl: a.token_ttl,
        policy_results: a.allowed.map(|allowed| server_audit::PolicyResults {
            allowed,
            ..server_audit::PolicyResults::default()
        }),
        ..server_audit::AuthInfo::default()
    });
    server_audit::AuditInput {
        kind,
        time: std::time::SystemTime::now(),
        request: server_audit::RequestInfo {
            id: req.id.clone(),
            operation: operation(req.operation).to_owned(),
            path: req.path.clone(),
            data: (!req.data.is_empty()).then(|| req.data.clone()),
            remote_address: req
                .remote_addr
                .map(|a| a.ip().to_string())
                .unwrap_or_default(),
            remote_port: req.remote_addr.map(|a| a.port()).unwrap_or_default(),
            wrap_ttl: req.wrap_ttl.map(|d| d.as_secs()).unwrap_or_default(),
            client_token: entry
                .auth
                .map(|a| a.client_token.clone())
                .or_else(|| req.token.as_ref().map(|t| t.0.clone()))
                .unwrap_or_default(),
            client_token_accessor: entry.auth.map(|a| a.accessor.clone()).unwrap_or_default(),
            mount_point: mount.path.clone(),
            mount_type: mount.kind.clone(),
            mount_accessor: mount.accessor.clone(),
            headers: entry.headers.values.clone(),
            hmac_headers: entry.headers.hmac.clone(),
            ..server_audit::RequestInfo::default()
        },
        auth,
        response,
        error: entry.error.clone(),
        reason: entry.reason.clone(),
        non_hmac_request_keys: mount.non_hmac_request_keys,
        non_hmac_response_keys: mount.non_hmac_response_keys,
    }
}

fn response_info(
    entry: &AuditEntry<'_>,
    response: Option<&Response>,
) -> server_audit::ResponseInfo {
    let mount = entry.mount.cloned().unwrap_or_default();
    let Some(resp) = response else {
        return server_audit::ResponseInfo::default();
    };
    let str_at = |v: &serde_json::Value, k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let strings = |v: &serde_json::Value, k: &str| -> Vec<String> {
        v.get(k)
            .and_then(serde_json::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    server_audit::ResponseInfo {
        data: resp.data.clone(),
        warnings: resp.warnings.clone(),
        lease_id: resp
            .lease
            .as_ref()
            .map(|l| l.id.clone())
            .filter(|id| !id.is_empty()),
        wrap_info: resp.wrap_info.as_ref().map(|w| server_audit::WrapInfo {
            token: w.token.clone(),
            accessor: w.accessor.clone(),
            ttl: w.ttl,
            creation_path: w.creation_path.clone(),
            wrapped_accessor: w.wrapped_accessor.clone(),
            creation_time: time::OffsetDateTime::parse(
                &w.creation_time,
                &time::format_description::well_known::Rfc3339,
            )
            .map(std::time::SystemTime::from)
            .unwrap_or_else(|_| std::time::SystemTime::now()),
        }),
        auth: resp.auth.as_ref().map(|a| server_audit::AuthInfo {
            client_token: str_at(a, "client_token"),
            accessor: str_at(a, "accessor"),
            policies: strings(a, "policies"),
            token_policies: strings(a, "token_policies"),
            entity_id: str_at(a, "entity_id"),
            token_type: str_at(a, "token_type"),
            token_ttl: a
                .get("lease_duration")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or_default(),
            ..server_audit::AuthInfo::default()
        }),
        mount_point: mount.path,
        mount_type: mount.kind,
        mount_accessor: mount.accessor,
    }
}

/// What reconciling the declared audit devices (the config file's `audit` stanzas) with the device table did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditReconcile {
    /// Declared devices enabled (paths with a trailing slash).
    pub enabled: Vec<String>,
    /// Declared devices disabled because their stanza is gone.
    pub disabled: Vec<String>,
    /// Devices whose origin was not recorded (enabled by an older build) taken as the declared ones they match.
    pub adopted: Vec<String>,
    /// What could not be done, each naming its path; also logged at error level.
    pub errors: Vec<String>,
}

impl AuditReconcile {
    fn enabled(&mut self, path: String) {
        tracing::info!(path = %path, "declared audit device enabled");
        self.enabled.push(path);
    }

    fn error(&mut self, path: &str, message: String) {
        tracing::error!(path = %path, "declared audit device: {message}");
        self.errors.push(format!("{path}: {message}"));
    }
}

/// A declared path as the table spells it: one trailing slash.
pub(crate) fn declared_path(path: &str) -> String {
    format!("{}/", path.trim_matches('/'))
}

/// Whether two device paths (with trailing slashes) overlap: one is the other or lies under it.
pub(crate) fn paths_overlap(a: &str, b: &str) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// How a declared device differs from the enabled one at its path: the names of the differing settings (never
/// option values).
fn differences(declared: &crate::DeclaredAudit, enabled: &server_audit::DeviceInfo) -> Vec<String> {
    let mut out = Vec::new();
    if declared.kind != enabled.kind {
        out.push("type".to_owned());
    }
    if declared.description != enabled.description {
        out.push("description".to_owned());
    }
    if declared.local != enabled.local {
        out.push("local".to_owned());
    }
    // `skip_test` only matters when the device is enabled; the table does not keep it.
    let keys: std::collections::BTreeSet<&String> = declared
        .options
        .keys()
        .chain(enabled.options.keys())
        .filter(|k| k.as_str() != "skip_test")
        .collect();
    for k in keys {
        if declared.options.get(k) != enabled.options.get(k) {
            out.push(format!("option {k:?}"));
        }
    }
    out
}

/// A write refused because this node cannot write (a raft follower): the active node owns the reconcile.
fn cannot_write(e: &server_audit::AuditError) -> bool {
    matches!(
        e,
        server_audit::AuditError::Storage(storage::StorageError::Unavailable(_))
    )
}

/// Brings the enabled devices in line with the declared ones, as OpenBao does at unseal and on SIGHUP:
/// a declared device that is missing is enabled; a device enabled from the config whose stanza is gone is
/// disabled; a declared path taken by a device enabled through `sys/audit` is an error (that device is never
/// replaced); a declared device that differs from the enabled one is an error too (devices cannot be modified:
/// the enabled one stays). Unlike OpenBao, which stops at the first problem, every device is handled on its
/// own: one that cannot be enabled (an unreachable socket) is logged and the others still are.
pub(crate) async fn reconcile_declared(
    devices: &server_audit::Broker,
    storage: &dyn Storage,
    declared: &[crate::DeclaredAudit],
) -> AuditReconcile {
    let mut report = AuditReconcile::default();
    let enabled = devices.list();
    let wanted: std::collections::BTreeSet<String> =
        declared.iter().map(|d| declared_path(&d.path)).collect();
    // Declared devices that could not be enabled because a removed one still held an overlapping path: tried
    // again once the removals are done.
    let mut retry = Vec::new();
    for d in declared {
        let path = declared_path(&d.path);
        let Some(existing) = enabled.iter().find(|e| e.path == path) else {
            match enable_declared(devices, storage, d).await {
                Ok(()) => report.enabled(path),
                Err(server_audit::AuditError::PathInUse(other))
                    if enabled.iter().any(|e| {
                        e.path == other && e.declared == Some(true) && !wanted.contains(&e.path)
                    }) =>
                {
                    retry.push(d);
                }
                Err(e) if cannot_write(&e) => return not_active(report, &e),
                Err(e) => report.error(&path, format!("could not be enabled: {e}")),
            }
            continue;
        };
        let diff = differences(d, existing);
        match existing.declared {
            Some(true) => {}
            Some(false) => {
                report.error(
                    &path,
                    "the path is already used by a device enabled through the API; the declared device is \
                     not enabled and the API device is left as it is (disable it through the API, then \
                     reload, to manage this path from the config file)"
                        .to_owned(),
                );
                continue;
            }
            // Enabled by a build that did not record origins: when it is exactly what the config declares,
            // it is the device an earlier start enabled from this stanza.
            None if diff.is_empty() => match devices.adopt_declared(storage, &path).await {
                Ok(()) => {
                    tracing::info!(path = %path, "audit device taken as the declared one it matches");
                    report.adopted.push(path.clone());
                }
                Err(e) if cannot_write(&e) => return not_active(report, &e),
                Err(e) => report.error(&path, format!("could not be marked as declared: {e}")),
            },
            None => {
                report.error(
                    &path,
                    format!(
                        "the path is already used by a device of unrecorded origin that differs from the \
                         declared one ({}); both are left as they are",
                        diff.join(", ")
                    ),
                );
                continue;
            }
        }
        if !diff.is_empty() {
            report.error(
                &path,
                format!(
                    "differs from the enabled device ({}): audit devices cannot be modified, the enabled one \
                     is kept. To change it, remove the stanza and reload, then add it back and reload",
                    diff.join(", ")
                ),
            );
        }
        if existing.options.contains_key("prefix") && !devices.allow_prefixing() {
            report.error(
                &path,
                "has a prefix option but allow_audit_log_prefixing is not set; the device is kept as it is"
                    .to_owned(),
            );
        }
    }
    for e in enabled
        .iter()
        .filter(|e| e.declared == Some(true) && !wanted.contains(&e.path))
    {
        match devices.disable_declared(storage, &e.path).await {
            Ok(true) => {
                tracing::info!(path = %e.path, "declared audit device removed from the config: disabled");
                report.disabled.push(e.path.clone());
            }
            Ok(false) => {}
            Err(err) if cannot_write(&err) => return not_active(report, &err),
            Err(err) => report.error(&e.path, format!("could not be disabled: {err}")),
        }
    }
    for d in retry {
        let path = declared_path(&d.path);
        match enable_declared(devices, storage, d).await {
            Ok(()) => report.enabled(path),
            Err(e) if cannot_write(&e) => return not_active(report, &e),
            Err(e) => report.error(&path, format!("could not be enabled: {e}")),
        }
    }
    report
}

async fn enable_declared(
    devices: &server_audit::Broker,
    storage: &dyn Storage,
    d: &crate::DeclaredAudit,
) -> Result<(), server_audit::AuditError> {
    devices
        .enable_declared(
            storage,
            &d.path,
            &d.kind,
            &d.description,
            d.options.clone(),
            d.local,
        )
        .await
}

fn not_active(mut report: AuditReconcile, e: &server_audit::AuditError) -> AuditReconcile {
    tracing::warn!(error = %e, "declared audit devices not reconciled: this node cannot write (not the active node); the active node applies its own config");
    report
        .errors
        .push(format!("not reconciled on this node: {e}"));
    report
}

/// The core's view of an audit-device management error.
pub(crate) fn core_error(e: server_audit::AuditError) -> CoreError {
    match e {
        server_audit::AuditError::InvalidRequest(m) => CoreError::InvalidRequest(m),
        e @ server_audit::AuditError::PathInUse(_) => CoreError::InvalidRequest(e.to_string()),
        server_audit::AuditError::NoDeviceRecorded(_) => CoreError::AuditUnavailable,
        server_audit::AuditError::Storage(s) => CoreError::Storage(s),
        other => CoreError::Internal(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{Headers, Operation, Token};

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        Headers(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[tokio::test]
    async fn audited_headers_are_stored_lowercased_and_survive_a_reload() {
        let storage = storage::testing::PlainMem::shared();
        let h = AuditedHeaders::default();
        h.load(&*storage).await.unwrap();
        assert!(h.all().is_empty());
        assert_eq!(
            h.set(&*storage, "X-Forwarded-For", false).await.unwrap(),
            HeaderSetting { hmac: false }
        );
        h.set(&*storage, "X-Secret", true).await.unwrap();
        // Credentials are always hashed, whatever the request says.
        assert_eq!(
            h.set(&*storage, "Authorization", false).await.unwrap(),
            HeaderSetting { hmac: true }
        );
        let all = h.all();
        assert_eq!(
            serde_json::to_value(&*all).unwrap(),
            json!({
                "authorization": {"hmac": true},
                "x-forwarded-for": {"hmac": false},
                "x-secret": {"hmac": true},
            })
        );

        let reloaded = AuditedHeaders::default();
        reloaded.load(&*storage).await.unwrap();
        assert_eq!(*reloaded.all(), *all);
        reloaded.remove(&*storage, "X-SECRET").await.unwrap();
        reloaded
            .remove(&*storage, "never-configured")
            .await
            .unwrap();
        let again = AuditedHeaders::default();
        again.load(&*storage).await.unwrap();
        assert_eq!(again.all().len(), 2);
        assert!(!again.all().contains_key("x-secret"));

        // Sealing forgets the configuration.
        again.clear();
        assert!(again.all().is_empty());
    }

    #[tokio::test]
    async fn select_keeps_configured_headers_with_every_value_and_never_the_token() {
        let storage = storage::testing::PlainMem::shared();
        let h = AuditedHeaders::default();
        let none = h.select(&headers(&[("x-forwarded-for", "10.0.0.1")]));
        assert_eq!(none, AuditHeaders::default(), "nothing configured");
        for (name, hmac) in [
            ("X-Forwarded-For", false),
            ("x-secret", true),
            ("cookie", false),
            ("x-vault-token", false),
        ] {
            h.set(&*storage, name, hmac).await.unwrap();
        }
        let got = h.select(&headers(&[
            ("X-Forwarded-For", "10.0.0.1"),
            ("x-forwarded-for", "10.0.0.2"),
            ("x-secret", "s"),
            ("cookie", "session=abc"),
            ("x-vault-token", "s.root"),
            ("x-other", "not configured"),
        ]));
        assert_eq!(
            got.values,
            [
                ("cookie".to_owned(), vec!["session=abc".to_owned()]),
                (
                    "x-forwarded-for".to_owned(),
                    vec!["10.0.0.1".to_owned(), "10.0.0.2".to_owned()]
                ),
                ("x-secret".to_owned(), vec!["s".to_owned()]),
            ]
            .into()
        );
        assert_eq!(got.hmac, vec!["x-secret".to_owned(), "cookie".to_owned()]);
        let debug = format!("{got:?}");
        assert!(
            !debug.contains("session=abc") && !debug.contains("10.0.0.1"),
            "{debug}"
        );
    }

    #[test]
    fn input_carries_the_mounts_clear_keys_and_the_headers() {
        let request = Request {
            id: "r1".into(),
            operation: Operation::Update,
            path: "secret/data/app".into(),
            data: json!({"data": {"visible": "v", "hidden": "h"}})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            token: Some(Token("s.tok".into())),
            remote_addr: None,
            wrap_ttl: None,
            headers: Headers::default(),
        };
        let mount = AuditMount {
            path: "secret/".into(),
            kind: "kv".into(),
            accessor: "kv_1".into(),
            non_hmac_request_keys: vec!["visible".into()],
            non_hmac_response_keys: vec!["shown".into()],
        };
        let hdrs = AuditHeaders {
            values: [("x-a".to_owned(), vec!["1".to_owned()])].into(),
            hmac: vec!["x-a".into()],
        };
        let entry = AuditEntry {
            request: &request,
            headers: &hdrs,
            mount: Some(&mount),
            auth: None,
            error: None,
            reason: None,
        };
        let i = input(&entry, server_audit::EntryKind::Request, None);
        assert_eq!(i.non_hmac_request_keys, vec!["visible".to_owned()]);
        assert_eq!(i.non_hmac_response_keys, vec!["shown".to_owned()]);
        assert_eq!(i.request.headers, hdrs.values);
        assert_eq!(i.request.hmac_headers, hdrs.hmac);
        assert_eq!(i.request.mount_point, "secret/");
        assert_eq!(
            i.request.data.unwrap_or_default()["data"],
            json!({"visible": "v", "hidden": "h"})
        );
    }

    fn declared(path: &str, description: &str, options: &[(&str, &str)]) -> crate::DeclaredAudit {
        crate::DeclaredAudit {
            kind: "file".into(),
            path: path.into(),
            description: description.into(),
            local: false,
            options: options
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    fn discard(path: &str) -> crate::DeclaredAudit {
        declared(path, "", &[("file_path", "discard")])
    }

    /// Path → origin of every enabled device.
    fn origins(b: &server_audit::Broker) -> Vec<(String, Option<bool>)> {
        b.list().into_iter().map(|d| (d.path, d.declared)).collect()
    }

    fn owned(paths: &[&str]) -> Vec<String> {
        paths.iter().map(|p| (*p).to_owned()).collect()
    }

    #[tokio::test]
    async fn reconcile_enables_missing_disables_removed_and_never_touches_api_devices() {
        let storage = storage::testing::PlainMem::shared();
        let b = server_audit::Broker::new(false);
        b.enable(&*storage, "api", "file", "", discard("x").options, false)
            .await
            .unwrap();
        let r = reconcile_declared(&b, &*storage, &[discard("a"), discard("/b/")]).await;
        assert_eq!(r.enabled, owned(&["a/", "b/"]));
        assert!(r.errors.is_empty(), "{r:?}");
        // Running it again changes nothing.
        let again = reconcile_declared(&b, &*storage, &[discard("a"), discard("b")]).await;
        assert_eq!(again, AuditReconcile::default());

        // "a" is gone from the config, "c" is new; the API device is never disabled by the config.
        let r = reconcile_declared(&b, &*storage, &[discard("b"), discard("c")]).await;
        assert_eq!(r.enabled, owned(&["c/"]));
        assert_eq!(r.disabled, owned(&["a/"]));
        assert_eq!(
            origins(&b),
            vec![
                ("api/".to_owned(), Some(false)),
                ("b/".to_owned(), Some(true)),
                ("c/".to_owned(), Some(true)),
            ]
        );
        let r = reconcile_declared(&b, &*storage, &[]).await;
        assert_eq!(r.disabled, owned(&["b/", "c/"]));
        assert_eq!(origins(&b), vec![("api/".to_owned(), Some(false))]);
    }

    #[tokio::test]
    async fn a_declared_path_taken_by_an_api_device_or_changed_is_an_error_and_the_device_stays() {
        let storage = storage::testing::PlainMem::shared();
        let b = server_audit::Broker::new(false);
        b.enable(
            &*storage,
            "api",
            "file",
            "by hand",
            discard("x").options,
            false,
        )
        .await
        .unwrap();
        let r = reconcile_declared(&b, &*storage, &[discard("api"), discard("conf")]).await;
        assert_eq!(
            r.enabled,
            owned(&["conf/"]),
            "the other device is still enabled"
        );
        assert_eq!(r.errors.len(), 1, "{r:?}");
        assert!(
            r.errors[0].starts_with("api/:") && r.errors[0].contains("API"),
            "{r:?}"
        );
        let api = b.list().into_iter().find(|d| d.path == "api/").unwrap();
        assert_eq!(
            (api.description.as_str(), api.declared),
            ("by hand", Some(false))
        );

        // Declared devices cannot be modified: the enabled one is kept, the difference is named.
        let changed = declared(
            "conf",
            "new text",
            &[("file_path", "discard"), ("hmac_accessor", "false")],
        );
        let r = reconcile_declared(&b, &*storage, &[changed]).await;
        assert!(r.enabled.is_empty() && r.disabled.is_empty(), "{r:?}");
        assert_eq!(r.errors.len(), 1, "{r:?}");
        let e = &r.errors[0];
        assert!(
            e.starts_with("conf/:")
                && e.contains("description")
                && e.contains("hmac_accessor")
                && e.contains("cannot be modified"),
            "{e}"
        );
        let conf = b.list().into_iter().find(|d| d.path == "conf/").unwrap();
        assert_eq!(conf.description, "");
        assert!(!conf.options.contains_key("hmac_accessor"));
        // `skip_test` is not a difference: the table never keeps it.
        let mut same = discard("conf");
        same.options.insert("skip_test".into(), "true".into());
        let r = reconcile_declared(&b, &*storage, &[same]).await;
        assert_eq!(r, AuditReconcile::default());
    }

    #[tokio::test]
    async fn a_device_that_cannot_be_enabled_is_reported_and_the_others_are_enabled() {
        let storage = storage::testing::PlainMem::shared();
        let b = server_audit::Broker::new(false);
        // Nothing listens on port 1: the test entry cannot be written.
        let mut unreachable = declared(
            "sock",
            "",
            &[("address", "127.0.0.1:1"), ("socket_type", "tcp")],
        );
        unreachable.kind = "socket".into();
        let bogus = declared("bogus", "", &[("file_path", "discard"), ("nope", "1")]);
        let prefixed = declared("pre", "", &[("file_path", "discard"), ("prefix", "X")]);
        let r = reconcile_declared(
            &b,
            &*storage,
            &[unreachable, bogus, discard("good"), prefixed],
        )
        .await;
        assert_eq!(r.enabled, owned(&["good/"]));
        let failed: Vec<&str> = r
            .errors
            .iter()
            .filter_map(|e| e.split_once(':').map(|(p, _)| p))
            .collect();
        assert_eq!(failed, vec!["sock/", "bogus/", "pre/"], "{r:?}");
        assert!(r.errors[2].contains("allow_audit_log_prefixing"), "{r:?}");
        assert_eq!(origins(&b), vec![("good/".to_owned(), Some(true))]);
    }

    #[tokio::test]
    async fn a_removed_device_makes_room_for_a_new_one_under_its_path() {
        let storage = storage::testing::PlainMem::shared();
        let b = server_audit::Broker::new(false);
        reconcile_declared(&b, &*storage, &[discard("logs")]).await;
        let r = reconcile_declared(&b, &*storage, &[discard("logs/main")]).await;
        assert_eq!(r.disabled, owned(&["logs/"]));
        assert_eq!(r.enabled, owned(&["logs/main/"]));
        assert!(r.errors.is_empty(), "{r:?}");
    }

    #[tokio::test]
    async fn a_device_of_unrecorded_origin_is_adopted_only_when_it_matches() {
        let storage = storage::testing::PlainMem::shared();
        let b = server_audit::Broker::new(false);
        b.enable(&*storage, "same", "file", "", discard("x").options, false)
            .await
            .unwrap();
        b.enable(&*storage, "other", "file", "", discard("x").options, false)
            .await
            .unwrap();
        // Forget the origins, as a table written by an older build has none.
        let mut table: serde_json::Value =
            serde_json::from_slice(&storage.get("core/audit").await.unwrap().unwrap()).unwrap();
        for e in table["entries"].as_array_mut().unwrap() {
            e.as_object_mut().unwrap().remove("declared");
        }
        storage
            .put("core/audit", &serde_json::to_vec(&table).unwrap())
            .await
            .unwrap();
        b.restore(&*storage).await.unwrap();
        assert_eq!(
            origins(&b),
            vec![("other/".to_owned(), None), ("same/".to_owned(), None)]
        );
        let r = reconcile_declared(
            &b,
            &*storage,
            &[
                discard("same"),
                declared("other", "changed", &[("file_path", "discard")]),
            ],
        )
        .await;
        assert_eq!(r.adopted, owned(&["same/"]));
        assert_eq!(r.errors.len(), 1, "{r:?}");
        assert!(r.errors[0].starts_with("other/:"), "{r:?}");
        assert_eq!(
            origins(&b),
            vec![
                ("other/".to_owned(), None),
                ("same/".to_owned(), Some(true))
            ]
        );
        // Unrecorded devices are not removed with the config; adopted ones are.
        let r = reconcile_declared(&b, &*storage, &[]).await;
        assert_eq!(r.disabled, owned(&["same/"]));
        assert_eq!(origins(&b), vec![("other/".to_owned(), None)]);
    }

    fn sys(op: crate::Operation, path: &str, token: &str, data: serde_json::Value) -> Request {
        Request {
            id: "r".into(),
            operation: op,
            path: path.into(),
            data: data.as_object().cloned().unwrap_or_default(),
            token: Some(Token(token.into())),
            remote_addr: None,
            wrap_ttl: None,
            headers: Headers::default(),
        }
    }

    #[tokio::test]
    async fn reload_config_applies_the_flags_at_once_and_reconciles_when_unsealed() {
        let core = crate::Core::new(
            Arc::new(storage::InMem::new()),
            Arc::new(crate::Standalone::default()),
            crate::CoreOptions {
                declared_audit: vec![discard("conf")],
                ..crate::CoreOptions::default()
            },
        )
        .await
        .unwrap();
        let (key, root) = core.dev_init(None).await.unwrap();
        let root = root.as_str();
        let devices = core.audit_devices().clone();
        assert_eq!(origins(&devices), vec![("conf/".to_owned(), Some(true))]);

        let enable = |path: &str| {
            sys(
                crate::Operation::Update,
                &format!("sys/audit/{path}"),
                root,
                json!({"type": "file", "options": {"file_path": "discard"}}),
            )
        };
        let refused = core.handle(enable("api")).await.unwrap_err();
        assert!(
            matches!(&refused, CoreError::InvalidRequest(m) if m.contains("unsafe_allow_api_audit_creation")),
            "{refused}"
        );
        // A declared device cannot be disabled through the API (400), and says how to remove it.
        let delete = sys(crate::Operation::Delete, "sys/audit/conf", root, json!({}));
        let refused = core.handle(delete.clone()).await.unwrap_err();
        assert!(
            matches!(&refused, CoreError::InvalidRequest(m) if m.contains("configuration") && m.contains("SIGHUP")),
            "{refused}"
        );

        let declared_now = vec![discard("conf"), discard("other")];
        let r = core
            .reload_config(crate::ReloadableConfig {
                declared_audit: declared_now.clone(),
                allow_api_audit_creation: true,
                allow_audit_log_prefixing: true,
            })
            .await;
        assert_eq!(r.enabled, owned(&["other/"]));
        assert!(devices.allow_prefixing());
        core.handle(enable("api")).await.unwrap();
        // Paths the config declares are not the API's, under them or above them either.
        for path in ["conf", "other/sub", "ot"] {
            let refused = core.handle(enable(path)).await;
            if path == "ot" {
                refused.unwrap();
                continue;
            }
            assert!(
                matches!(&refused, Err(CoreError::InvalidRequest(m)) if m.contains("declares")),
                "{path}: {refused:?}"
            );
        }
        core.handle(delete.clone()).await.unwrap_err();
        core.handle(sys(
            crate::Operation::Delete,
            "sys/audit/api",
            root,
            json!({}),
        ))
        .await
        .unwrap();

        // Sealed: the settings are kept and the next unseal reconciles with them.
        core.seal().await.unwrap();
        let r = core
            .reload_config(crate::ReloadableConfig {
                declared_audit: vec![discard("later")],
                allow_api_audit_creation: false,
                allow_audit_log_prefixing: false,
            })
            .await;
        assert_eq!(r, AuditReconcile::default());
        assert!(!devices.allow_prefixing());
        core.unseal(Some(&key), false).await.unwrap();
        assert_eq!(
            origins(&devices),
            vec![
                ("later/".to_owned(), Some(true)),
                ("ot/".to_owned(), Some(false)),
            ]
        );
        let refused = core.handle(enable("again")).await.unwrap_err();
        assert!(
            matches!(&refused, CoreError::InvalidRequest(m) if m.contains("unsafe_allow_api_audit_creation")),
            "{refused}"
        );
    }

    #[tokio::test]
    async fn failure_counters_and_device_failures_are_exported() {
        let metrics = Metrics::new();
        let broker = server_audit::Broker::new(false);
        let counters = FailureCounters::register(&metrics, &broker);
        counters.request.inc();
        let text = metrics.prometheus();
        assert!(
            text.contains("vault_audit_log_request_failure 1\n"),
            "{text}"
        );
        assert!(
            text.contains("vault_audit_log_response_failure 0\n"),
            "{text}"
        );
        // A broker with a device reports it per path (the device's own failures are tested in server-audit).
        let dir = std::env::temp_dir().join(format!("coffer-core-audit-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let storage = storage::testing::PlainMem::shared();
        let file = dir.join("a.log");
        broker
            .enable(
                &*storage,
                "f",
                "file",
                "",
                [("file_path".to_owned(), file.display().to_string())].into(),
                false,
            )
            .await
            .unwrap();
        let text = metrics.prometheus();
        assert!(
            text.contains("vault_audit_device_log_request_failure{path=\"f/\",type=\"file\"} 0\n"),
            "{text}"
        );
        drop(broker);
        // The collector holds the broker weakly: a dropped broker reports nothing.
        assert!(!metrics.prometheus().contains("device"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
