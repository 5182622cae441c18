//! `GET /v1/cluster`: the members (instance, host, since, last heartbeat, slots held, roles
//! with their fencing numbers), the roles and the channel slots no live member holds. Outside
//! a cluster: a one-member answer (this daemon, reading every channel it runs).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::error::ApiError;
use super::AppState;

/// What the route needs to know of this daemon's cluster settings.
#[derive(Clone, Debug, Default)]
pub struct ClusterView {
    /// `cluster.enabled`: false answers with this daemon alone.
    pub enabled: bool,
    /// This daemon's member name (`cluster.instance`, else the host name).
    pub instance: String,
    /// `cluster.replicas`: how many members read each channel at once.
    pub replicas: u32,
    /// `cluster.lease_ttl` in milliseconds: a member silent this long loses its slots and roles.
    pub lease_ttl_ms: i64,
    /// This daemon's HTTP address (`http.listen`).
    pub http: String,
    /// The host name this daemon runs on.
    pub host: String,
}

/// `GET /v1/cluster`: members, role holders with their fences, and the slots no live member holds.
pub async fn cluster(State(st): State<AppState>) -> Result<Json<Value>, ApiError> {
    let c = &st.cluster;
    if !c.enabled {
        let channels: Vec<String> = st.board.snapshot().into_iter().map(|s| s.channel).collect();
        let me = json!({
            "instance": c.instance, "host": c.host, "pid": std::process::id(), "http": c.http,
            "since_ms": null, "heartbeat_ms": null, "alive": true, "slots": channels,
            "roles": [{"role": "sealer", "fence": 0}, {"role": "backup", "fence": 0}],
        });
        return Ok(Json(json!({
            "enabled": false, "instance": c.instance, "replicas": 1, "lease_ttl_ms": c.lease_ttl_ms,
            "members": [me], "roles": [], "unowned_slots": [],
        })));
    }
    let members = st.store.members().await.map_err(ApiError::store)?;
    let roles = st.store.role_holders().await.map_err(ApiError::store)?;
    let slots = st.store.slot_rows().await.map_err(ApiError::store)?;
    let mut held: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in &slots {
        if let Some(h) = &r.slot.holder {
            held.entry(h.as_str()).or_default().push(r.slot.channel.as_str());
        }
    }
    let members: Vec<Value> = members
        .iter()
        .map(|m| {
            let mine: Vec<Value> = roles
                .iter()
                .filter(|r| r.holder.as_deref() == Some(m.owner.instance.as_str()))
                .map(|r| json!({"role": r.role, "fence": r.fence}))
                .collect();
            json!({
                "instance": m.owner.instance, "host": m.owner.host, "pid": m.owner.pid, "http": m.owner.http,
                "since_ms": m.owner.since_ms, "heartbeat_ms": m.heartbeat_ms, "alive": m.alive(),
                "slots": held.get(m.owner.instance.as_str()).cloned().unwrap_or_default(), "roles": mine,
            })
        })
        .collect();
    let unowned: Vec<Value> = slots
        .iter()
        .filter(|r| r.slot.holder.is_none())
        .map(|r| json!({"channel": r.slot.channel, "slot": r.slot.slot, "since_ms": r.unowned_since_ms}))
        .collect();
    Ok(Json(json!({
        "enabled": true, "instance": c.instance, "replicas": c.replicas, "lease_ttl_ms": c.lease_ttl_ms,
        "members": members, "roles": roles, "unowned_slots": unowned,
    })))
}
