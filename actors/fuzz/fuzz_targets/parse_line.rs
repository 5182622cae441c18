//! Fuzz target: arbitrary bytes through `LineDecoder` (in reads of a size taken from the
//! input) and every frame through `parse_frame`; also the whole input through `parse_line`.
//! Neither may panic, and the decoder may never hold `max_len` bytes or more after a drain.
#![no_main]

use std::collections::HashSet;

use bytes::BytesMut;
use chatseal_actors::channel::framing::LineDecoder;
use chatseal_actors::channel::parse::{parse_frame, parse_line, ParseCtx};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

const MAX_LEN: usize = 8704;

fuzz_target!(|data: &[u8]| {
    let excluded: HashSet<String> = ["nightbot"].map(String::from).into();
    let opted_out: HashSet<String> = ["shyviewer"].map(String::from).into();
    let ctx = ParseCtx {
        recv_ms: 1_717_000_030_000,
        epoch_len: 3600,
        max_skew_ms: 300_000,
        excluded: &excluded,
        opted_out: &opted_out,
        own_nick: "justinfan12345",
    };
    let _ = parse_line(data, &ctx);

    let (read, data) = match data.split_first() {
        Some((first, rest)) => (usize::from(*first).max(1) * 64, rest),
        None => return,
    };
    let mut dec = LineDecoder::new(MAX_LEN);
    let mut buf = BytesMut::new();
    for chunk in data.chunks(read) {
        buf.extend_from_slice(chunk);
        while let Some(frame) = dec.decode(&mut buf).expect("LineDecoder never errs") {
            let _ = parse_frame(&frame, &ctx);
        }
        assert!(buf.len() < MAX_LEN, "decoder holds {} bytes", buf.len());
    }
    while let Some(frame) = dec.decode_eof(&mut buf).expect("LineDecoder never errs") {
        let _ = parse_frame(&frame, &ctx);
    }
});
