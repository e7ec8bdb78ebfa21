//! A minimal keep-alive HTTP/1.1 client connection for the load loop.
//!
//! One connection per client task, no pool and no URL parsing per request: the cheapest client we
//! can write, so that on a small machine the load generator takes as little CPU from the server
//! under test as possible.

use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;

use anyhow::{Context, Result};
use hyper::body::Body;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Vault/OpenBao request header carrying the client token.
const TOKEN_HEADER: &str = "x-vault-token";

/// A response: status code and the whole body.
#[derive(Debug)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Response body bytes.
    pub body: Vec<u8>,
}

/// One HTTP/1.1 keep-alive connection to a server, sending the token on every request.
pub struct Conn {
    addr: SocketAddr,
    host: HeaderValue,
    token: Option<HeaderValue>,
    sender: SendRequest<String>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret: never print it.
        f.debug_struct("Conn")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Conn {
    /// Connects to `addr`; `token` (if non-empty) is sent as `X-Vault-Token` on every request.
    pub async fn connect(addr: SocketAddr, token: &str) -> Result<Self> {
        let host = HeaderValue::from_str(&addr.to_string()).context("host header")?;
        let token = if token.is_empty() {
            None
        } else {
            let mut v = HeaderValue::from_str(token).context("token header")?;
            v.set_sensitive(true);
            Some(v)
        };
        let sender = handshake(addr).await?;
        Ok(Self {
            addr,
            host,
            token,
            sender,
        })
    }

    /// Replaces a broken connection with a fresh one.
    pub async fn reconnect(&mut self) -> Result<()> {
        self.sender = handshake(self.addr).await?;
        Ok(())
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Result<Response> {
        self.send(Method::GET, path, None).await
    }

    /// Sends a request with an optional JSON body and reads the whole response.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        json: Option<String>,
    ) -> Result<Response> {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(h) = req.headers_mut() {
            h.insert(HOST, self.host.clone());
            if let Some(t) = &self.token {
                h.insert(TOKEN_HEADER, t.clone());
            }
            if json.is_some() {
                h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
        }
        let req = req
            .body(json.unwrap_or_default())
            .context("build request")?;
        self.sender.ready().await.context("connection not ready")?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .context("send request")?;
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        let mut out = Vec::new();
        // Bounded by the server closing the body; each frame is appended.
        while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            let frame = frame.context("read body")?;
            if let Some(data) = frame.data_ref() {
                out.extend_from_slice(data);
            }
        }
        Ok(Response { status, body: out })
    }
}

async fn handshake(addr: SocketAddr) -> Result<SendRequest<String>> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connect {addr}"))?;
    stream.set_nodelay(true).context("set TCP_NODELAY")?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP/1.1 handshake")?;
    // The connection task ends when the sender is dropped or the peer closes.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}
