//! Opening the byte stream to the chat server: TCP, then TLS (rustls, webpki roots) when
//! configured, all under one connect timeout.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A connected stream, plain or TLS.
pub trait ChatStream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> ChatStream for T {}

pub type BoxStream = Pin<Box<dyn ChatStream>>;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("connecting to {addr} timed out after {timeout:?}")]
    Timeout { addr: String, timeout: Duration },
    #[error("connecting to {addr}: {source}")]
    Io { addr: String, source: std::io::Error },
    #[error("TLS server name {0:?} is invalid")]
    ServerName(String),
}

/// Connects to `server:port`, with TLS when `tls` is set.
pub async fn connect(server: &str, port: u16, tls: bool, timeout: Duration) -> Result<BoxStream, ConnectError> {
    let addr = format!("{server}:{port}");
    let fut = async {
        let tcp = TcpStream::connect(&addr).await.map_err(|source| ConnectError::Io { addr: addr.clone(), source })?;
        let _ = tcp.set_nodelay(true);
        if !tls {
            return Ok(Box::pin(tcp) as BoxStream);
        }
        let mut roots = tokio_rustls::rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
            tokio_rustls::rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectError::Io { addr: addr.clone(), source: std::io::Error::other(e) })?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(server.to_string())
            .map_err(|_| ConnectError::ServerName(server.to_string()))?;
        let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|source| ConnectError::Io { addr: addr.clone(), source })?;
        Ok(Box::pin(stream) as BoxStream)
    };
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(ConnectError::Timeout { addr, timeout }),
    }
}
