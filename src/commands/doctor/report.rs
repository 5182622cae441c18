//! What `chatseal doctor` found, and how it is shown: one [`Check`] per line (ok / warn /
//! fail, what was seen, what to do), rendered as text for people or as one JSON object for
//! scripts, and the exit code the findings call for. Pure: no I/O.
//!
//! Exit codes: 0 when every check is ok **or only warns** (a warning is printed and needs no
//! operator now: an old backup, a coverage gap that cannot be undone, a PostgreSQL durability
//! setting the daemon itself only warns about), 1 when any check failed (an operator is
//! needed), 69 when the store could not be reached at all (the other checks are still printed).

use serde::Serialize;
use serde_json::{json, Value};

use crate::exit::Exit;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok  ",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// `area.what`, e.g. `store.digests`.
    pub name: &'static str,
    pub status: Status,
    /// What was seen, with the values.
    pub summary: String,
    /// What to do about it (None when nothing is to be done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The values behind the summary, for scripts.
    pub value: Value,
}

impl Check {
    pub fn ok(name: &'static str, summary: impl Into<String>, value: Value) -> Check {
        Check { name, status: Status::Ok, summary: summary.into(), action: None, value }
    }

    pub fn warn(name: &'static str, summary: impl Into<String>, action: impl Into<String>, value: Value) -> Check {
        Check { name, status: Status::Warn, summary: summary.into(), action: Some(action.into()), value }
    }

    pub fn fail(name: &'static str, summary: impl Into<String>, action: impl Into<String>, value: Value) -> Check {
        Check { name, status: Status::Fail, summary: summary.into(), action: Some(action.into()), value }
    }
}

/// Everything doctor found.
#[derive(Debug, Clone)]
pub struct Report {
    /// The store's URL, password masked.
    pub store: String,
    /// "sqlite" / "postgres", when known.
    pub backend: Option<&'static str>,
    /// Unix seconds of the run.
    pub now: i64,
    pub epoch_length: i64,
    pub checks: Vec<Check>,
    /// The store could not be reached (exit 69).
    pub unreachable: bool,
}

impl Report {
    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// 69 when the store was unreachable, else 1 when a check failed, else 0 (warnings too).
    pub fn exit_code(&self) -> Exit {
        if self.unreachable {
            Exit::Unavailable
        } else if self.count(Status::Fail) > 0 {
            Exit::Failed
        } else {
            Exit::Ok
        }
    }

    /// The human-readable report: a header, one line per check (plus a `do:` line for each
    /// that warns or fails), and the result with the exit code.
    pub fn text(&self) -> String {
        let mut out = format!(
            "chatseal doctor: store {} ({}), epochs of {} s\n",
            self.store,
            self.backend.unwrap_or("unknown engine"),
            self.epoch_length
        );
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for c in &self.checks {
            out.push_str(&format!("{} {:<width$}  {}\n", c.status.label(), c.name, c.summary));
            if let Some(a) = &c.action {
                out.push_str(&format!("     {:<width$}  do: {a}\n", ""));
            }
        }
        let (fails, warns) = (self.count(Status::Fail), self.count(Status::Warn));
        let verdict = match self.exit_code() {
            Exit::Ok if warns == 0 => "all checks passed".to_string(),
            Exit::Ok => format!("{warns} warning(s), nothing needs an operator now"),
            Exit::Failed => format!("{fails} check(s) failed, {warns} warning(s): an operator is needed"),
            _ => format!("the store could not be reached; {fails} check(s) failed, {warns} warning(s)"),
        };
        out.push_str(&format!("result: {verdict} (exit {})\n", self.exit_code()));
        out
    }

    /// The report as one JSON object.
    pub fn json(&self) -> Value {
        json!({
            "store": self.store,
            "backend": self.backend,
            "now": self.now,
            "epoch_length": self.epoch_length,
            "checks": self.checks,
            "failed": self.count(Status::Fail),
            "warnings": self.count(Status::Warn),
            "unreachable": self.unreachable,
            "exit": self.exit_code().code(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(checks: Vec<Check>, unreachable: bool) -> Report {
        Report {
            store: "sqlite://x.db".into(),
            backend: Some("sqlite"),
            now: 10,
            epoch_length: 3600,
            checks,
            unreachable,
        }
    }

    #[test]
    fn exit_codes_follow_the_worst_finding() {
        let ok = Check::ok("a.b", "fine", Value::Null);
        let warn = Check::warn("c.d", "old", "take one", Value::Null);
        let fail = Check::fail("e.f", "broken", "restore", Value::Null);
        assert_eq!(report(vec![ok.clone()], false).exit_code(), Exit::Ok);
        assert_eq!(report(vec![ok.clone(), warn.clone()], false).exit_code(), Exit::Ok, "warnings alone exit 0");
        assert_eq!(report(vec![warn.clone(), fail.clone()], false).exit_code(), Exit::Failed);
        assert_eq!(report(vec![fail], true).exit_code(), Exit::Unavailable);
        assert_eq!(report(vec![], true).exit_code(), Exit::Unavailable);
    }

    #[test]
    fn text_and_json_carry_every_check_and_its_action() {
        let r = report(
            vec![
                Check::ok("store.open", "opened", json!({"x": 1})),
                Check::fail("store.digests", "epoch 7200 #alpha", "restore a backup", json!([7200])),
            ],
            false,
        );
        let t = r.text();
        assert!(t.contains("ok   store.open     opened"), "{t}");
        assert!(t.contains("FAIL store.digests  epoch 7200 #alpha"), "{t}");
        assert!(t.contains("do: restore a backup"), "{t}");
        assert!(t.trim_end().ends_with("(exit 1)"), "{t}");
        let j = r.json();
        assert_eq!(j["exit"], 1);
        assert_eq!(j["failed"], 1);
        assert_eq!(j["checks"][1]["status"], "fail");
        assert_eq!(j["checks"][1]["value"][0], 7200);
        assert!(j["checks"][0].get("action").is_none());
    }
}
