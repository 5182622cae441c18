//! Pure composers of realistic Twitch chat lines (PRIVMSG, USERNOTICE, CLEARCHAT, ROOMSTATE,
//! RECONNECT) as the fake server sends them, without the trailing `\r\n`. Tag values are
//! escaped per IRCv3 (`\s`, `\:`, `\\`, `\r`, `\n`), tags are written in Twitch's alphabetical
//! order, and the room id of a channel is a stable function of its name ([`room_id`]), so the
//! ROOMSTATE the server sends on JOIN and every composed line of that channel agree.
//! Nothing here touches a socket or a clock: callers pass every value that varies.

/// The user a composed line comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chatter {
    /// Lowercase login (the prefix nick of a PRIVMSG, the `login` tag of a USERNOTICE).
    pub login: String,
    /// Numeric Twitch user id, as a string (`user-id` tag).
    pub user_id: String,
    /// Display name (`display-name` tag); may be empty or differ from the login.
    pub display_name: String,
}

impl Chatter {
    /// A chatter from its three names.
    pub fn new(login: &str, user_id: &str, display_name: &str) -> Chatter {
        Chatter { login: login.to_owned(), user_id: user_id.to_owned(), display_name: display_name.to_owned() }
    }
}

/// The server name Twitch uses as the prefix of its own lines.
pub const SERVER_NAME: &str = "tmi.twitch.tv";

/// Channel name as the server keys it: without the leading `#`, lowercased, trimmed.
pub fn channel_key(channel: &str) -> String {
    channel.trim().trim_start_matches('#').to_ascii_lowercase()
}

/// Stable numeric room id of a channel (FNV-1a of its key, folded into 9 digits), the same in
/// every run, so ROOMSTATE and the composed lines of a channel always carry the same `room-id`.
pub fn room_id(channel: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in channel_key(channel).bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    100_000_000 + hash % 900_000_000
}

/// Escapes a tag value per IRCv3 message tags: `;` → `\:`, space → `\s`, `\` → `\\`,
/// CR → `\r`, LF → `\n`.
pub fn escape_tag_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            ';' => out.push_str("\\:"),
            ' ' => out.push_str("\\s"),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A PRIVMSG from `who` in `channel`, with the tags Twitch sends (`id`, `tmi-sent-ts`,
/// `user-id`, `display-name`, `room-id`, and `bits` when given). Line breaks and NULs in
/// `text` are replaced by spaces so the result stays one line.
pub fn privmsg(channel: &str, who: &Chatter, id: &str, tmi_sent_ts_ms: i64, text: &str, bits: Option<u64>) -> String {
    privmsg_with_tags(channel, who, id, tmi_sent_ts_ms, text, bits, &[])
}

/// [`privmsg`] with `extra_tags` (full tag names and values, such as `("badges",
/// "subscriber/12,premium/1")` or `("client-nonce", "...")`) set after the default tags: one that
/// names a default tag replaces its value, the others are added, all in Twitch's order.
pub fn privmsg_with_tags(
    channel: &str,
    who: &Chatter,
    id: &str,
    tmi_sent_ts_ms: i64,
    text: &str,
    bits: Option<u64>,
    extra_tags: &[(&str, &str)],
) -> String {
    let mut tags = Tags::default();
    tags.set("badge-info", "");
    tags.set("badges", "");
    if let Some(bits) = bits {
        tags.set("bits", &bits.to_string());
    }
    tags.set("color", "");
    tags.set("display-name", &who.display_name);
    tags.set("emotes", "");
    tags.set("first-msg", "0");
    tags.set("flags", "");
    tags.set("id", id);
    tags.set("mod", "0");
    tags.set("returning-chatter", "0");
    tags.set("room-id", &room_id(channel).to_string());
    tags.set("subscriber", "0");
    tags.set("tmi-sent-ts", &tmi_sent_ts_ms.to_string());
    tags.set("turbo", "0");
    tags.set("user-id", &who.user_id);
    tags.set("user-type", "");
    for (key, value) in extra_tags {
        tags.set(key, value);
    }
    let login = word(&who.login);
    format!(
        "@{} :{login}!{login}@{login}.{SERVER_NAME} PRIVMSG #{} :{}",
        tags.render(),
        word(&channel_key(channel)),
        trailing(text)
    )
}

/// A USERNOTICE of kind `msg_id` (sub, resub, subgift, submysterygift, anonsubgift, raid,
/// announcement, ...) from `who`, without a user message. `extra_params` are full tag names
/// and values (`("msg-param-months", "7")`); one that names a default tag (`system-msg`,
/// `login`, ...) replaces it.
pub fn usernotice(
    channel: &str,
    who: &Chatter,
    id: &str,
    tmi_sent_ts_ms: i64,
    msg_id: &str,
    extra_params: &[(&str, &str)],
) -> String {
    usernotice_with_message(channel, who, id, tmi_sent_ts_ms, msg_id, extra_params, "")
}

/// [`usernotice`] with the user's own message as the trailing parameter (a resub message, an
/// announcement's text); an empty `message` gives no trailing parameter, as Twitch does.
pub fn usernotice_with_message(
    channel: &str,
    who: &Chatter,
    id: &str,
    tmi_sent_ts_ms: i64,
    msg_id: &str,
    extra_params: &[(&str, &str)],
    message: &str,
) -> String {
    let mut tags = Tags::default();
    tags.set("badge-info", "");
    tags.set("badges", "");
    tags.set("color", "");
    tags.set("display-name", &who.display_name);
    tags.set("emotes", "");
    tags.set("flags", "");
    tags.set("id", id);
    tags.set("login", &who.login);
    tags.set("mod", "0");
    tags.set("msg-id", msg_id);
    tags.set("room-id", &room_id(channel).to_string());
    tags.set("subscriber", "0");
    tags.set("system-msg", &system_msg(msg_id, who, extra_params));
    tags.set("tmi-sent-ts", &tmi_sent_ts_ms.to_string());
    tags.set("user-id", &who.user_id);
    tags.set("user-type", "");
    tags.set("vip", "0");
    for (key, value) in extra_params {
        tags.set(key, value);
    }
    let head = format!("@{} :{SERVER_NAME} USERNOTICE #{}", tags.render(), word(&channel_key(channel)));
    if message.is_empty() {
        head
    } else {
        format!("{head} :{}", trailing(message))
    }
}

/// A CLEARCHAT of `channel` at `ts` (ms since the Unix epoch): a ban of the login `target`,
/// or, with an empty `target`, a clear of the whole chat.
pub fn clearchat(channel: &str, target: &str, ts: i64) -> String {
    let mut tags = Tags::default();
    tags.set("room-id", &room_id(channel).to_string());
    tags.set("tmi-sent-ts", &ts.to_string());
    let head = format!("@{} :{SERVER_NAME} CLEARCHAT #{}", tags.render(), word(&channel_key(channel)));
    let target = word(target);
    if target.is_empty() {
        head
    } else {
        format!("{head} :{target}")
    }
}

/// The ROOMSTATE Twitch sends after a JOIN, carrying the channel's `room-id`.
pub fn roomstate(channel: &str) -> String {
    format!(
        "@emote-only=0;followers-only=-1;r9k=0;room-id={};slow=0;subs-only=0 :{SERVER_NAME} ROOMSTATE #{}",
        room_id(channel),
        word(&channel_key(channel))
    )
}

/// The line by which Twitch announces it will drop the connection soon.
pub fn reconnect() -> String {
    format!(":{SERVER_NAME} RECONNECT")
}

/// The `system-msg` Twitch writes for a USERNOTICE kind (empty for kinds without one).
fn system_msg(msg_id: &str, who: &Chatter, extra: &[(&str, &str)]) -> String {
    let name = if who.display_name.is_empty() { &who.login } else { &who.display_name };
    let param = |key: &str, default: &'static str| -> String {
        extra.iter().find(|(k, _)| *k == key).map_or(default, |(_, v)| *v).to_owned()
    };
    match msg_id {
        "sub" => format!("{name} subscribed at Tier 1."),
        "resub" => format!(
            "{name} subscribed at Tier 1. They've subscribed for {} months!",
            param("msg-param-cumulative-months", "2")
        ),
        "subgift" => {
            format!("{name} gifted a Tier 1 sub to {}!", param("msg-param-recipient-display-name", "a viewer"))
        }
        "submysterygift" => {
            format!("{name} is gifting {} Tier 1 Subs to the community!", param("msg-param-mass-gift-count", "1"))
        }
        "anonsubgift" => format!(
            "An anonymous user gifted a Tier 1 sub to {}!",
            param("msg-param-recipient-display-name", "a viewer")
        ),
        "raid" => format!("{} raiders from {name} have joined!", param("msg-param-viewerCount", "1")),
        _ => String::new(),
    }
}

/// Tags in the making: set by key (a later set replaces), rendered sorted by key.
#[derive(Default)]
struct Tags(Vec<(String, String)>);

impl Tags {
    fn set(&mut self, key: &str, value: &str) {
        let key: String =
            key.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '/' | '.' | '_' | '+')).collect();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value.to_owned(),
            None => self.0.push((key, value.to_owned())),
        }
    }

    fn render(&mut self) -> String {
        self.0.sort_by(|a, b| a.0.cmp(&b.0));
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={}", escape_tag_value(v))).collect();
        parts.join(";")
    }
}

/// A middle parameter or prefix part: no spaces, line breaks or NULs.
fn word(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace() && *c != '\0').collect()
}

/// A trailing parameter: line breaks and NULs become spaces.
fn trailing(s: &str) -> String {
    s.chars().map(|c| if matches!(c, '\r' | '\n' | '\0') { ' ' } else { c }).collect()
}

#[cfg(test)]
#[path = "lines_tests.rs"]
mod tests;
