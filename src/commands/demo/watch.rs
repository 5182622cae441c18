//! Reading the running daemon as any client would, over its HTTP API on loopback: the sealed
//! channel-epochs (`GET /v1/epochs`), the events made durable (`GET /metrics`), and a user's
//! proof. Also the one line the demo prints for each seal. The parsing and formatting are pure.

use std::time::{Duration, UNIX_EPOCH};

use serde::Deserialize;

/// Deadline of one request to the daemon on loopback.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the daemon's API could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("cannot build the HTTP client: {0}")]
    Client(reqwest::Error),
    #[error("GET {url} failed: {source}")]
    Request { url: String, source: reqwest::Error },
    #[error("GET {url} answered {status}: {body}")]
    Status { url: String, status: u16, body: String },
    #[error("GET {url}: the metric {metric} is missing from the exposition")]
    NoMetric { url: String, metric: &'static str },
}

/// A sealed channel-epoch as `GET /v1/epochs` lists it (the fields the demo shows).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Sealed {
    pub epoch: i64,
    pub channel: String,
    /// 0x-prefixed participation root; None for a channel-epoch nobody chatted in.
    pub root: Option<String>,
    pub participants: i64,
    /// Fraction of the epoch the channel was joined, 0..1.
    pub coverage: f64,
}

#[derive(Deserialize)]
struct SealedList {
    epochs: Vec<Sealed>,
}

/// The daemon's API at `base` (`http://127.0.0.1:9187`).
pub struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    /// A client that never goes through a proxy (the daemon is on loopback).
    pub fn new(base: String) -> Result<Api, ApiError> {
        let client =
            reqwest::Client::builder().no_proxy().timeout(REQUEST_TIMEOUT).build().map_err(ApiError::Client)?;
        Ok(Api { client, base })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// GET `path`: the status and the body.
    async fn get(&self, path: &str) -> Result<(u16, String), ApiError> {
        let url = format!("{}{path}", self.base);
        let failed = |source| ApiError::Request { url: url.clone(), source };
        let resp = self.client.get(&url).send().await.map_err(failed)?;
        let status = resp.status().as_u16();
        let body = resp.text().await.map_err(failed)?;
        Ok((status, body))
    }

    async fn get_ok(&self, path: &str) -> Result<String, ApiError> {
        match self.get(path).await? {
            (200, body) => Ok(body),
            (status, body) => Err(ApiError::Status { url: format!("{}{path}", self.base), status, body }),
        }
    }

    /// Every sealed channel-epoch (up to 1000), newest first.
    pub async fn sealed(&self) -> Result<Vec<Sealed>, ApiError> {
        let path = "/v1/epochs?limit=1000";
        let body = self.get_ok(path).await?;
        serde_json::from_str::<SealedList>(&body).map(|l| l.epochs).map_err(|e| ApiError::Status {
            url: format!("{}{path}", self.base),
            status: 200,
            body: format!("not an epoch list ({e}): {body}"),
        })
    }

    /// `chatseal_events_durable_total` from /metrics.
    pub async fn durable_events(&self) -> Result<u64, ApiError> {
        const METRIC: &str = chatseal_actors::telemetry::names::EVENTS_DURABLE_TOTAL;
        let text = self.get_ok("/metrics").await?;
        // Registered at start-up, so absent only before the first scrape after the recorder.
        metric_sum(&text, METRIC)
            .map(|v| v as u64)
            .ok_or_else(|| ApiError::NoMetric { url: format!("{}/metrics", self.base), metric: METRIC })
    }

    /// The participation proof JSON of `login` in (epoch, channel), or None when the API
    /// answers 404 (not a participant).
    pub async fn proof(&self, epoch: i64, channel: &str, login: &str) -> Result<Option<String>, ApiError> {
        let path = proof_path(epoch, channel, login);
        match self.get(&path).await? {
            (200, body) => Ok(Some(body)),
            (404, _) => Ok(None),
            (status, body) => Err(ApiError::Status { url: format!("{}{path}", self.base), status, body }),
        }
    }
}

/// The API path of a participation proof.
pub fn proof_path(epoch: i64, channel: &str, login: &str) -> String {
    format!("/v1/epochs/{epoch}/{channel}/proof/{login}")
}

/// The sum of every sample of counter or gauge `name` in a Prometheus text exposition (all
/// label sets), or None when it has no sample.
pub fn metric_sum(exposition: &str, name: &str) -> Option<f64> {
    let mut found = None;
    for line in exposition.lines() {
        let Some(rest) = line.strip_prefix(name) else { continue };
        if !(rest.starts_with(' ') || rest.starts_with('{')) {
            continue;
        }
        if let Some(value) = rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) {
            *found.get_or_insert(0.0) += value;
        }
    }
    found
}

/// The line printed for a seal: channel, epoch (start and end, UTC), participants, root,
/// coverage.
pub fn seal_line(s: &Sealed, epoch_len_s: i64) -> String {
    let at = |t: i64| {
        let t = UNIX_EPOCH + Duration::from_secs(u64::try_from(t).unwrap_or(0));
        let full = humantime::format_rfc3339_seconds(t).to_string();
        full.get(11..19).unwrap_or(&full).to_owned()
    };
    let root = s.root.as_deref().unwrap_or("none (nobody chatted)");
    format!(
        "sealed #{:<14} epoch {} ({}-{} UTC)  {:>4} participants  root {}  coverage {:.0}%",
        s.channel,
        s.epoch,
        at(s.epoch),
        at(s.epoch + epoch_len_s),
        s.participants,
        root,
        s.coverage * 100.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_sum_adds_every_label_set_and_only_that_metric() {
        let text = "# HELP chatseal_events_durable_total Events committed.\n\
                    # TYPE chatseal_events_durable_total counter\n\
                    chatseal_events_durable_total 12\n\
                    chatseal_events_durable_total_other 99\n\
                    chatseal_irc_lines_total{kind=\"privmsg\"} 5\n\
                    chatseal_irc_lines_total{kind=\"usernotice\"} 2\n";
        assert_eq!(metric_sum(text, "chatseal_events_durable_total"), Some(12.0));
        assert_eq!(metric_sum(text, "chatseal_irc_lines_total"), Some(7.0));
        assert_eq!(metric_sum(text, "chatseal_missing"), None);
    }

    #[test]
    fn the_seal_line_names_channel_epoch_participants_root_and_coverage() {
        let s = Sealed {
            epoch: 1_717_000_020,
            channel: "lacy".into(),
            root: Some(format!("0x{}", "ab".repeat(32))),
            participants: 57,
            coverage: 0.85,
        };
        let line = seal_line(&s, 20);
        assert!(line.contains("#lacy"), "{line}");
        assert!(line.contains("epoch 1717000020 (16:27:00-16:27:20 UTC)"), "{line}");
        assert!(line.contains("57 participants"), "{line}");
        assert!(line.contains(&format!("root 0x{}", "ab".repeat(32))), "{line}");
        assert!(line.contains("coverage 85%"), "{line}");
        let empty = Sealed { root: None, participants: 0, ..s };
        assert!(seal_line(&empty, 20).contains("root none"));
    }

    #[test]
    fn the_epoch_list_parses_with_extra_fields() {
        let body = r#"{"epochs":[{"epoch":20,"channel":"lacy","root":null,"claim_root":null,"participants":0,"sealed_at":42,"coverage":1.0,"claim_cut":0}]}"#;
        let list: SealedList = serde_json::from_str(body).unwrap();
        assert_eq!(
            list.epochs,
            [Sealed { epoch: 20, channel: "lacy".into(), root: None, participants: 0, coverage: 1.0 }]
        );
    }
}
