//! A store sealed by a real daemon run (sealed epochs with roots, an empty seal, unsealed
//! participation with its dedup ids, coverage, an opt-out with its audit entry) copied
//! SQLite -> PostgreSQL -> SQLite in small chunks: every migrate exits 0, the two SQLite stores
//! are equal in counts and seals, a second run of the same migrate inserts nothing, an
//! interrupted copy is completed by running it again, a row that differs from the source's
//! fails the migrate (70), a store that is not a copy of the source is refused untouched, the PostgreSQL copy keeps generating
//! audit ids after the copied ones, and no password is ever printed.

use std::time::Duration;

use chatseal::commands::opt_out::record;
use chatseal::twitchsim::lines::{privmsg, Chatter};
use chatseal_schema::copy::{compare_stores, table_spec};
use chatseal_schema::Store;

use super::{chatseal, number_after};
use crate::harness::*;

const LEN: i64 = 2;

/// A store filled by a real daemon: two sealed epochs (one with participants, one empty), one
/// epoch still open (participation + dedup ids), then an opt-out with its audit entry.
async fn daemon_store(url: &str) -> (i64, usize) {
    let fake = fake_twitch().await;
    let s =
        settings_for(&fake, url, &["alpha"], &[("CHATSEAL__EPOCH__LENGTH", "2s"), ("CHATSEAL__EPOCH__GRACE", "1s")]);
    let daemon = Daemon::start(s).await;
    assert!(fake.wait_joined("alpha", Duration::from_secs(20)).await);
    let e1 = (now_ms() / 1000).div_euclid(LEN) * LEN + LEN;
    let users = 9;
    for u in 0..users {
        let who = Chatter::new(&format!("viewer{u:02}"), &format!("{}", 500 + u), &format!("Viewer{u:02}"));
        let ts = e1 * 1000 + (u as i64 * 150) % 1900;
        fake.send_raw("alpha", &privmsg("alpha", &who, &format!("m-{u}"), ts, "hi", (u % 3 == 0).then_some(50)));
        // A later epoch, still open when the daemon stops.
        fake.send_raw("alpha", &privmsg("alpha", &who, &format!("late-{u}"), (e1 + 60 * LEN) * 1000, "later", None));
    }
    for epoch in [e1, e1 + LEN] {
        let url = format!("{}/v1/epochs/{epoch}/alpha", daemon.base);
        wait_for(&format!("seal of {epoch}"), Duration::from_secs(30), || async {
            let (status, _) = get_json(&url).await;
            (status == 200).then_some(())
        })
        .await;
    }
    daemon.stop().await.expect("graceful stop");
    fake.shutdown().await;
    let store = Store::open(url).await.unwrap();
    record(&store, "viewer03", "asked", 1_700_000_000).await.unwrap();
    let _ = store.checkpoint().await;
    (e1, users)
}

/// `url` with a password (an existing one is kept), and that password.
fn with_password(url: &str) -> (String, String) {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let Some((userinfo, host)) = rest.split_once('@') else { return (url.to_owned(), String::new()) };
    match userinfo.split_once(':') {
        Some((_, pw)) => (url.to_owned(), pw.to_owned()),
        // Test servers trust local users: the password is not checked, only carried.
        None => (format!("{scheme}://{userinfo}:sekret-pw-42@{host}"), "sekret-pw-42".to_owned()),
    }
}

fn assert_migrated(what: &str, (code, out, err): &(i32, String, String), secret: &str) {
    assert_eq!(*code, 0, "{what}: stdout:\n{out}\nstderr:\n{err}");
    let tables = format!("equal: row counts of {} tables", chatseal_schema::entity::TABLES.len());
    assert!(out.contains(&tables), "{what}: {out}");
    if !secret.is_empty() {
        assert!(!out.contains(secret) && !err.contains(secret), "{what} printed the password:\n{out}\n{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres_and_back_is_equal_and_rerunnable() {
    let dir = tempfile::tempdir().unwrap();
    let first = format!("sqlite://{}", dir.path().join("first.db").display());
    let back = format!("sqlite://{}", dir.path().join("back.db").display());
    let (e1, users) = daemon_store(&first).await;

    let pg = chatseal_schema::testing::fresh_pg_url().await;
    let (middle, secret) = match &pg {
        Some((url, _guard)) => with_password(url),
        None => (format!("sqlite://{}", dir.path().join("middle.db").display()), String::new()),
    };
    let args = ["migrate", "--from", &first, "--to", &middle, "--chunk-rows", "7"];
    assert_migrated("sqlite -> middle", &chatseal(&args, &[]), &secret);

    // The same migrate again: nothing new, nothing conflicting, still equal.
    let again = chatseal(&args, &[]);
    assert_migrated("re-run", &again, &secret);
    let table_lines: Vec<&str> = again.1.lines().filter(|l| l.contains(" read ")).collect();
    assert_eq!(table_lines.len(), chatseal_schema::entity::TABLES.len(), "{}", again.1);
    for l in table_lines {
        let table = l.split_whitespace().next().unwrap_or_default().to_owned();
        assert_eq!(
            number_after(l, &table),
            number_after(&l[l.find("already there").unwrap()..], "already there"),
            "{l}"
        );
        assert_eq!(number_after(&l[l.find(" new ").unwrap()..], "new"), 0, "{l}");
    }

    let args = ["migrate", "--from", &middle, "--to", &back, "--chunk-rows", "5000"];
    assert_migrated("middle -> sqlite", &chatseal(&args, &[]), &secret);

    // The round trip: equal counts, seals and digests, and the seals row for row.
    let (a, b) = (Store::open(&first).await.unwrap(), Store::open(&back).await.unwrap());
    let cmp = compare_stores(&a, &b).await.unwrap();
    assert!(cmp.is_equal(), "{:?}", cmp.differences());
    assert!(cmp.seals_checked >= 2, "{cmp:?}");
    let seals = a.sealed_epochs(None, 100).await.unwrap();
    assert_eq!(seals, b.sealed_epochs(None, 100).await.unwrap());
    let full = seals.iter().find(|s| s.epoch == e1).expect("the first epoch is sealed");
    assert_eq!(full.participants, users as i64);
    assert!(seals.iter().any(|s| s.epoch == e1 + LEN && s.root.is_none()), "an empty seal: {seals:?}");
    for t in ["participation", "seen_ids", "coverage", "audit_log", "opt_outs"] {
        let spec = table_spec(t).unwrap();
        assert!(b.count_rows(&spec).await.unwrap() > 0, "table {t} copied empty");
    }
    assert_eq!(a.sealed_participants(e1, "alpha").await.unwrap(), b.sealed_participants(e1, "alpha").await.unwrap());

    // An interrupted copy (rows missing in the target) is completed by running it again.
    let back_db = sqlx::SqlitePool::connect(&back).await.unwrap();
    // (participation is WITHOUT ROWID: the rows of the first epoch, one per user.)
    sqlx::query("DELETE FROM participation WHERE epoch = (SELECT MIN(epoch) FROM participation)")
        .execute(&back_db)
        .await
        .unwrap();
    sqlx::query("DELETE FROM sealed_participants WHERE idx >= 4").execute(&back_db).await.unwrap();
    let args = ["migrate", "--from", &middle, "--to", &back, "--chunk-rows", "7"];
    let resumed = chatseal(&args, &[]);
    assert_migrated("resumed", &resumed, &secret);
    let line = resumed.1.lines().find(|l| l.trim_start().starts_with("participation")).unwrap();
    assert_eq!(number_after(&line[line.find(" new ").unwrap()..], "new"), users as u64, "{line}");
    assert!(compare_stores(&a, &b).await.unwrap().is_equal());

    // A row that differs from the source's is kept, reported, and makes the migrate fail.
    sqlx::query("UPDATE users SET display_name = 'Changed' WHERE user_hash = (SELECT MAX(user_hash) FROM users)")
        .execute(&back_db)
        .await
        .unwrap();
    back_db.close().await;
    let (code, out, err) = chatseal(&args, &[]);
    assert_eq!(code, 70, "{out}\n{err}");
    assert!(out.contains("differs in display_name (the target's row was kept)"), "{out}");
    assert!(out.contains("DIFFERS: 1 rows of the target differ"), "{out}");

    // A store that is not a copy of the source is refused and left as it was.
    let other = format!("sqlite://{}", dir.path().join("other.db").display());
    let o = Store::open(&other).await.unwrap();
    record(&o, "stranger", "", 1).await.unwrap();
    let (code, out, err) = chatseal(&["migrate", "--from", &first, "--to", &other], &[]);
    assert_eq!(code, 64, "{out}\n{err}");
    assert!(err.contains("not a partial copy"), "{err}");
    assert_eq!(o.count_rows(&table_spec("participation").unwrap()).await.unwrap(), 0);

    // The same store on both sides is a usage error.
    assert_eq!(chatseal(&["migrate", "--from", &first, "--to", &first], &[]).0, 64);

    // The copy keeps generating audit ids after the copied ones.
    let m = Store::open(&middle).await.unwrap();
    record(&m, "newcomer", "", 1_700_000_100).await.expect("an audit entry after the copy");
}
