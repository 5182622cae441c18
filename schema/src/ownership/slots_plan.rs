//! Channel slots (cluster.md, "Channel slots"): every channel of the cluster's set has
//! `replicas` slots, each held by one live member; no member holds two slots of one channel;
//! members' counts differ by at most one when the numbers allow it; and nothing flaps: a
//! member that joins takes slots over make before break (the new
//! holder is named `next`, joins, says it is ready, and only then becomes the holder, so a
//! channel never has fewer readers than before). A pure function of the rows, the channel set
//! and the live members, run by whichever member ticks, under a lock on the table: any member
//! computes the same plan from the same state.

use std::collections::{BTreeMap, BTreeSet};

/// One slot as stored.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Slot {
    /// The channel login.
    pub channel: String,
    /// The slot number within the channel, 0 to `replicas - 1`.
    pub slot: u32,
    /// The member reading the channel for this slot; None while unowned.
    pub holder: Option<String>,
    /// The member taking the slot over (make before break).
    pub next: Option<String>,
    /// `next` has joined the channel and reads it.
    pub next_ready: bool,
}

/// What changed in a plan, for metrics and logs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlanNotes {
    /// Slots whose holder's lease ran out and that got a new holder now.
    pub taken_over: Vec<(String, u32, String)>,
}

fn load(slots: &[Slot], m: &str) -> usize {
    let held = slots.iter().filter(|s| s.holder.as_deref() == Some(m) && s.next.is_none()).count();
    let incoming = slots.iter().filter(|s| s.next.as_deref() == Some(m)).count();
    held + incoming
}

fn reads(slots: &[Slot], channel: &str, m: &str) -> bool {
    slots.iter().any(|s| s.channel == channel && (s.holder.as_deref() == Some(m) || s.next.as_deref() == Some(m)))
}

/// The next state of the slots: `current` rows, the cluster's `channels`, `replicas` per
/// channel and the `live` members (instance names). Sorted by (channel, slot).
pub fn plan(
    current: &[Slot],
    channels: &BTreeSet<String>,
    replicas: u32,
    live: &BTreeSet<String>,
) -> (Vec<Slot>, PlanNotes) {
    let mut notes = PlanNotes::default();
    let existing: BTreeMap<(String, u32), Slot> =
        current.iter().map(|s| ((s.channel.clone(), s.slot), s.clone())).collect();
    let mut slots: Vec<Slot> = Vec::new();
    for c in channels {
        for n in 0..replicas {
            let mut s = existing.get(&(c.clone(), n)).cloned().unwrap_or(Slot {
                channel: c.clone(),
                slot: n,
                holder: None,
                next: None,
                next_ready: false,
            });
            let dead_holder = s.holder.as_ref().is_some_and(|h| !live.contains(h));
            if dead_holder {
                s.holder = None;
            }
            if s.next.as_ref().is_some_and(|h| !live.contains(h)) {
                s.next = None;
                s.next_ready = false;
            }
            // A finished hand-over, or a free slot with a member already on its way: the
            // member that reads it holds it.
            if s.next.is_some() && (s.next_ready || s.holder.is_none()) {
                if dead_holder {
                    if let Some(n) = &s.next {
                        notes.taken_over.push((s.channel.clone(), s.slot, n.clone()));
                    }
                }
                s.holder = s.next.take();
                s.next_ready = false;
            } else if dead_holder {
                // Marked for the free-slot pass below.
                s.next_ready = false;
            }
            slots.push(s);
        }
    }
    // No member holds two slots of one channel: the later slot is freed.
    for i in 0..slots.len() {
        let (c, h) = (slots[i].channel.clone(), slots[i].holder.clone());
        if let Some(h) = h {
            if slots[..i]
                .iter()
                .any(|s| s.channel == c && (s.holder.as_ref() == Some(&h) || s.next.as_ref() == Some(&h)))
            {
                slots[i].holder = None;
            }
        }
        if let Some(n) = slots[i].next.clone() {
            let dup = slots.iter().enumerate().any(|(j, s)| {
                j != i && s.channel == c && (s.holder.as_ref() == Some(&n) || (j < i && s.next.as_ref() == Some(&n)))
            });
            if dup {
                slots[i].next = None;
                slots[i].next_ready = false;
            }
        }
    }
    // Free slots go to the least loaded live member not reading that channel yet.
    let was_dead: BTreeSet<(String, u32)> = current
        .iter()
        .filter(|s| s.holder.as_ref().is_some_and(|h| !live.contains(h)))
        .map(|s| (s.channel.clone(), s.slot))
        .collect();
    for i in 0..slots.len() {
        if slots[i].holder.is_some() {
            continue;
        }
        let c = slots[i].channel.clone();
        let pick = live.iter().filter(|m| !reads(&slots, &c, m)).min_by_key(|m| (load(&slots, m), (*m).clone()));
        if let Some(m) = pick {
            if was_dead.contains(&(c.clone(), slots[i].slot)) {
                notes.taken_over.push((c.clone(), slots[i].slot, m.clone()));
            }
            slots[i].holder = Some(m.clone());
        }
    }
    // Balance, make before break: while the most loaded member has two more than the least
    // loaded, one of its slots (whose channel the other does not read, and not already being
    // handed over) gets that member as `next`. The old holder keeps reading until the new one
    // is ready, so moves can run side by side without a channel ever losing a reader.
    if live.len() > 1 {
        for _ in 0..slots.len() {
            let by_load: Vec<(usize, String)> = live.iter().map(|m| (load(&slots, m), m.clone())).collect();
            let most = by_load.iter().max_by_key(|(l, m)| (*l, std::cmp::Reverse(m.clone()))).cloned();
            let least = by_load.iter().min_by_key(|(l, m)| (*l, m.clone())).cloned();
            let (Some((max_l, max_m)), Some((min_l, min_m))) = (most, least) else { break };
            if max_l <= min_l + 1 {
                break;
            }
            let candidate = (0..slots.len()).find(|&i| {
                slots[i].holder.as_deref() == Some(max_m.as_str())
                    && slots[i].next.is_none()
                    && !reads(&slots, &slots[i].channel, &min_m)
            });
            let Some(i) = candidate else { break };
            slots[i].next = Some(min_m);
            slots[i].next_ready = false;
        }
    }
    (slots, notes)
}

/// A graceful stop, make before break: every slot `me` holds that is not on its way to another
/// live member already gets as `next` the least loaded other live member that does not read the
/// channel yet; that member joins, says it is ready, and the plan makes it the holder, so `me`
/// stops reading only channels someone else reads. A slot no other member can take (with
/// `replicas` = the number of members) is left as it is: it moves when `me` has left. Returns
/// the slots afterwards and how many of `me`'s slots are still on their way to another member.
pub fn hand_over(current: &[Slot], me: &str, live: &BTreeSet<String>) -> (Vec<Slot>, usize) {
    let mut slots = current.to_vec();
    let mut moving = 0;
    for i in 0..slots.len() {
        if slots[i].holder.as_deref() != Some(me) {
            continue;
        }
        if slots[i].next.as_ref().is_some_and(|n| n != me && live.contains(n)) {
            moving += 1;
            continue;
        }
        let c = slots[i].channel.clone();
        let pick = live
            .iter()
            .filter(|m| m.as_str() != me && !reads(&slots, &c, m))
            .min_by_key(|m| (load(&slots, m), (*m).clone()))
            .cloned();
        if let Some(m) = pick {
            slots[i].next = Some(m);
            slots[i].next_ready = false;
            moving += 1;
        }
    }
    (slots, moving)
}

/// The channels `me` must read: slots it holds and slots it is taking over.
pub fn reading(slots: &[Slot], me: &str) -> BTreeSet<String> {
    slots
        .iter()
        .filter(|s| s.holder.as_deref() == Some(me) || s.next.as_deref() == Some(me))
        .map(|s| s.channel.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn channels(n: usize) -> BTreeSet<String> {
        (0..n).map(|i| format!("c{i:02}")).collect()
    }

    fn holders(slots: &[Slot]) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for s in slots {
            if let Some(h) = &s.holder {
                *m.entry(h.clone()).or_default() += 1;
            }
        }
        m
    }

    /// Runs plans until nothing changes, marking every `next` ready after each round (as the
    /// members do once joined); checks that no round leaves a channel with fewer readers.
    fn settle(mut slots: Vec<Slot>, ch: &BTreeSet<String>, r: u32, live: &BTreeSet<String>) -> Vec<Slot> {
        for _ in 0..200 {
            let readers_before: BTreeMap<String, usize> = ch
                .iter()
                .map(|c| {
                    (
                        c.clone(),
                        slots
                            .iter()
                            .filter(|s| &s.channel == c && s.holder.as_ref().is_some_and(|h| live.contains(h)))
                            .count(),
                    )
                })
                .collect();
            let (mut next, _) = plan(&slots, ch, r, live);
            for c in ch {
                let after = next.iter().filter(|s| &s.channel == c && s.holder.is_some()).count();
                assert!(after >= readers_before[c], "channel {c} lost a reader: {readers_before:?} -> {next:?}");
            }
            for s in &mut next {
                if s.next.is_some() {
                    s.next_ready = true;
                }
            }
            if next == slots {
                return slots;
            }
            slots = next;
        }
        panic!("did not settle");
    }

    #[test]
    fn every_slot_gets_a_distinct_live_holder_and_counts_are_even() {
        let ch = channels(30);
        let live = set(&["a", "b", "c"]);
        let slots = settle(Vec::new(), &ch, 1, &live);
        assert_eq!(slots.len(), 30);
        assert_eq!(holders(&slots).values().copied().collect::<Vec<_>>(), [10, 10, 10]);
        let slots = settle(Vec::new(), &channels(7), 2, &live);
        let counts: Vec<usize> = holders(&slots).values().copied().collect();
        assert!(counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1, "{counts:?}");
        for c in channels(7) {
            let hs: BTreeSet<_> = slots.iter().filter(|s| s.channel == c).filter_map(|s| s.holder.clone()).collect();
            assert_eq!(hs.len(), 2, "two distinct readers of {c}");
        }
    }

    #[test]
    fn a_dead_members_slots_are_taken_over_at_once() {
        let ch = channels(30);
        let slots = settle(Vec::new(), &ch, 1, &set(&["a", "b", "c"]));
        let live = set(&["a", "b"]);
        let (next, notes) = plan(&slots, &ch, 1, &live);
        assert!(next.iter().all(|s| s.holder.as_ref().is_some_and(|h| live.contains(h))), "{next:?}");
        assert_eq!(notes.taken_over.len(), 10);
        assert_eq!(holders(&next).values().copied().collect::<Vec<_>>(), [15, 15]);
    }

    #[test]
    fn a_joining_member_takes_slots_gradually_make_before_break() {
        let ch = channels(10);
        let slots = settle(Vec::new(), &ch, 1, &set(&["a", "b"]));
        let live = set(&["a", "b", "c"]);
        let (next, _) = plan(&slots, &ch, 1, &live);
        // Hand-overs to c, the old holders still holding until c is ready.
        let pending: Vec<&Slot> = next.iter().filter(|s| s.next.is_some()).collect();
        assert_eq!(pending.len(), 3, "c takes its share: 10 channels over 3 members");
        assert!(pending.iter().all(|s| s.next.as_deref() == Some("c") && s.holder.is_some()));
        // Not ready yet: nothing moves on.
        assert_eq!(plan(&next, &ch, 1, &live).0, next);
        let settled = settle(next, &ch, 1, &live);
        let counts: Vec<usize> = holders(&settled).values().copied().collect();
        assert!(counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1, "{counts:?}");
        // And then it is stable: no flapping.
        assert_eq!(plan(&settled, &ch, 1, &live).0, settled);
    }

    #[test]
    fn a_stopping_member_hands_its_slots_over_make_before_break() {
        let ch = channels(10);
        let both = set(&["a", "b"]);
        let slots = settle(Vec::new(), &ch, 1, &both);
        let a_had = reading(&slots, "a");
        let (handed, moving) = hand_over(&slots, "a", &both);
        assert_eq!(moving, a_had.len());
        // a still holds (and reads) every one of its channels; b is on its way to each.
        assert_eq!(reading(&handed, "a"), a_had);
        assert_eq!(reading(&handed, "b"), ch);
        // b's plan rounds keep the hand-overs going: nothing moves before b is ready. (a's load
        // drops, so b's balancing may name a as next for b's slots; a, stopping, runs no more
        // rounds and never joins them, and they clear once it has left.)
        let (round, _) = plan(&handed, &ch, 1, &both);
        assert_eq!(reading(&round, "b"), ch);
        for s in round.iter().filter(|s| a_had.contains(&s.channel)) {
            assert_eq!((s.holder.as_deref(), s.next.as_deref()), (Some("a"), Some("b")), "{s:?}");
        }
        let mut ready = round.clone();
        for s in &mut ready {
            s.next_ready = s.next.as_deref() == Some("b");
        }
        let (done, _) = plan(&ready, &ch, 1, &both);
        assert!(done.iter().all(|s| s.holder.as_deref() == Some("b")), "{done:?}");
        assert_eq!(hand_over(&done, "a", &both).1, 0, "nothing of a's left to hand over");
        // a has left: b holds every slot, nothing half-way.
        let (left, _) = plan(&done, &ch, 1, &set(&["b"]));
        assert!(left.iter().all(|s| s.holder.as_deref() == Some("b") && s.next.is_none()), "{left:?}");
        // With replicas = members there is nobody to hand to: nothing changes.
        let full = settle(Vec::new(), &ch, 2, &both);
        assert_eq!(hand_over(&full, "a", &both), (full.clone(), 0));
        // Alone: nothing to hand over either.
        let alone = settle(Vec::new(), &ch, 1, &set(&["a"]));
        assert_eq!(hand_over(&alone, "a", &set(&["a"])), (alone.clone(), 0));
    }

    #[test]
    fn removed_channels_lose_their_slots_and_reading_follows() {
        let ch = channels(4);
        let slots = settle(Vec::new(), &ch, 2, &set(&["a", "b"]));
        assert_eq!(reading(&slots, "a"), ch);
        let fewer = set(&["c00", "c01"]);
        let (next, _) = plan(&slots, &fewer, 2, &set(&["a", "b"]));
        assert_eq!(reading(&next, "a"), fewer);
        assert_eq!(next.len(), 4);
    }

    #[test]
    fn more_replicas_than_members_leaves_slots_unowned_not_doubled() {
        let (slots, _) = plan(&[], &set(&["x"]), 3, &set(&["a", "b"]));
        let held: Vec<_> = slots.iter().filter_map(|s| s.holder.clone()).collect();
        assert_eq!(held.len(), 2);
        assert_ne!(held[0], held[1]);
        assert_eq!(slots.iter().filter(|s| s.holder.is_none()).count(), 1);
    }
}
