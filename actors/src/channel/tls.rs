//! The TLS client side of the chat connection: the rustls configuration (ring provider, the
//! built-in webpki roots plus any extra CA certificates the operator trusts) built once per
//! process and shared by every connection, and the reading of those extra CA certificates from
//! a PEM file. A TLS-intercepting proxy or a test server signs with such a CA.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::{crypto::ring, ClientConfig, RootCertStore};

/// The shared TLS client configuration; cheap to clone.
pub type TlsClientConfig = Arc<ClientConfig>;

/// Why the TLS client configuration or its CA file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The CA file cannot be read.
    #[error("CA file {path}: cannot read it ({source}); point it at a readable PEM file")]
    Read {
        /// The CA file (`twitch.tls_ca_file`).
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The CA file is not PEM.
    #[error("CA file {path}: not valid PEM ({detail}); it must hold \"-----BEGIN CERTIFICATE-----\" sections")]
    Pem {
        /// The CA file (`twitch.tls_ca_file`).
        path: PathBuf,
        /// The PEM parser's message.
        detail: String,
    },
    /// The CA file holds no certificate section.
    #[error(
        "CA file {path}: holds no PEM certificate; it must hold at least one \"-----BEGIN CERTIFICATE-----\" section"
    )]
    NoCertificate {
        /// The CA file (`twitch.tls_ca_file`).
        path: PathBuf,
    },
    /// A certificate of the file cannot be a trust anchor.
    #[error("CA file {path}: certificate number {number} cannot be a trust anchor ({detail}); replace it with the CA's X.509 certificate")]
    BadCertificate {
        /// The CA file (`twitch.tls_ca_file`).
        path: PathBuf,
        /// Position of the certificate in the file, from 1.
        number: usize,
        /// Why it was refused.
        detail: String,
    },
    /// rustls refused the configuration (its message).
    #[error("TLS client setup failed: {0}")]
    Rustls(String),
}

/// Every certificate of the PEM file at `path` (other sections, such as keys, are skipped).
/// Fails when the file cannot be read, is not PEM, holds no certificate, or holds one that
/// cannot serve as a trust anchor.
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let bytes = std::fs::read(path).map_err(|source| TlsSetupError::Read { path: path.to_owned(), source })?;
    parse_ca_pem(path, &bytes)
}

/// The certificates of PEM text `pem`, read from `path` (named in errors only).
pub fn parse_ca_pem(path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsSetupError::Pem { path: path.to_owned(), detail: e.to_string() })?;
    if certs.is_empty() {
        return Err(TlsSetupError::NoCertificate { path: path.to_owned() });
    }
    for (i, cert) in certs.iter().enumerate() {
        RootCertStore::empty().add(cert.clone()).map_err(|e| TlsSetupError::BadCertificate {
            path: path.to_owned(),
            number: i + 1,
            detail: e.to_string(),
        })?;
    }
    Ok(certs)
}

/// The client configuration trusting the webpki roots and, in addition, `extra_roots`.
pub fn client_config(extra_roots: &[CertificateDer<'static>]) -> Result<TlsClientConfig, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in extra_roots {
        roots.add(cert.clone()).map_err(|e| TlsSetupError::Rustls(format!("extra CA certificate rejected: {e}")))?;
    }
    let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::Rustls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOT_A_CERT: &str = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";

    #[test]
    fn missing_file_is_a_read_error_naming_the_path() {
        let e = read_ca_file(Path::new("/nonexistent/ca.pem")).unwrap_err();
        assert!(matches!(e, TlsSetupError::Read { .. }), "{e:?}");
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }

    #[test]
    fn text_without_certificates_is_refused() {
        let e = parse_ca_pem(Path::new("x.pem"), b"just some text\n").unwrap_err();
        assert!(matches!(e, TlsSetupError::NoCertificate { .. }), "{e:?}");
        let key_only = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let e = parse_ca_pem(Path::new("x.pem"), key_only).unwrap_err();
        assert!(matches!(e, TlsSetupError::NoCertificate { .. }), "{e:?}");
    }

    #[test]
    fn broken_pem_and_non_certificates_are_refused() {
        let e = parse_ca_pem(Path::new("x.pem"), b"-----BEGIN CERTIFICATE-----\nAAAA\n").unwrap_err();
        assert!(matches!(e, TlsSetupError::Pem { .. }), "{e:?}");
        let e = parse_ca_pem(Path::new("x.pem"), NOT_A_CERT.as_bytes()).unwrap_err();
        assert!(matches!(e, TlsSetupError::BadCertificate { number: 1, .. }), "{e:?}");
    }

    #[test]
    fn config_without_extra_roots_builds() {
        let config = client_config(&[]).expect("webpki roots alone");
        assert!(config.enable_sni, "SNI names the server to proxies and Twitch alike");
    }
}
