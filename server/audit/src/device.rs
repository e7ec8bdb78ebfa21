//! The [`AuditDevice`] trait and the table of device types.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::AuditError;
use crate::file::{FileConfig, FileDevice};
use crate::options::{Common, Options};
use crate::socket::{SocketConfig, SocketDevice};
use crate::syslog::{SyslogConfig, SyslogDevice};

/// Why a device did not record an entry (an I/O error, an unreachable peer). Never contains entry content.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct DeviceError(pub String);

impl DeviceError {
    /// `context: err`.
    pub(crate) fn io(context: &str, err: &std::io::Error) -> Self {
        Self(format!("{context}: {err}"))
    }
}

/// A destination for audit entries. Formatting and HMAC happen before: a device receives finished JSON.
#[async_trait]
pub trait AuditDevice: Send + Sync {
    /// The device type: `file`, `socket` or `syslog`.
    fn kind(&self) -> &'static str;

    /// Checks that the destination can be used, without writing an entry (the file device opens its file).
    /// Called when enabling, even with `skip_test`.
    async fn prepare(&self) -> Result<(), DeviceError> {
        Ok(())
    }

    /// Records one entry: `entry` is one serialized JSON object without a newline; the device adds its
    /// prefix and framing. Must not block the runtime; may take long (the broker bounds it with a timeout).
    async fn write(&self, entry: &[u8]) -> Result<(), DeviceError>;

    /// Closes the destination and reopens it before the next write (SIGHUP, log rotation). Never blocks.
    fn reopen(&self);
}

/// A device type's own options, validated.
#[derive(Debug, Clone)]
pub(crate) enum Spec {
    File(FileConfig),
    Socket(SocketConfig),
    Syslog(SyslogConfig),
}

/// A device's options, validated: what it needs to be built.
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    pub(crate) common: Common,
    pub(crate) spec: Spec,
}

impl Parsed {
    /// Validates `options` for device type `kind`; unknown types and options are rejected.
    pub(crate) fn new(
        kind: &str,
        options: &BTreeMap<String, String>,
        allow_prefixing: bool,
    ) -> Result<Self, AuditError> {
        let mut o = Options::new(options);
        let common = o.common(allow_prefixing)?;
        let spec = match kind {
            "file" => Spec::File(FileConfig::parse(&mut o)?),
            "socket" => Spec::Socket(SocketConfig::parse(&mut o)?),
            "syslog" => Spec::Syslog(SyslogConfig::parse(&mut o)?),
            other => {
                return Err(AuditError::InvalidRequest(format!(
                    "unknown audit device type {other:?} (known: file, socket, syslog)"
                )));
            }
        };
        o.finish(kind)?;
        Ok(Self { common, spec })
    }

    /// Whether this device type keeps a tamper-evidence chain (and so needs a chain key).
    pub(crate) fn chained(&self) -> bool {
        matches!(&self.spec, Spec::File(f) if f.chained())
    }

    /// Builds the device; no I/O happens until it is prepared or written to.
    pub(crate) fn build(&self, chain_key: Option<&[u8]>) -> Arc<dyn AuditDevice> {
        let prefix = self.common.prefix.clone();
        match &self.spec {
            Spec::File(c) => Arc::new(FileDevice::new(c.clone(), prefix, chain_key)),
            Spec::Socket(c) => Arc::new(SocketDevice::new(c.clone(), prefix)),
            Spec::Syslog(c) => Arc::new(SyslogDevice::new(c.clone(), prefix)),
        }
    }
}

/// Stands in for a persisted device that could not be rebuilt at unseal, so that the broker stays fail-closed
/// (a device that silently vanished would let requests through unaudited).
pub(crate) struct BrokenDevice {
    pub(crate) kind: &'static str,
    pub(crate) reason: String,
}

#[async_trait]
impl AuditDevice for BrokenDevice {
    fn kind(&self) -> &'static str {
        self.kind
    }
    async fn write(&self, _entry: &[u8]) -> Result<(), DeviceError> {
        Err(DeviceError(format!(
            "device could not be restored: {}",
            self.reason
        )))
    }
    fn reopen(&self) {}
}
