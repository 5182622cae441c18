//! `[cluster]`: several daemons sharing one PostgreSQL store (cluster mode), and the lease that
//! every daemon's ownership of its store runs on (also outside a cluster, on PostgreSQL).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[cluster]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSettings {
    /// This daemon is one of several members sharing `store.url` (PostgreSQL only). Default `false`.
    pub enabled: bool,
    /// Unique member name, `[A-Za-z0-9._-]`, 1..=63 characters; empty = the host name. Default `""`.
    pub instance: String,
    /// How many members read each channel at once, 1..=5 (2 = active-active). Default `1`.
    pub replicas: u32,
    /// A member (or a single daemon on PostgreSQL) silent this long loses its channel slots,
    /// roles and ownership of the store, duration 3s..=10m. Default `"10s"`.
    #[serde(with = "humantime_serde")]
    pub lease_ttl: Duration,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self { enabled: false, instance: String::new(), replicas: 1, lease_ttl: Duration::from_secs(10) }
    }
}

impl ClusterSettings {
    /// Every problem of this section, given whether the store is PostgreSQL.
    pub fn problems(&self, postgres: bool) -> Vec<String> {
        let mut p = Vec::new();
        if self.enabled && !postgres {
            p.push("cluster.enabled = true needs a PostgreSQL store.url (postgres://...): members share one PostgreSQL database; SQLite is one daemon's store".to_owned());
        }
        let name_ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if !self.instance.is_empty() && (self.instance.len() > 63 || !self.instance.chars().all(name_ok)) {
            p.push(format!(
                "cluster.instance = {:?}: must be 1..=63 characters of A-Z a-z 0-9 . _ - (or empty for the host name)",
                crate::quote::shortened(&self.instance)
            ));
        }
        if !(1..=5).contains(&self.replicas) {
            p.push(format!("cluster.replicas = {}: must be between 1 and 5", self.replicas));
        }
        if self.lease_ttl < Duration::from_secs(3) || self.lease_ttl > Duration::from_secs(600) {
            p.push(format!(
                "cluster.lease_ttl = \"{}\": must be between \"3s\" and \"10m\"",
                humantime::format_duration(self.lease_ttl)
            ));
        }
        p
    }
}
