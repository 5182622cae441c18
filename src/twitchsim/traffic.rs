//! A seeded generator of realistic chat traffic for the fake server, used by `chatseal demo`:
//! on several channels at once, a few very active regulars and many lurkers who say one thing,
//! subs, resubs, gifted subs (single gifts and a mystery gift followed by its subgift lines),
//! cheers with bits, raids, anonymous gifts, a bot (nightbot), moderation (CLEARCHAT), and once
//! a RECONNECT. Pure line composition: [`Traffic::next_beat`] takes the timestamp and returns
//! the lines of one beat, each with its target and the participant it makes (per twitch.md);
//! pacing, clocks and sockets belong to the caller. The same seed gives the same lines.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::crowd::{self, NameStyle, Namer};
use super::lines::{self, channel_key, Chatter};

mod specials;

/// What a generated line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A PRIVMSG from a regular or a lurker.
    Message,
    /// A PRIVMSG with a `bits` tag (a cheer).
    Bits,
    /// USERNOTICE `sub`.
    Sub,
    /// USERNOTICE `resub`, with the user's message when there is one.
    Resub,
    /// USERNOTICE `subgift` from a named gifter.
    SubGift,
    /// USERNOTICE `submysterygift` (its gifts follow as `SubGift` lines).
    SubMysteryGift,
    /// A gift from nobody: `anonsubgift`, or a `subgift` from `ananonymousgifter`.
    AnonGift,
    /// USERNOTICE `raid`.
    Raid,
    /// A PRIVMSG from nightbot (on the default exclusion list).
    Bot,
    /// CLEARCHAT: a ban of one user, or a clear of the whole chat.
    ClearChat,
    /// RECONNECT, sent to every connection.
    Reconnect,
}

impl Kind {
    /// Every kind, in declaration order.
    pub const ALL: [Kind; 11] = [
        Kind::Message,
        Kind::Bits,
        Kind::Sub,
        Kind::Resub,
        Kind::SubGift,
        Kind::SubMysteryGift,
        Kind::AnonGift,
        Kind::Raid,
        Kind::Bot,
        Kind::ClearChat,
        Kind::Reconnect,
    ];
}

/// The kinds that come by turns, one every [`TrafficConfig::special_every`] beats, on every
/// channel; the other beats are chat messages.
const SPECIALS: [Kind; 9] = [
    Kind::Bits,
    Kind::Sub,
    Kind::Resub,
    Kind::SubGift,
    Kind::SubMysteryGift,
    Kind::AnonGift,
    Kind::Raid,
    Kind::Bot,
    Kind::ClearChat,
];

/// Where a line goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The connections joined to this channel (key without `#`).
    Channel(String),
    /// Every connection.
    Everyone,
}

/// One generated line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficLine {
    /// Which connections receive it.
    pub target: Target,
    /// The line without `\r\n`.
    pub line: String,
    /// What the line is.
    pub kind: Kind,
    /// Who this line makes a participant of its channel (twitch.md), lowercase; None for bots
    /// on the default exclusion list, anonymous gifts, CLEARCHAT and RECONNECT.
    pub participant: Option<String>,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct TrafficConfig {
    /// Seed of the generator: the same config gives the same lines.
    pub seed: u64,
    /// Channel logins (with or without `#`); the first is the busiest.
    pub channels: Vec<String>,
    /// Very active chatters per channel.
    pub regulars: usize,
    /// Every this many beats, one of the rarer kinds instead of a chat message (0: never).
    pub special_every: u64,
    /// The beat (0-based) that also carries the one RECONNECT; None: no RECONNECT.
    pub reconnect_at: Option<u64>,
}

impl TrafficConfig {
    /// Six regulars per channel, a rarer kind every 12 beats, no RECONNECT.
    pub fn new(seed: u64, channels: &[String]) -> TrafficConfig {
        TrafficConfig { seed, channels: channels.to_vec(), regulars: 6, special_every: 12, reconnect_at: None }
    }
}

/// The people of one channel.
struct Crowd {
    channel: String,
    regulars: Vec<Chatter>,
    /// Lurkers who spoke lately: the moderators' CLEARCHAT targets.
    recent: Vec<Chatter>,
}

/// How many recent lurkers a crowd remembers.
const RECENT: usize = 16;

/// The generator: call [`Traffic::next_beat`] once per beat.
pub struct Traffic {
    cfg: TrafficConfig,
    rng: StdRng,
    namer: Namer,
    crowds: Vec<Crowd>,
    /// Rarer kinds still to come in this round: (crowd index, kind).
    due: Vec<(usize, Kind)>,
    beat: u64,
    anon_as_subgift: bool,
}

impl Traffic {
    /// A generator at beat 0, its crowds named from `cfg.seed`.
    pub fn new(cfg: TrafficConfig) -> Traffic {
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        let mut namer = Namer::default();
        let crowds = cfg
            .channels
            .iter()
            .map(|c| Crowd {
                channel: channel_key(c),
                regulars: (0..cfg.regulars).map(|_| namer.chatter(&mut rng, NameStyle::Plain)).collect(),
                recent: Vec::new(),
            })
            .collect();
        Traffic { cfg, rng, namer, crowds, due: Vec::new(), beat: 0, anon_as_subgift: false }
    }

    /// Beats generated so far.
    pub fn beats(&self) -> u64 {
        self.beat
    }

    /// The lines of the next beat, stamped `ts_ms` (`tmi-sent-ts`, ms since the Unix epoch).
    pub fn next_beat(&mut self, ts_ms: i64) -> Vec<TrafficLine> {
        let beat = self.beat;
        self.beat += 1;
        let mut out = Vec::new();
        if self.cfg.reconnect_at == Some(beat) {
            out.push(TrafficLine {
                target: Target::Everyone,
                line: lines::reconnect(),
                kind: Kind::Reconnect,
                participant: None,
            });
        }
        if self.crowds.is_empty() {
            return out;
        }
        let every = self.cfg.special_every;
        if every > 0 && beat % every == every - 1 {
            let (crowd, kind) = self.next_special();
            self.special(crowd, kind, ts_ms, &mut out);
        } else {
            let crowd = self.busy_crowd();
            let who = self.speaker(crowd);
            let id = crowd::message_id(&mut self.rng);
            let text = crowd::phrase(&mut self.rng);
            let line = lines::privmsg(&self.crowds[crowd].channel, &who, &id, ts_ms, text, None);
            out.push(self.line(crowd, line, Kind::Message, Some(&who)));
        }
        out
    }

    fn line(&self, crowd: usize, line: String, kind: Kind, who: Option<&Chatter>) -> TrafficLine {
        TrafficLine {
            target: Target::Channel(self.crowds[crowd].channel.clone()),
            line,
            kind,
            participant: who.map(|c| c.login.clone()),
        }
    }

    /// A channel, the first ones more often (weights n, n-1, ..., 1).
    fn busy_crowd(&mut self) -> usize {
        let n = self.crowds.len();
        let mut pick = self.rng.random_range(0..n * (n + 1) / 2);
        for i in 0..n {
            if pick < n - i {
                return i;
            }
            pick -= n - i;
        }
        0
    }

    /// A regular (the first ones talk most), or a new lurker who says their one thing.
    fn speaker(&mut self, crowd: usize) -> Chatter {
        let regulars = self.crowds[crowd].regulars.len();
        if regulars > 0 && self.rng.random_bool(0.55) {
            let weights: Vec<f64> = (0..regulars).map(|i| 1.0 / (i as f64 + 1.0)).collect();
            let mut x = self.rng.random::<f64>() * weights.iter().sum::<f64>();
            for (i, w) in weights.iter().enumerate() {
                if x < *w {
                    return self.crowds[crowd].regulars[i].clone();
                }
                x -= w;
            }
            return self.crowds[crowd].regulars[0].clone();
        }
        self.lurker(crowd)
    }

    fn lurker(&mut self, crowd: usize) -> Chatter {
        let who = self.namer.chatter(&mut self.rng, NameStyle::Numbered);
        let recent = &mut self.crowds[crowd].recent;
        if recent.len() == RECENT {
            recent.remove(0);
        }
        recent.push(who.clone());
        who
    }

    fn next_special(&mut self) -> (usize, Kind) {
        if self.due.is_empty() {
            self.due = (0..self.crowds.len()).flat_map(|c| SPECIALS.iter().map(move |k| (c, *k))).collect();
            self.due.shuffle(&mut self.rng);
        }
        self.due.pop().unwrap_or((0, Kind::Bits))
    }
}

#[cfg(test)]
mod tests;
