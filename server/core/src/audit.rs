//! The audit broker's two call sites in the pipeline (DESIGN.md §2): the request is recorded after the ACL
//! decision and before routing (denied requests too), the response after routing. With devices enabled, a request
//! none of them records is not routed (fail closed). The devices live in `server-audit`; its `Broker` implements
//! [`AuditBroker`] below, converting the pipeline's view into the devices' input.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::{CoreError, Request, Response};

/// The mount a request was matched to (recorded even when the request is denied).
#[derive(Debug, Clone, Default)]
pub struct AuditMount {
    /// Mount path with a trailing slash.
    pub path: String,
    /// Engine type.
    pub kind: String,
    /// Mount accessor.
    pub accessor: String,
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
    request: &'a Request,
    active: bool,
    // A std mutex: held only to copy fields in or out, never across an await.
    state: Mutex<State>,
}

impl<'a> Trail<'a> {
    pub(crate) fn new(broker: &'a Arc<dyn AuditBroker>, request: &'a Request) -> Self {
        Self {
            active: broker.active(),
            broker,
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
            mount,
            auth,
            error,
            reason: None,
        };
        self.broker.log_request(&entry).await.map_err(|e| {
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
            ..server_audit::RequestInfo::default()
        },
        auth,
        response,
        error: entry.error.clone(),
        reason: entry.reason.clone(),
        non_hmac_request_keys: Vec::new(),
        non_hmac_response_keys: Vec::new(),
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
