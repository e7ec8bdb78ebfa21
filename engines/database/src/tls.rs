//! rustls client configurations (ring provider) for PostgreSQL's `sslmode`s: no verification (`prefer`,
//! `require`, as libpq does without a root certificate), chain-only (`verify-ca`) and full (`verify-full`).

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::driver::DriverError;

/// How the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verify {
    /// Accept any certificate (encryption without authentication).
    None,
    /// The chain must lead to a trusted root; the name is not checked.
    Chain,
    /// Chain and host name.
    Full,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client configuration: `roots_pem` are trusted for `Chain`/`Full`; `client` is a PEM certificate chain
/// and key for client authentication.
pub(crate) fn client_config(
    verify: Verify,
    roots_pem: Option<&[u8]>,
    client: Option<(&[u8], &[u8])>,
) -> Result<ClientConfig, DriverError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| DriverError::Config(format!("TLS setup failed: {e}")))?;
    let builder = match verify {
        Verify::None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider))),
        Verify::Chain | Verify::Full => {
            let mut roots = RootCertStore::empty();
            let pem = roots_pem.ok_or_else(|| {
                DriverError::Config(
                    "a root certificate (sslrootcert) is required to verify the server".into(),
                )
            })?;
            for cert in certs(pem)? {
                roots
                    .add(cert)
                    .map_err(|e| DriverError::Config(format!("invalid root certificate: {e}")))?;
            }
            let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| DriverError::Config(format!("TLS setup failed: {e}")))?;
            if verify == Verify::Full {
                builder.with_webpki_verifier(inner)
            } else {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(ChainOnly(inner)))
            }
        }
    };
    match client {
        None => Ok(builder.with_no_client_auth()),
        Some((cert_pem, key_pem)) => {
            let chain = certs(cert_pem)?;
            let key = PrivateKeyDer::from_pem_slice(key_pem)
                .map_err(|e| DriverError::Config(format!("invalid client key: {e}")))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| DriverError::Config(format!("invalid client certificate: {e}")))
        }
    }
}

fn certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, DriverError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| DriverError::Config(format!("invalid PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(DriverError::Config(
            "no certificate found in PEM data".into(),
        ));
    }
    Ok(certs)
}

/// Accepts any server certificate but still checks handshake signatures.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Verifies the chain like WebPKI but ignores a name mismatch (`sslmode=verify-ca`).
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
