//! The `socket` device: one line per entry to a TCP, UDP or Unix stream socket, reconnecting on failure.
//!
//! Every connect and write is bounded by `write_timeout` (default 2 s; `0` = only the broker's timeout). A
//! write that fails or times out drops the connection (a half-written line must not be continued) and the
//! entry is retried once on a fresh connection. UDP gives no delivery guarantee at all, as in OpenBao.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use socket2::SockRef;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket, UnixStream};
use tokio::sync::Mutex;

use crate::AuditError;
use crate::device::{AuditDevice, DeviceError};
use crate::options::Options;

/// The transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SocketType {
    Tcp,
    Udp,
    Unix,
}

/// The `socket` device's own options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SocketConfig {
    pub(crate) address: String,
    pub(crate) socket_type: SocketType,
    /// `None` = no device-level timeout.
    pub(crate) write_timeout: Option<Duration>,
}

impl SocketConfig {
    /// Reads `address`, `socket_type` and `write_timeout`.
    pub(crate) fn parse(o: &mut Options) -> Result<Self, AuditError> {
        let address = o
            .take("address")
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .ok_or_else(|| AuditError::InvalidRequest("option \"address\" is required".into()))?;
        let socket_type = match o.take("socket_type").as_deref().map(str::trim) {
            None | Some("" | "tcp" | "tcp4" | "tcp6") => SocketType::Tcp,
            Some("udp" | "udp4" | "udp6") => SocketType::Udp,
            Some("unix") => SocketType::Unix,
            Some(other) => {
                return Err(AuditError::InvalidRequest(format!(
                    "socket_type {other:?} is not supported (tcp, udp or unix)"
                )));
            }
        };
        let write_timeout = o.take_duration("write_timeout", Duration::from_secs(2))?;
        Ok(Self {
            address,
            socket_type,
            write_timeout: (!write_timeout.is_zero()).then_some(write_timeout),
        })
    }
}

enum Conn {
    Tcp(TcpStream),
    Udp(UdpSocket),
    Unix(UnixStream),
}

impl Conn {
    /// Whether the peer has closed the stream (a read would return end of file): writing would lose the
    /// entry in the kernel's buffer.
    /// Asks the kernel directly (a non-blocking peek) rather than tokio's readiness cache, which may not have
    /// seen the peer's FIN yet.
    fn peer_closed(&self) -> bool {
        let mut probe = [MaybeUninit::<u8>::uninit(); 1];
        let r = match self {
            Self::Tcp(s) => SockRef::from(s).peek(&mut probe),
            Self::Unix(s) => SockRef::from(s).peek(&mut probe),
            Self::Udp(_) => return false,
        };
        match r {
            Ok(n) => n == 0,
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
        }
    }

    async fn send(&mut self, msg: &[u8]) -> std::io::Result<()> {
        match self {
            Self::Tcp(s) => {
                s.write_all(msg).await?;
                s.flush().await
            }
            Self::Unix(s) => {
                s.write_all(msg).await?;
                s.flush().await
            }
            Self::Udp(s) => {
                let n = s.send(msg).await?;
                if n == msg.len() {
                    Ok(())
                } else {
                    Err(std::io::Error::other("datagram truncated"))
                }
            }
        }
    }
}

/// The `socket` device.
pub(crate) struct SocketDevice {
    cfg: SocketConfig,
    prefix: Vec<u8>,
    // An async mutex: held across the write so lines from concurrent requests never interleave.
    conn: Mutex<Option<Conn>>,
    reopen: AtomicBool,
}

impl SocketDevice {
    /// A device for `cfg`; it connects at the first write.
    pub(crate) fn new(cfg: SocketConfig, prefix: String) -> Self {
        Self {
            cfg,
            prefix: prefix.into_bytes(),
            conn: Mutex::new(None),
            reopen: AtomicBool::new(false),
        }
    }

    async fn bounded<T>(
        &self,
        what: &str,
        fut: impl Future<Output = std::io::Result<T>>,
    ) -> Result<T, DeviceError> {
        let r = match self.cfg.write_timeout {
            Some(d) => tokio::time::timeout(d, fut).await.map_err(|_| {
                DeviceError(format!(
                    "{what} {} timed out after {}",
                    self.cfg.address,
                    api_spec::duration::format(d)
                ))
            })?,
            None => fut.await,
        };
        r.map_err(|e| DeviceError::io(&format!("{what} {}", self.cfg.address), &e))
    }

    async fn connect(&self) -> std::io::Result<Conn> {
        let addr = self.cfg.address.as_str();
        Ok(match self.cfg.socket_type {
            SocketType::Tcp => {
                let s = TcpStream::connect(addr).await?;
                s.set_nodelay(true)?;
                Conn::Tcp(s)
            }
            SocketType::Unix => Conn::Unix(UnixStream::connect(addr).await?),
            SocketType::Udp => {
                let peer = tokio::net::lookup_host(addr)
                    .await?
                    .next()
                    .ok_or_else(|| std::io::Error::other("address resolves to nothing"))?;
                let local = if peer.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                };
                let s = UdpSocket::bind(local).await?;
                s.connect(peer).await?;
                Conn::Udp(s)
            }
        })
    }
}

#[async_trait]
impl AuditDevice for SocketDevice {
    fn kind(&self) -> &'static str {
        "socket"
    }

    async fn write(&self, entry: &[u8]) -> Result<(), DeviceError> {
        let mut msg = Vec::with_capacity(self.prefix.len() + entry.len() + 1);
        msg.extend_from_slice(&self.prefix);
        msg.extend_from_slice(entry);
        msg.push(b'\n');
        let mut guard = self.conn.lock().await;
        if self.reopen.swap(false, Ordering::SeqCst) {
            *guard = None;
        }
        // Taken out while in use: if this future is dropped mid-write (broker timeout), the connection goes
        // with it instead of carrying half a line.
        if let Some(mut conn) = guard.take().filter(|c| !c.peer_closed()) {
            match self.bounded("writing to", conn.send(&msg)).await {
                Ok(()) => {
                    *guard = Some(conn);
                    return Ok(());
                }
                Err(e) => tracing::debug!(error = %e, "audit socket write failed; reconnecting"),
            }
        }
        let mut conn = self.bounded("connecting to", self.connect()).await?;
        self.bounded("writing to", conn.send(&msg)).await?;
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

    use tokio::io::AsyncBufReadExt;

    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<SocketConfig, AuditError> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        SocketConfig::parse(&mut Options::new(&map))
    }

    #[test]
    fn options() {
        let c = cfg(&[("address", "127.0.0.1:9090")]).unwrap();
        assert_eq!(c.socket_type, SocketType::Tcp);
        assert_eq!(c.write_timeout, Some(Duration::from_secs(2)));
        let c = cfg(&[
            ("address", "x:1"),
            ("socket_type", "udp"),
            ("write_timeout", "0"),
        ])
        .unwrap();
        assert_eq!((c.socket_type, c.write_timeout), (SocketType::Udp, None));
        assert_eq!(
            cfg(&[("address", "x"), ("write_timeout", "5")])
                .unwrap()
                .write_timeout,
            Some(Duration::from_secs(5))
        );
        assert!(cfg(&[]).is_err());
        assert!(cfg(&[("address", "x"), ("socket_type", "sctp")]).is_err());
        assert!(cfg(&[("address", "x"), ("write_timeout", "soon")]).is_err());
    }

    #[tokio::test]
    async fn reconnects_after_the_peer_goes_away() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let d = SocketDevice::new(cfg(&[("address", &addr)]).unwrap(), "p:".into());
        d.write(b"{\"n\":1}").await.unwrap();
        let (s, _) = listener.accept().await.unwrap();
        let mut lines = tokio::io::BufReader::new(s).lines();
        assert_eq!(lines.next_line().await.unwrap().unwrap(), "p:{\"n\":1}");
        drop(lines); // the peer closes this connection
        d.write(b"{\"n\":2}").await.unwrap();
        let (s, _) = listener.accept().await.unwrap();
        let mut lines = tokio::io::BufReader::new(s).lines();
        assert_eq!(lines.next_line().await.unwrap().unwrap(), "p:{\"n\":2}");
    }

    #[tokio::test]
    async fn udp_and_unix() {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap().to_string();
        let d = SocketDevice::new(
            cfg(&[("address", &addr), ("socket_type", "udp")]).unwrap(),
            String::new(),
        );
        d.write(b"{}").await.unwrap();
        let mut buf = [0u8; 16];
        let n = udp.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"{}\n");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let d = SocketDevice::new(
            cfg(&[("address", path.to_str().unwrap()), ("socket_type", "unix")]).unwrap(),
            String::new(),
        );
        d.write(b"{\"u\":1}").await.unwrap();
        let (s, _) = listener.accept().await.unwrap();
        let mut lines = tokio::io::BufReader::new(s).lines();
        assert_eq!(lines.next_line().await.unwrap().unwrap(), "{\"u\":1}");
    }
}
