//! The connection state machine of one channel (pure: no sockets, no clock reads, randomness
//! passed in). It numbers sessions by generation, decides when to open one, when to close the
//! old one after a server RECONNECT (make before break: the new session joins, both read for
//! `overlap`, then the old one goes), and how long to wait before reconnecting (jittered
//! exponential backoff, reset after a session that stayed joined longer than `healthy_after`; a
//! refused join waits the maximum). Events from stale generations are ignored. The channel
//! actor feeds it inputs and carries out the effects it returns.

use std::time::Duration;

use super::backoff::Backoff;

/// How a session ended, as far as the decisions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The server refused the join (banned, suspended, no such channel): retry after the maximum.
    Refused,
    /// Any other end (connect failure, closed, dead link, I/O error).
    Lost,
}

/// What the channel actor tells the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Time to (re)connect.
    Connect,
    /// Session `gen` confirmed its join.
    Joined {
        /// The session generation (1, 2, ... per channel actor).
        gen: u64,
    },
    /// Session `gen` received RECONNECT from the server.
    ServerReconnect {
        /// The session generation (1, 2, ... per channel actor).
        gen: u64,
    },
    /// The overlap after a RECONNECT is over: close `gen` if it is still the old session.
    DropOld {
        /// The generation that was the old session when the overlap began.
        gen: u64,
    },
    /// Session `gen` ended; `joined_for` is how long it had been joined, if it joined.
    Ended {
        /// The session generation (1, 2, ... per channel actor).
        gen: u64,
        /// Refused or lost (decides the wait before reconnecting).
        ending: Ending,
        /// How long it had been joined; None if it never joined.
        joined_for: Option<Duration>,
    },
    /// Stop reading: close every session, never reconnect.
    Shutdown,
}

/// What the machine asks the actor to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Open session `gen` (the state is now connecting, unless a RECONNECT overlap runs).
    Open {
        /// The new session's generation.
        gen: u64,
    },
    /// Close session `gen`; it reports `Ended` by itself.
    Close {
        /// The generation to close.
        gen: u64,
    },
    /// The current session joined: show the channel as joined.
    ShowJoined {
        /// The generation that joined.
        gen: u64,
    },
    /// Deliver `Input::DropOld { gen }` after `after`.
    DropOldAfter {
        /// The old session's generation.
        gen: u64,
        /// The RECONNECT overlap (`twitch.reconnect_overlap`).
        after: Duration,
    },
    /// The server asked for a reconnect; a new session is opened beside the old one.
    Reconnecting,
    /// The current session ended: deliver `Input::Connect` after `after`.
    RetryAfter {
        /// The wait: jittered backoff, or the maximum after a refusal.
        after: Duration,
        /// How the session ended.
        ending: Ending,
    },
    /// Every session is closed and none will be opened again.
    Stopped,
}

/// The machine's settings.
#[derive(Debug, Clone)]
pub struct ConnectionCfg {
    /// First backoff delay (`twitch.reconnect_min`).
    pub reconnect_min: Duration,
    /// Longest backoff delay, and the wait after a refused join (`twitch.reconnect_max`).
    pub reconnect_max: Duration,
    /// How long the old and new sessions both read after a RECONNECT.
    pub overlap: Duration,
    /// A session joined at least this long resets the backoff.
    pub healthy_after: Duration,
}

/// The state of one channel's connections.
#[derive(Debug, Clone)]
pub struct Connection {
    cfg: ConnectionCfg,
    backoff: Backoff,
    next_gen: u64,
    current: Option<u64>,
    previous: Option<u64>,
    stopping: bool,
}

impl Connection {
    /// A machine with no session yet; the first one opened is generation 1.
    pub fn new(cfg: ConnectionCfg) -> Self {
        let backoff = Backoff::new(cfg.reconnect_min, cfg.reconnect_max);
        Self { cfg, backoff, next_gen: 1, current: None, previous: None, stopping: false }
    }

    /// The session that counts (None while backing off).
    pub fn current(&self) -> Option<u64> {
        self.current
    }

    /// The old session of a RECONNECT overlap, while it still reads.
    pub fn previous(&self) -> Option<u64> {
        self.previous
    }

    /// True once `Shutdown` was applied: no session will be opened again.
    pub fn stopping(&self) -> bool {
        self.stopping
    }

    fn open(&mut self) -> u64 {
        let gen = self.next_gen;
        self.next_gen += 1;
        self.current = Some(gen);
        gen
    }

    /// Applies `input`; `unit` is a random draw in [0, 1) for the backoff's jitter.
    pub fn on(&mut self, input: Input, unit: f64) -> Vec<Effect> {
        match input {
            Input::Connect => {
                if self.current.is_some() || self.stopping {
                    return vec![];
                }
                vec![Effect::Open { gen: self.open() }]
            }
            Input::Joined { gen } => {
                if self.current != Some(gen) {
                    return vec![];
                }
                let mut out = vec![Effect::ShowJoined { gen }];
                if let Some(old) = self.previous {
                    out.push(Effect::DropOldAfter { gen: old, after: self.cfg.overlap });
                }
                out
            }
            Input::ServerReconnect { gen } => {
                if self.current != Some(gen) || self.previous.is_some() || self.stopping {
                    return vec![];
                }
                self.previous = self.current.take();
                let new = self.open();
                vec![Effect::Reconnecting, Effect::Open { gen: new }]
            }
            Input::DropOld { gen } => {
                if self.previous != Some(gen) {
                    return vec![];
                }
                self.previous = None;
                vec![Effect::Close { gen }]
            }
            Input::Ended { gen, ending, joined_for } => {
                if self.previous == Some(gen) {
                    self.previous = None;
                    return vec![];
                }
                if self.current != Some(gen) {
                    return vec![];
                }
                self.current = None;
                if self.stopping {
                    return vec![];
                }
                if joined_for.is_some_and(|d| d > self.cfg.healthy_after) {
                    self.backoff.reset();
                }
                let after = match ending {
                    Ending::Refused => self.cfg.reconnect_max,
                    Ending::Lost => self.backoff.next_with(unit),
                };
                vec![Effect::RetryAfter { after, ending }]
            }
            Input::Shutdown => {
                self.stopping = true;
                let mut out: Vec<Effect> = [self.current.take(), self.previous.take()]
                    .into_iter()
                    .flatten()
                    .map(|gen| Effect::Close { gen })
                    .collect();
                out.push(Effect::Stopped);
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Connection {
        Connection::new(ConnectionCfg {
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(60),
            overlap: Duration::from_secs(2),
            healthy_after: Duration::from_secs(60),
        })
    }

    fn ended(gen: u64, joined_for: Option<u64>) -> Input {
        Input::Ended { gen, ending: Ending::Lost, joined_for: joined_for.map(Duration::from_secs) }
    }

    #[test]
    fn connects_once_and_shows_the_join() {
        let mut c = machine();
        assert_eq!(c.on(Input::Connect, 1.0), vec![Effect::Open { gen: 1 }]);
        assert_eq!(c.on(Input::Connect, 1.0), vec![], "a second Connect while a session runs opens nothing");
        assert_eq!(c.on(Input::Joined { gen: 1 }, 1.0), vec![Effect::ShowJoined { gen: 1 }]);
        assert_eq!(c.current(), Some(1));
    }

    #[test]
    fn a_lost_session_backs_off_exponentially_and_a_healthy_one_resets() {
        let mut c = machine();
        c.on(Input::Connect, 1.0);
        assert_eq!(
            c.on(ended(1, None), 1.0),
            vec![Effect::RetryAfter { after: Duration::from_secs(1), ending: Ending::Lost }]
        );
        assert_eq!(c.current(), None);
        assert_eq!(c.on(Input::Connect, 1.0), vec![Effect::Open { gen: 2 }]);
        assert_eq!(
            c.on(ended(2, Some(5)), 1.0),
            vec![Effect::RetryAfter { after: Duration::from_secs(2), ending: Ending::Lost }]
        );
        c.on(Input::Connect, 1.0);
        assert_eq!(
            c.on(ended(3, None), 0.0),
            vec![Effect::RetryAfter { after: Duration::from_secs(2), ending: Ending::Lost }],
            "jitter: half of 4 s at the low end"
        );
        c.on(Input::Connect, 1.0);
        // Joined for more than `healthy_after`: the backoff starts over.
        assert_eq!(
            c.on(ended(4, Some(61)), 1.0),
            vec![Effect::RetryAfter { after: Duration::from_secs(1), ending: Ending::Lost }]
        );
    }

    #[test]
    fn a_refused_join_waits_the_maximum() {
        let mut c = machine();
        c.on(Input::Connect, 0.0);
        let e = c.on(Input::Ended { gen: 1, ending: Ending::Refused, joined_for: None }, 0.0);
        assert_eq!(e, vec![Effect::RetryAfter { after: Duration::from_secs(60), ending: Ending::Refused }]);
    }

    #[test]
    fn reconnect_makes_before_it_breaks() {
        let mut c = machine();
        c.on(Input::Connect, 1.0);
        c.on(Input::Joined { gen: 1 }, 1.0);
        assert_eq!(c.on(Input::ServerReconnect { gen: 1 }, 1.0), vec![Effect::Reconnecting, Effect::Open { gen: 2 }]);
        assert_eq!((c.current(), c.previous()), (Some(2), Some(1)));
        // A second RECONNECT during the overlap (from either session) changes nothing.
        assert_eq!(c.on(Input::ServerReconnect { gen: 2 }, 1.0), vec![]);
        assert_eq!(c.on(Input::ServerReconnect { gen: 1 }, 1.0), vec![]);
        // The new session joins: the old one is closed after the overlap, not before.
        assert_eq!(
            c.on(Input::Joined { gen: 2 }, 1.0),
            vec![Effect::ShowJoined { gen: 2 }, Effect::DropOldAfter { gen: 1, after: Duration::from_secs(2) }]
        );
        assert_eq!(c.on(Input::DropOld { gen: 1 }, 1.0), vec![Effect::Close { gen: 1 }]);
        assert_eq!(c.previous(), None);
        // The old session's own end report is not a loss of the channel.
        assert_eq!(c.on(ended(1, Some(100)), 1.0), vec![]);
        assert_eq!(c.current(), Some(2));
        assert_eq!(c.on(Input::DropOld { gen: 1 }, 1.0), vec![], "a late DropOld of a gone session does nothing");
    }

    #[test]
    fn the_old_session_ending_during_the_overlap_keeps_the_new_one() {
        let mut c = machine();
        c.on(Input::Connect, 1.0);
        c.on(Input::Joined { gen: 1 }, 1.0);
        c.on(Input::ServerReconnect { gen: 1 }, 1.0);
        assert_eq!(c.on(ended(1, Some(3)), 1.0), vec![]);
        assert_eq!(
            c.on(Input::Joined { gen: 2 }, 1.0),
            vec![Effect::ShowJoined { gen: 2 }],
            "no old session left to drop"
        );
    }

    #[test]
    fn stale_generations_are_ignored() {
        let mut c = machine();
        c.on(Input::Connect, 1.0);
        c.on(ended(1, None), 1.0);
        c.on(Input::Connect, 1.0);
        assert_eq!(c.on(Input::Joined { gen: 1 }, 1.0), vec![]);
        assert_eq!(c.on(ended(1, None), 1.0), vec![]);
        assert_eq!(c.on(Input::ServerReconnect { gen: 1 }, 1.0), vec![]);
        assert_eq!(c.current(), Some(2));
    }

    #[test]
    fn shutdown_closes_both_sessions_and_never_reconnects() {
        let mut c = machine();
        c.on(Input::Connect, 1.0);
        c.on(Input::Joined { gen: 1 }, 1.0);
        c.on(Input::ServerReconnect { gen: 1 }, 1.0);
        assert_eq!(
            c.on(Input::Shutdown, 1.0),
            vec![Effect::Close { gen: 2 }, Effect::Close { gen: 1 }, Effect::Stopped]
        );
        assert!(c.stopping());
        assert_eq!(c.on(ended(2, Some(1)), 1.0), vec![], "no retry while stopping");
        assert_eq!(c.on(Input::Connect, 1.0), vec![]);
        assert_eq!(c.on(Input::ServerReconnect { gen: 2 }, 1.0), vec![]);
    }
}
