//! Tests of [`LineDecoder`]: chunking, terminators, the length bound and end of stream.

use super::*;
use futures::StreamExt;
use proptest::prelude::*;
use tokio_util::codec::FramedRead;

fn line(s: &str) -> Frame {
    Frame::Line(BytesMut::from(s.as_bytes()))
}

/// Feeds `chunks` one by one, draining the decoder after each, then runs the EOF path.
/// Also checks that the buffer held after each drain stays below `max_len`.
fn run(max_len: usize, chunks: &[&[u8]]) -> Vec<Frame> {
    let mut dec = LineDecoder::new(max_len);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(f) = dec.decode(&mut buf).expect("decode never errs") {
            out.push(f);
        }
        assert!(buf.len() < max_len, "buffered {} >= max_len {max_len}", buf.len());
    }
    while let Some(f) = dec.decode_eof(&mut buf).expect("decode_eof never errs") {
        out.push(f);
    }
    assert!(buf.is_empty());
    out
}

#[test]
fn crlf_and_bare_lf() {
    let out = run(64, &[b"PING :a\r\nPONG :b\nRECONNECT\r\n"]);
    assert_eq!(out, vec![line("PING :a"), line("PONG :b"), line("RECONNECT")]);
}

#[test]
fn lines_split_across_reads() {
    let out = run(64, &[b"PRIV", b"MSG #c :hi\r", b"\n:x JO", b"IN #c\r\nPI", b"NG\n"]);
    assert_eq!(out, vec![line("PRIVMSG #c :hi"), line(":x JOIN #c"), line("PING")]);
}

#[test]
fn one_byte_reads() {
    let data = b"A :b\r\nC :d\n";
    let chunks: Vec<&[u8]> = data.chunks(1).collect();
    assert_eq!(run(16, &chunks), vec![line("A :b"), line("C :d")]);
}

#[test]
fn empty_lines_are_skipped() {
    let out = run(64, &[b"\r\n\n\r\nA\r\n\n\rB\n"]);
    // "\r" alone is an empty line once its terminator is stripped; "\rB" keeps its leading CR
    // (only a trailing CR belongs to the terminator).
    assert_eq!(out, vec![line("A"), line("\rB")]);
}

#[test]
fn trailing_partial_line_at_eof() {
    assert_eq!(run(64, &[b"A\r\nPARTIAL"]), vec![line("A"), line("PARTIAL")]);
    assert_eq!(run(64, &[b"A\r\nPARTIAL\r"]), vec![line("A"), line("PARTIAL")]);
    assert_eq!(run(64, &[b"A\r\n\r"]), vec![line("A")]);
}

#[test]
fn bound_is_inclusive_of_terminator() {
    // 6 bytes + "\r\n" = 8 = max_len: accepted. One more byte: overlong.
    assert_eq!(run(8, &[b"ABCDEF\r\n"]), vec![line("ABCDEF")]);
    assert_eq!(run(8, &[b"ABCDEFG\r\nOK\n"]), vec![Frame::Overlong { len: 9 }, line("OK")]);
}

#[test]
fn ten_kb_line_between_good_lines() {
    let big = vec![b'x'; 10 * 1024];
    let mut data = b"@id=1 :a!a@a PRIVMSG #c :first\r\n".to_vec();
    data.extend_from_slice(&big);
    data.extend_from_slice(b"\r\n:b!b@b PRIVMSG #c :second\r\n");
    for read_size in [1usize, 7, 1000, 4096, 100_000] {
        let chunks: Vec<&[u8]> = data.chunks(read_size).collect();
        let out = run(8704, &chunks);
        assert_eq!(
            out,
            vec![
                line("@id=1 :a!a@a PRIVMSG #c :first"),
                Frame::Overlong { len: 10 * 1024 + 2 },
                line(":b!b@b PRIVMSG #c :second"),
            ],
            "read size {read_size}"
        );
    }
}

#[test]
fn overlong_at_eof_is_reported_once() {
    let big = vec![b'y'; 100];
    assert_eq!(run(16, &[b"OK\n", &big]), vec![line("OK"), Frame::Overlong { len: 100 }]);
}

#[tokio::test]
async fn framed_read_survives_bad_content() {
    let mut data = b"A\r\n\xff\xfe bad utf8\r\n".to_vec();
    data.extend_from_slice(&[b'z'; 50]);
    data.extend_from_slice(b"\nB\r\nTAIL");
    let frames: Vec<_> = FramedRead::new(&data[..], LineDecoder::new(32)).collect().await;
    let frames: Vec<Frame> = frames.into_iter().map(|r| r.expect("no decoder error")).collect();
    assert_eq!(
        frames,
        vec![
            line("A"),
            Frame::Line(BytesMut::from(&b"\xff\xfe bad utf8"[..])),
            Frame::Overlong { len: 51 },
            line("B"),
            line("TAIL"),
        ]
    );
}

/// What the decoder must produce for `data`, whatever the read sizes: split on `\n`, a line
/// longer than `max_len` (terminator included) or an unterminated tail of at least `max_len`
/// bytes is overlong, one trailing `\r` is dropped, empty lines are skipped.
fn reference(max_len: usize, data: &[u8]) -> Vec<Frame> {
    let mut out = Vec::new();
    let pieces: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let last = pieces.len() - 1;
    for (i, piece) in pieces.into_iter().enumerate() {
        let len = if i == last { piece.len() } else { piece.len() + 1 };
        let overlong = if i == last { len >= max_len } else { len > max_len };
        if overlong {
            out.push(Frame::Overlong { len });
            continue;
        }
        let content = piece.strip_suffix(b"\r").unwrap_or(piece);
        if !content.is_empty() {
            out.push(Frame::Line(BytesMut::from(content)));
        }
    }
    out
}

proptest! {
    #[test]
    fn random_bytes_match_the_reference_and_stay_bounded(
        // One byte in eight a '\n', one in eight a '\r': lines of all lengths around max_len.
        data in proptest::collection::vec(any::<u8>().prop_map(|b| match b % 8 { 0 => b'\n', 1 => b'\r', _ => b }), 0..4096),
        cuts in proptest::collection::vec(1usize..300, 1..20),
        max_len in 1usize..200,
    ) {
        // Cut `data` into chunks of the generated sizes (cycled).
        let mut chunks = Vec::new();
        let mut rest = &data[..];
        for size in cuts.iter().cycle() {
            if rest.is_empty() { break; }
            let (head, tail) = rest.split_at((*size).min(rest.len()));
            chunks.push(head);
            rest = tail;
        }
        prop_assert_eq!(run(max_len, &chunks), reference(max_len, &data));
    }

    #[test]
    fn line_bytes_round_trip(lines in proptest::collection::vec("[ -~]{1,40}", 0..20)) {
        let mut data = Vec::new();
        for l in &lines {
            data.extend_from_slice(l.as_bytes());
            data.extend_from_slice(b"\r\n");
        }
        let chunks: Vec<&[u8]> = data.chunks(13).collect();
        let expected: Vec<Frame> = lines.iter().map(|l| line(l)).collect();
        prop_assert_eq!(run(64, &chunks), expected);
    }
}
