//! The `syslog` device: one message per entry to the local syslog daemon (`/dev/log`), in the RFC 3164 form
//! local daemons expect: `<PRI>Mmm dd hh:mm:ss TAG[PID]: MESSAGE`, severity `info`.
//!
//! Entries larger than the daemon's datagram limit fail (and are counted); pair syslog with a file device.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio::io::AsyncWriteExt;
use tokio::net::{UnixDatagram, UnixStream};
use tokio::sync::Mutex;

use crate::AuditError;
use crate::device::{AuditDevice, DeviceError};
use crate::options::Options;

/// Where local syslog daemons listen, in the order tried (Linux, macOS, BSD).
const SOCKETS: [&str; 3] = ["/dev/log", "/var/run/syslog", "/var/run/log"];

/// Syslog facilities by name, as OpenBao accepts them (case-insensitive).
const FACILITIES: [(&str, u8); 20] = [
    ("KERN", 0),
    ("USER", 1),
    ("MAIL", 2),
    ("DAEMON", 3),
    ("AUTH", 4),
    ("SYSLOG", 5),
    ("LPR", 6),
    ("NEWS", 7),
    ("UUCP", 8),
    ("CRON", 9),
    ("AUTHPRIV", 10),
    ("FTP", 11),
    ("LOCAL0", 16),
    ("LOCAL1", 17),
    ("LOCAL2", 18),
    ("LOCAL3", 19),
    ("LOCAL4", 20),
    ("LOCAL5", 21),
    ("LOCAL6", 22),
    ("LOCAL7", 23),
];

/// Severity `info`.
const SEVERITY_INFO: u8 = 6;

/// The `syslog` device's own options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyslogConfig {
    pub(crate) facility: u8,
    pub(crate) tag: String,
    /// The sockets to try (not an option: tests point it elsewhere).
    pub(crate) sockets: Vec<PathBuf>,
}

impl SyslogConfig {
    /// Reads `facility` (default `AUTH`) and `tag` (default `vault`).
    pub(crate) fn parse(o: &mut Options) -> Result<Self, AuditError> {
        let facility = match o.take("facility") {
            None => 4,
            Some(name) => FACILITIES
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
                .map(|(_, code)| *code)
                .ok_or_else(|| {
                    AuditError::InvalidRequest(format!("unknown syslog facility {name:?}"))
                })?,
        };
        let tag = o
            .take("tag")
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| "vault".to_owned());
        if tag.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(AuditError::InvalidRequest(
                "syslog tag must not contain spaces or control characters".into(),
            ));
        }
        Ok(Self {
            facility,
            tag,
            sockets: SOCKETS.iter().map(PathBuf::from).collect(),
        })
    }
}

enum Conn {
    Datagram(UnixDatagram),
    Stream(UnixStream),
}

/// The `syslog` device.
pub(crate) struct SyslogDevice {
    cfg: SyslogConfig,
    prefix: Vec<u8>,
    conn: Mutex<Option<Conn>>,
    reopen: AtomicBool,
}

impl SyslogDevice {
    /// A device for `cfg`; it connects at the first write.
    pub(crate) fn new(cfg: SyslogConfig, prefix: String) -> Self {
        Self {
            cfg,
            prefix: prefix.into_bytes(),
            conn: Mutex::new(None),
            reopen: AtomicBool::new(false),
        }
    }

    /// The syslog message for `entry` at `now`.
    fn message(&self, entry: &[u8], now: SystemTime) -> Vec<u8> {
        let dt = OffsetDateTime::from(now);
        let pri = u16::from(self.cfg.facility) * 8 + u16::from(SEVERITY_INFO);
        let month = match u8::from(dt.month()) {
            1 => "Jan",
            2 => "Feb",
            3 => "Mar",
            4 => "Apr",
            5 => "May",
            6 => "Jun",
            7 => "Jul",
            8 => "Aug",
            9 => "Sep",
            10 => "Oct",
            11 => "Nov",
            _ => "Dec",
        };
        let head = format!(
            "<{pri}>{month} {:>2} {:02}:{:02}:{:02} {}[{}]: ",
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second(),
            self.cfg.tag,
            std::process::id()
        );
        let mut msg = Vec::with_capacity(head.len() + self.prefix.len() + entry.len());
        msg.extend_from_slice(head.as_bytes());
        msg.extend_from_slice(&self.prefix);
        msg.extend_from_slice(entry);
        msg
    }

    async fn connect(&self) -> Result<Conn, DeviceError> {
        let mut tried = Vec::with_capacity(self.cfg.sockets.len());
        for path in &self.cfg.sockets {
            if !path.exists() {
                tried.push(format!("{} does not exist", path.display()));
                continue;
            }
            let dgram = UnixDatagram::unbound().and_then(|s| s.connect(path).map(|()| s));
            match dgram {
                Ok(s) => return Ok(Conn::Datagram(s)),
                // Some daemons listen on a stream socket instead.
                Err(_) => match UnixStream::connect(path).await {
                    Ok(s) => return Ok(Conn::Stream(s)),
                    Err(e) => tried.push(format!("{}: {e}", path.display())),
                },
            }
        }
        Err(DeviceError(format!(
            "no local syslog daemon reachable ({})",
            tried.join("; ")
        )))
    }
}

async fn send(conn: &mut Conn, msg: &[u8]) -> std::io::Result<()> {
    match conn {
        Conn::Datagram(s) => s.send(msg).await.map(|_| ()),
        Conn::Stream(s) => {
            s.write_all(msg).await?;
            s.write_all(b"\n").await?;
            s.flush().await
        }
    }
}

#[async_trait]
impl AuditDevice for SyslogDevice {
    fn kind(&self) -> &'static str {
        "syslog"
    }

    async fn write(&self, entry: &[u8]) -> Result<(), DeviceError> {
        let msg = self.message(entry, SystemTime::now());
        let mut guard = self.conn.lock().await;
        if self.reopen.swap(false, Ordering::SeqCst) {
            *guard = None;
        }
        if let Some(mut conn) = guard.take()
            && send(&mut conn, &msg).await.is_ok()
        {
            *guard = Some(conn);
            return Ok(());
        }
        // The daemon may have restarted: once more on a fresh connection.
        let mut conn = self.connect().await?;
        send(&mut conn, &msg)
            .await
            .map_err(|e| DeviceError::io("writing to the syslog daemon", &e))?;
        *guard = Some(conn);
        Ok(())
    }

    fn reopen(&self) {
        self.reopen.store(true, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<SyslogConfig, AuditError> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        SyslogConfig::parse(&mut Options::new(&map))
    }

    #[test]
    fn options() {
        let c = cfg(&[]).unwrap();
        assert_eq!((c.facility, c.tag.as_str()), (4, "vault"));
        let c = cfg(&[("facility", "local7"), ("tag", "coffer")]).unwrap();
        assert_eq!((c.facility, c.tag.as_str()), (23, "coffer"));
        assert!(cfg(&[("facility", "NOPE")]).is_err());
        assert!(cfg(&[("tag", "a b")]).is_err());
    }

    #[test]
    fn rfc3164_message() {
        let d = SyslogDevice::new(cfg(&[]).unwrap(), "pfx".into());
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000); // 2023-11-14 22:13:20 UTC
        let msg = String::from_utf8(d.message(b"{}", t)).unwrap();
        assert_eq!(
            msg,
            format!("<38>Nov 14 22:13:20 vault[{}]: pfx{{}}", std::process::id())
        );
    }

    #[tokio::test]
    async fn writes_to_a_datagram_socket_and_fails_clearly_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let server = UnixDatagram::bind(&path).unwrap();
        let mut c = cfg(&[]).unwrap();
        c.sockets = vec![path];
        let d = SyslogDevice::new(c, String::new());
        d.write(b"{\"type\":\"request\"}").await.unwrap();
        let mut buf = vec![0u8; 1024];
        let n = server.recv(&mut buf).await.unwrap();
        let got = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(got.starts_with("<38>"), "{got}");
        assert!(got.ends_with("]: {\"type\":\"request\"}"), "{got}");

        let mut c = cfg(&[]).unwrap();
        c.sockets = vec![dir.path().join("missing")];
        let e = SyslogDevice::new(c, String::new())
            .write(b"{}")
            .await
            .unwrap_err();
        assert!(e.0.contains("no local syslog daemon"), "{e}");
    }
}
