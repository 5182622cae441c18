//! The channel set on both engines: changes with their audit rows and version, the config
//! list applied by difference with the one applied last (seeding at first start), and two
//! changes at once never sharing a version.

use std::collections::BTreeSet;

use chatseal_schema::queries::channels::ChangedBy;

use crate::common::stores;

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn changes_are_audited_and_counted() {
    for (backend, store, _guard) in stores().await {
        assert_eq!(store.channel_set().await.unwrap(), Vec::<String>::new(), "{backend:?}");
        assert_eq!(store.channel_set_version().await.unwrap(), 0);
        let c = store.change_channels(&names(&["lacy", "beta"]), &[], ChangedBy::Cli, 100).await.unwrap();
        assert_eq!((c.added.clone(), c.version), (names(&["lacy", "beta"]), 1), "{backend:?}");
        let c =
            store.change_channels(&names(&["lacy"]), &names(&["beta", "nope"]), ChangedBy::Admin, 200).await.unwrap();
        assert_eq!(c.added, Vec::<String>::new());
        assert_eq!(c.removed, names(&["beta"]));
        assert_eq!(c.unchanged, names(&["lacy", "nope"]));
        assert_eq!(c.version, 2, "{backend:?}");
        // Nothing changed: the version stays, so pollers see no change.
        let c = store.change_channels(&names(&["lacy"]), &[], ChangedBy::Cli, 300).await.unwrap();
        assert_eq!(c.version, 2);
        assert_eq!(store.channel_set().await.unwrap(), names(&["lacy"]));
        let rows = store.channel_rows().await.unwrap();
        assert_eq!((rows[0].added_at, rows[0].added_by.as_str()), (100, "cli"));
        let log = store.audit_log(10).await.unwrap();
        let got: Vec<(String, String, String, i64)> =
            log.iter().map(|r| (r.action.clone(), r.subject.clone(), r.detail.clone(), r.at)).collect();
        assert_eq!(
            got,
            vec![
                ("channel_remove".into(), "#beta".into(), "by=admin".into(), 200),
                ("channel_add".into(), "#beta".into(), "by=cli".into(), 100),
                ("channel_add".into(), "#lacy".into(), "by=cli".into(), 100),
            ],
            "{backend:?}: one audit row per actual change, newest first"
        );
    }
}

#[tokio::test]
async fn the_config_list_is_applied_by_its_difference_with_the_last_applied() {
    for (backend, store, _guard) in stores().await {
        // First start: nothing applied yet, the whole list seeds the set.
        let c = store.apply_config_channels(&set(&["a", "b"]), 10).await.unwrap();
        assert_eq!(c.added, names(&["a", "b"]), "{backend:?}");
        assert_eq!(store.channels_config_applied().await.unwrap(), set(&["a", "b"]));
        // By hand: b removed, x added.
        store.change_channels(&names(&["x"]), &names(&["b"]), ChangedBy::Cli, 20).await.unwrap();
        // The same config again (a restart, or SIGHUP without an edit): nothing changes.
        let c = store.apply_config_channels(&set(&["a", "b"]), 30).await.unwrap();
        assert!(c.added.is_empty() && c.removed.is_empty(), "{backend:?}: {c:?}");
        assert_eq!(store.channel_set().await.unwrap(), names(&["a", "x"]), "changes by hand stay");
        // The config gains c and loses a: exactly that changes.
        let c = store.apply_config_channels(&set(&["b", "c"]), 40).await.unwrap();
        assert_eq!((c.added, c.removed), (names(&["c"]), names(&["a"])), "{backend:?}");
        assert_eq!(store.channel_set().await.unwrap(), names(&["c", "x"]));
        let log = store.audit_log(1).await.unwrap();
        assert_eq!((log[0].action.as_str(), log[0].detail.as_str()), ("channel_remove", "by=config"));
    }
}

#[tokio::test]
async fn concurrent_changes_each_get_their_own_version() {
    for (backend, store, _guard) in stores().await {
        let mut tasks = Vec::new();
        for i in 0..8 {
            let s = store.clone();
            tasks
                .push(tokio::spawn(async move { s.change_channels(&[format!("c{i}")], &[], ChangedBy::Cli, i).await }));
        }
        let mut versions = BTreeSet::new();
        for t in tasks {
            versions.insert(t.await.unwrap().unwrap().version);
        }
        assert_eq!(store.channel_set_version().await.unwrap(), 8, "{backend:?}");
        assert_eq!(store.channel_set().await.unwrap().len(), 8);
        assert_eq!(versions, (1..=8).collect::<BTreeSet<i64>>(), "{backend:?}: each change sees its own version");
    }
}
