//! Liveness, readiness, status and metrics.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use chatseal_actors::aggregator::{AggregatorMsg, AggregatorStatus};
use chatseal_actors::channel::ChannelState;
use chatseal_actors::clock::epoch::epoch_of;
use chatseal_actors::sealer::coverage::covered_fraction;
use chatseal_actors::supervisor::SupervisorMsg;
use chatseal_actors::telemetry::names as m;
use ractor::rpc::CallResult;

use super::AppState;

const ASK: Option<Duration> = Some(Duration::from_secs(2));

async fn aggregator_status(st: &AppState) -> Option<AggregatorStatus> {
    let agg = st.routes.aggregator()?;
    match agg.call(AggregatorMsg::Status, ASK).await {
        Ok(CallResult::Success(s)) => Some(s),
        _ => None,
    }
}

/// 200 while the process and its actor tree answer.
pub async fn healthz(State(st): State<AppState>) -> impl IntoResponse {
    let tree = matches!(st.supervisor.call(SupervisorMsg::Children, ASK).await, Ok(CallResult::Success(_)));
    let agg = aggregator_status(&st).await.is_some();
    if tree && agg {
        (StatusCode::OK, Json(serde_json::json!({"status": "ok"})))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "unhealthy", "supervisor": tree, "aggregator": agg})),
        )
    }
}

/// 200 once the store is open and every channel is joined or backing off as configured.
pub async fn readyz(State(st): State<AppState>) -> impl IntoResponse {
    let mut reasons = Vec::new();
    match aggregator_status(&st).await {
        Some(a) if a.store_up => {}
        Some(a) => reasons.push(format!("store unavailable: {}", a.last_error.unwrap_or_default())),
        None => reasons.push("aggregator not answering".to_string()),
    }
    for c in st.board.snapshot() {
        if matches!(c.state, ChannelState::Connecting | ChannelState::Disconnected) {
            reasons.push(format!("#{} is {:?}", c.channel, c.state).to_lowercase());
        }
    }
    if reasons.is_empty() {
        (StatusCode::OK, Json(serde_json::json!({"ready": true})))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"ready": false, "reasons": reasons})))
    }
}

/// GET /v1/status.
pub async fn status(State(st): State<AppState>) -> impl IntoResponse {
    let now_ms = st.clock.now_ms();
    let current = epoch_of(now_ms / 1000, st.epoch_len);
    let last_sealed = st.store.last_sealed_epoch().await.ok().flatten();
    let agg = aggregator_status(&st).await;
    let backups = st.backups.snapshot();
    // Coverage of the current epoch so far, per channel, from the recorded join intervals.
    let from_ms = current * 1000;
    let spans = st.store.coverage_spans(None, from_ms, now_ms.max(from_ms + 1)).await.unwrap_or_default();
    let channels: Vec<serde_json::Value> = st
        .board
        .snapshot()
        .into_iter()
        .map(|c| {
            let mine: Vec<(i64, i64)> =
                spans.iter().filter(|s| s.channel == c.channel).map(|s| (s.started_ms, s.until_ms)).collect();
            let mut v = serde_json::to_value(&c).unwrap_or_default();
            v["coverage_current_epoch"] = serde_json::json!(covered_fraction(&mine, from_ms, now_ms.max(from_ms + 1)));
            v
        })
        .collect();
    let cluster = cluster_status(&st).await;
    Json(serde_json::json!({
        "channels": channels,
        "cluster": cluster,
        "current_epoch": current,
        "epoch_length_seconds": st.epoch_len,
        "last_sealed_epoch": last_sealed,
        "unsealed_backlog": last_sealed.map(|l| ((current - l) / st.epoch_len - 1).max(0)),
        "events_pending": agg.as_ref().map(|a| a.pending + a.in_flight),
        "store_up": agg.as_ref().map(|a| a.store_up),
        "events_dropped": agg.as_ref().map(|a| a.dropped),
        "last_backup": backups.last_success.as_ref().map(|b| {
            let mut v = serde_json::to_value(b).unwrap_or_default();
            v["age_seconds"] = serde_json::json!((now_ms / 1000 - b.created_at).max(0));
            v
        }),
        "backup_failures": backups.failures,
        "last_backup_failure": backups.last_failure,
        "last_recovery": backups.last_recovery,
        "digest_check": {
            "done": st.damaged.fully_checked(),
            "damaged_seals": st.damaged.list().into_iter().map(|(epoch, channel)| serde_json::json!({"epoch": epoch, "channel": channel})).collect::<Vec<_>>(),
        },
    }))
}

/// This daemon's place in its cluster: `enabled`, `instance`, `replicas`; in a cluster also the
/// live `members`, the channels this member holds slots of (`slots`), the roles it holds with
/// their fencing numbers and the `unowned_slots` count (GET /v1/cluster has the whole picture).
async fn cluster_status(st: &AppState) -> serde_json::Value {
    let c = &st.cluster;
    let mut v = serde_json::json!({"enabled": c.enabled, "instance": c.instance, "replicas": if c.enabled { c.replicas } else { 1 }});
    if !c.enabled {
        return v;
    }
    let members = st.store.members().await.map(|m| m.iter().filter(|m| m.alive()).count()).ok();
    let roles: Vec<serde_json::Value> = st
        .store
        .role_holders()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.holder.as_deref() == Some(c.instance.as_str()))
        .map(|r| serde_json::json!({"role": r.role, "fence": r.fence}))
        .collect();
    let slots = st.store.slot_rows().await.unwrap_or_default();
    let mine: Vec<&str> = slots
        .iter()
        .filter(|r| r.slot.holder.as_deref() == Some(c.instance.as_str()))
        .map(|r| r.slot.channel.as_str())
        .collect();
    v["members"] = serde_json::json!(members);
    v["slots"] = serde_json::json!(mine);
    v["roles"] = serde_json::json!(roles);
    v["unowned_slots"] = serde_json::json!(slots.iter().filter(|r| r.slot.holder.is_none()).count());
    v
}

/// GET /metrics: Prometheus text exposition.
pub async fn metrics(State(st): State<AppState>) -> impl IntoResponse {
    st.prom.run_upkeep();
    let mut text = st.prom.render();
    // A float counter, which the recorder cannot hold (see `process_stats::cpu_exposition`).
    if let Some(s) = crate::daemon::process_stats::sample() {
        let help = m::ALL.iter().find(|d| d.name == m::PROCESS_CPU_SECONDS_TOTAL).map_or("", |d| d.help);
        text.push_str(&crate::daemon::process_stats::cpu_exposition(m::PROCESS_CPU_SECONDS_TOTAL, help, s.cpu_seconds));
    }
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
