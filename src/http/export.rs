//! `GET /v1/epochs/{epoch}/{channel}/export`: the publish bundle, streamed. The bundle is
//! prepared from the store (both trees built from the frozen leaves), then written entry by
//! entry on a blocking thread into a small bounded channel that feeds the response body: memory
//! stays bounded by the trees, and a client that goes away stops the writer.

use std::io::{self, Write};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::sync::mpsc;

use super::epochs::channel_of;
use super::error::ApiError;
use super::AppState;
use crate::export::{load_bundle, ExportError};

/// Bytes per body chunk, and chunks in flight.
const CHUNK: usize = 64 * 1024;
const IN_FLIGHT: usize = 4;

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> Self {
        let status = match &e {
            ExportError::NotSealed { .. }
            | ExportError::Bundle(chatseal_actors::sealer::bundle::BundleError::Empty { .. }) => StatusCode::NOT_FOUND,
            ExportError::Bundle(chatseal_actors::sealer::bundle::BundleError::Legacy { .. }) => StatusCode::CONFLICT,
            ExportError::Bundle(chatseal_actors::sealer::bundle::BundleError::Damaged { .. })
            | ExportError::DigestMismatch { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            ExportError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

/// The refusal of a seal found damaged (500 `damaged`): no proof, bundle or publication from it.
pub(super) fn damaged_seal(epoch: i64, channel: &str) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "damaged",
        format!("the sealed rows of epoch {epoch} #{channel} do not match the seal's digest: it is refused for proofs and publishing until the store is restored (see docs/alerts.md)"),
    )
}

/// A `Write` that hands full chunks to the response body; fails once the body is dropped.
struct ChunkSender {
    tx: mpsc::Sender<Result<Bytes, io::Error>>,
    buf: Vec<u8>,
}

impl ChunkSender {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChunkSender {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// `GET /v1/epochs/{epoch}/{channel}/export`: the publish bundle as JSON, streamed in chunks
/// from a blocking writer; an error after the headers ends the body early.
pub async fn bundle(
    State(st): State<AppState>,
    Path((epoch, channel)): Path<(i64, String)>,
) -> Result<Response, ApiError> {
    let channel = channel_of(&channel)?;
    if st.damaged.contains(epoch, &channel) {
        return Err(damaged_seal(epoch, &channel));
    }
    let bundle = match load_bundle(&st.store, epoch, &channel, &st.program_limits).await {
        Ok(b) => b,
        Err(e @ ExportError::DigestMismatch { .. }) => {
            st.damaged.report(&st.store, &[(epoch, channel.clone())], "writing a publish bundle").await;
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    let (tx, rx) = mpsc::channel::<Result<Bytes, io::Error>>(IN_FLIGHT);
    let what = format!("{epoch} #{channel}");
    tokio::task::spawn_blocking(move || {
        let mut w = ChunkSender { tx, buf: Vec::with_capacity(CHUNK) };
        if let Err(e) = bundle.write_all(&mut w).and_then(|()| w.flush()) {
            // The status line is out already: the body ends early and the client sees it cut.
            tracing::info!(bundle = %what, error = %e, "publish bundle not sent whole");
            let _ = w.tx.blocking_send(Err(e));
        }
    });
    let body = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|chunk| (chunk, rx)) });
    let file = format!("attachment; filename=\"chatseal-bundle-{epoch}-{channel}.json\"");
    Ok((
        [(header::CONTENT_TYPE, "application/json".to_string()), (header::CONTENT_DISPOSITION, file)],
        Body::from_stream(body),
    )
        .into_response())
}
