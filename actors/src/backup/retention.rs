//! Which backups to delete after a new one succeeded (pure). Kept: the newest `keep` backups,
//! plus the newest backup of each of the `keep` most recent UTC days that have one, so hourly
//! backups thin out to daily ones with age instead of vanishing. With `keep = 48` and hourly
//! backups: two days of hourly backups, then one a day for 48 days. Folders left by a backup
//! that never finished (no manifest) are deleted once older than a day, never sooner, so a
//! backup still being written by another process is left alone.

use std::collections::BTreeSet;

/// A complete backup: its id and creation time (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Complete {
    pub id: String,
    pub created_at: i64,
}

/// A folder without a manifest: its id and last modification (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incomplete {
    pub id: String,
    pub modified_at: i64,
}

/// How old an incomplete backup folder must be before it is deleted, seconds.
pub const INCOMPLETE_GRACE_SECS: i64 = 86_400;

/// The ids of the complete backups to delete, oldest first. `keep` below 1 counts as 1: the
/// newest backup is never deleted.
pub fn to_delete(backups: &[Complete], keep: usize) -> Vec<String> {
    let keep = keep.max(1);
    let mut newest_first: Vec<&Complete> = backups.iter().collect();
    newest_first.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| b.id.cmp(&a.id)));
    let mut kept: BTreeSet<&str> = newest_first.iter().take(keep).map(|b| b.id.as_str()).collect();
    let mut days = BTreeSet::new();
    for b in &newest_first {
        let day = b.created_at.div_euclid(86_400);
        if days.contains(&day) {
            continue;
        }
        if days.len() == keep {
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

    fn hourly(from: i64, n: i64) -> Vec<Complete> {
        (0..n).map(|i| Complete { id: format!("b{:05}", from / H + i), created_at: from + i * H }).collect()
    }

    #[test]
    fn keeps_the_newest_and_one_per_day() {
        // Three days of hourly backups (72), keep 5.
        let all = hourly(10 * DAY, 72);
        let gone = to_delete(&all, 5);
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
    fn daily_backups_are_bounded_by_keep_days() {
        // One backup a day for 30 days, keep 3: only the 3 newest days stay.
        let all: Vec<Complete> = (0..30).map(|d| Complete { id: format!("d{d:02}"), created_at: d * DAY + 5 }).collect();
        let gone = to_delete(&all, 3);
        assert_eq!(gone.len(), 27);
        assert!(!gone.contains(&"d29".to_string()) && !gone.contains(&"d27".to_string()));
        assert!(gone.contains(&"d26".to_string()));
    }

    #[test]
    fn few_backups_are_all_kept_and_the_newest_always() {
        let all = hourly(0, 3);
        assert!(to_delete(&all, 48).is_empty());
        assert!(to_delete(&[], 3).is_empty());
        let gone = to_delete(&all, 0);
        assert!(!gone.contains(&all[2].id), "the newest is never deleted");
    }

    #[test]
    fn retention_is_stable() {
        // Applying the plan and planning again deletes nothing more.
        let all = hourly(3 * DAY + 7 * H, 100);
        let gone = to_delete(&all, 10);
        let rest: Vec<Complete> = all.into_iter().filter(|b| !gone.contains(&b.id)).collect();
        assert!(to_delete(&rest, 10).is_empty());
    }

    #[test]
    fn incomplete_folders_wait_a_day() {
        let f = [Incomplete { id: "old".into(), modified_at: 0 }, Incomplete { id: "new".into(), modified_at: DAY }];
        assert_eq!(stale_incomplete(&f, DAY + 10), ["old"]);
        assert!(stale_incomplete(&f, DAY).is_empty());
    }
}
