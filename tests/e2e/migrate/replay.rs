//! `chatseal replay --from FILE` through the real binary: an old log (tags, a logger's time
//! prefix, a duplicate, lines without time, junk, a bot, PING, a blank line) lands in its own
//! epochs; replayed a second time it changes nothing; once an epoch is sealed its lines are
//! counted late and change neither the seal nor its participation.

use chatseal::twitchsim::lines::{privmsg, usernotice, Chatter};
use chatseal_schema::{SignalKind, Store};

use super::{chatseal, number_after};

/// 2024-05-29 12:00:00 UTC, the start of an hour.
const E: i64 = 1_716_984_000;

fn who(login: &str) -> Chatter {
    Chatter::new(login, &format!("{}", login.len() * 1000), &login.to_uppercase())
}

fn first_log() -> String {
    let ms = E * 1000;
    [
        privmsg("chan", &who("ann"), "r-1", ms + 1_000, "hello", None),
        privmsg("chan", &who("bob"), "r-2", ms + 2_000, "cheer100", Some(100)),
        usernotice("chan", &who("cat"), "r-3", ms + 3_000, "sub", &[]),
        "[2024-05-29 12:10:00] @id=r-4;user-id=77;display-name=Dan :dan!dan@dan.tmi.twitch.tv PRIVMSG #chan :no tmi-sent-ts".into(),
        privmsg("chan", &who("ann"), "r-1", ms + 1_000, "hello", None),
        ":eve!eve@eve.tmi.twitch.tv PRIVMSG #chan :no time at all".into(),
        "this is not irc".into(),
        privmsg("chan", &who("nightbot"), "r-6", ms + 4_000, "!commands", None),
        "PING :tmi.twitch.tv".into(),
        "   ".into(),
        format!("[2024-05-29 13:00:05] {}", privmsg("chan", &who("ann"), "r-5", ms + 3_605_000, "next hour", None)),
    ]
    .join("\r\n")
}

fn replay(store_url: &str, log: &std::path::Path) -> String {
    let env = [("CHATSEAL__STORE__URL", store_url)];
    let (code, out, err) = chatseal(&["replay", "--from", &log.display().to_string()], &env);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    out
}

async fn logins(store: &Store, epoch: i64) -> Vec<(String, i64, i64)> {
    let rows = store.participants_for_seal(epoch, "chan").await.unwrap();
    rows.into_iter()
        .map(|r| (r.login, r.signals[SignalKind::Message], r.signals[SignalKind::Bits] + r.signals[SignalKind::Sub]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_replayed_twice_counts_once_and_sealed_epochs_never_change() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("chatseal.db").display());
    let log = dir.path().join("chan.log");
    std::fs::write(&log, first_log()).unwrap();

    let out = replay(&url, &log);
    assert_eq!(number_after(&out, "lines read:"), 11, "{out}");
    assert_eq!(number_after(&out, "participant events:"), 6, "{out}");
    assert!(out.contains("(1 timed by the line's [time] prefix)"), "{out}");
    assert_eq!(number_after(&out, "newly counted:"), 5, "{out}");
    assert_eq!(number_after(&out, "duplicates:"), 1, "{out}");
    assert_eq!(number_after(&out, "late:"), 0, "{out}");
    assert_eq!(number_after(&out, "discarded:"), 1, "{out}");
    assert_eq!(number_after(&out, "rejected:"), 2, "{out}");
    assert!(out.contains("no_timestamp 1"), "{out}");
    assert_eq!(number_after(&out, "other lines:"), 1, "{out}");
    assert_eq!(number_after(&out, "blank:"), 1, "{out}");

    let store = Store::open(&url).await.unwrap();
    let first = logins(&store, E).await;
    let mut names: Vec<&str> = first.iter().map(|r| r.0.as_str()).collect();
    names.sort();
    assert_eq!(names, ["ann", "bob", "cat", "dan"]);
    assert!(first.contains(&("bob".into(), 1, 100)) && first.contains(&("cat".into(), 0, 1)), "{first:?}");
    assert_eq!(logins(&store, E + 3600).await, [("ann".to_string(), 1, 0)]);

    // The same log again: every event is a duplicate, nothing changes.
    let out = replay(&url, &log);
    assert_eq!(number_after(&out, "newly counted:"), 0, "{out}");
    assert_eq!(number_after(&out, "duplicates:"), 6, "{out}");
    assert_eq!(logins(&store, E).await, first);

    // Seal the first hour; its lines (old ids and new ones) are late from then on.
    let env = [("CHATSEAL__STORE__URL", url.as_str())];
    let (code, out, err) = chatseal(&["seal", "--epoch", &E.to_string(), "--channel", "chan"], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    let sealed = store.sealed_epoch(E, "chan").await.unwrap().expect("sealed");
    let more = [
        privmsg("chan", &who("zed"), "r-10", E * 1000 + 9_000, "too late", None),
        privmsg("chan", &who("ann"), "r-1", E * 1000 + 1_000, "hello", None),
        privmsg("chan", &who("yan"), "r-11", (E + 3600) * 1000 + 9_000, "still open", None),
    ]
    .join("\n");
    let log2 = dir.path().join("more.log");
    std::fs::write(&log2, more).unwrap();
    let out = replay(&url, &log2);
    assert_eq!(number_after(&out, "late:"), 2, "{out}");
    assert_eq!(number_after(&out, "newly counted:"), 1, "{out}");
    assert_eq!(store.sealed_epoch(E, "chan").await.unwrap(), Some(sealed));
    assert_eq!(logins(&store, E).await, first);
    assert_eq!(store.participants_for_seal(E + 3600, "chan").await.unwrap().len(), 2);
}

/// A Shared Chat copy of a message written in #origin, as shown in #chan.
fn shared_copy(id: &str, ms: i64) -> String {
    format!(
        "@badge-info=;badges=;color=#0000FF;display-name=SharedViewer;emotes=;flags=;id={id};mod=0;\
         room-id=40934651;source-badge-info=;source-badges=;source-id={id};source-room-id=11148817;\
         subscriber=0;tmi-sent-ts={ms};turbo=0;user-id=987123456;user-type= \
         :sharedviewer!sharedviewer@sharedviewer.tmi.twitch.tv PRIVMSG #chan :hello both rooms"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insane_timestamps_and_shared_chat_copies_in_a_log_count_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("chatseal.db").display());
    let log = dir.path().join("chan.log");
    let ms = E * 1000;
    let lines = [
        privmsg("chan", &who("early"), "t-1", -5, "1969?", None),
        privmsg("chan", &who("late"), "t-2", 99_999_999_999_999, "5138?", None),
        shared_copy("t-3", ms + 2_000),
        privmsg("chan", &who("ann"), "t-4", ms + 1_000, "now", None),
    ];
    std::fs::write(&log, lines.join("\r\n")).unwrap();
    let env = [("CHATSEAL__STORE__URL", url.as_str()), ("CHATSEAL__EPOCH__LENGTH", "10s")];
    let (code, out, err) = chatseal(&["replay", "--from", &log.display().to_string()], &env);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(number_after(&out, "rejected:"), 2, "{out}");
    assert!(out.contains("bad_timestamp 2"), "{out}");
    assert_eq!(number_after(&out, "discarded:"), 1, "{out}");
    assert!(out.contains("shared_chat_copy 1"), "{out}");
    assert_eq!(number_after(&out, "newly counted:"), 1, "{out}");

    let store = Store::open(&url).await.unwrap();
    // Nothing in 1969 (epoch -10 of 10 s epochs) nor in 5138; only ann, in her own epoch.
    for epoch in [-10, 99_999_999_990] {
        assert!(store.participants_for_seal(epoch, "chan").await.unwrap().is_empty(), "epoch {epoch}");
    }
    let ann: Vec<String> = store.participants_for_seal(E, "chan").await.unwrap().into_iter().map(|r| r.login).collect();
    assert_eq!(ann, ["ann"]);
}
