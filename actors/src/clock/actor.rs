//! The epoch clock actor: ticks at a short interval, and tells its subscribers (the sealer) each
//! time a new epoch has closed (its end plus grace has passed). It keeps no state worth
//! persisting: on restart it reads the time again, and the sealer's cursor in the store says
//! what is left to seal.

use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use super::closings::Subscribers;
use super::epoch::last_closed_epoch;
use super::source::SharedClock;

/// Announces epoch closings to its subscribers (see the module doc).
pub struct ClockActor;

/// What the clock actor is started with.
#[derive(Clone)]
pub struct ClockArgs {
    /// The time source.
    pub clock: SharedClock,
    /// `epoch.length`, seconds.
    pub epoch_len: i64,
    /// `epoch.grace`, milliseconds: how long after its end an epoch closes.
    pub grace_ms: i64,
    /// How often the clock looks at the time.
    pub tick: Duration,
    /// Told of each newly closed epoch.
    pub subscribers: Subscribers,
}

/// The clock actor's state: its arguments and what each subscriber was last told.
pub struct ClockState {
    args: ClockArgs,
    /// The last epoch delivered to each subscriber (same order as `args.subscribers`).
    last_announced: Vec<Option<i64>>,
}

/// The clock actor's mailbox.
pub enum ClockMsg {
    /// Time to look at the clock (every `tick`).
    Tick,
}

impl Actor for ClockActor {
    type Msg = ClockMsg;
    type State = ClockState;
    type Arguments = ClockArgs;

    async fn pre_start(&self, myself: ActorRef<ClockMsg>, args: ClockArgs) -> Result<ClockState, ActorProcessingErr> {
        myself.send_interval(args.tick, || ClockMsg::Tick);
        let last_announced = vec![None; args.subscribers.len()];
        Ok(ClockState { args, last_announced })
    }

    async fn handle(
        &self,
        _myself: ActorRef<ClockMsg>,
        msg: ClockMsg,
        st: &mut ClockState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ClockMsg::Tick => {
                fail::fail_point!("clock.tick", |_| Err("failpoint clock.tick".into()));
                let now = st.args.clock.now_ms();
                let closed = last_closed_epoch(now, st.args.epoch_len, st.args.grace_ms);
                for (sub, last) in st.args.subscribers.iter().zip(st.last_announced.iter_mut()) {
                    // Announce every tick until delivered once: the subscriber may be restarting.
                    if *last != Some(closed) && sub.epoch_closed(closed) {
                        *last = Some(closed);
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
    use std::sync::Arc;

    use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

    use super::*;
    use crate::clock::{Clock, EpochSubscriber};

    const LEN: i64 = 3600;

    /// A clock the test sets by hand.
    #[derive(Debug)]
    struct HandClock(AtomicI64);

    impl Clock for HandClock {
        fn now_ms(&self) -> i64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    /// Reports every delivery attempt (epoch, accepted) and refuses the first `refuse` of them.
    struct Recorder {
        refuse: AtomicUsize,
        calls: UnboundedSender<(i64, bool)>,
    }

    impl EpochSubscriber for Recorder {
        fn epoch_closed(&self, epoch: i64) -> bool {
            let accept = self.refuse.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_err();
            let _ = self.calls.send((epoch, accept));
            accept
        }
    }

    fn recorder(refuse: usize) -> (Arc<Recorder>, UnboundedReceiver<(i64, bool)>) {
        let (calls, rx) = unbounded_channel();
        (Arc::new(Recorder { refuse: AtomicUsize::new(refuse), calls }), rx)
    }

    async fn next(rx: &mut UnboundedReceiver<(i64, bool)>) -> (i64, bool) {
        match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            Ok(Some(call)) => call,
            other => panic!("no delivery attempt within 30 s: {other:?}"),
        }
    }

    #[tokio::test]
    async fn each_closed_epoch_reaches_each_subscriber_once_retrying_until_taken() {
        // Half way through an hour, so the closed epoch is the hour before the previous one.
        let now = 1_761_757_200_000 + 1_800_000;
        let clock = Arc::new(HandClock(AtomicI64::new(now)));
        let closed = last_closed_epoch(now, LEN, 0);
        // `late` takes the news at the third attempt; `never` refuses every time, so each of
        // its attempts marks one tick of the clock.
        let (late, mut late_rx) = recorder(2);
        let (never, mut never_rx) = recorder(usize::MAX);
        let args = ClockArgs {
            clock: clock.clone(),
            epoch_len: LEN,
            grace_ms: 0,
            tick: Duration::from_millis(5),
            subscribers: vec![late, never],
        };
        let (actor, handle) = Actor::spawn(None, ClockActor, args).await.unwrap_or_else(|e| panic!("spawn: {e}"));

        for accepted in [false, false, true] {
            assert_eq!(next(&mut late_rx).await, (closed, accepted));
        }
        // `never` is told at every tick, after `late`: its fifth attempt ends the fifth tick,
        // two ticks after the one that delivered to `late`, which hears nothing more.
        for _ in 0..5 {
            assert_eq!(next(&mut never_rx).await, (closed, false));
        }
        assert!(late_rx.try_recv().is_err(), "a delivered epoch was announced again");

        // The next epoch closes: `late` hears of it at the first attempt.
        clock.0.fetch_add(LEN * 1000, Ordering::SeqCst);
        assert_eq!(next(&mut late_rx).await, (closed + LEN, true));

        actor.stop(None);
        let _ = handle.await;
    }
}
