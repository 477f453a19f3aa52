//! A JobMetrics document decoded while it arrives.
//!
//! A 1,000-subtask job's document is 37 MB; read whole after its last byte, its decode is
//! the largest part of a scrape's time that cannot overlap the transfer. Here the bytes
//! are appended as they come, and every [`SEGMENT`] or so the scanner reads on up to the
//! last subtask that has fully arrived (see [`scan_segment`]), so that after the last
//! byte only the last piece is left. The answer is always [`decode_job_metrics`]'s: on
//! anything the segments cannot follow, the whole document is decoded at the end.

use super::scanner::{after_list_punctuation, scan_segment, Resume, Segment};
use super::{decode_job_metrics, Acc, DecodeError};
use crate::model;

/// How many new bytes make a segment worth scanning: large enough that finding the
/// stop and restarting cost nothing (a subtask is 7–35 KB), small enough that what is
/// left after the last byte takes well under a millisecond.
const SEGMENT: usize = 256 * 1024;

/// How far back from the newest byte a segment's stop is looked for: several subtasks.
const STOP_SEARCH: usize = 512 * 1024;

/// Why a streamed document has no metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamError {
    /// The document is not UTF-8 (the proto field is a `string`): the message says where.
    NotUtf8(String),
    /// The document does not decode.
    Decode(DecodeError),
}

/// Where the segments stand.
enum State {
    /// No segment read yet.
    Fresh,
    /// The next segment starts at `scanned`, with this.
    Open(Resume),
    /// A segment gave up: the whole document is decoded at the end.
    Whole,
}

/// A JobMetrics document fed in pieces ([`JobMetricsStream::push`]) and decoded as far
/// as it has arrived; [`JobMetricsStream::finish`] gives what [`decode_job_metrics`]
/// gives for the whole.
pub struct JobMetricsStream {
    buf: Vec<u8>,
    /// Where the next segment starts; everything before it is read and checked UTF-8.
    scanned: usize,
    /// How far stops were looked for: each byte is searched once, also in a document
    /// that has none.
    searched: usize,
    state: State,
    acc: Acc,
    /// [`SEGMENT`], smaller in tests.
    segment: usize,
}

impl JobMetricsStream {
    /// A stream for a document of about `capacity` bytes (its buffer is reserved once).
    pub fn with_capacity(capacity: usize) -> JobMetricsStream {
        JobMetricsStream::in_buffer(Vec::new(), capacity)
    }

    /// A stream whose bytes go into `buffer` (emptied first; its pages, once written,
    /// need no faulting in again), grown to `capacity` at once.
    pub fn in_buffer(mut buffer: Vec<u8>, capacity: usize) -> JobMetricsStream {
        buffer.clear();
        buffer.reserve(capacity);
        JobMetricsStream {
            buf: buffer,
            scanned: 0,
            searched: 0,
            state: State::Fresh,
            acc: Acc::default(),
            segment: SEGMENT,
        }
    }

    /// A stream that reads a segment every `segment` new bytes instead of every
    /// 256 KiB: tests and fuzzing use small ones to stop at every chance.
    pub fn with_segment(capacity: usize, segment: usize) -> JobMetricsStream {
        let mut s = JobMetricsStream::with_capacity(capacity);
        s.segment = segment.max(1);
        s
    }

    /// Bytes received so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was received.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Bytes not yet read by a segment: the work [`JobMetricsStream::finish`] has left.
    pub fn unread(&self) -> usize {
        match self.state {
            State::Whole => self.buf.len(),
            State::Fresh | State::Open(_) => self.buf.len() - self.scanned,
        }
    }

    /// Appends the next bytes of the document and reads on when a segment's worth came.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        if !matches!(self.state, State::Whole) && self.buf.len() - self.scanned >= self.segment {
            self.advance();
        }
    }

    /// Where the next search for a stop begins: after the last stop, and where the
    /// previous search ended (less a stop's length, which may straddle it).
    fn search_from(&self) -> usize {
        let lo = (self.scanned + 1).max(self.searched.saturating_sub(STOP_TEXT.len()));
        lo.max(self.buf.len().saturating_sub(STOP_SEARCH))
    }

    /// Reads one segment: up to the newest subtask start that has arrived.
    fn advance(&mut self) {
        let from = self.search_from();
        self.searched = self.buf.len();
        let Some(stop) = last_subtask_start(&self.buf, from) else {
            return;
        };
        let checked = self
            .buf
            .get(self.scanned..stop)
            .is_some_and(|text| std::str::from_utf8(text).is_ok());
        let resume = match &self.state {
            State::Open(r) => Some(r),
            State::Fresh => None,
            State::Whole => return,
        };
        let segment = if checked {
            scan_segment(&self.buf, self.scanned, resume, stop, &mut self.acc)
        } else {
            Segment::GaveUp
        };
        match segment {
            Segment::Stopped(next) => {
                self.scanned = stop;
                self.state = State::Open(next);
            }
            Segment::Finished | Segment::GaveUp => self.give_up(),
        }
    }

    fn give_up(&mut self) {
        self.state = State::Whole;
        self.acc = Acc::default();
    }

    /// The whole document's metrics, once every byte was pushed, and the document's
    /// buffer: unmapping tens of MB takes milliseconds, which the caller may spend
    /// elsewhere.
    pub fn finish(mut self) -> (Result<model::JobMetrics, StreamError>, Vec<u8>) {
        if let State::Open(resume) = &self.state {
            let rest_is_text = self
                .buf
                .get(self.scanned..)
                .is_some_and(|text| std::str::from_utf8(text).is_ok());
            if rest_is_text {
                let segment = scan_segment(
                    &self.buf,
                    self.scanned,
                    Some(resume),
                    usize::MAX,
                    &mut self.acc,
                );
                if let Segment::Finished = segment {
                    return (Ok(self.acc.finish()), self.buf);
                }
            }
        }
        (decode_whole(&self.buf), self.buf)
    }

    /// The document's bytes, for a caller that must read them otherwise.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// [`decode_job_metrics`] of a whole document, after its UTF-8 check.
pub fn decode_whole(doc: &[u8]) -> Result<model::JobMetrics, StreamError> {
    if let Err(e) = std::str::from_utf8(doc) {
        return Err(StreamError::NotUtf8(e.to_string()));
    }
    decode_job_metrics(doc).map_err(StreamError::Decode)
}

/// How a subtask's text starts, as Arroyo writes it.
const STOP_TEXT: &[u8] = b"{\"index\":";

/// The newest `{"index":` at or after `lo` that follows `[` or `,` (whitespace aside):
/// where a subtask may start.
fn last_subtask_start(buf: &[u8], lo: usize) -> Option<usize> {
    let window = buf.get(lo..)?;
    memchr::memmem::rfind_iter(window, STOP_TEXT)
        .map(|at| lo + at)
        .find(|&at| after_list_punctuation(buf, at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arroyo::wire::test_support::*;
    use arroyo_sim::{generate_metrics_document, Release};

    /// Feeds `doc` in pieces of `piece` bytes, a segment read every `segment` new bytes;
    /// also says how many segments were followed.
    fn streamed(
        doc: &[u8],
        piece: usize,
        segment: usize,
    ) -> (Result<model::JobMetrics, StreamError>, usize) {
        let mut s = JobMetricsStream::with_segment(doc.len(), segment);
        let mut stops = 0;
        let mut last = 0;
        for chunk in doc.chunks(piece.max(1)) {
            s.push(chunk);
            if s.scanned != last {
                stops += 1;
                last = s.scanned;
            }
        }
        if matches!(s.state, State::Whole) {
            stops = 0;
        }
        (s.finish().0, stops)
    }

    fn big(release: Release, seed: u64) -> String {
        generate_metrics_document(
            release,
            &[(0, 6), (1, 6), (4, 6)],
            120,
            1_795_608_672_537_756,
            seed,
        )
    }

    #[test]
    fn streamed_captures_equal_whole_decodes_at_every_piece_size() {
        for rel in METRICS_DOCS {
            let doc = fixture(rel);
            let want = decode_whole(&doc);
            for piece in [1, 7, 1000, 16 * 1024, doc.len()] {
                for segment in [1, 4096, SEGMENT] {
                    let (got, _) = streamed(&doc, piece, segment);
                    assert_eq!(got, want, "{rel}: pieces of {piece}, segments of {segment}");
                }
            }
        }
    }

    #[test]
    fn the_captures_are_followed_at_every_subtask() {
        // With a segment per piece, every subtask start is a stop: all were followed.
        let doc = fixture("arroyo-main-addb390/job_metrics_rpc_full_window.json");
        let subtasks = memchr::memmem::find_iter(&doc, b"{\"index\":").count();
        let (got, stops) = streamed(&doc, 200, 1);
        assert_eq!(got, decode_whole(&doc));
        assert!(stops * 2 >= subtasks && stops > 0, "{stops} of {subtasks}");
    }

    #[test]
    fn documents_of_every_release_are_followed_and_equal_whole_decodes() {
        for release in Release::ALL {
            let doc = big(release, 5);
            let want = decode_whole(doc.as_bytes());
            assert!(want.is_ok(), "{release:?}");
            for (piece, segment) in [(16 * 1024, SEGMENT), (4096, 1), (777, 10_000)] {
                let (got, stops) = streamed(doc.as_bytes(), piece, segment);
                assert!(stops > 0, "{release:?}: no segment was followed");
                assert_eq!(got, want, "{release:?}: pieces of {piece}");
            }
        }
    }

    /// Generated documents (every key order, extra keys, nulls, escapes) and their
    /// mutations, streamed with a stop at every chance: the answer is always the whole
    /// decode's (its error too).
    #[test]
    fn generated_and_mutated_documents_equal_whole_decodes() {
        const BYTES: &[u8] = b"{}[]\",:0123456789.eE+- \n\\n\xff";
        let mut rng = Rng(0x57_4EA3);
        let mut followed = 0;
        for round in 0..3_000 {
            let mut doc = generated_doc(&mut rng).into_bytes();
            mutate_odd_rounds(&mut rng, round, &mut doc, BYTES);
            let want = decode_whole(&doc);
            let piece = 1 + rng.below(64) as usize;
            let (got, stops) = streamed(&doc, piece, 1);
            assert_eq!(got, want, "{}", String::from_utf8_lossy(&doc));
            followed += stops;
        }
        // Most generated documents shuffle keys or add some: few places to stop at.
        assert!(followed > 40, "{followed}");
    }

    #[test]
    fn mutated_large_documents_equal_whole_decodes() {
        let doc = big(Release::Main, 9).into_bytes();
        let mut rng = Rng(0xD0C5);
        for _ in 0..60 {
            let mut bad = doc.clone();
            let at = rng.below(bad.len() as u64) as usize;
            match rng.below(4) {
                0 => bad[at] = b'"',
                1 => bad[at] = 0xff,
                2 => {
                    bad.remove(at);
                }
                _ => bad.insert(at, b'}'),
            }
            let piece = 1 + rng.below(40_000) as usize;
            let (got, _) = streamed(&bad, piece, 20_000);
            assert_eq!(got, decode_whole(&bad), "mutation at {at}");
        }
    }

    #[test]
    fn a_stop_that_is_no_subtask_is_not_followed_but_the_answer_is_the_same() {
        // An extra key before each operator's groups holds `[{"index":0}]`: a segment
        // stopping there never meets its stop and gives up; the answer is unchanged.
        let doc = big(Release::Main, 3).replace(
            "\"metric_groups\":[",
            "\"extra\":[{\"index\":0}],\"metric_groups\":[",
        );
        let want = decode_whole(doc.as_bytes());
        assert!(want.is_ok());
        let first = doc.find("[{\"index\":0}]").unwrap();
        let mut s = JobMetricsStream::with_capacity(doc.len());
        s.segment = 1;
        s.push(&doc.as_bytes()[..first + 12]);
        assert!(
            matches!(s.state, State::Whole),
            "the false stop was followed"
        );
        s.push(&doc.as_bytes()[first + 12..]);
        assert_eq!(s.finish().0, want);
        for segment in [1, 1000, 50_000] {
            assert_eq!(streamed(doc.as_bytes(), 512, segment).0, want);
        }
    }

    #[test]
    fn a_document_without_stops_is_searched_once() {
        // One huge subtask list with no `{"index":` text (keys in another order): no
        // stop is ever found, and no byte is searched twice.
        let doc = big(Release::Main, 6).replace("{\"index\":", "{ \"index\":");
        let mut s = JobMetricsStream::with_segment(doc.len(), 1);
        let mut searched = 0;
        for chunk in doc.as_bytes().chunks(1000) {
            s.buf.extend_from_slice(chunk);
            searched += s.buf.len() - s.search_from();
            s.buf.truncate(s.buf.len() - chunk.len());
            s.push(chunk);
        }
        assert!(matches!(s.state, State::Fresh));
        assert!(
            searched <= doc.len() + doc.len() / 100,
            "{searched} for {}",
            doc.len()
        );
        assert_eq!(s.finish().0, decode_whole(doc.as_bytes()));
    }

    #[test]
    fn not_utf8_is_reported_with_its_position() {
        let mut doc = big(Release::Main, 4).into_bytes();
        let at = doc.len() / 2;
        let quote = doc[at..].iter().position(|b| *b == b'"').unwrap() + at;
        doc.insert(quote + 1, 0xff);
        for segment in [1, 10_000, SEGMENT] {
            match streamed(&doc, 16 * 1024, segment).0 {
                Err(StreamError::NotUtf8(message)) => {
                    assert!(
                        message.contains(&format!("index {}", quote + 1)),
                        "{message}"
                    )
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}
