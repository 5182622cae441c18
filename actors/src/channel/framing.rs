//! Splits the byte stream of a chat connection into lines, with a hard bound on line length.
//!
//! Written by hand rather than reusing irc-proto's `LineCodec`, for two reasons: that codec has
//! no length bound (a peer that never sends `\n` grows its buffer without limit), and it returns
//! `Err` on invalid UTF-8. With tokio_util's `FramedRead`, a decoder error ends the stream, which
//! would silently drop a healthy connection over one bad line. [`LineDecoder`] therefore never
//! returns `Err` for content: an overlong line becomes [`Frame::Overlong`] (its bytes are
//! discarded up to the next `\n`, never buffered), and invalid UTF-8 is left to the parser,
//! which rejects that one line and carries on.

use bytes::{Buf, BytesMut};
use tokio_util::codec::Decoder;

/// One unit of the chat byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A non-empty line, without its trailing `\n` or `\r\n`.
    Line(BytesMut),
    /// A line longer than the decoder's `max_len` was discarded. `len` counts all its bytes,
    /// terminator included (at end of stream: the bytes discarded before the stream ended).
    Overlong {
        /// Bytes discarded.
        len: usize,
    },
}

/// A `tokio_util` decoder that yields [`Frame`]s.
///
/// `max_len` bounds a line's length in bytes *including* its `\r\n` terminator (Twitch allows
/// 8,191 bytes of tags plus a 512-byte IRC message, so 8704 is enough). After a `decode` call
/// that returns `Ok(None)`, the buffer holds fewer than `max_len` bytes.
#[derive(Debug, Clone)]
pub struct LineDecoder {
    max_len: usize,
    /// How far `src` has been searched for `\n` without finding one (no rescans on slow reads).
    scanned: usize,
    /// While discarding an overlong line: how many of its bytes were dropped so far.
    discarding: Option<usize>,
}

impl LineDecoder {
    /// A decoder for lines of at most `max_len` bytes (terminator included; at least 1).
    pub fn new(max_len: usize) -> Self {
        LineDecoder { max_len: max_len.max(1), scanned: 0, discarding: None }
    }

    /// The configured bound.
    pub fn max_len(&self) -> usize {
        self.max_len
    }
}

/// Removes one trailing `\r`, if any (the `\n` is already gone).
fn strip_cr(mut line: BytesMut) -> BytesMut {
    if line.last() == Some(&b'\r') {
        line.truncate(line.len() - 1);
    }
    line
}

impl Decoder for LineDecoder {
    type Item = Frame;
    // Required by the trait bound `From<io::Error>`; never produced by this decoder.
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, Self::Error> {
        loop {
            if let Some(dropped) = self.discarding {
                return Ok(match src.iter().position(|&b| b == b'\n') {
                    Some(pos) => {
                        src.advance(pos + 1);
                        self.discarding = None;
                        self.scanned = 0;
                        Some(Frame::Overlong { len: dropped.saturating_add(pos + 1) })
                    }
                    None => {
                        self.discarding = Some(dropped.saturating_add(src.len()));
                        src.clear();
                        None
                    }
                });
            }

            // A line of at most max_len bytes has its '\n' within the first max_len bytes.
            let window = src.len().min(self.max_len);
            let start = self.scanned.min(window);
            match src[start..window].iter().position(|&b| b == b'\n') {
                Some(offset) => {
                    let mut line = src.split_to(start + offset + 1);
                    self.scanned = 0;
                    line.truncate(line.len() - 1);
                    let line = strip_cr(line);
                    if line.is_empty() {
                        continue; // empty lines carry nothing
                    }
                    return Ok(Some(Frame::Line(line)));
                }
                None if src.len() >= self.max_len => {
                    // No '\n' in max_len bytes: this line is overlong. The discarding branch
                    // drops it up to its '\n' (which may already be in `src`) or drops all.
                    self.discarding = Some(0);
                    self.scanned = 0;
                }
                None => {
                    self.scanned = window;
                    return Ok(None);
                }
            }
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, Self::Error> {
        if let Some(frame) = self.decode(src)? {
            return Ok(Some(frame));
        }
        self.scanned = 0;
        if let Some(dropped) = self.discarding.take() {
            let len = dropped.saturating_add(src.len());
            src.clear();
            return Ok(Some(Frame::Overlong { len }));
        }
        if src.is_empty() {
            return Ok(None);
        }
        // A trailing line without its terminator still counts.
        let line = strip_cr(src.split());
        Ok(if line.is_empty() { None } else { Some(Frame::Line(line)) })
    }
}

#[cfg(test)]
#[path = "framing_tests.rs"]
mod tests;
