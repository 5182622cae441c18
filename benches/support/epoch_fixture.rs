//! Shared by the `seal` and `proof_latency` benches: fills one (epoch, channel) of a store with
//! `n` participants the way the aggregator does, through `Store::begin_flush` and
//! `FlushTx::upsert_participation` (plus a coverage span over the whole epoch), in chunks of
//! [`CHUNK`] rows per transaction. Rows are realistic: a login `viewerN`, its numeric user id
//! and display name, a first_seen spread over the hour, a message count, and on some rows bits,
//! a sub or a gift, so claim amounts differ.

use chatseal_actors::format::user_hash;
use chatseal_schema::{CoverageSpan, ParticipationDelta, SignalKind, Signals, Store, StoreError};

/// Rows per flush transaction while filling.
pub const CHUNK: usize = 10_000;

/// Login of the i-th participant.
pub fn login(i: usize) -> String {
    format!("viewer{i}")
}

/// The delta the aggregator would write for participant `i` of (epoch, channel).
fn delta(epoch: i64, channel: &str, len: i64, i: usize) -> ParticipationDelta<'_> {
    let login = login(i);
    let first_seen = epoch + (i as i64 * 7919) % len;
    let mut signals = Signals::default().with(SignalKind::Message, 1 + (i as i64 % 40));
    if i.is_multiple_of(50) {
        signals[SignalKind::Bits] = 100;
    }
    if i.is_multiple_of(97) {
        signals[SignalKind::Sub] = 1;
    }
    if i.is_multiple_of(211) {
        signals[SignalKind::Gift] = 5;
    }
    ParticipationDelta {
        epoch,
        channel: channel.into(),
        user_hash: user_hash(&login),
        user_id: Some((100_000_000 + i).to_string().into()),
        display_name: Some(login.to_uppercase().into()),
        login: login.into(),
        first_seen,
        last_seen: (first_seen + 600).min(epoch + len - 1),
        signals,
    }
}

/// Writes participants `0..n` of (epoch, channel), CHUNK rows per transaction, and marks the
/// channel as joined for the whole epoch (`len` seconds).
pub async fn fill_epoch(store: &Store, epoch: i64, len: i64, channel: &str, n: usize) -> Result<(), StoreError> {
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let rows: Vec<ParticipationDelta> = (start..end).map(|i| delta(epoch, channel, len, i)).collect();
        let tx = store.begin_flush().await?;
        tx.upsert_participation(&rows).await?;
        if start == 0 {
            let span =
                CoverageSpan { channel: channel.to_string(), started_ms: epoch * 1000, until_ms: (epoch + len) * 1000 };
            tx.upsert_coverage(&[span]).await?;
        }
        tx.commit().await?;
        start = end;
    }
    Ok(())
}
