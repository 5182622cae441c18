//! Tests of the fake server over real loopback TCP, with a raw client writing IRC bytes.
//! Absence of a reply is checked with a sentinel: the server answers a client's lines in
//! order, so when the answer to a later line arrives first, the earlier one got no answer.

mod control;
mod handshake;

use super::*;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

pub(super) const T: Duration = Duration::from_secs(5);

pub(super) struct Client {
    pub(super) reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Client {
    pub(super) async fn connect(server: &FakeTwitch) -> Client {
        let stream = TcpStream::connect(server.addr()).await.expect("connect to the fake server");
        let (reader, writer) = stream.into_split();
        Client { reader: BufReader::new(reader), writer }
    }

    pub(super) async fn send(&mut self, line: &str) {
        self.send_bytes(format!("{line}\r\n").as_bytes()).await;
    }

    pub(super) async fn send_bytes(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.expect("write to the fake server");
    }

    /// The next line without `\r\n`; panics on EOF or after `T`.
    pub(super) async fn line(&mut self) -> String {
        let mut line = String::new();
        let read = tokio::time::timeout(T, self.reader.read_line(&mut line)).await;
        match read {
            Ok(Ok(n)) if n > 0 => line.trim_end_matches(['\r', '\n']).to_owned(),
            other => panic!("expected a line, got {other:?} (partial {line:?})"),
        }
    }

    /// Reads lines until one satisfies `pred`; returns it.
    pub(super) async fn until(&mut self, pred: impl Fn(&str) -> bool) -> String {
        loop {
            let line = self.line().await;
            if pred(&line) {
                return line;
            }
        }
    }

    pub(super) async fn login(&mut self, nick: &str) {
        self.send("CAP REQ :twitch.tv/tags twitch.tv/commands").await;
        self.send(&format!("NICK {nick}")).await;
        self.until(|l| l.contains(" 376 ")).await;
    }

    pub(super) async fn join(&mut self, channel: &str) {
        self.send(&format!("JOIN #{channel}")).await;
        self.until(|l| l.ends_with(&format!("ROOMSTATE #{channel}"))).await;
    }

    /// True when the server closes the connection within `T`.
    pub(super) async fn closed(&mut self) -> bool {
        let mut sink = Vec::new();
        tokio::time::timeout(T, self.reader.read_to_end(&mut sink)).await.is_ok()
    }
}

pub(super) async fn server(cfg: FakeTwitchConfig) -> FakeTwitch {
    FakeTwitch::start(cfg).await.expect("start the fake server")
}
