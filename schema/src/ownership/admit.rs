//! Who may join a PostgreSQL store beside whom: a pure decision over the member rows as read
//! in the join transaction, on the database's clock. A row whose heartbeat is older than its
//! lease is dead. A row of the SAME instance whose database session is gone is this daemon's
//! own previous incarnation (killed, power cut): dead at once, so a restart is never blocked.
//! Another instance is only ever judged by its lease, never by its session (a pooler or a
//! restarted PostgreSQL can drop a live daemon's session). A daemon outside a cluster shares
//! with nobody; cluster members share with members of other names.

/// One `store_member` row as the join sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRow {
    /// The member name (unique per store).
    pub instance: String,
    /// The member runs with `cluster.enabled` (it may share the store with other members).
    pub clustered: bool,
    /// Its last heartbeat, Unix ms on the database's clock.
    pub heartbeat_ms: i64,
    /// Its lease in ms: a heartbeat older than this is dead.
    pub lease_ttl_ms: i64,
    /// The database session recorded at its last heartbeat still exists.
    pub session_alive: bool,
}

/// The join's decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Join; first delete these dead rows (by instance).
    Admit {
        /// Instance names of the dead rows to delete.
        expire: Vec<String>,
    },
    /// A live row stands in the way (its index in the input).
    Blocked {
        /// Index in `rows` of the first live member that blocks the join.
        by: usize,
    },
}

/// Decides whether `instance` (in a cluster or not) may join beside `rows` at `now_ms`.
pub fn admit(instance: &str, clustered: bool, rows: &[MemberRow], now_ms: i64) -> Admission {
    let mut expire = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let lease_over = now_ms.saturating_sub(r.heartbeat_ms) > r.lease_ttl_ms;
        let own_dead_incarnation = r.instance == instance && !r.session_alive;
        if lease_over || own_dead_incarnation {
            expire.push(r.instance.clone());
            continue;
        }
        let compatible = clustered && r.clustered && r.instance != instance;
        if !compatible {
            return Admission::Blocked { by: i };
        }
    }
    Admission::Admit { expire }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(instance: &str, clustered: bool, heartbeat_ms: i64, session_alive: bool) -> MemberRow {
        MemberRow { instance: instance.into(), clustered, heartbeat_ms, lease_ttl_ms: 10_000, session_alive }
    }

    #[test]
    fn an_empty_store_admits() {
        assert_eq!(admit("a", false, &[], 0), Admission::Admit { expire: vec![] });
    }

    #[test]
    fn a_live_single_owner_blocks_everyone() {
        let rows = [row("a", false, 1_000, true)];
        assert_eq!(admit("b", false, &rows, 2_000), Admission::Blocked { by: 0 });
        assert_eq!(admit("b", true, &rows, 2_000), Admission::Blocked { by: 0 });
        // The same name with a live session is a second daemon, not a restart.
        assert_eq!(admit("a", false, &rows, 2_000), Admission::Blocked { by: 0 });
    }

    #[test]
    fn a_lease_past_its_ttl_is_expired_whoever_asks() {
        let rows = [row("a", false, 1_000, true)];
        assert_eq!(admit("b", false, &rows, 11_001), Admission::Admit { expire: vec!["a".into()] });
        assert_eq!(admit("b", false, &rows, 11_000), Admission::Blocked { by: 0 }, "exactly the ttl is still alive");
    }

    #[test]
    fn only_the_same_instance_may_skip_the_lease_when_the_session_is_gone() {
        let rows = [row("a", false, 1_000, false)];
        assert_eq!(admit("a", false, &rows, 1_500), Admission::Admit { expire: vec!["a".into()] });
        assert_eq!(admit("b", false, &rows, 1_500), Admission::Blocked { by: 0 });
    }

    #[test]
    fn cluster_members_share_with_other_members_only() {
        let rows = [row("a", true, 1_000, true), row("b", true, 1_000, true)];
        assert_eq!(admit("c", true, &rows, 2_000), Admission::Admit { expire: vec![] });
        assert_eq!(admit("c", false, &rows, 2_000), Admission::Blocked { by: 0 });
        assert_eq!(admit("b", true, &rows, 2_000), Admission::Blocked { by: 1 }, "duplicate instance name");
        let mixed = [row("a", true, 1_000, true), row("solo", false, 1_000, true)];
        assert_eq!(admit("c", true, &mixed, 2_000), Admission::Blocked { by: 1 });
    }

    #[test]
    fn the_clock_going_backwards_does_not_expire_anyone() {
        let rows = [row("a", false, 5_000, true)];
        assert_eq!(admit("b", false, &rows, 1_000), Admission::Blocked { by: 0 });
    }
}
