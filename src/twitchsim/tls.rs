//! TLS for the fake server, as Twitch speaks it on port 6697: a certificate chain and its key
//! (DER, e.g. made at test time) become a rustls acceptor (ring provider) that wraps each
//! accepted TCP stream before its session starts. A failed handshake ends that connection only
//! and is counted.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// Longest a client may take to finish the TLS handshake.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's certificate and key, DER encoded.
#[derive(Clone)]
pub struct FakeTls {
    /// The server certificate first, then any intermediates.
    pub cert_chain_der: Vec<Vec<u8>>,
    /// The private key of the first certificate: PKCS#8, PKCS#1 or SEC1 DER.
    pub key_der: Vec<u8>,
}

impl std::fmt::Debug for FakeTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeTls").field("certificates", &self.cert_chain_der.len()).finish_non_exhaustive()
    }
}

/// Why a [`FakeTls`] cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum FakeTlsError {
    /// No certificate was given.
    #[error("fake Twitch TLS: the certificate chain is empty; give at least the server certificate")]
    NoCertificate,
    /// The key is not a DER private key of a known kind (the parser's message).
    #[error("fake Twitch TLS: the key is not a PKCS#8, PKCS#1 or SEC1 DER private key ({0})")]
    Key(String),
    /// rustls refused the certificate and key together (its message).
    #[error("fake Twitch TLS: certificate and key rejected by rustls ({0})")]
    Config(String),
}

impl FakeTls {
    /// The acceptor serving this certificate chain.
    pub(crate) fn acceptor(&self) -> Result<TlsAcceptor, FakeTlsError> {
        if self.cert_chain_der.is_empty() {
            return Err(FakeTlsError::NoCertificate);
        }
        let chain = self.cert_chain_der.iter().map(|der| CertificateDer::from(der.clone())).collect();
        let key = PrivateKeyDer::try_from(self.key_der.clone()).map_err(|e| FakeTlsError::Key(e.to_string()))?;
        let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| FakeTlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| FakeTlsError::Config(e.to_string()))?;
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

/// The handshake on one accepted stream, under [`HANDSHAKE_TIMEOUT`].
pub(crate) async fn handshake(acceptor: &TlsAcceptor, stream: TcpStream) -> std::io::Result<TlsStream<TcpStream>> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("TLS handshake not finished within {HANDSHAKE_TIMEOUT:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_chain_or_a_bad_key_is_refused() {
        let empty = FakeTls { cert_chain_der: Vec::new(), key_der: vec![1, 2, 3] };
        assert!(matches!(empty.acceptor(), Err(FakeTlsError::NoCertificate)));
        let bad_key = FakeTls { cert_chain_der: vec![vec![0x30, 0x00]], key_der: vec![1, 2, 3] };
        assert!(matches!(bad_key.acceptor(), Err(FakeTlsError::Key(_))));
    }

    #[test]
    fn a_self_signed_certificate_serves() {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
        let tls = FakeTls { cert_chain_der: vec![ck.cert.der().to_vec()], key_der: ck.key_pair.serialize_der() };
        assert!(tls.acceptor().is_ok());
        assert!(!format!("{tls:?}").contains(&format!("{:?}", tls.key_der)), "Debug hides the key");
    }
}
