//! The rarer kinds of the traffic, one per call: cheers, subs, resubs, gifts (single, mystery,
//! anonymous), raids, bot lines and moderation, composed with [`crate::twitchsim::lines`] and tagged with
//! the participant each one makes per twitch.md.

use rand::seq::IndexedRandom;
use rand::Rng;

use super::{Kind, Traffic, TrafficLine};
use crate::twitchsim::crowd::{self, NameStyle, BOT_PHRASES};
use crate::twitchsim::lines::{self, Chatter};

impl Traffic {
    pub(super) fn special(&mut self, crowd: usize, kind: Kind, ts: i64, out: &mut Vec<TrafficLine>) {
        let channel = self.crowds[crowd].channel.clone();
        let id = crowd::message_id(&mut self.rng);
        match kind {
            Kind::Bits => {
                let who = self.speaker(crowd);
                let bits = *[1u64, 50, 100, 500, 1000].choose(&mut self.rng).unwrap_or(&100);
                let text = format!("Cheer{bits} {}", crowd::phrase(&mut self.rng));
                let line = lines::privmsg(&channel, &who, &id, ts, &text, Some(bits));
                out.push(self.line(crowd, line, kind, Some(&who)));
            }
            Kind::Sub => {
                let who = self.lurker(crowd);
                let plan_name = format!("Channel Subscription ({channel})");
                let params = [
                    ("msg-param-cumulative-months", "1"),
                    ("msg-param-months", "0"),
                    ("msg-param-should-share-streak", "0"),
                    ("msg-param-sub-plan", "1000"),
                    ("msg-param-sub-plan-name", plan_name.as_str()),
                ];
                let line = lines::usernotice(&channel, &who, &id, ts, "sub", &params);
                out.push(self.line(crowd, line, kind, Some(&who)));
            }
            Kind::Resub => {
                let who = self.speaker(crowd);
                let months = self.rng.random_range(2..40).to_string();
                let plan_name = format!("Channel Subscription ({channel})");
                let params = [
                    ("msg-param-cumulative-months", months.as_str()),
                    ("msg-param-months", "0"),
                    ("msg-param-should-share-streak", "0"),
                    ("msg-param-sub-plan", "1000"),
                    ("msg-param-sub-plan-name", plan_name.as_str()),
                ];
                let text = crowd::sub_message(&mut self.rng);
                let line = lines::usernotice_with_message(&channel, &who, &id, ts, "resub", &params, text);
                out.push(self.line(crowd, line, kind, Some(&who)));
            }
            Kind::SubGift => {
                let gifter = self.speaker(crowd);
                let line = self.gift(&channel, &gifter, &id, ts, "subgift", None);
                out.push(self.line(crowd, line, kind, Some(&gifter)));
            }
            Kind::SubMysteryGift => {
                let gifter = self.speaker(crowd);
                let count = self.rng.random_range(2..=5u32);
                let community = self.rng.random::<u64>().to_string();
                let count_text = count.to_string();
                let params = [
                    ("msg-param-community-gift-id", community.as_str()),
                    ("msg-param-mass-gift-count", count_text.as_str()),
                    ("msg-param-sub-plan", "1000"),
                ];
                let line = lines::usernotice(&channel, &gifter, &id, ts, "submysterygift", &params);
                out.push(self.line(crowd, line, kind, Some(&gifter)));
                for i in 0..count {
                    let gift_id = crowd::message_id(&mut self.rng);
                    let line =
                        self.gift(&channel, &gifter, &gift_id, ts + 1 + i64::from(i), "subgift", Some(&community));
                    out.push(self.line(crowd, line, Kind::SubGift, Some(&gifter)));
                }
            }
            Kind::AnonGift => {
                let anon = Chatter::new("ananonymousgifter", "274598607", "AnAnonymousGifter");
                self.anon_as_subgift = !self.anon_as_subgift;
                let msg_id = if self.anon_as_subgift { "subgift" } else { "anonsubgift" };
                let line = self.gift(&channel, &anon, &id, ts, msg_id, None);
                out.push(self.line(crowd, line, kind, None));
            }
            Kind::Raid => {
                let raider = self.namer.chatter(&mut self.rng, NameStyle::Plain);
                let viewers = self.rng.random_range(3..400).to_string();
                let shown =
                    if raider.display_name.is_empty() { raider.login.clone() } else { raider.display_name.clone() };
                let params = [
                    ("msg-param-displayName", shown.as_str()),
                    ("msg-param-login", raider.login.as_str()),
                    ("msg-param-viewerCount", viewers.as_str()),
                ];
                let line = lines::usernotice(&channel, &raider, &id, ts, "raid", &params);
                out.push(self.line(crowd, line, kind, Some(&raider)));
            }
            Kind::Bot => {
                let bot = Chatter::new("nightbot", "19264788", "Nightbot");
                let text = BOT_PHRASES.choose(&mut self.rng).copied().unwrap_or("!commands");
                let line = lines::privmsg(&channel, &bot, &id, ts, text, None);
                out.push(self.line(crowd, line, kind, None));
            }
            // A moderator bans a lurker who spoke lately, or clears the whole chat. (Messages
            // and RECONNECT never come by turns: they are not in SPECIALS.)
            Kind::ClearChat | Kind::Message | Kind::Reconnect => {
                let recent = &mut self.crowds[crowd].recent;
                let target = if recent.is_empty() { String::new() } else { recent.remove(0).login };
                let line = lines::clearchat(&channel, &target, ts);
                out.push(self.line(crowd, line, Kind::ClearChat, None));
            }
        }
    }

    /// A `subgift` (or `anonsubgift`) line to a new recipient, part of a mystery gift when
    /// `community` names it.
    fn gift(
        &mut self,
        channel: &str,
        gifter: &Chatter,
        id: &str,
        ts: i64,
        msg_id: &str,
        community: Option<&str>,
    ) -> String {
        let to = self.namer.chatter(&mut self.rng, NameStyle::Numbered);
        let shown = if to.display_name.is_empty() { to.login.clone() } else { to.display_name.clone() };
        let mut params = vec![
            ("msg-param-gift-months", "1"),
            ("msg-param-months", "1"),
            ("msg-param-recipient-display-name", shown.as_str()),
            ("msg-param-recipient-id", to.user_id.as_str()),
            ("msg-param-recipient-user-name", to.login.as_str()),
            ("msg-param-sub-plan", "1000"),
        ];
        if let Some(community) = community {
            params.push(("msg-param-community-gift-id", community));
        }
        lines::usernotice(channel, gifter, id, ts, msg_id, &params)
    }
}
