//! Opening the byte stream to the chat server: TCP, then TLS (rustls, with the process-wide
//! client configuration of [`super::tls`]) when configured, all under one connect timeout.

use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::ServerName;

use super::tls::TlsClientConfig;

/// A connected stream, plain or TLS.
pub trait ChatStream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> ChatStream for T {}

/// The stream a session reads and writes, whichever kind it is.
pub type BoxStream = Pin<Box<dyn ChatStream>>;

/// Why no stream could be opened; the session ends with [`super::session::EndReason::Connect`].
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// TCP connect plus TLS handshake took longer than `twitch.connect_timeout`.
    #[error("connecting to {addr} timed out after {timeout:?}")]
    Timeout {
        /// `server:port` as dialled.
        addr: String,
        /// The connect timeout that ran out.
        timeout: Duration,
    },
    /// The TCP connect failed (refused, unreachable, DNS).
    #[error("connecting to {addr}: {source}")]
    Io {
        /// `server:port` as dialled.
        addr: String,
        /// The socket error.
        source: std::io::Error,
    },
    /// `twitch.server` is not a valid TLS server name.
    #[error("TLS server name {0:?} is invalid")]
    ServerName(String),
    /// The server's certificate did not verify against the trusted roots.
    #[error(
        "TLS handshake with {addr}: the server certificate was rejected ({detail}); if a private CA \
         or a TLS-intercepting proxy signs it, add that CA's PEM certificate to twitch.tls_ca_file"
    )]
    Untrusted {
        /// `server:port` as dialled.
        addr: String,
        /// rustls's reason for rejecting the certificate.
        detail: String,
    },
    /// The TLS handshake failed for another reason.
    #[error("TLS handshake with {addr} failed: {source}")]
    Handshake {
        /// `server:port` as dialled.
        addr: String,
        /// The handshake error.
        source: std::io::Error,
    },
}

/// Connects to `server:port`, with TLS when `tls` is set (the server name is checked against
/// its certificate).
pub async fn connect(
    server: &str,
    port: u16,
    tls: Option<&TlsClientConfig>,
    timeout: Duration,
) -> Result<BoxStream, ConnectError> {
    let addr = format!("{server}:{port}");
    let fut = async {
        let tcp = TcpStream::connect(&addr).await.map_err(|source| ConnectError::Io { addr: addr.clone(), source })?;
        let _ = tcp.set_nodelay(true);
        let Some(config) = tls else {
            return Ok(Box::pin(tcp) as BoxStream);
        };
        let name =
            ServerName::try_from(server.to_string()).map_err(|_| ConnectError::ServerName(server.to_string()))?;
        let stream = tokio_rustls::TlsConnector::from(config.clone())
            .connect(name, tcp)
            .await
            .map_err(|source| handshake_error(&addr, source))?;
        Ok(Box::pin(stream) as BoxStream)
    };
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(ConnectError::Timeout { addr, timeout }),
    }
}

/// A failed handshake; a rejected server certificate gets its own, actionable error.
fn handshake_error(addr: &str, source: std::io::Error) -> ConnectError {
    match source.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(e)) => {
            ConnectError::Untrusted { addr: addr.to_string(), detail: e.to_string() }
        }
        _ => ConnectError::Handshake { addr: addr.to_string(), source },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_rustls::rustls::CertificateError;

    #[test]
    fn rejected_certificates_point_at_the_ca_setting() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        let e = handshake_error("localhost:6697", io);
        assert!(matches!(e, ConnectError::Untrusted { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains("certificate") && msg.contains("twitch.tls_ca_file") && msg.contains("localhost:6697"),
            "{msg}"
        );
        let other = handshake_error("h:1", std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "eof"));
        assert!(matches!(other, ConnectError::Handshake { .. }), "{other:?}");
    }
}
