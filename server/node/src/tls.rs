//! Listener TLS from PEM files, through rustls with the ring provider.

use std::sync::Arc;

use crate::config::{TlsConfig, TlsVersion};

/// Why TLS material could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("tls: reading {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// The certificate or key is unusable.
    #[error("tls: {0}")]
    Invalid(String),
}

/// A rustls server config for a listener's `tls_cert_file`/`tls_key_file`/`tls_min_version`.
pub(crate) fn server_config(t: &TlsConfig) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| TlsError::Read {
            path: p.display().to_string(),
            reason: e.to_string(),
        })
    };
    let cert_pem = read(&t.cert_file)?;
    let key_pem = read(&t.key_file)?;
    let certs = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Invalid(format!("tls_cert_file: {e}")))?;
    if certs.is_empty() {
        return Err(TlsError::Invalid(
            "tls_cert_file holds no certificate".into(),
        ));
    }
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| TlsError::Invalid(format!("tls_key_file: {e}")))?
        .ok_or_else(|| TlsError::Invalid("tls_key_file holds no private key".into()))?;
    let versions: &[&rustls::SupportedProtocolVersion] = match t.min_version {
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
        _ => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| TlsError::Invalid(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            TlsError::Invalid(format!(
                "certificate and key do not match or are unsupported: {e}"
            ))
        })?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
