//! Handshake, PING/PONG and refusal: what a client hears in answer to what it says.

use super::{server, Client, T};
use crate::twitchsim::*;
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test]
async fn handshake_gets_ack_welcome_echo_and_roomstate_with_room_id() {
    let tw = server(FakeTwitchConfig::default()).await;
    let mut c = Client::connect(&tw).await;
    c.send("PASS oauth:s3cret").await;
    c.send("CAP REQ :twitch.tv/tags twitch.tv/commands").await;
    c.send("NICK JustinFan123").await;
    c.send("USER justinfan123 8 * :justinfan123").await;
    assert_eq!(c.line().await, ":tmi.twitch.tv CAP * ACK :twitch.tv/tags twitch.tv/commands");
    assert_eq!(c.line().await, ":tmi.twitch.tv 001 justinfan123 :Welcome, GLHF!");
    let mut codes = Vec::new();
    for _ in 0..6 {
        codes.push(c.line().await.split(' ').nth(1).unwrap_or_default().to_owned());
    }
    assert_eq!(codes, ["002", "003", "004", "375", "372", "376"]);

    c.send("JOIN #Alpha,#beta").await;
    assert_eq!(c.line().await, ":justinfan123!justinfan123@justinfan123.tmi.twitch.tv JOIN #alpha");
    assert!(c.line().await.contains(" 353 justinfan123 = #alpha "));
    assert!(c.line().await.contains(" 366 justinfan123 #alpha "));
    let roomstate = c.until(|l| l.contains("ROOMSTATE")).await;
    assert_eq!(
        roomstate,
        format!(
            "@emote-only=0;followers-only=-1;r9k=0;room-id={};slow=0;subs-only=0 :tmi.twitch.tv ROOMSTATE #alpha",
            room_id("alpha")
        )
    );
    assert!(c.until(|l| l.contains("ROOMSTATE")).await.ends_with(" ROOMSTATE #beta"));
    assert!(tw.wait_joined("#ALPHA", T).await);
    assert_eq!(tw.joined_channels(), ["alpha", "beta"]);

    let sessions = tw.sessions();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].nick.as_deref(), Some("justinfan123"));
    assert_eq!(sessions[0].pass.as_ref().map(Secret::expose), Some("oauth:s3cret"));
    assert!(!format!("{sessions:?}").contains("s3cret"));
    assert_eq!(sessions[0].caps, ["twitch.tv/tags", "twitch.tv/commands"]);

    c.send("PART #beta").await;
    assert_eq!(c.line().await, ":justinfan123!justinfan123@justinfan123.tmi.twitch.tv PART #beta");
    assert_eq!(tw.joined_channels(), ["alpha"]);
    tw.shutdown().await;
}

#[tokio::test]
async fn pings_are_answered_unless_switched_off_or_silent() {
    let tw = server(FakeTwitchConfig { answer_pings: false, ..FakeTwitchConfig::default() }).await;
    let mut c = Client::connect(&tw).await;
    c.login("me").await;
    c.send("PING :one").await;
    c.send("CAP LS").await;
    assert!(c.line().await.contains(" CAP * LS "), "no PONG while answer_pings is false");

    tw.set_answer_pings(true);
    c.send("PING :two").await;
    assert_eq!(c.line().await, ":tmi.twitch.tv PONG tmi.twitch.tv :two");

    c.join("room").await;
    tw.set_silent(true);
    c.send("PING :three").await;
    c.send("PONG :marker").await;
    // Lines are handled in order: once the PONG is recorded, the PING was handled while silent.
    assert!(tw.wait_for(T, |tw| tw.pongs_received() == 1).await);
    assert_eq!(tw.send_raw("room", "x"), 0, "nothing is queued while silent");
    tw.set_silent(false);
    c.send("CAP LS").await;
    assert!(c.line().await.contains(" CAP * LS "), "nothing was sent while silent");
    assert_eq!(tw.connections(), 1);
}

#[tokio::test]
async fn server_pings_and_records_pongs() {
    let cfg = FakeTwitchConfig { server_ping_interval: Some(Duration::from_millis(20)), ..Default::default() };
    let tw = server(cfg).await;
    let mut c = Client::connect(&tw).await;
    c.login("me").await;
    assert_eq!(c.until(|l| l.starts_with("PING")).await, "PING :tmi.twitch.tv");
    c.send("PONG :tmi.twitch.tv").await;
    assert!(tw.wait_for(T, |tw| tw.pongs_received() == 1).await);
    assert_eq!(tw.sessions()[0].pongs, 1);
}

#[tokio::test]
async fn refused_channel_gets_the_notice_and_no_echo() {
    let cfg =
        FakeTwitchConfig { refuse_channels: HashSet::from(["#Banned".to_owned()]), ..FakeTwitchConfig::default() };
    let tw = server(cfg).await;
    let mut c = Client::connect(&tw).await;
    c.login("me").await;
    c.send("JOIN #banned").await;
    c.send("JOIN #fine").await;
    assert_eq!(
        c.line().await,
        "@msg-id=msg_channel_suspended :tmi.twitch.tv NOTICE #banned :This channel has been suspended."
    );
    assert_eq!(c.line().await, ":me!me@me.tmi.twitch.tv JOIN #fine");
    assert_eq!(tw.joined_channels(), ["fine"]);
    let logged: Vec<String> = tw.join_log().into_iter().map(|(_, ch, _)| ch).collect();
    assert_eq!(logged, ["banned", "fine"]);
    assert!(!tw.wait_joined("banned", Duration::from_millis(1)).await);
}
