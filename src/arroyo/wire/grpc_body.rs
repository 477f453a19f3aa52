//! The body of a `JobMetrics` answer, read as its HTTP/2 DATA frames arrive: the gRPC
//! message frame, its decompression, the protobuf field and, inside it, the JSON
//! document, handed to [`JobMetricsStream`] piece by piece.
//!
//! Hand-written rather than tonic's decoder because tonic hands a message over only once
//! all of it has arrived: for a 37 MB answer the decode then starts after the last byte
//! and adds its whole duration to the scrape. Pure: bytes in, values out.

use std::io::Write;

use super::stream::{decode_whole, JobMetricsStream, StreamError};
use super::DecodeError;
use crate::model;

/// `JobMetricsResp` as read when the message does not have the usual shape (one
/// field 1 and nothing else): `metrics` declared `bytes`, which has the wire format of the
/// proto's `string`; its UTF-8 is checked with the document's.
#[derive(Clone, PartialEq, prost::Message)]
struct RawJobMetricsResp {
    #[prost(bytes = "vec", tag = "1")]
    metrics: Vec<u8>,
}

/// The answer's `grpc-encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// No compression.
    Identity,
    /// `gzip`.
    Gzip,
    /// `zstd` (what Arroyo's controller sends when asked).
    Zstd,
}

impl Encoding {
    /// The encoding named by a `grpc-encoding` header (absent: identity).
    pub fn from_header(value: Option<&[u8]>) -> Result<Encoding, BodyError> {
        match value {
            None | Some(b"identity") => Ok(Encoding::Identity),
            Some(b"gzip") => Ok(Encoding::Gzip),
            Some(b"zstd") => Ok(Encoding::Zstd),
            Some(other) => Err(BodyError::Malformed(format!(
                "the answer is compressed with {:?}, which was not asked for",
                String::from_utf8_lossy(other)
            ))),
        }
    }
}

/// Why an answer's body gave no metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// The message, or the document once decompressed, is larger than allowed.
    TooLarge(String),
    /// Not a well-formed unary gRPC answer (framing, compression, protobuf).
    Malformed(String),
    /// The document is not UTF-8.
    NotUtf8(String),
    /// The document does not decode.
    Decode(DecodeError),
}

impl From<StreamError> for BodyError {
    fn from(e: StreamError) -> BodyError {
        match e {
            StreamError::NotUtf8(m) => BodyError::NotUtf8(m),
            StreamError::Decode(e) => BodyError::Decode(e),
        }
    }
}

/// Marks the [`std::io::Error`] a [`Field`] returns when the document grows too large,
/// so that it is told apart from a decompressor's own errors.
#[derive(Debug)]
struct OverLimit(usize);

impl std::fmt::Display for OverLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the decompressed message is larger than {} bytes",
            self.0
        )
    }
}

impl std::error::Error for OverLimit {}

/// The protobuf message, as its (decompressed) bytes come.
enum FieldState {
    /// Before the document: the field's tag and length, up to 11 bytes.
    Head(Vec<u8>),
    /// Inside the document, `left` bytes of it still to come.
    Doc {
        stream: JobMetricsStream,
        left: usize,
    },
    /// More bytes after the document: the whole message is read again by prost.
    After {
        stream: JobMetricsStream,
        rest: Vec<u8>,
    },
    /// Not the usual shape from its first byte: prost reads it at the end.
    Raw(Vec<u8>),
}

/// The protobuf reader, written to by the decompressor (or directly).
struct Field {
    state: FieldState,
    max: usize,
    written: usize,
    /// The buffer the document goes into, until it starts.
    spare: Vec<u8>,
}

impl Field {
    fn new(max: usize, spare: Vec<u8>) -> Field {
        Field {
            state: FieldState::Head(Vec::with_capacity(11)),
            max,
            written: 0,
            spare,
        }
    }

    fn take(&mut self, mut bytes: &[u8]) -> Result<(), OverLimit> {
        while !bytes.is_empty() {
            match &mut self.state {
                FieldState::Head(head) => {
                    let Some(&byte) = bytes.first() else {
                        return Ok(());
                    };
                    head.push(byte);
                    bytes = bytes.get(1..).unwrap_or_default();
                    if head.first() != Some(&0x0a) {
                        self.state = FieldState::Raw(std::mem::take(head));
                        continue;
                    }
                    match varint(head.get(1..).unwrap_or_default()) {
                        Varint::More if head.len() < 11 => {}
                        Varint::More | Varint::Bad => {
                            self.state = FieldState::Raw(std::mem::take(head));
                        }
                        Varint::Value(len) => {
                            let len = usize::try_from(len).unwrap_or(usize::MAX);
                            if len > self.max {
                                return Err(OverLimit(self.max));
                            }
                            self.state = FieldState::Doc {
                                stream: JobMetricsStream::in_buffer(
                                    std::mem::take(&mut self.spare),
                                    len,
                                ),
                                left: len,
                            };
                        }
                    }
                }
                FieldState::Doc { stream, left } => {
                    let n = (*left).min(bytes.len());
                    let (doc, rest) = bytes.split_at(n);
                    stream.push(doc);
                    *left -= n;
                    bytes = rest;
                    if *left == 0 && !bytes.is_empty() {
                        let done = std::mem::replace(&mut self.state, FieldState::Raw(Vec::new()));
                        if let FieldState::Doc { stream, .. } = done {
                            self.state = FieldState::After {
                                stream,
                                rest: Vec::new(),
                            };
                        }
                    }
                }
                FieldState::After { rest, .. } | FieldState::Raw(rest) => {
                    rest.extend_from_slice(bytes);
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Bytes a final decode would still read.
    fn unread(&self) -> usize {
        match &self.state {
            FieldState::Head(_) => 0,
            FieldState::Doc { stream, .. } => stream.unread(),
            FieldState::After { stream, rest } => stream.len() + rest.len(),
            FieldState::Raw(raw) => raw.len(),
        }
    }

    fn finish(self) -> (Result<model::JobMetrics, BodyError>, Vec<u8>) {
        match self.state {
            // An empty message: the field has its default, the empty string.
            FieldState::Head(head) if head.is_empty() => {
                (decode_whole(b"").map_err(BodyError::from), self.spare)
            }
            FieldState::Head(_) => (
                Err(BodyError::Malformed(
                    "the message ends inside a field's header".into(),
                )),
                self.spare,
            ),
            FieldState::Doc { left, stream } if left > 0 => (
                Err(BodyError::Malformed(format!(
                    "the message ends {left} bytes before the end of its metrics field"
                ))),
                stream.into_bytes(),
            ),
            FieldState::Doc { stream, .. } => {
                let (answer, buf) = stream.finish();
                (answer.map_err(BodyError::from), buf)
            }
            FieldState::After { stream, rest } => {
                let doc = stream.into_bytes();
                let mut message = Vec::with_capacity(doc.len() + rest.len() + 11);
                prost::encoding::bytes::encode(1, &doc, &mut message);
                message.extend_from_slice(&rest);
                (reread(&message), message)
            }
            FieldState::Raw(raw) => (reread(&raw), raw),
        }
    }
}

/// The whole message read by prost (an unusual but valid shape: other fields, the
/// field repeated, a non-minimal length).
fn reread(message: &[u8]) -> Result<model::JobMetrics, BodyError> {
    let resp = <RawJobMetricsResp as prost::Message>::decode(message)
        .map_err(|e| BodyError::Malformed(format!("the message is not a JobMetricsResp: {e}")))?;
    Ok(decode_whole(&resp.metrics)?)
}

impl Write for Field {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.written = self.written.saturating_add(buf.len());
        if self.written > self.max {
            return Err(std::io::Error::other(OverLimit(self.max)));
        }
        self.take(buf).map_err(std::io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum Varint {
    Value(u64),
    More,
    Bad,
}

/// A protobuf varint at the start of `b`, when it is whole there.
fn varint(b: &[u8]) -> Varint {
    let mut value = 0u64;
    for (i, byte) in b.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            // Only a minimal encoding, ending exactly here, takes the fast way.
            return if i + 1 == b.len() && (i == 0 || *byte != 0) {
                Varint::Value(value)
            } else {
                Varint::Bad
            };
        }
    }
    if b.len() >= 10 {
        Varint::Bad
    } else {
        Varint::More
    }
}

/// Where the message's (possibly compressed) bytes go.
enum Sink {
    Plain(Field),
    Gzip(Box<flate2::write::GzDecoder<Field>>),
    Zstd(Box<zstd::stream::write::Decoder<'static, Field>>),
}

impl Sink {
    fn field(&self) -> &Field {
        match self {
            Sink::Plain(f) => f,
            Sink::Gzip(d) => d.get_ref(),
            Sink::Zstd(d) => d.get_ref(),
        }
    }
}

/// The body of a unary answer: exactly one gRPC message holding a `JobMetricsResp`.
pub struct UnaryBody {
    encoding: Encoding,
    max: usize,
    prefix: [u8; 5],
    have: usize,
    /// Bytes of the message still to come.
    left: usize,
    /// The buffer for the document, until the message starts.
    spare: Vec<u8>,
    sink: Option<Sink>,
}

impl UnaryBody {
    /// A body sent with `encoding`, whose message (compressed, and decompressed) may be
    /// at most `max` bytes.
    pub fn new(encoding: Encoding, max: usize) -> UnaryBody {
        UnaryBody::in_buffer(encoding, max, Vec::new())
    }

    /// The same, the document read into `buffer` (one a previous answer gave back from
    /// [`UnaryBody::finish`]): a large answer's pages are then faulted in only once.
    pub fn in_buffer(encoding: Encoding, max: usize, buffer: Vec<u8>) -> UnaryBody {
        UnaryBody {
            encoding,
            max,
            prefix: [0; 5],
            have: 0,
            left: 0,
            spare: buffer,
            sink: None,
        }
    }

    /// Takes the next DATA frame.
    pub fn push(&mut self, mut data: &[u8]) -> Result<(), BodyError> {
        while !data.is_empty() {
            if self.left == 0 {
                if self.sink.is_some() {
                    return Err(BodyError::Malformed(
                        "more than one message in the answer to a unary call".into(),
                    ));
                }
                let n = (5 - self.have).min(data.len());
                let (head, rest) = data.split_at(n);
                self.prefix[self.have..self.have + n].copy_from_slice(head);
                self.have += n;
                data = rest;
                if self.have == 5 {
                    self.start_message()?;
                }
                continue;
            }
            let n = self.left.min(data.len());
            let (part, rest) = data.split_at(n);
            self.write(part)?;
            self.left -= n;
            data = rest;
        }
        Ok(())
    }

    fn start_message(&mut self) -> Result<(), BodyError> {
        let [flag, a, b, c, d] = self.prefix;
        let len = u32::from_be_bytes([a, b, c, d]) as usize;
        if len > self.max {
            return Err(BodyError::TooLarge(format!(
                "the message is {len} bytes, more than controller.max-message-size ({} bytes)",
                self.max
            )));
        }
        let field = Field::new(self.max, std::mem::take(&mut self.spare));
        let sink = match (flag, self.encoding) {
            (0, _) => Sink::Plain(field),
            (1, Encoding::Gzip) => Sink::Gzip(Box::new(flate2::write::GzDecoder::new(field))),
            (1, Encoding::Zstd) => Sink::Zstd(Box::new(
                zstd::stream::write::Decoder::new(field)
                    .map_err(|e| BodyError::Malformed(format!("zstd: {e}")))?,
            )),
            (1, Encoding::Identity) => {
                return Err(BodyError::Malformed(
                    "a compressed message without a grpc-encoding header".into(),
                ))
            }
            (other, _) => {
                return Err(BodyError::Malformed(format!(
                    "a message frame with flags {other:#04x}"
                )))
            }
        };
        self.sink = Some(sink);
        self.left = len;
        Ok(())
    }

    fn write(&mut self, part: &[u8]) -> Result<(), BodyError> {
        let written = match &mut self.sink {
            Some(Sink::Plain(f)) => f.write_all(part),
            Some(Sink::Gzip(d)) => d.write_all(part),
            Some(Sink::Zstd(d)) => d.write_all(part),
            None => Ok(()),
        };
        written.map_err(|e| self.io_error(&e))
    }

    fn io_error(&self, e: &std::io::Error) -> BodyError {
        match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<OverLimit>())
        {
            Some(over) => BodyError::TooLarge(format!("{over} (controller.max-message-size)")),
            None => BodyError::Malformed(format!(
                "cannot decompress the {} message: {e}",
                match self.encoding {
                    Encoding::Gzip => "gzip",
                    Encoding::Zstd => "zstd",
                    Encoding::Identity => "plain",
                }
            )),
        }
    }

    /// Bytes the final decode ([`UnaryBody::finish`]) would still read: the caller runs
    /// it off the async threads when it is large.
    pub fn unread(&self) -> usize {
        self.sink.as_ref().map_or(0, |s| s.field().unread())
    }

    /// The metrics, once the body ended (with an OK status), and the buffer that held
    /// the document (see [`JobMetricsStream::finish`]).
    pub fn finish(mut self) -> (Result<model::JobMetrics, BodyError>, Vec<u8>) {
        if self.left > 0 || (self.have > 0 && self.have < 5) {
            return (
                Err(BodyError::Malformed(
                    "the answer ends inside its message".into(),
                )),
                std::mem::take(&mut self.spare),
            );
        }
        let Some(sink) = self.sink.take() else {
            return (
                Err(BodyError::Malformed("the answer holds no message".into())),
                std::mem::take(&mut self.spare),
            );
        };
        let field = match sink {
            Sink::Plain(f) => Ok(f),
            Sink::Gzip(d) => d.finish().map_err(|e| self.io_error(&e)),
            Sink::Zstd(mut d) => match d.flush() {
                Ok(()) => Ok(d.into_inner()),
                Err(e) => Err(self.io_error(&e)),
            },
        };
        match field {
            Ok(field) => field.finish(),
            Err(e) => (Err(e), Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arroyo::wire::test_support::fixture;

    const MAX: usize = 64 << 20;

    /// `JobMetricsResp { metrics: doc }` in a gRPC frame, compressed as `encoding` says.
    fn framed(doc: &[u8], encoding: Encoding) -> Vec<u8> {
        let mut message = Vec::new();
        prost::encoding::bytes::encode(1, &doc.to_vec(), &mut message);
        framed_message(&message, encoding)
    }

    fn framed_message(message: &[u8], encoding: Encoding) -> Vec<u8> {
        let (flag, payload) = match encoding {
            Encoding::Identity => (0u8, message.to_vec()),
            Encoding::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(message).unwrap();
                (1, e.finish().unwrap())
            }
            Encoding::Zstd => (1, zstd::encode_all(message, 1).unwrap()),
        };
        let mut out = vec![flag];
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&payload);
        out
    }

    fn read(
        body: &[u8],
        encoding: Encoding,
        piece: usize,
        max: usize,
    ) -> Result<model::JobMetrics, BodyError> {
        let mut b = UnaryBody::new(encoding, max);
        for chunk in body.chunks(piece.max(1)) {
            b.push(chunk)?;
        }
        b.finish().0
    }

    #[test]
    fn every_encoding_and_piece_size_gives_the_whole_decode() {
        let doc = fixture("arroyo-main-addb390/job_metrics_rpc_full_window.json");
        let want = decode_whole(&doc).map_err(BodyError::from);
        assert!(want.is_ok());
        for encoding in [Encoding::Identity, Encoding::Gzip, Encoding::Zstd] {
            let body = framed(&doc, encoding);
            for piece in [1, 3, 5, 6, 4096, 16 * 1024, body.len()] {
                assert_eq!(
                    read(&body, encoding, piece, MAX),
                    want,
                    "{encoding:?} in pieces of {piece}"
                );
            }
        }
    }

    #[test]
    fn a_plain_answer_to_a_client_accepting_compression_is_read() {
        let doc = fixture("arroyo-v0.15.0/job_metrics_rpc.json");
        let body = framed(&doc, Encoding::Identity);
        for encoding in [Encoding::Gzip, Encoding::Zstd] {
            assert_eq!(
                read(&body, encoding, 999, MAX),
                decode_whole(&doc).map_err(BodyError::from)
            );
        }
    }

    #[test]
    fn unusual_message_shapes_are_read_by_prost() {
        let doc = fixture("arroyo-v0.15.0/job_metrics_rpc.json");
        let want = decode_whole(&doc).map_err(BodyError::from);
        // An unknown field before, after; the field twice (the last one counts); a
        // non-minimal length.
        let mut field = Vec::new();
        prost::encoding::bytes::encode(1, &doc, &mut field);
        let mut junk = Vec::new();
        prost::encoding::uint64::encode(7, &42, &mut junk);
        let mut other = Vec::new();
        prost::encoding::bytes::encode(1, &b"[]".to_vec(), &mut other);
        let mut padded = vec![0x0a];
        let len = doc.len() as u64;
        padded.extend_from_slice(&[
            (len & 0x7f) as u8 | 0x80,
            ((len >> 7) & 0x7f) as u8 | 0x80,
            ((len >> 14) & 0x7f) as u8 | 0x80,
            ((len >> 21) & 0x7f) as u8 | 0x80,
            0x00,
        ]);
        padded.extend_from_slice(&doc);
        for (what, message) in [
            ("junk before", [junk.clone(), field.clone()].concat()),
            ("junk after", [field.clone(), junk.clone()].concat()),
            ("twice", [other.clone(), field.clone()].concat()),
            ("non-minimal length", padded),
        ] {
            for encoding in [Encoding::Identity, Encoding::Zstd] {
                let body = framed_message(&message, encoding);
                assert_eq!(
                    read(&body, encoding, 1000, MAX),
                    want,
                    "{what} ({encoding:?})"
                );
            }
        }
        // The last occurrence counts.
        let body = framed_message(&[field, other].concat(), Encoding::Identity);
        assert_eq!(
            read(&body, Encoding::Identity, 1000, MAX),
            Ok(model::JobMetrics::default())
        );
    }

    #[test]
    fn an_empty_message_is_the_empty_document() {
        let body = framed_message(&[], Encoding::Identity);
        assert!(matches!(
            read(&body, Encoding::Identity, 1, MAX),
            Err(BodyError::Decode(_))
        ));
    }

    #[test]
    fn limits_hold_for_the_frame_and_the_decompressed_document() {
        let doc = fixture("arroyo-main-addb390/job_metrics_rpc_full_window.json");
        for encoding in [Encoding::Identity, Encoding::Gzip, Encoding::Zstd] {
            let body = framed(&doc, encoding);
            let got = read(&body, encoding, 16 * 1024, doc.len() / 2);
            assert!(
                matches!(got, Err(BodyError::TooLarge(_))),
                "{encoding:?}: {got:?}"
            );
        }
        // A small zstd frame that inflates to 100 MB is cut at the limit.
        let bomb = vec![b' '; 100 << 20];
        let body = framed(&bomb, Encoding::Zstd);
        assert!(body.len() < 1 << 20);
        let got = read(&body, Encoding::Zstd, 16 * 1024, 8 << 20);
        assert!(matches!(got, Err(BodyError::TooLarge(_))), "{got:?}");
    }

    #[test]
    fn broken_framing_is_malformed_never_a_panic() {
        let doc = fixture("arroyo-v0.15.0/job_metrics_rpc.json");
        let good = framed(&doc, Encoding::Zstd);
        let cases: Vec<(&str, Vec<u8>, Encoding)> = vec![
            ("no message", vec![], Encoding::Identity),
            ("half a prefix", vec![0, 0], Encoding::Identity),
            ("cut short", good[..good.len() / 2].to_vec(), Encoding::Zstd),
            (
                "two messages",
                [
                    framed(&doc, Encoding::Identity),
                    framed(&doc, Encoding::Identity),
                ]
                .concat(),
                Encoding::Identity,
            ),
            (
                "compressed without an encoding",
                good.clone(),
                Encoding::Identity,
            ),
            (
                "unknown flags",
                [vec![2], good[1..].to_vec()].concat(),
                Encoding::Zstd,
            ),
            ("not zstd", framed(&doc, Encoding::Gzip), Encoding::Zstd),
            ("not gzip", good.clone(), Encoding::Gzip),
            (
                "not protobuf",
                framed_message(b"\xff\xff\xff", Encoding::Identity),
                Encoding::Identity,
            ),
        ];
        for (what, body, encoding) in cases {
            for piece in [1, 7, 100_000] {
                let got = read(&body, encoding, piece, MAX);
                assert!(
                    matches!(got, Err(BodyError::Malformed(_))),
                    "{what}: {got:?}"
                );
            }
        }
        assert!(Encoding::from_header(Some(b"br")).is_err());
    }

    #[test]
    fn a_buffer_given_back_is_written_again_in_place() {
        let doc = fixture("arroyo-main-addb390/job_metrics_rpc_full_window.json");
        let want = decode_whole(&doc).map_err(BodyError::from);
        let mut buffer = Vec::with_capacity(doc.len() + 100);
        for encoding in [Encoding::Identity, Encoding::Zstd, Encoding::Identity] {
            let at = buffer.as_ptr();
            let mut b = UnaryBody::in_buffer(encoding, MAX, buffer);
            for chunk in framed(&doc, encoding).chunks(16 * 1024) {
                b.push(chunk).unwrap();
            }
            let (got, back) = b.finish();
            assert_eq!(got, want, "{encoding:?}");
            assert_eq!(
                back.as_ptr(),
                at,
                "{encoding:?}: the document went elsewhere"
            );
            buffer = back;
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = crate::arroyo::wire::test_support::Rng(0xB0D1);
        for _ in 0..2_000 {
            let len = rng.below(64) as usize;
            let body: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
            for encoding in [Encoding::Identity, Encoding::Gzip, Encoding::Zstd] {
                let _ = read(&body, encoding, 1 + rng.below(8) as usize, 1 << 20);
            }
        }
    }
}
