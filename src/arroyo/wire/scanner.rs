//! The fast path: a hand-written scanner for the metrics documents, which may give up
//! on anything but never answers differently from the [serde decoder](super::serde_decoder).

use super::Acc;
use crate::model::{self, MetricKind, Point};

// ---------------------------------------------------------------------------------------
// Fast path: a hand-written scanner for the JobMetrics document
// ---------------------------------------------------------------------------------------
//
// Why a second, hand-written decoder: the streaming serde decoder (`serde_decoder`) allocates nothing
// per point, but it still walks every point through serde's generic machinery (a key
// visitor per key, a `RawValue` per value, error plumbing per call), which tops out around
// 750 MB/s; a 1,000-subtask job sends 35 MB per scrape and a 10,000-subtask one 350 MB.
// The scanner below reads the same grammar directly from the bytes: the compact point
// `{"time":<digits>,"value":<number>}` that Arroyo writes is matched with two fixed
// literals, digit runs are found eight bytes at a time (SWAR), `time` is converted eight
// digits at a time, and a value's text is only checked against the JSON number grammar;
// only the kept point's value is converted to `f64`. Anything else (other key orders,
// whitespace, extra keys, `null`s) goes through a general but still allocation-free path.
//
// Correctness rests on one rule: the scanner may give up ([`Bail`]) on anything, but when
// it returns a result, the serde decoder would have returned the very same result. So it
// is at least as strict as serde_json everywhere (it also gives up on every escape in a
// string and on deep nesting, which serde handles), and on any doubt the caller runs the
// serde decoder, which also produces the error messages and positions. The unit tests
// check the rule differentially, on fixtures, generated documents of every release and
// mutated (corrupted) documents. Every access is bounds-checked (`get`): no input panics.

/// The fast scanner gave up; the serde decoder decides (and explains any error).
struct Bail;

type Scan<T> = Result<T, Bail>;

/// A value's text inside the document, `start..end`.
type Span = (usize, usize);

/// Nesting depth up to which [`Scanner::skip_value`] follows ignored values itself.
const SKIP_DEPTH: u32 = 64;

/// Number of consecutive ASCII digits at `b[i..]`.
#[inline(always)]
fn digit_run(b: &[u8], i: usize) -> usize {
    let mut j = i;
    while let Some(chunk) = b.get(j..).and_then(|s| s.first_chunk::<8>()) {
        // Digits become 0..=9 in every byte; any other byte gets a bit in its high nibble
        // either as is or after adding 6 (a carry only reaches bytes after a non-digit, so
        // the lowest flagged byte is exact).
        let t = u64::from_le_bytes(*chunk) ^ 0x3030_3030_3030_3030;
        let flags = (t | t.wrapping_add(0x0606_0606_0606_0606)) & 0xF0F0_F0F0_F0F0_F0F0;
        if flags != 0 {
            return j - i + (flags.trailing_zeros() / 8) as usize;
        }
        j += 8;
    }
    while b.get(j).is_some_and(u8::is_ascii_digit) {
        j += 1;
    }
    j - i
}

/// The value of eight ASCII digits, the first one in the lowest byte.
#[inline(always)]
fn eight_digits(chunk: [u8; 8]) -> u64 {
    let v = u64::from_le_bytes(chunk) & 0x0F0F_0F0F_0F0F_0F0F;
    let v = (v.wrapping_mul(10 * 256 + 1) >> 8) & 0x00FF_00FF_00FF_00FF;
    let v = (v.wrapping_mul(100 * 65_536 + 1) >> 16) & 0x0000_FFFF_0000_FFFF;
    v.wrapping_mul(10_000 * (1 << 32) + 1) >> 32
}

/// The value of a run of ASCII digits; `None` when it does not fit a `u64`.
#[inline(always)]
fn digits_value(digits: &[u8]) -> Option<u64> {
    let mut v = 0u64;
    let mut rest = digits;
    while let Some((chunk, tail)) = rest.split_first_chunk::<8>() {
        v = v
            .checked_mul(100_000_000)?
            .checked_add(eight_digits(*chunk))?;
        rest = tail;
    }
    for &d in rest {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(v)
}

/// End of the JSON number starting at `b[i]` (`-? int frac? exp?`), or `None` when no
/// valid number starts there. What follows is the caller's to check.
#[inline(always)]
fn number_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    if b.get(j) == Some(&b'-') {
        j += 1;
    }
    match b.get(j) {
        Some(b'0') => j += 1,
        Some(b'1'..=b'9') => j += 1 + digit_run(b, j + 1),
        _ => return None,
    }
    if b.get(j) == Some(&b'.') {
        let n = digit_run(b, j + 1);
        if n == 0 {
            return None;
        }
        j += 1 + n;
    }
    if matches!(b.get(j), Some(b'e' | b'E')) {
        j += 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let n = digit_run(b, j);
        if n == 0 {
            return None;
        }
        j += n;
    }
    Some(j)
}

/// One point: its time and its value's text (`None` for `null` or no value).
type RawFastPoint = (u64, Option<Span>);

/// How far ahead of the cursor [`Scanner::warm_ahead`] keeps the document in cache.
const WARM_DISTANCE: usize = 128 * 1024;
/// How much it reads ahead at once.
const WARM_CHUNK: usize = 64 * 1024;

/// A cursor over the document.
struct Scanner<'a> {
    b: &'a [u8],
    p: usize,
    /// End of the part [`Scanner::warm_ahead`] has read ahead.
    warmed: usize,
    /// The head of a split scan stops when a subtask starts here (see [`scan_head`]).
    stop_at: usize,
    /// What the head knew when it stopped; filled in while its calls unwind.
    open: Option<OpenParts<'a>>,
}

/// The open group and operator of a head that stopped, as its calls unwind.
#[derive(Default)]
struct OpenParts<'a> {
    group: Option<(usize, Option<Option<MetricKind>>, u64)>,
    operator: Option<(usize, Option<&'a str>)>,
}

impl<'a> Scanner<'a> {
    fn new(b: &'a [u8]) -> Self {
        Scanner {
            b,
            p: 0,
            warmed: 0,
            stop_at: usize::MAX,
            open: None,
        }
    }

    /// Reads the document a little ahead of the cursor (one independent read per cache
    /// line), so that the byte-by-byte scan finds it in cache. On this project's machines
    /// the scan of a document larger than the L2 cache otherwise waits on memory (about
    /// 1.4 GB/s instead of 2.4 GB/s on the 35 MB document). Called once per subtask
    /// (about 7 KB of points).
    #[inline(always)]
    fn warm_ahead(&mut self) {
        if self.p + WARM_DISTANCE > self.warmed && self.warmed < self.b.len() {
            let end = self.b.len().min(self.warmed + WARM_CHUNK);
            if let Some(chunk) = self.b.get(self.warmed..end) {
                // One read per cache line; the result is irrelevant, `black_box` keeps
                // the reads.
                let touched = chunk.iter().step_by(64).fold(0u8, |acc, b| acc ^ b);
                std::hint::black_box(touched);
            }
            self.warmed = end;
        }
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.p).copied()
    }

    /// Skips JSON whitespace.
    #[inline(always)]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.p += 1;
        }
    }

    /// Consumes `c` (after whitespace).
    #[inline(always)]
    fn expect(&mut self, c: u8) -> Scan<()> {
        self.ws();
        if self.peek() == Some(c) {
            self.p += 1;
            Ok(())
        } else {
            Err(Bail)
        }
    }

    /// Consumes `c` (after whitespace) when it comes next.
    #[inline(always)]
    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.peek() == Some(c) {
            self.p += 1;
            true
        } else {
            false
        }
    }

    /// After an element of an object or list: `true` on `,`, `false` on `close`.
    #[inline(always)]
    fn more(&mut self, close: u8) -> Scan<bool> {
        self.ws();
        match self.peek() {
            Some(b',') => {
                self.p += 1;
                Ok(true)
            }
            Some(c) if c == close => {
                self.p += 1;
                Ok(false)
            }
            _ => Err(Bail),
        }
    }

    /// A string's content (the cursor at its opening quote, after whitespace). Gives up
    /// on escapes and control characters; checks that the content is UTF-8.
    fn string(&mut self) -> Scan<&'a [u8]> {
        if self.peek() != Some(b'"') {
            return Err(Bail);
        }
        let start = self.p + 1;
        let mut i = start;
        let mut high = 0u8;
        loop {
            match self.b.get(i) {
                Some(b'"') => break,
                Some(b'\\') | None => return Err(Bail),
                Some(&c) if c < 0x20 => return Err(Bail),
                Some(&c) => high |= c,
            }
            i += 1;
        }
        let s = self.b.get(start..i).ok_or(Bail)?;
        if high >= 0x80 && std::str::from_utf8(s).is_err() {
            return Err(Bail);
        }
        self.p = i + 1;
        Ok(s)
    }

    /// A string as text.
    fn str(&mut self) -> Scan<&'a str> {
        self.ws();
        let s = self.string()?;
        std::str::from_utf8(s).map_err(|_| Bail)
    }

    /// An object key and its colon.
    #[inline(always)]
    fn key(&mut self) -> Scan<&'a [u8]> {
        self.ws();
        let k = self.string()?;
        self.expect(b':')?;
        Ok(k)
    }

    /// A plain non-negative integer up to `max` (what serde reads as a `u64`/`u32`).
    fn uint(&mut self, max: u64) -> Scan<u64> {
        self.ws();
        let start = self.p;
        let n = digit_run(self.b, start);
        let digits = self.b.get(start..start + n).ok_or(Bail)?;
        match digits {
            [] => return Err(Bail),
            [b'0', _, ..] => return Err(Bail),
            _ => {}
        }
        let v = digits_value(digits).filter(|v| *v <= max).ok_or(Bail)?;
        self.p = start + n;
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return Err(Bail);
        }
        Ok(v)
    }

    /// A number's text.
    fn number(&mut self) -> Scan<Span> {
        self.ws();
        let start = self.p;
        let end = number_end(self.b, start).ok_or(Bail)?;
        self.p = end;
        Ok((start, end))
    }

    /// `true`, `false` or `null`.
    fn literal(&mut self, word: &[u8]) -> Scan<()> {
        if self.b.get(self.p..self.p + word.len()) == Some(word) {
            self.p += word.len();
            Ok(())
        } else {
            Err(Bail)
        }
    }

    /// Skips any JSON value, checking it, without recursion.
    fn skip_value(&mut self) -> Scan<()> {
        // Bit `d` of `objects` tells whether nesting level `d + 1` is an object.
        let mut objects = 0u64;
        let mut depth = 0u32;
        'value: loop {
            self.ws();
            match self.peek().ok_or(Bail)? {
                open @ (b'{' | b'[') => {
                    self.p += 1;
                    let close = if open == b'{' { b'}' } else { b']' };
                    if !self.eat(close) {
                        if depth == SKIP_DEPTH {
                            return Err(Bail);
                        }
                        if open == b'{' {
                            objects |= 1 << depth;
                            depth += 1;
                            self.key()?;
                        } else {
                            objects &= !(1 << depth);
                            depth += 1;
                        }
                        continue 'value;
                    }
                }
                b'"' => {
                    self.string()?;
                }
                b'-' | b'0'..=b'9' => {
                    self.number()?;
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => return Err(Bail),
            }
            // After a value: close levels until one goes on with `,`.
            while depth > 0 {
                let in_object = objects & (1 << (depth - 1)) != 0;
                if self.more(if in_object { b'}' } else { b']' })? {
                    if in_object {
                        self.key()?;
                    }
                    continue 'value;
                }
                depth -= 1;
            }
            return Ok(());
        }
    }

    /// `[operator, ...]`.
    fn operator_list(&mut self, acc: &mut Acc) -> Scan<()> {
        self.expect(b'[')?;
        if self.eat(b']') {
            return Ok(());
        }
        loop {
            self.operator(acc)?;
            if !self.more(b']')? {
                return Ok(());
            }
        }
    }

    /// `{"data": [operator, ...], ...}`.
    fn envelope(&mut self, acc: &mut Acc) -> Scan<()> {
        self.expect(b'{')?;
        let mut seen_data = false;
        if !self.eat(b'}') {
            loop {
                match self.key()? {
                    b"data" => {
                        if seen_data {
                            return Err(Bail);
                        }
                        seen_data = true;
                        self.operator_list(acc)?;
                    }
                    _ => self.skip_value()?,
                }
                if !self.more(b'}')? {
                    break;
                }
            }
        }
        if seen_data {
            Ok(())
        } else {
            Err(Bail)
        }
    }

    /// One operator: see [`OperatorSeed`](super::serde_decoder::OperatorSeed).
    fn operator(&mut self, acc: &mut Acc) -> Scan<()> {
        let start = acc.samples.len();
        let mut node_id: Option<&'a str> = None;
        let mut seen_groups = false;
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Err(Bail);
        }
        loop {
            match self.key()? {
                b"node_id" | b"nodeId" | b"operatorId" => {
                    if node_id.is_some() {
                        return Err(Bail);
                    }
                    node_id = Some(self.node_id()?);
                }
                b"metric_groups" | b"metricGroups" => {
                    if seen_groups {
                        return Err(Bail);
                    }
                    seen_groups = true;
                    if let Err(bail) = self.group_list(acc) {
                        if let Some(open) = &mut self.open {
                            open.operator = Some((start, node_id));
                        }
                        return Err(bail);
                    }
                }
                _ => self.skip_value()?,
            }
            if !self.more(b'}')? {
                break;
            }
        }
        let node_id = node_id.ok_or(Bail)?;
        if !seen_groups {
            return Err(Bail);
        }
        acc.end_operator(start, node_id);
        Ok(())
    }

    /// A node id: a string, or a non-negative integer (its digits are its decimal form;
    /// negative ids are left to serde).
    fn node_id(&mut self) -> Scan<&'a str> {
        self.ws();
        if self.peek() == Some(b'"') {
            return self.str();
        }
        let start = self.p;
        self.uint(u64::MAX)?;
        let digits = self.b.get(start..self.p).ok_or(Bail)?;
        std::str::from_utf8(digits).map_err(|_| Bail)
    }

    /// `[group, ...]`.
    fn group_list(&mut self, acc: &mut Acc) -> Scan<()> {
        self.expect(b'[')?;
        if self.eat(b']') {
            return Ok(());
        }
        loop {
            self.group(acc)?;
            if !self.more(b']')? {
                return Ok(());
            }
        }
    }

    /// One metric group: see [`GroupSeed`](super::serde_decoder::GroupSeed).
    fn group(&mut self, acc: &mut Acc) -> Scan<()> {
        let start = acc.samples.len();
        // None: not seen yet; Some(None): a name we do not export.
        let mut name: Option<Option<MetricKind>> = None;
        let mut seen_subtasks = false;
        let mut nulls = 0u64;
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Err(Bail);
        }
        loop {
            match self.key()? {
                b"name" => {
                    if name.is_some() {
                        return Err(Bail);
                    }
                    name = Some(MetricKind::from_wire(self.str()?));
                }
                b"subtasks" => {
                    if seen_subtasks {
                        return Err(Bail);
                    }
                    seen_subtasks = true;
                    match name {
                        Some(None) => self.skip_value()?,
                        Some(Some(_)) | None => {
                            if let Err(bail) = self.subtask_list(acc, &mut nulls) {
                                if let Some(open) = &mut self.open {
                                    open.group = Some((start, name, nulls));
                                }
                                return Err(bail);
                            }
                        }
                    }
                }
                _ => self.skip_value()?,
            }
            if !self.more(b'}')? {
                break;
            }
        }
        let name = name.ok_or(Bail)?;
        if !seen_subtasks {
            return Err(Bail);
        }
        acc.end_group(start, name, nulls);
        Ok(())
    }

    /// `[subtask, ...]`: appends one sample per subtask that has a non-null point.
    fn subtask_list(&mut self, acc: &mut Acc, nulls: &mut u64) -> Scan<()> {
        self.expect(b'[')?;
        if self.eat(b']') {
            return Ok(());
        }
        self.subtasks(acc, nulls)
    }

    /// The subtasks of a list from one's start to the list's `]`; a split or segmented
    /// scan stops at `stop_at` when a subtask starts there.
    fn subtasks(&mut self, acc: &mut Acc, nulls: &mut u64) -> Scan<()> {
        loop {
            self.ws();
            if self.p == self.stop_at {
                self.open = Some(OpenParts::default());
                return Err(Bail);
            }
            self.warm_ahead();
            let (index, newest) = self.subtask(nulls)?;
            if let Some(point) = newest {
                acc.push_subtask(index, point);
            }
            if !self.more(b']')? {
                return Ok(());
            }
        }
    }

    /// One subtask: see [`SubtaskSeed`](super::serde_decoder::SubtaskSeed).
    fn subtask(&mut self, nulls: &mut u64) -> Scan<(u32, Option<Point>)> {
        let mut index: Option<u32> = None;
        let mut newest: Option<Option<Point>> = None;
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Err(Bail);
        }
        loop {
            match self.key()? {
                b"index" => {
                    if index.is_some() {
                        return Err(Bail);
                    }
                    let v = self.uint(u64::from(u32::MAX))?;
                    index = Some(u32::try_from(v).map_err(|_| Bail)?);
                }
                b"metrics" => {
                    if newest.is_some() {
                        return Err(Bail);
                    }
                    newest = Some(self.points(nulls)?);
                }
                _ => self.skip_value()?,
            }
            if !self.more(b'}')? {
                break;
            }
        }
        Ok((index.ok_or(Bail)?, newest.ok_or(Bail)?))
    }

    /// `[point, ...]` folded into the newest non-null point: see [`NewestPointSeed`].
    fn points(&mut self, nulls: &mut u64) -> Scan<Option<Point>> {
        self.expect(b'[')?;
        if self.eat(b']') {
            return Ok(None);
        }
        let mut newest: Option<(u64, Span)> = None;
        loop {
            let (time, value) = match self.compact_point() {
                Some(point) => point,
                None => self.point()?,
            };
            match value {
                None => *nulls = nulls.saturating_add(1),
                Some(span) => {
                    if newest.is_none_or(|(t, _)| time >= t) {
                        newest = Some((time, span));
                    }
                }
            }
            // `,` right after the point is the common case.
            match self.peek() {
                Some(b',') => self.p += 1,
                Some(b']') => {
                    self.p += 1;
                    break;
                }
                _ => {
                    if !self.more(b']')? {
                        break;
                    }
                }
            }
        }
        let Some((time_micros, (start, end))) = newest else {
            return Ok(None);
        };
        let text = self.b.get(start..end).ok_or(Bail)?;
        let text = std::str::from_utf8(text).map_err(|_| Bail)?;
        let value = text
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or(Bail)?;
        Ok(Some(Point { time_micros, value }))
    }

    /// The point exactly as Arroyo writes it, `{"time":<digits>,"value":<number|null>}`
    /// (the cursor right at `{`). `None`, with the cursor unmoved, for anything else.
    #[inline(always)]
    fn compact_point(&mut self) -> Option<RawFastPoint> {
        let b = self.b;
        let mut q = self.p;
        if b.get(q..q + 8)? != b"{\"time\":" {
            return None;
        }
        q += 8;
        let n = digit_run(b, q);
        let digits = b.get(q..q + n)?;
        if matches!(digits, [] | [b'0', _, ..]) {
            return None;
        }
        q += n;
        let time = digits_value(digits)?;
        if b.get(q..q + 9)? != b",\"value\":" {
            return None;
        }
        q += 9;
        let value = if b.get(q..q + 4)? == b"null" {
            q += 4;
            None
        } else {
            let end = number_end(b, q)?;
            let span = (q, end);
            q = end;
            Some(span)
        };
        if b.get(q) != Some(&b'}') {
            return None;
        }
        self.p = q + 1;
        Some((time, value))
    }

    /// Any point: `time` and `value` in any order, whitespace, other keys.
    fn point(&mut self) -> Scan<RawFastPoint> {
        let mut time: Option<u64> = None;
        let mut value: Option<Option<Span>> = None;
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Err(Bail);
        }
        loop {
            match self.key()? {
                b"time" => {
                    if time.is_some() {
                        return Err(Bail);
                    }
                    time = Some(self.uint(u64::MAX)?);
                }
                b"value" => {
                    if value.is_some() {
                        return Err(Bail);
                    }
                    self.ws();
                    value = Some(match self.peek() {
                        Some(b'n') => {
                            self.literal(b"null")?;
                            None
                        }
                        Some(b'-' | b'0'..=b'9') => Some(self.number()?),
                        _ => return Err(Bail),
                    });
                }
                _ => self.skip_value()?,
            }
            if !self.more(b'}')? {
                break;
            }
        }
        Ok((time.ok_or(Bail)?, value.flatten()))
    }
}

/// The fast path of [`decode_job_metrics`]; `None` when the serde decoder must decide.
pub(super) fn fast_job_metrics(doc: &[u8]) -> Option<model::JobMetrics> {
    let mut acc = Acc::default();
    let mut sc = Scanner::new(doc);
    sc.operator_list(&mut acc).ok()?;
    sc.ws();
    (sc.p == doc.len()).then(|| acc.finish())
}

/// The fast path of [`decode_metric_groups_envelope`].
pub(super) fn fast_envelope(body: &[u8]) -> Option<model::JobMetrics> {
    let mut acc = Acc::default();
    let mut sc = Scanner::new(body);
    sc.envelope(&mut acc).ok()?;
    sc.ws();
    (sc.p == body.len()).then(|| acc.finish())
}

/// Where the head of a split scan stopped: inside the subtask list of a group of known
/// kind, inside an operator of known id.
pub(super) struct Open<'a> {
    /// First sample of the open group.
    pub(super) group_start: usize,
    /// The open group's kind.
    pub(super) kind: MetricKind,
    /// `null` values the head met in the open group.
    pub(super) nulls: u64,
    /// First sample of the open operator.
    pub(super) operator_start: usize,
    /// The open operator's id.
    pub(super) node_id: &'a str,
}

/// How the head of a split scan ended.
pub(super) enum Head<'a> {
    /// It read the whole document without meeting `stop_at`: exactly what
    /// [`fast_job_metrics`] would have done (`None`: it gave up).
    Whole(Option<model::JobMetrics>),
    /// It stopped at `stop_at`, in a place the tail can go on from.
    Stopped(Acc, Open<'a>),
    /// It stopped at `stop_at` without knowing the open group's kind or operator's id
    /// (keys in another order than Arroyo's): only a whole scan can tell.
    Unusable,
}

/// The first part of a split scan of a JobMetrics document: reads from the start and
/// stops when a subtask starts at byte `stop_at`.
pub(super) fn scan_head(doc: &[u8], stop_at: usize) -> Head<'_> {
    let mut acc = Acc::default();
    let mut sc = Scanner::new(doc);
    sc.stop_at = stop_at;
    match sc.operator_list(&mut acc) {
        Ok(()) => {
            sc.ws();
            Head::Whole((sc.p == doc.len()).then(|| acc.finish()))
        }
        Err(Bail) => match sc.open {
            None => Head::Whole(None),
            Some(OpenParts {
                group: Some((group_start, Some(Some(kind)), nulls)),
                operator: Some((operator_start, Some(node_id))),
            }) => Head::Stopped(
                acc,
                Open {
                    group_start,
                    kind,
                    nulls,
                    operator_start,
                    node_id,
                },
            ),
            Some(_) => Head::Unusable,
        },
    }
}

/// The second part of a split scan: what it read from its start to the end.
pub(super) struct Tail {
    /// Its samples, those of the groups and operators open at its start not yet labelled.
    pub(super) acc: Acc,
    /// End of the samples of the group open at its start.
    pub(super) group_end: usize,
    /// `null` values met in that group.
    pub(super) nulls: u64,
    /// End of the samples of the operator open at its start.
    pub(super) operator_end: usize,
}

/// Reads a JobMetrics document from `from` to its end, `from` taken as the start of a
/// subtask in the subtask list of a group whose name came before its subtasks, in an
/// operator whose id came before its groups (the order Arroyo writes). `None` when the
/// bytes do not read that way; whether `from` really is such a place only the head can
/// tell, when it stops there.
pub(super) fn scan_tail(doc: &[u8], from: usize) -> Option<Tail> {
    let mut acc = Acc::default();
    let mut sc = Scanner::new(doc);
    sc.p = from;
    sc.warmed = from;
    let mut nulls = 0u64;
    let (group_end, operator_end) = sc.tail(&mut acc, &mut nulls).ok()?;
    Some(Tail {
        acc,
        group_end,
        nulls,
        operator_end,
    })
}

impl Scanner<'_> {
    /// The rest of the document after the start of a subtask (see [`scan_tail`]):
    /// returns where the open group's and operator's samples end.
    fn tail(&mut self, acc: &mut Acc, nulls: &mut u64) -> Scan<(usize, usize)> {
        loop {
            self.warm_ahead();
            let (index, newest) = self.subtask(nulls)?;
            if let Some(point) = newest {
                acc.push_subtask(index, point);
            }
            if !self.more(b']')? {
                break;
            }
        }
        let group_end = acc.samples.len();
        self.expect(b'}')?;
        while self.more(b']')? {
            self.group(acc)?;
        }
        let operator_end = acc.samples.len();
        self.expect(b'}')?;
        while self.more(b']')? {
            self.operator(acc)?;
        }
        self.ws();
        if self.p == self.b.len() {
            Ok((group_end, operator_end))
        } else {
            Err(Bail)
        }
    }
}

/// Whether the text before `at` ends with `[` or `,` (whitespace aside): a place where a
/// list element, such as a subtask, may start.
pub(super) fn after_list_punctuation(doc: &[u8], at: usize) -> bool {
    doc.get(..at)
        .and_then(|before| {
            before
                .iter()
                .rev()
                .find(|b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
        })
        .is_some_and(|b| matches!(b, b'[' | b','))
}

/// Where a segmented scan (see [`scan_segment`]) stands between two segments: at the
/// start of a subtask in the subtask list of a group of known kind, in an operator of
/// known id. Owned, so that the document's buffer may grow between segments.
#[derive(Debug, Clone)]
pub(super) struct Resume {
    group_start: usize,
    kind: MetricKind,
    nulls: u64,
    operator_start: usize,
    node_id: String,
}

/// How one segment of a segmented scan ended.
pub(super) enum Segment {
    /// It stopped at `stop_at`; the next segment starts there with this.
    Stopped(Resume),
    /// It read to the end of the document: the accumulator holds the whole answer.
    Finished,
    /// It gave up (or never met `stop_at`): only a whole decode can tell.
    GaveUp,
}

/// One segment of a JobMetrics document read in pieces as it arrives: from `from` (0, or
/// where the previous segment stopped, with its [`Resume`]) until a subtask starts at
/// `stop_at`, or to the end of `doc` when `stop_at` is `usize::MAX`.
///
/// The segments together make exactly the calls a single scan makes, into one `acc`:
/// stopping only at a subtask's start (where the single scan checks `stop_at` too) and
/// going on with the open group and operator, whose kind and id are then known. Every
/// byte before `stop_at` must be in `doc`; bytes after it may still be missing, and are
/// only read when `stop_at` is not where a subtask starts, which ends as
/// [`Segment::GaveUp`].
pub(super) fn scan_segment(
    doc: &[u8],
    from: usize,
    resume: Option<&Resume>,
    stop_at: usize,
    acc: &mut Acc,
) -> Segment {
    let mut sc = Scanner::new(doc);
    sc.p = from;
    sc.warmed = from;
    sc.stop_at = stop_at;
    let mut nulls = resume.map_or(0, |r| r.nulls);
    let ran = match resume {
        None => sc.operator_list(acc),
        Some(r) => sc.resume(acc, r, &mut nulls),
    };
    match ran {
        Ok(()) => {
            sc.ws();
            if sc.p == doc.len() && stop_at == usize::MAX {
                Segment::Finished
            } else {
                Segment::GaveUp
            }
        }
        Err(Bail) => {
            let Some(open) = sc.open else {
                return Segment::GaveUp;
            };
            // A part the unwinding did not fill in is the segment's own start's.
            let group = match (open.group, resume) {
                (Some((start, Some(Some(kind)), nulls)), _) => Some((start, kind, nulls)),
                (Some(_), _) => None,
                (None, Some(r)) => Some((r.group_start, r.kind, nulls)),
                (None, None) => None,
            };
            let operator = match (open.operator, resume) {
                (Some((start, Some(id))), _) => Some((start, id.to_owned())),
                (Some(_), _) => None,
                (None, Some(r)) => Some((r.operator_start, r.node_id.clone())),
                (None, None) => None,
            };
            match (group, operator) {
                (Some((group_start, kind, nulls)), Some((operator_start, node_id))) => {
                    Segment::Stopped(Resume {
                        group_start,
                        kind,
                        nulls,
                        operator_start,
                        node_id,
                    })
                }
                _ => Segment::GaveUp,
            }
        }
    }
}

impl Scanner<'_> {
    /// The rest of the document from a subtask's start, the open group and operator
    /// known (see [`scan_segment`]): the same steps as [`Scanner::group`],
    /// [`Scanner::operator`] and [`Scanner::operator_list`] take after that point.
    fn resume(&mut self, acc: &mut Acc, r: &Resume, nulls: &mut u64) -> Scan<()> {
        // The open group's subtask list.
        self.subtasks(acc, nulls)?;
        // The rest of the group: its name and subtasks were both seen.
        while self.more(b'}')? {
            match self.key()? {
                b"name" | b"subtasks" => return Err(Bail),
                _ => self.skip_value()?,
            }
        }
        acc.end_group(r.group_start, Some(r.kind), *nulls);
        // The rest of the operator's groups, then of the operator: its id and groups
        // were both seen.
        while self.more(b']')? {
            self.group(acc)?;
        }
        while self.more(b'}')? {
            match self.key()? {
                b"node_id" | b"nodeId" | b"operatorId" | b"metric_groups" | b"metricGroups" => {
                    return Err(Bail)
                }
                _ => self.skip_value()?,
            }
        }
        acc.end_operator(r.operator_start, &r.node_id);
        while self.more(b']')? {
            self.operator(acc)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arroyo::wire::serde_decoder::{serde_envelope, serde_job_metrics};
    use crate::arroyo::wire::test_support::*;
    use crate::arroyo::wire::{decode_job_metrics, decode_metric_groups_envelope};
    use serde::de::IgnoredAny;
    use std::collections::BTreeMap;

    // --- the fast scanner ---------------------------------------------------------------

    /// The scanner's rule: when it answers, serde answers exactly the same. Returns
    /// whether the scanner answered.
    fn check_fast(doc: &[u8]) -> bool {
        let fast = fast_job_metrics(doc);
        if let Some(f) = &fast {
            assert_eq!(
                serde_job_metrics(doc).as_ref(),
                Ok(f),
                "{}",
                String::from_utf8_lossy(doc)
            );
        }
        // The public decoder never disagrees with serde, whichever path it took.
        assert_eq!(decode_job_metrics(doc), serde_job_metrics(doc));
        fast.is_some()
    }

    fn check_fast_envelope(body: &[u8]) -> bool {
        let fast = fast_envelope(body);
        if let Some(f) = &fast {
            assert_eq!(serde_envelope(body).as_ref(), Ok(f));
        }
        assert_eq!(decode_metric_groups_envelope(body), serde_envelope(body));
        fast.is_some()
    }

    #[test]
    fn digit_helpers() {
        for s in [
            "",
            "0",
            "7",
            "12345678",
            "123456789",
            "1795608672537751",
            "00000000000000000001",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999",
            "999999999999999999999999",
        ] {
            let want = if s.is_empty() {
                Some(0)
            } else {
                s.parse().ok()
            };
            assert_eq!(digits_value(s.as_bytes()), want, "{s}");
        }
        let mut rng = Rng(42);
        for _ in 0..10_000 {
            let v = rng.next() % 100_000_000;
            let text = format!("{v:08}");
            let chunk: [u8; 8] = text.as_bytes().try_into().unwrap();
            assert_eq!(eight_digits(chunk), v, "{text}");
        }
        for c in 0..=255u8 {
            assert_eq!(
                digit_run(&[c; 11], 0),
                if c.is_ascii_digit() { 11 } else { 0 },
                "{c}"
            );
            for len in 0..20 {
                let mut v = b"ab".to_vec();
                v.extend(std::iter::repeat_n(b'7', len));
                v.push(c);
                v.extend_from_slice(b"12");
                let want = if c.is_ascii_digit() { len + 3 } else { len };
                assert_eq!(digit_run(&v, 2), want, "{len} {c}");
            }
        }
    }

    #[test]
    fn number_grammar_matches_serde() {
        let texts = [
            "0",
            "-0",
            "1",
            "-1",
            "01",
            "-01",
            "00",
            "1.",
            "1.5",
            "-1.5",
            ".5",
            "1e",
            "1e5",
            "1E5",
            "1e+5",
            "1e-5",
            "1E-05",
            "1.5e300",
            "1e400",
            "-",
            "+1",
            "1.5.2",
            "0.0",
            "23.18069163566513",
            "0.0039057732210423524",
            "1e-7",
            "12345678901234567890123",
            "1x",
            "Infinity",
            "NaN",
            "0x10",
            "1_000",
            "--1",
            "1e+",
            "1.e5",
        ];
        for text in texts {
            let b = text.as_bytes();
            let ours = number_end(b, 0) == Some(b.len());
            let serde = serde_json::from_str::<IgnoredAny>(text).is_ok()
                && matches!(b[0], b'-' | b'0'..=b'9');
            assert_eq!(ours, serde, "{text}");
        }
    }

    #[test]
    fn fast_path_reads_every_capture() {
        for rel in METRICS_DOCS {
            assert!(check_fast(&fixture(rel)), "{rel}");
        }
        for rel in ENVELOPES {
            assert!(check_fast_envelope(&fixture(rel)), "{rel}");
        }
        // Pretty-printed (whitespace everywhere): the general path, still no serde.
        for rel in METRICS_DOCS {
            let pretty = serde_json::to_vec_pretty(&fixture_value(rel)).unwrap();
            assert!(check_fast(&pretty), "{rel}");
        }
        // Older releases' keys.
        let list = fixture_value("arroyo-v0.15.0/job_metrics_rpc.json");
        for (node_key, groups_key, words) in [
            ("nodeId", "metricGroups", false),
            ("operatorId", "metricGroups", true),
        ] {
            let doc = rewrite_operators(&list, node_key, groups_key, words);
            assert!(check_fast(&serde_json::to_vec(&doc).unwrap()));
        }
    }

    #[test]
    fn fast_path_on_generated_documents_of_every_release() {
        use arroyo_sim::{expected_newest, generate_metrics_document, Release};
        let end = 1_795_608_672_537_756;
        let nodes = [(0, 3), (1, 2), (4, 1), (6, 2)];
        for release in Release::ALL {
            for samples in [0, 1, 2, 3, 77, 150, 151, 400] {
                let doc = generate_metrics_document(release, &nodes, samples, end, 17);
                assert!(check_fast(doc.as_bytes()), "{release} {samples}");
                let got = decode_job_metrics(doc.as_bytes()).unwrap();
                let want: BTreeMap<SeriesKey, Point> =
                    expected_newest(release, &nodes, samples, end, 17)
                        .into_iter()
                        .map(|s| {
                            // The simulator's own types, bridged by Arroyo's wire names.
                            let kind = MetricKind::from_wire(s.name.wire_name()).unwrap();
                            let point = Point {
                                time_micros: s.point.time_micros,
                                value: s.point.value,
                            };
                            ((s.node_id, s.subtask_idx, kind), point)
                        })
                        .collect();
                assert_eq!(as_map(&got), want, "{release} {samples}");
                assert_eq!(got, naive(&serde_json::from_str(&doc).unwrap()));
                // The REST bridge's envelope around the same list.
                let envelope = format!(r#"{{"data":{doc}}}"#);
                assert!(check_fast_envelope(envelope.as_bytes()));
            }
        }
    }

    #[test]
    fn fast_path_on_random_documents() {
        let mut rng = Rng(0x005E_ED0F_FA57);
        let mut fast = 0;
        for _ in 0..3000 {
            let doc = generated_doc(&mut rng);
            fast += usize::from(check_fast(doc.as_bytes()));
        }
        // Escaped names and ids go to serde; the rest must not.
        assert!(fast > 500, "{fast}");
    }

    #[test]
    fn fast_path_edge_cases() {
        for doc in [
            r#"[]"#,
            " [ ] ",
            r#"[{"node_id":0,"metric_groups":[]}]"#,
            r#"[{"node_id":18446744073709551615,"metric_groups":[]}]"#,
            r#"[{"node_id":"","metric_groups":[]}]"#,
            r#"[{"node_id":"é 漢字 🚀","metric_groups":[{"name":"bytes_recv","subtasks":[{"index":0,"metrics":[{"time":1,"value":1}]}]}]}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":[{"index":4294967295,"metrics":[{"time":18446744073709551615,"value":-1e300}]}]}]}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":[{"index":0,"metrics":[{"time":2,"value":1e400},{"time":3,"value":5}]}]}]}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":[{"index":0,"metrics":[{"time":3,"value":null},{"time":2},{"value":1,"time":1,"x":[{"y":[]},{}]}]}]}]}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"other","subtasks":{"any":["thing",1.5e3,true,false,null]}}]}]"#,
            r#"[{"x":{"a":[[[[]]]],"b":{}},"node_id":1,"metric_groups":[{"subtasks":[{"metrics":[],"index":2}],"name":"backpressure"}]}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"backpressure","subtasks":[{"index":0,"metrics":[{"time":5,"value":0.5},{"time":5,"value":0.25},{"time":4,"value":0.75}]}]}]}]"#,
        ] {
            assert!(check_fast(doc.as_bytes()), "{doc}");
        }
        // Left to serde (which accepts or rejects them).
        for doc in [
            r#"[{"node_id":-3,"metric_groups":[]}]"#,
            r#"[{"node_id":"a\"b","metric_groups":[]}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"bytes\u005frecv","subtasks":[]}]}]"#,
            r#"[{"node_id":1,"metric_groups":[],"x":"\n"}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":[{"index":0,"metrics":[{"time":1,"value":1e400}]}]}]}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":[{"index":0,"metrics":[{"time":1,"value":"1"}]}]}]}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":[{"index":0,"metrics":[{"time":1,"time":2,"value":1}]}]}]}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":[{"index":0,"metrics":[{"time":1.0,"value":1}]}]}]}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":[{"index":0,"metrics":[{"time":01,"value":1}]}]}]}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":[{"index":0,"metrics":[{"time":1,"value":01}]}]}]}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":[{"index":0,"metrics":[{"time":1,"value":1},]}]}]}]"#,
            "[] x",
            "\u{feff}[]",
        ] {
            assert!(!check_fast(doc.as_bytes()), "{doc}");
        }
        let deep = format!(
            r#"[{{"node_id":1,"metric_groups":[],"x":{}{}}}]"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert!(!check_fast(deep.as_bytes()));
        let shallow = format!(
            r#"[{{"node_id":1,"metric_groups":[],"x":{}1{}}}]"#,
            "[{\"a\":".repeat(31),
            "}]".repeat(31)
        );
        assert!(check_fast(shallow.as_bytes()));
    }

    /// Corrupted documents: whatever the scanner accepts, serde accepts identically, and
    /// nothing panics.
    #[test]
    fn fast_path_on_mutated_documents() {
        use arroyo_sim::{generate_metrics_document, Release};
        const BYTES: &[u8] = b"{}[]\",:0123456789.eE+- \n\\ntrufalsx\x00\xff\xc3";
        let mut rng = Rng(0xD1FF_E7E7);
        let mut bases: Vec<Vec<u8>> = Release::ALL
            .iter()
            .map(|r| generate_metrics_document(*r, &[(0, 2), (3, 1)], 4, 1_795_608_672_537_756, 3))
            .map(String::into_bytes)
            .collect();
        bases.extend((0..20).map(|_| generated_doc(&mut rng).into_bytes()));
        // Documents with escapes are serde's anyway.
        bases.retain(|doc| fast_job_metrics(doc).is_some());
        assert!(bases.len() > 8, "{}", bases.len());
        // `total`: mutated ASCII documents without escapes that serde accepts; `fast`:
        // those the scanner reads.
        let (mut fast, mut total) = (0, 0);
        for round in 0..40_000 {
            let base = &bases[round % bases.len()];
            let mut doc = base.clone();
            for _ in 0..=rng.below(2) {
                if doc.is_empty() {
                    break;
                }
                let at = rng.below(doc.len() as u64) as usize;
                let byte = BYTES[rng.below(BYTES.len() as u64) as usize];
                match rng.below(5) {
                    0 => doc[at] = byte,
                    1 => doc.insert(at, byte),
                    2 => {
                        doc.remove(at);
                    }
                    3 => doc.truncate(at),
                    _ => {
                        let end = (at + 1 + rng.below(40) as usize).min(doc.len());
                        let piece = doc[at..end].to_vec();
                        doc.splice(at..at, piece);
                    }
                }
            }
            let read = check_fast(&doc);
            // Escapes and non-ASCII text are left to serde on purpose.
            if serde_job_metrics(&doc).is_ok() && doc.iter().all(|b| *b != b'\\' && b.is_ascii()) {
                total += 1;
                fast += usize::from(read);
            }
            let envelope = [b"{\"data\":".as_slice(), &doc, b"}"].concat();
            check_fast_envelope(&envelope);
        }
        // Of the mutated documents that serde accepts, the scanner reads (nearly) all
        // but those it leaves to serde on purpose (escapes, non-ASCII, negative ids).
        assert!(
            total > 1000 && fast * 100 >= total * 99,
            "{fast} of {total}"
        );
        // Random bytes.
        for _ in 0..5000 {
            let len = rng.below(64) as usize;
            let doc: Vec<u8> = (0..len)
                .map(|_| BYTES[rng.below(BYTES.len() as u64) as usize])
                .collect();
            check_fast(&doc);
        }
    }

    /// `cargo test --release --lib arroyo::wire::scanner::tests::throughput -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn throughput() {
        let generated = arroyo_sim::generate_metrics_document(
            arroyo_sim::Release::Main,
            &[(0, 25), (1, 25), (2, 25), (3, 25)],
            151,
            1_795_608_672_537_756,
            1,
        );
        for (name, bytes) in [
            (
                "full-window capture",
                fixture("arroyo-main-addb390/job_metrics_rpc_full_window.json"),
            ),
            ("generated, 100 subtasks", generated.into_bytes()),
        ] {
            let rounds = (500_000_000 / bytes.len()).max(1);
            for (path, decode) in [
                ("decode_job_metrics", decode_job_metrics as fn(&[u8]) -> _),
                ("serde path", serde_job_metrics),
            ] {
                let start = std::time::Instant::now();
                for _ in 0..rounds {
                    std::hint::black_box(decode(std::hint::black_box(&bytes)).unwrap());
                }
                let secs = start.elapsed().as_secs_f64();
                println!(
                    "{name}: {path}: {:.0} MB/s",
                    (bytes.len() * rounds) as f64 / secs / 1e6
                );
            }
        }
    }
}
