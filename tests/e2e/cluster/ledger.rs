//! The ledger: every chat line the test makes the fake Twitch server write, with how many
//! connections it went to, and the checkers that hold the store to it. A line delivered to at
//! least one connection is counted by the store at most once, and exactly once when the test
//! says a reader that stayed alive got it; every sealed (epoch, channel) equals the seal the
//! daemon's own `build_seal` (the ONE merkle module) makes from the ledger's lines, which is
//! what a single daemon makes from the same lines.
//!
//! Lines are tagged with a phase (the test moves it between kills and restarts): logins carry
//! it, so "is phase P durable" is a question the store can answer per login.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chatseal::twitchsim::lines::{privmsg, Chatter};
use chatseal::twitchsim::FakeTwitch;
use chatseal_actors::format::{to_hex, user_hash};
use chatseal_actors::sealer::build::build_seal;
use chatseal_schema::{ParticipantRow, SealedEpoch, SignalKind, Store};

use crate::harness::now_ms;

/// Chatters per channel and phase.
pub const CHATTERS: u64 = 4;

/// Whether the store must count a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A reader that stayed alive got it: counted exactly once.
    Once,
    /// Its only readers may have died before making it durable: counted at most once.
    AtMostOnce,
}

/// One line written by the fake server.
#[derive(Debug, Clone)]
pub struct Sent {
    /// Order of writing; the line's message id is `cl-<seq>`.
    pub seq: u64,
    pub channel: String,
    pub login: String,
    pub ts_ms: i64,
    pub phase: u32,
    /// Connections joined to the channel that got it (0: nobody was joined, it cannot count).
    pub receivers: usize,
}

/// (epoch, channel) -> login -> count.
pub type Counts = BTreeMap<(i64, String), BTreeMap<String, i64>>;

pub struct Ledger {
    fake: FakeTwitch,
    epoch_len: i64,
    seq: AtomicU64,
    phase: AtomicU32,
    lines: Mutex<Vec<Sent>>,
}

impl Ledger {
    pub fn new(fake: &FakeTwitch, epoch_len: i64) -> Arc<Ledger> {
        Arc::new(Ledger {
            fake: fake.clone(),
            epoch_len,
            seq: AtomicU64::new(0),
            phase: AtomicU32::new(0),
            lines: Mutex::new(Vec::new()),
        })
    }

    pub fn epoch_of(&self, ts_ms: i64) -> i64 {
        ts_ms.div_euclid(1000).div_euclid(self.epoch_len) * self.epoch_len
    }

    /// Starts phase `p`: lines from now on carry it.
    pub fn set_phase(&self, p: u32) {
        self.phase.store(p, Ordering::SeqCst);
    }

    pub fn phase(&self) -> u32 {
        self.phase.load(Ordering::SeqCst)
    }

    /// Login of chatter `k` of `channel` in phase `p`.
    pub fn login(channel: &str, p: u32, k: u64) -> String {
        format!("{channel}p{p}u{k}")
    }

    /// Writes one PRIVMSG (unique id, tmi-sent-ts now) to every connection joined to `channel`
    /// and records it; returns how many connections got it.
    pub fn send(&self, channel: &str) -> usize {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst);
        let phase = self.phase();
        let login = Ledger::login(channel, phase, seq % CHATTERS);
        let who = Chatter::new(&login, &format!("{}", 9_000_000 + seq % CHATTERS), &login);
        let ts_ms = now_ms();
        let line = privmsg(channel, &who, &format!("cl-{seq}"), ts_ms, "hello cluster", None);
        // Lock first: a checker never sees a line the server wrote that is not in the ledger.
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let receivers = self.fake.send_raw(channel, &line);
        lines.push(Sent { seq, channel: channel.to_owned(), login, ts_ms, phase, receivers });
        receivers
    }

    /// A line that the server never wrote (at `ts_ms`), for the checkers' own tests.
    pub fn record_phantom(&self, channel: &str, ts_ms: i64) {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst);
        let phase = self.phase();
        let login = Ledger::login(channel, phase, seq % CHATTERS);
        self.record_sent(Sent { seq, channel: channel.to_owned(), login, ts_ms, phase, receivers: 1 });
    }

    /// Records a line as written, for the checkers' own tests.
    pub fn record_sent(&self, line: Sent) {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
    }

    pub fn lines(&self) -> Vec<Sent> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Lines delivered to at least one connection.
    pub fn delivered(&self) -> usize {
        self.lines().iter().filter(|l| l.receivers > 0).count()
    }

    /// Counts of the lines `keep` selects among those delivered to someone.
    pub fn counts(&self, keep: impl Fn(&Sent) -> bool) -> Counts {
        let mut out = Counts::new();
        for l in self.lines().iter().filter(|l| l.receivers > 0 && keep(l)) {
            *out.entry((self.epoch_of(l.ts_ms), l.channel.clone())).or_default().entry(l.login.clone()).or_default() +=
                1;
        }
        out
    }

    /// Every (epoch, channel) some delivered line counts in.
    pub fn keys(&self) -> Vec<(i64, String)> {
        self.counts(|_| true).into_keys().collect()
    }

    /// True when the store holds every delivered line of `phase` (and no more).
    pub async fn phase_durable(&self, store: &Store, phase: u32) -> bool {
        let want = self.counts(|l| l.phase == phase);
        for ((epoch, channel), logins) in &want {
            let Ok(rows) = store.participants_for_seal(*epoch, channel).await else { return false };
            let have: BTreeMap<String, i64> = rows
                .into_iter()
                .filter(|r| logins.contains_key(&r.login))
                .map(|r| (r.login, r.signals[SignalKind::Message]))
                .collect();
            if &have != logins {
                return false;
            }
        }
        true
    }

    /// The exactly-once check: for every (epoch, channel, login), the store's message count
    /// lies between the lines that must count (`expect` says `Once`) and all delivered lines;
    /// and the store counts no login the ledger never wrote. Err lists what differs.
    pub async fn check_counts(&self, store: &Store, expect: impl Fn(&Sent) -> Expect) -> Result<usize, String> {
        let lines = self.lines();
        let mut lower = Counts::new();
        let mut upper = Counts::new();
        for l in lines.iter().filter(|l| l.receivers > 0) {
            let key = (self.epoch_of(l.ts_ms), l.channel.clone());
            *upper.entry(key.clone()).or_default().entry(l.login.clone()).or_default() += 1;
            let lo = lower.entry(key).or_default().entry(l.login.clone()).or_default();
            if expect(l) == Expect::Once {
                *lo += 1;
            }
        }
        let mut problems = Vec::new();
        let mut counted = 0usize;
        for (key, up) in &upper {
            let rows = store
                .participants_for_seal(key.0, &key.1)
                .await
                .map_err(|e| format!("reading participants of epoch {} #{}: {e}", key.0, key.1))?;
            let have: BTreeMap<String, i64> =
                rows.into_iter().map(|r| (r.login, r.signals[SignalKind::Message])).collect();
            for (login, n) in &have {
                if !up.contains_key(login) {
                    problems.push(format!(
                        "epoch {} #{} {login}: the store counts {n} but the ledger wrote no such line",
                        key.0, key.1
                    ));
                }
            }
            for (login, hi) in up {
                let lo = lower[key][login];
                let got = have.get(login).copied().unwrap_or(0);
                counted += got as usize;
                if got < lo || got > *hi {
                    let what = if got > *hi { "counted twice" } else { "lost" };
                    let ids: Vec<String> = lines
                        .iter()
                        .filter(|l| l.receivers > 0 && &l.login == login && l.channel == key.1)
                        .take(5)
                        .map(|l| format!("cl-{}", l.seq))
                        .collect();
                    problems.push(format!("epoch {} #{} {login}: store {got}, ledger wants {lo}..={hi} ({what}); its lines include {ids:?}", key.0, key.1));
                }
            }
        }
        if problems.is_empty() {
            Ok(counted)
        } else {
            let n = problems.len();
            problems.truncate(20);
            Err(format!(
                "{n} (epoch, channel, login) counts differ from the ledger ({} lines, {} delivered):\n  {}",
                lines.len(),
                lines.iter().filter(|l| l.receivers > 0).count(),
                problems.join("\n  ")
            ))
        }
    }

    /// The seal a single daemon makes of (`epoch`, `channel`) from the ledger's delivered lines:
    /// the daemon's own `build_seal` with the default sealing settings.
    pub fn expected_seal(&self, epoch: i64, channel: &str) -> chatseal_schema::NewSeal {
        let mut by_login: BTreeMap<String, ParticipantRow> = BTreeMap::new();
        for l in
            self.lines().iter().filter(|l| l.receivers > 0 && l.channel == channel && self.epoch_of(l.ts_ms) == epoch)
        {
            let ts = l.ts_ms.div_euclid(1000);
            let row = by_login.entry(l.login.clone()).or_insert_with(|| ParticipantRow {
                user_hash: to_hex(&user_hash(&l.login)),
                login: l.login.clone(),
                first_seen: ts,
                last_seen: ts,
                signals: Default::default(),
            });
            row.first_seen = row.first_seen.min(ts);
            row.last_seen = row.last_seen.max(ts);
            row.signals[SignalKind::Message] += 1;
        }
        let settings =
            chatseal::settings::load_from(None, &[("CHATSEAL__TWITCH__CHANNELS".to_owned(), channel.to_owned())])
                .expect("default settings load");
        let cfg = chatseal::daemon::wiring::seal_config(&settings);
        build_seal(epoch, channel, by_login.into_values().collect(), &cfg, &HashSet::new(), 1.0, 0)
            .expect("seal of the ledger builds")
    }

    /// Every sealed (epoch, channel) of the ledger equals the seal built from the ledger
    /// (roots, participant count), for the channels `channels` selects; Err lists the differences. Returns how many were compared.
    pub async fn check_seals(&self, store: &Store, channels: impl Fn(&str) -> bool) -> Result<usize, String> {
        let mut problems = Vec::new();
        let mut compared = 0;
        for (epoch, channel) in self.keys().into_iter().filter(|(_, c)| channels(c)) {
            let Some(seal) = store
                .sealed_epoch(epoch, &channel)
                .await
                .map_err(|e| format!("reading seal of epoch {epoch} #{channel}: {e}"))?
            else {
                continue;
            };
            compared += 1;
            let want = self.expected_seal(epoch, &channel);
            if seal.root != want.root
                || seal.claim_root != want.claim_root
                || seal.participants != want.participants.len() as i64
            {
                problems.push(format!(
                    "epoch {epoch} #{channel}: sealed root {:?} claim root {:?} with {} participants; the ledger's lines make {:?} {:?} with {}",
                    seal.root, seal.claim_root, seal.participants, want.root, want.claim_root, want.participants.len()
                ));
            }
        }
        if problems.is_empty() {
            Ok(compared)
        } else {
            Err(problems.join("\n"))
        }
    }

    /// Waits (bounded) until every (epoch, channel) of the ledger up to its last epoch is sealed.
    pub async fn wait_sealed(&self, store: &Store, within: Duration) {
        let keys = self.keys();
        crate::harness::wait_for(&format!("seals of the ledger's {} (epoch, channel)s", keys.len()), within, || {
            let keys = keys.clone();
            async move {
                for (epoch, channel) in &keys {
                    if !matches!(store.sealed_epoch(*epoch, channel).await, Ok(Some(_))) {
                        return None;
                    }
                }
                Some(())
            }
        })
        .await
    }
}

/// Every seal in the store over the ledger's epochs: (epoch, channel) -> the seal.
pub async fn seal_snapshot(store: &Store) -> BTreeMap<(i64, String), SealedEpoch> {
    let seals = store.seals_between(0, i64::MAX / 2).await.expect("read seals");
    seals.into_iter().map(|s| ((s.epoch, s.channel.clone()), s)).collect()
}

/// A load generator: `rate` lines per second spread over `channels`, until stopped.
pub struct Pump {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Pump {
    pub fn start(ledger: &Arc<Ledger>, channels: &[String], rate: u32) -> Pump {
        let stop = Arc::new(AtomicBool::new(false));
        let (ledger, channels, flag) = (Arc::clone(ledger), channels.to_vec(), Arc::clone(&stop));
        let task = tokio::spawn(async move {
            let tick = Duration::from_millis(20);
            let per_tick = (rate as usize / 50).max(1);
            let mut i = 0usize;
            let mut interval = tokio::time::interval(tick);
            while !flag.load(Ordering::SeqCst) {
                interval.tick().await;
                for _ in 0..per_tick {
                    ledger.send(&channels[i % channels.len()]);
                    i += 1;
                }
            }
        });
        Pump { stop, task }
    }

    pub async fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}
