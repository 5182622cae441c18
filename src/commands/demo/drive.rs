//! The timing loop of the demo's chat: one beat of the seeded [`Traffic`] generator per tick,
//! stamped with the wall clock (the clock the daemon cuts epochs with), fed to the simulated
//! server at the pace of its slowest reader. It counts the lines delivered and remembers who
//! took part in which channel-epoch, so the demo can ask for a proof it knows must exist.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chatseal_actors::clock::epoch::epoch_of;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::twitchsim::traffic::{Target, Traffic};
use crate::twitchsim::FakeTwitch;

/// Lines of one (epoch, channel) by login.
type Tally = BTreeMap<(i64, String), BTreeMap<String, u32>>;

/// What the loop has done so far; read by the progress display while it runs.
#[derive(Debug, Default)]
pub struct DriveStats {
    sent: AtomicU64,
    reconnect_sent: AtomicBool,
    taken_part: Mutex<Tally>,
}

impl DriveStats {
    /// Lines delivered to at least one connection.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// True once the RECONNECT went out.
    pub fn reconnect_sent(&self) -> bool {
        self.reconnect_sent.load(Ordering::Relaxed)
    }

    /// Participants of (epoch, channel), most lines first (ties by login).
    pub fn participants(&self, epoch: i64, channel: &str) -> Vec<String> {
        let tally = match self.taken_part.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        let Some(logins) = tally.get(&(epoch, channel.to_owned())) else {
            return Vec::new();
        };
        let mut by_lines: Vec<(&String, &u32)> = logins.iter().collect();
        by_lines.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        by_lines.into_iter().map(|(login, _)| login.clone()).collect()
    }

    fn record(&self, epoch: i64, channel: &str, login: &str) {
        let mut tally = match self.taken_part.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        *tally.entry((epoch, channel.to_owned())).or_default().entry(login.to_owned()).or_default() += 1;
    }
}

/// Milliseconds since the Unix epoch on the wall clock (0 before 1970, which no host is at).
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Feeds one beat of `traffic` to `fake` every `tick` until `stop` is cancelled.
pub async fn drive(
    fake: FakeTwitch,
    mut traffic: Traffic,
    tick: Duration,
    epoch_len_s: i64,
    stats: Arc<DriveStats>,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(tick);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let ts = now_ms();
        for line in traffic.next_beat(ts) {
            match &line.target {
                Target::Everyone => {
                    fake.broadcast_raw(&line.line);
                    stats.reconnect_sent.store(true, Ordering::Relaxed);
                    stats.sent.fetch_add(1, Ordering::Relaxed);
                }
                Target::Channel(channel) => {
                    let bytes = format!("{}\r\n", line.line).into_bytes();
                    let delivered = tokio::select! {
                        _ = stop.cancelled() => return,
                        n = fake.feed(channel, bytes) => n,
                    };
                    if delivered == 0 {
                        continue;
                    }
                    stats.sent.fetch_add(1, Ordering::Relaxed);
                    if let Some(login) = &line.participant {
                        stats.record(epoch_of(ts.div_euclid(1000), epoch_len_s.max(1)), channel, login);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn participants_come_most_active_first() {
        let stats = DriveStats::default();
        for login in ["b", "a", "c", "c", "a", "c"] {
            stats.record(20, "lacy", login);
        }
        stats.record(40, "lacy", "z");
        assert_eq!(stats.participants(20, "lacy"), ["c", "a", "b"]);
        assert_eq!(stats.participants(40, "lacy"), ["z"]);
        assert!(stats.participants(20, "other").is_empty());
    }

    #[tokio::test]
    async fn lines_reach_the_joined_channel_and_are_counted() {
        use crate::twitchsim::traffic::TrafficConfig;
        use crate::twitchsim::FakeTwitchConfig;
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

        let fake = FakeTwitch::start(FakeTwitchConfig::default()).await.unwrap();
        let mut conn = tokio::net::TcpStream::connect(fake.addr()).await.unwrap();
        conn.write_all(b"NICK justinfan1\r\nJOIN #lacy\r\n").await.unwrap();
        assert!(fake.wait_joined("lacy", Duration::from_secs(5)).await);
        let stats = Arc::new(DriveStats::default());
        let stop = CancellationToken::new();
        let traffic = Traffic::new(TrafficConfig::new(1, &["lacy".to_string()]));
        let task =
            tokio::spawn(drive(fake.clone(), traffic, Duration::from_millis(5), 20, stats.clone(), stop.clone()));
        let mut reader = BufReader::new(conn).lines();
        let mut privmsgs = 0;
        while privmsgs < 20 {
            let line =
                tokio::time::timeout(Duration::from_secs(5), reader.next_line()).await.unwrap().unwrap().unwrap();
            privmsgs += usize::from(line.contains(" PRIVMSG #lacy :"));
        }
        stop.cancel();
        task.await.unwrap();
        assert!(stats.sent() >= 20, "{}", stats.sent());
        let epoch = epoch_of(now_ms() / 1000, 20);
        let seen = stats.participants(epoch, "lacy").len() + stats.participants(epoch - 20, "lacy").len();
        assert!(seen > 0);
        assert!(!stats.reconnect_sent());
    }
}
