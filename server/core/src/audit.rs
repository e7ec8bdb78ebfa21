//! The audit broker's two call sites in the pipeline (DESIGN.md §2): the request is recorded after the ACL
//! decision and before routing (denied requests too), the response after routing. With devices enabled, a request
//! none of them records is not routed (fail closed). The devices themselves implement [`AuditBroker`].

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

/// The broker with no devices.
pub struct NoAudit;

#[async_trait]
impl AuditBroker for NoAudit {
    fn active(&self) -> bool {
        false
    }
    async fn log_request(&self, _entry: &AuditEntry<'_>) -> Result<(), AuditError> {
        Ok(())
    }
    async fn log_response(
        &self,
        _entry: &AuditEntry<'_>,
        _response: Option<&Response>,
    ) -> Result<(), AuditError> {
        Ok(())
    }
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
        if !logged && !matches!(outcome, Err(CoreError::AuditUnavailable)) {
            self.log_request(mount.as_ref(), auth.as_ref(), error.clone())
                .await?;
        }
        let entry = AuditEntry {
            request: self.request,
            mount: mount.as_ref(),
            auth: auth.as_ref(),
            error,
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
