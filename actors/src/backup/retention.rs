//! Which backups to delete after a new one succeeded (pure). Kept: the newest `keep` backups,
//! plus the newest backup of each of the `keep_daily` most recent UTC days that have one, so
//! hourly backups thin out to daily ones with age instead of vanishing. With `keep = 48`,
//! `keep_daily = 30` and hourly backups: two days of hourly backups, then one a day back to
//! 30 days. Folders left by a backup
//! that never finished (no manifest) are deleted once older than a day, never sooner, so a
//! backup still being written by another process is left alone.

use std::collections::BTreeSet;

/// A complete backup: its id and creation time (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Complete {
    /// The backup id.
    pub id: String,
    /// The manifest's `created_at`, Unix seconds.
    pub created_at: i64,
}

/// A folder without a manifest: its id and last modification (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incomplete {
    /// The folder's name.
    pub id: String,
    /// The folder's last modification, Unix seconds.
    pub modified_at: i64,
}

/// How many backups to keep (`backup.keep`, `backup.keep_daily`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The newest backups kept, whatever their day (below 1 counts as 1).
    pub keep: u32,
    /// Days, counted back from the newest day that has a backup, whose newest backup is kept.
    pub keep_daily: u32,
}

/// How old an incomplete backup folder must be before it is deleted, seconds.
pub const INCOMPLETE_GRACE_SECS: i64 = 86_400;

/// The ids of the complete backups to delete, oldest first. `keep` below 1 counts as 1: the
/// newest backup is never deleted.
pub fn to_delete(backups: &[Complete], r: Retention) -> Vec<String> {
    let keep = r.keep.max(1) as usize;
    let mut newest_first: Vec<&Complete> = backups.iter().collect();
    newest_first.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| b.id.cmp(&a.id)));
    let mut kept: BTreeSet<&str> = newest_first.iter().take(keep).map(|b| b.id.as_str()).collect();
    let mut days = BTreeSet::new();
    for b in &newest_first {
        let day = b.created_at.div_euclid(86_400);
        if days.contains(&day) {
            continue;
        }
        if days.len() == r.keep_daily as usize {
            break;
        }
        days.insert(day);
        kept.insert(b.id.as_str());
    }
    newest_first.iter().rev().filter(|b| !kept.contains(b.id.as_str())).map(|b| b.id.clone()).collect()
}

/// The ids of incomplete folders old enough to delete.
pub fn stale_incomplete(folders: &[Incomplete], now: i64) -> Vec<String> {
    folders.iter().filter(|f| now - f.modified_at > INCOMPLETE_GRACE_SECS).map(|f| f.id.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600;
    const DAY: i64 = 86_400;

    fn r(keep: u32, keep_daily: u32) -> Retention {
        Retention { keep, keep_daily }
    }

    fn hourly(from: i64, n: i64) -> Vec<Complete> {
        (0..n).map(|i| Complete { id: format!("b{:05}", from / H + i), created_at: from + i * H }).collect()
    }

    #[test]
    fn keeps_the_newest_and_one_per_day() {
        // Three days of hourly backups (72), keep 5 plus 5 days.
        let all = hourly(10 * DAY, 72);
        let gone = to_delete(&all, r(5, 5));
        let kept: Vec<&Complete> = all.iter().filter(|b| !gone.contains(&b.id)).collect();
        // 5 newest (all on day 12) plus the newest of days 11 and 10 (23:00 each).
        assert_eq!(kept.len(), 7, "{kept:?}");
        assert!(kept.iter().any(|b| b.created_at == 11 * DAY + 23 * H));
        assert!(kept.iter().any(|b| b.created_at == 10 * DAY + 23 * H));
        assert_eq!(gone.len(), 65);
        // Oldest first.
        assert_eq!(gone.first().map(String::as_str), Some(all[0].id.as_str()));
    }

    #[test]
    fn daily_backups_are_bounded_by_keep_daily() {
        // One backup a day for 30 days, keep 1 plus 3 days: only the 3 newest days stay.
        let all: Vec<Complete> =
            (0..30).map(|d| Complete { id: format!("d{d:02}"), created_at: d * DAY + 5 }).collect();
        let gone = to_delete(&all, r(1, 3));
        assert_eq!(gone.len(), 27);
        assert!(!gone.contains(&"d29".to_string()) && !gone.contains(&"d27".to_string()));
        assert!(gone.contains(&"d26".to_string()));
        // keep counts too: 5 newest, whatever the days.
        assert_eq!(to_delete(&all, r(5, 3)).len(), 25);
    }

    #[test]
    fn keep_and_keep_daily_are_independent() {
        // 40 days of hourly backups: keep 48, 30 days. The 48 newest cover the last two days;
        // the newest of each of the 30 newest days adds 28 more (the two newest days are
        // already in).
        let all = hourly(100 * DAY, 40 * 24);
        let gone = to_delete(&all, r(48, 30));
        let kept: Vec<&Complete> = all.iter().filter(|b| !gone.contains(&b.id)).collect();
        assert_eq!(kept.len(), 48 + 28, "{}", kept.len());
        let oldest = kept.iter().map(|b| b.created_at).min().unwrap();
        assert_eq!(oldest.div_euclid(DAY), 100 + 40 - 30, "one a day reaches 30 days back, no further");
        // keep_daily = 0: only the newest `keep`.
        assert_eq!(all.len() - to_delete(&all, r(48, 0)).len(), 48);
    }

    #[test]
    fn few_backups_are_all_kept_and_the_newest_always() {
        let all = hourly(0, 3);
        assert!(to_delete(&all, r(48, 30)).is_empty());
        assert!(to_delete(&[], r(3, 3)).is_empty());
        let gone = to_delete(&all, r(0, 0));
        assert!(!gone.contains(&all[2].id), "the newest is never deleted");
    }

    #[test]
    fn retention_is_stable() {
        // Applying the plan and planning again deletes nothing more.
        let all = hourly(3 * DAY + 7 * H, 100);
        let gone = to_delete(&all, r(10, 10));
        let rest: Vec<Complete> = all.into_iter().filter(|b| !gone.contains(&b.id)).collect();
        assert!(to_delete(&rest, r(10, 10)).is_empty());
    }

    #[test]
    fn incomplete_folders_wait_a_day() {
        let f = [Incomplete { id: "old".into(), modified_at: 0 }, Incomplete { id: "new".into(), modified_at: DAY }];
        assert_eq!(stale_incomplete(&f, DAY + 10), ["old"]);
        assert!(stale_incomplete(&f, DAY).is_empty());
    }
}
