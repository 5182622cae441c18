//! The fake server's answers to client commands, composed as Twitch's server writes them
//! (welcome numerics, CAP ACK/NAK, JOIN echo + NAMES + USERSTATE + ROOMSTATE, PART echo,
//! PONG, the suspended-channel NOTICE). Pure: values echoed from the client are cleaned of
//! control characters so an answer is always exactly one line.

use super::lines::{roomstate, SERVER_NAME};

/// Capabilities Twitch knows; a CAP REQ naming anything else is refused whole (NAK).
pub(crate) const KNOWN_CAPS: [&str; 3] = ["twitch.tv/tags", "twitch.tv/commands", "twitch.tv/membership"];

/// Removes control characters (CR, LF, NUL, ...) from a value echoed back to the client.
pub(crate) fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// `:tmi.twitch.tv CAP * ACK :<caps>` when every capability is known, else NAK.
pub(crate) fn cap_answer(caps: &str) -> String {
    let caps = clean(caps);
    let all_known = caps.split_whitespace().all(|c| KNOWN_CAPS.contains(&c));
    let verb = if all_known { "ACK" } else { "NAK" };
    format!(":{SERVER_NAME} CAP * {verb} :{caps}")
}

/// The answer to `CAP LS`.
pub(crate) fn cap_ls() -> String {
    format!(":{SERVER_NAME} CAP * LS :{}", KNOWN_CAPS.join(" "))
}

/// The numerics Twitch sends once a client has given its NICK.
pub(crate) fn welcome(nick: &str) -> Vec<String> {
    [
        ("001", "Welcome, GLHF!"),
        ("002", "Your host is tmi.twitch.tv"),
        ("003", "This server is rather new"),
        ("004", "-"),
        ("375", "-"),
        ("372", "You are in a maze of twisty passages, all alike."),
        ("376", ">"),
    ]
    .iter()
    .map(|(code, text)| format!(":{SERVER_NAME} {code} {nick} :{text}"))
    .collect()
}

/// Echo of our own JOIN, NAMES (353/366), USERSTATE and ROOMSTATE (with the room id), in
/// Twitch's order. `channel` is the channel key (no `#`).
pub(crate) fn join_accepted(nick: &str, channel: &str) -> Vec<String> {
    vec![
        format!(":{nick}!{nick}@{nick}.{SERVER_NAME} JOIN #{channel}"),
        format!(":{nick}.{SERVER_NAME} 353 {nick} = #{channel} :{nick}"),
        format!(":{nick}.{SERVER_NAME} 366 {nick} #{channel} :End of /NAMES list"),
        format!(
            "@badge-info=;badges=;color=;display-name={nick};emote-sets=0;mod=0;subscriber=0;user-type= :{SERVER_NAME} USERSTATE #{channel}"
        ),
        roomstate(channel),
    ]
}

/// The NOTICE for a JOIN of a suspended channel (no echo follows).
pub(crate) fn join_suspended(channel: &str) -> String {
    format!("@msg-id=msg_channel_suspended :{SERVER_NAME} NOTICE #{channel} :This channel has been suspended.")
}

/// Echo of a PART.
pub(crate) fn part(nick: &str, channel: &str) -> String {
    format!(":{nick}!{nick}@{nick}.{SERVER_NAME} PART #{channel}")
}

/// `:tmi.twitch.tv PONG tmi.twitch.tv :<token>` (token defaults to the server name).
pub(crate) fn pong(token: Option<&str>) -> String {
    let token = clean(token.unwrap_or(SERVER_NAME));
    format!(":{SERVER_NAME} PONG {SERVER_NAME} :{token}")
}

/// The server's own keep-alive ping.
pub(crate) fn ping() -> String {
    format!("PING :{SERVER_NAME}")
}

/// 421 for a command the server does not know.
pub(crate) fn unknown_command(nick: Option<&str>, command: &str) -> String {
    let command: String = clean(command).chars().filter(|c| !c.is_whitespace()).collect();
    format!(":{SERVER_NAME} 421 {} {command} :Unknown command", nick.unwrap_or("*"))
}

/// 451 for a JOIN/PART before NICK.
pub(crate) fn not_registered(command: &str) -> String {
    format!(":{SERVER_NAME} 451 * {command} :You have not registered")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_acks_known_and_naks_unknown() {
        assert_eq!(
            cap_answer("twitch.tv/tags twitch.tv/commands"),
            ":tmi.twitch.tv CAP * ACK :twitch.tv/tags twitch.tv/commands"
        );
        assert_eq!(cap_answer("twitch.tv/tags sasl"), ":tmi.twitch.tv CAP * NAK :twitch.tv/tags sasl");
    }

    #[test]
    fn welcome_has_twitchs_numerics_in_order() {
        let codes: Vec<String> =
            welcome("justinfan1").iter().map(|l| l.split(' ').nth(1).unwrap_or_default().to_owned()).collect();
        assert_eq!(codes, ["001", "002", "003", "004", "375", "372", "376"]);
        assert_eq!(welcome("me")[0], ":tmi.twitch.tv 001 me :Welcome, GLHF!");
    }

    #[test]
    fn join_accepted_echoes_then_roomstate() {
        let lines = join_accepted("me", "chan");
        assert_eq!(lines[0], ":me!me@me.tmi.twitch.tv JOIN #chan");
        assert!(lines[1].contains(" 353 me = #chan :me"));
        assert!(lines[2].contains(" 366 me #chan :End of /NAMES list"));
        assert!(lines[4].ends_with("ROOMSTATE #chan"));
        assert!(lines[4].contains(&format!("room-id={};", super::super::lines::room_id("chan"))));
    }

    #[test]
    fn echoed_values_cannot_break_the_line() {
        assert_eq!(pong(Some("x\r\nQUIT")), ":tmi.twitch.tv PONG tmi.twitch.tv :xQUIT");
        assert_eq!(pong(None), ":tmi.twitch.tv PONG tmi.twitch.tv :tmi.twitch.tv");
        assert_eq!(unknown_command(None, "F O\rO"), ":tmi.twitch.tv 421 * FOO :Unknown command");
    }
}
