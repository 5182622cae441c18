//! The epoch clock actor: ticks at a short interval, and tells the sealer each time a new epoch
//! has closed (its end plus grace has passed). It keeps no state worth persisting: on restart it
//! reads the time again, and the sealer's cursor in the store says what is left to seal.

use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use super::epoch::last_closed_epoch;
use super::source::SharedClock;
use crate::routes::Routes;
use crate::sealer::SealerMsg;

pub struct ClockActor;

#[derive(Clone)]
pub struct ClockArgs {
    pub clock: SharedClock,
    pub epoch_len: i64,
    pub grace_ms: i64,
    pub tick: Duration,
    pub routes: Routes,
}

pub struct ClockState {
    args: ClockArgs,
    last_announced: Option<i64>,
}

pub enum ClockMsg {
    Tick,
}

impl Actor for ClockActor {
    type Msg = ClockMsg;
    type State = ClockState;
    type Arguments = ClockArgs;

    async fn pre_start(&self, myself: ActorRef<ClockMsg>, args: ClockArgs) -> Result<ClockState, ActorProcessingErr> {
        myself.send_interval(args.tick, || ClockMsg::Tick);
        Ok(ClockState { args, last_announced: None })
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
                if st.last_announced != Some(closed) {
                    // Announce every tick until delivered once: the sealer may be restarting.
                    if let Some(sealer) = st.args.routes.sealer() {
                        if sealer.cast(SealerMsg::EpochClosed(closed)).is_ok() {
                            st.last_announced = Some(closed);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
