//! Driving the server from the handle: delivery to joined connections, drops, the join log,
//! hostile input, slow readers and backpressured feeding.

use super::{server, Client, T};
use crate::twitchsim::*;
use tokio::io::AsyncBufReadExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn send_raw_reaches_only_joined_connections() {
    let tw = server(FakeTwitchConfig::default()).await;
    let (mut a, mut b) = (Client::connect(&tw).await, Client::connect(&tw).await);
    a.login("a").await;
    b.login("b").await;
    a.join("one").await;
    b.join("two").await;
    let line = privmsg("one", &Chatter::new("viewer", "42", "Viewer"), "id-1", 1, "hi there", None);
    assert_eq!(tw.send_raw("#one", &line), 1);
    assert_eq!(tw.send_raw("nobody", "x"), 0);
    tw.broadcast_raw("PING :sentinel");
    assert_eq!(a.line().await, line);
    assert_eq!(a.line().await, "PING :sentinel");
    assert_eq!(b.line().await, "PING :sentinel", "b is not in #one");
    assert_eq!(tw.send_raw_bytes("two", b"\xff\x00raw\n"), 1);
    let mut raw = Vec::new();
    b.reader.read_until(b'\n', &mut raw).await.expect("read raw bytes");
    assert_eq!(raw, b"\xff\x00raw\n");
    assert!(tw.wait_drained(T).await);
}

#[tokio::test]
async fn drop_all_closes_every_client_and_counts_stay() {
    let tw = server(FakeTwitchConfig::default()).await;
    let (mut a, mut b) = (Client::connect(&tw).await, Client::connect(&tw).await);
    a.login("a").await;
    b.login("b").await;
    assert_eq!(tw.connections(), 2);
    tw.drop_all();
    assert!(a.closed().await);
    assert!(b.closed().await);
    assert!(tw.wait_for(T, |tw| tw.connections() == 0).await);
    assert_eq!(tw.total_connections(), 2);
    let mut c = Client::connect(&tw).await;
    c.login("c").await;
    assert_eq!((tw.connections(), tw.total_connections()), (1, 3));
    tw.shutdown().await;
    assert!(c.closed().await);
    assert!(TcpStream::connect(tw.addr()).await.is_err(), "listener closed after shutdown");
}

#[tokio::test]
async fn join_log_records_every_join_with_its_connection() {
    let tw = server(FakeTwitchConfig::default()).await;
    let (mut a, mut b) = (Client::connect(&tw).await, Client::connect(&tw).await);
    a.login("a").await;
    b.login("b").await;
    a.join("x").await;
    b.join("x").await;
    a.join("y").await;
    let by_nick = |nick: &str| tw.sessions().iter().find(|s| s.nick.as_deref() == Some(nick)).map(|s| s.id);
    let (ia, ib) = (by_nick("a").unwrap_or(0), by_nick("b").unwrap_or(0));
    assert_eq!(tw.sessions().len(), 2);
    assert_ne!(ia, ib);
    let log = tw.join_log();
    let entries: Vec<(&str, u64)> = log.iter().map(|(_, ch, id)| (ch.as_str(), *id)).collect();
    assert_eq!(entries, [("x", ia), ("x", ib), ("y", ia)]);
    assert!(log.windows(2).all(|w| w[0].0 <= w[1].0), "join times are in order");
}

#[tokio::test]
async fn hostile_input_never_kills_the_server() {
    let tw = server(FakeTwitchConfig::default()).await;
    let mut c = Client::connect(&tw).await;
    c.send("JOIN #before_nick").await;
    assert!(c.line().await.contains(" 451 "));
    c.send_bytes(&vec![b'A'; MAX_LINE_BYTES * 3]).await;
    c.send_bytes(b"\r\n\xff\xfe\x00garbage\r\n@;;; :: \r\n\r\nWHAT\r\nJOIN nohash,#bad-name!\r\n").await;
    c.send("PING :alive").await;
    let reply = c.until(|l| l.contains("PONG")).await;
    assert_eq!(reply, ":tmi.twitch.tv PONG tmi.twitch.tv :alive");
    assert!(tw.join_log().is_empty());
    c.send("QUIT").await;
    assert!(c.closed().await);
}

#[tokio::test]
async fn a_client_that_does_not_read_is_dropped_not_buffered() {
    let tw = server(FakeTwitchConfig::default()).await;
    let mut c = Client::connect(&tw).await;
    c.login("slow").await;
    c.join("flood").await;
    // This runtime is single-threaded: the writer cannot run during this loop, so the outbox
    // holds every line until it is full, and the next one drops the client.
    let sent = (0..=registry::OUTBOX_CAPACITY).map(|_| tw.send_raw("flood", "x")).sum::<usize>();
    assert_eq!(sent, registry::OUTBOX_CAPACITY);
    assert_eq!(tw.connections(), 0);
    assert!(c.closed().await);
}

#[tokio::test]
async fn feed_waits_for_a_slow_reader_instead_of_dropping_it() {
    let tw = server(FakeTwitchConfig::default()).await;
    let mut c = Client::connect(&tw).await;
    c.login("reader").await;
    c.join("load").await;
    let lines = registry::OUTBOX_CAPACITY * 2;
    let feeder = tw.clone();
    let feeding = tokio::spawn(async move {
        let mut delivered = 0;
        for i in 0..lines {
            delivered += feeder.feed("load", format!("line {i}\r\n")).await;
        }
        delivered
    });
    for i in 0..lines {
        assert_eq!(c.line().await, format!("line {i}"));
    }
    assert_eq!(feeding.await.expect("feeder task"), lines);
    assert_eq!(tw.connections(), 1);
}
