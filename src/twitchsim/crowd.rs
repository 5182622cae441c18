//! The people and the words of the simulated chat: unique chatters with plausible logins,
//! numeric user ids and display names (CamelCase, lowercase, empty, or in another script, as
//! Twitch allows), message ids in UUID form, and what chatters say. Pure: every choice comes
//! from the caller's random number generator, so a seeded generator makes the same crowd.

use std::collections::HashSet;

use rand::seq::IndexedRandom;
use rand::Rng;

use super::lines::Chatter;

const ADJECTIVES: &[&str] = &[
    "sleepy", "cozy", "salty", "tiny", "lucky", "grumpy", "swift", "quiet", "spicy", "fuzzy", "brave", "lazy", "shiny",
    "wild", "chill", "sneaky", "mighty", "happy", "frosty", "rusty", "golden", "cosmic", "pixel", "turbo",
];

const NOUNS: &[&str] = &[
    "otter", "panda", "gamer", "wizard", "noodle", "falcon", "potato", "ninja", "badger", "pickle", "comet", "raccoon",
    "goblin", "walrus", "taco", "dragon", "penguin", "muffin", "viking", "koala", "pirate", "robot", "llama", "moose",
];

/// Display names in other scripts: Twitch lets a display name differ from the login in script.
const OTHER_SCRIPT: &[&str] = &["ねこすき", "고양이", "Ёжик", "小熊猫", "Λύκος", "ゆうき", "별빛"];

/// What chatters say: greetings, reactions, emotes, questions, commands.
const PHRASES: &[&str] = &[
    "hello chat",
    "hi everyone",
    "KEKW",
    "LUL",
    "PogChamp",
    "Kappa",
    "W",
    "L",
    "gg",
    "that was insane",
    "no way",
    "LETS GOOO",
    "monkaS",
    "what did I just watch",
    "first time here, love the stream",
    "!uptime",
    "!socials",
    "clip it",
    "OMEGALUL",
    "5Head play",
    "Sadge",
    "catJAM catJAM",
    "how long have you been live?",
    "good morning from Berlin",
    "lurking while I work",
    "HypeUnicorn",
    "chat is this real",
    "+1",
    "F",
    "BibleThump",
    "what game is next?",
    "that aim though",
    "brb",
    "o7",
];

/// Resub messages and gift thank-yous.
const SUB_MESSAGES: &[&str] = &[
    "still here",
    "love the streams",
    "another month lets go",
    "best community on twitch",
    "hi from the lurk squad",
    "",
];

/// What a bot says every now and then.
pub(super) const BOT_PHRASES: &[&str] = &[
    "Follow the channel to get notified when the stream goes live!",
    "Join the Discord: see the panels below the stream.",
    "Be kind in chat. Spam and slurs get a timeout.",
    "The stream has been live for 2 hours 14 minutes.",
];

/// The shape of a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NameStyle {
    /// A channel regular or a raiding broadcaster: `cosmicotter`, a number only when taken.
    Plain,
    /// A one-off chatter: `sleepypanda417`.
    Numbered,
}

/// Makes chatters whose logins and user ids never repeat within one generator.
#[derive(Debug, Default)]
pub(super) struct Namer {
    used: HashSet<String>,
    made: u64,
}

impl Namer {
    /// A new chatter nobody else in this crowd is.
    pub(super) fn chatter<R: Rng>(&mut self, rng: &mut R, style: NameStyle) -> Chatter {
        let adj = ADJECTIVES.choose(rng).copied().unwrap_or("cozy");
        let noun = NOUNS.choose(rng).copied().unwrap_or("otter");
        let mut login = match style {
            NameStyle::Plain => format!("{adj}{noun}"),
            NameStyle::Numbered => format!("{adj}{noun}{}", rng.random_range(1..1000)),
        };
        while self.used.contains(&login) {
            login = format!("{adj}{noun}{}", self.made + rng.random_range(1000..100_000));
        }
        self.used.insert(login.clone());
        self.made += 1;
        // Disjoint ranges of 101 ids per chatter: unique without bookkeeping.
        let user_id = 31_000_000 + self.made * 101 + rng.random_range(0..101);
        let display_name = display_name(rng, adj, noun, &login);
        Chatter::new(&login, &user_id.to_string(), &display_name)
    }
}

/// Mostly CamelCase of the login, sometimes the login itself, empty, or another script.
fn display_name<R: Rng>(rng: &mut R, adj: &str, noun: &str, login: &str) -> String {
    match rng.random_range(0..100) {
        0..=64 => {
            let digits = &login[adj.len() + noun.len()..];
            format!("{}{}{digits}", capitalise(adj), capitalise(noun))
        }
        65..=89 => login.to_owned(),
        90..=94 => String::new(),
        _ => OTHER_SCRIPT.choose(rng).copied().unwrap_or("ねこすき").to_owned(),
    }
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A message id in the form Twitch uses (a version-4 UUID), drawn from `rng`.
pub(super) fn message_id<R: Rng>(rng: &mut R) -> String {
    let v: u128 = rng.random();
    let v = (v & !(0xf_u128 << 76)) | (0x4_u128 << 76);
    let v = (v & !(0x3_u128 << 62)) | (0x2_u128 << 62);
    let hex = format!("{v:032x}");
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// Something a chatter says.
pub(super) fn phrase<R: Rng>(rng: &mut R) -> &'static str {
    PHRASES.choose(rng).copied().unwrap_or("hello chat")
}

/// A resub message (empty: the resub carries no message, as often on Twitch).
pub(super) fn sub_message<R: Rng>(rng: &mut R) -> &'static str {
    SUB_MESSAGES.choose(rng).copied().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn chatters_are_unique_and_well_formed() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut namer = Namer::default();
        let mut logins = HashSet::new();
        let mut ids = HashSet::new();
        for i in 0..3000 {
            let style = if i % 3 == 0 { NameStyle::Plain } else { NameStyle::Numbered };
            let c = namer.chatter(&mut rng, style);
            assert!(c.login.len() <= 25 && c.login.len() >= 4, "{}", c.login);
            assert!(c.login.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()), "{}", c.login);
            assert!(logins.insert(c.login.clone()), "repeated login {}", c.login);
            assert!(ids.insert(c.user_id.clone()), "repeated user id {}", c.user_id);
        }
    }

    #[test]
    fn message_ids_look_like_uuid_v4() {
        let mut rng = StdRng::seed_from_u64(2);
        let id = message_id(&mut rng);
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12], "{id}");
        assert!(parts[2].starts_with('4'), "{id}");
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'), "{id}");
        assert_ne!(id, message_id(&mut rng));
    }
}
