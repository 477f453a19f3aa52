//! A large JobMetrics document read by two threads at once: the scrape waits for the
//! decode after the last byte arrives (about 20 ms for a 1,000-subtask job's 37 MB), and
//! the machine's other cores are idle by then.
//!
//! The tail starts at a subtask in the second half of the document, found by its text
//! (`{"index":`, which in valid JSON only opens an object whose first key is `index`),
//! and reads from there to the end, assuming the structure Arroyo writes around it. The
//! head reads from the start and stops exactly there, which proves the assumption: it is
//! then inside a subtask list, and knows the group's kind and the operator's id that the
//! tail lacks. The two are joined as if one scanner had read everything; in every other
//! case (no such place, the head never stops there, keys in another order, the tail gives
//! up) the answer is the single scanner's, so it never differs from it.

use super::scanner::{
    after_list_punctuation, fast_job_metrics, scan_head, scan_tail, Head, Open, Tail,
};
use super::Acc;
use crate::model;

/// Documents smaller than this are read by one thread: a thread costs more than it saves.
pub(super) const SPLIT_MIN_LEN: usize = 4 << 20;

/// How far past the middle the tail's start is looked for.
const SEARCH_SPAN: usize = 1 << 20;

/// [`fast_job_metrics`], on two threads for documents of at least [`SPLIT_MIN_LEN`].
pub(super) fn fast_job_metrics_split(doc: &[u8]) -> Option<model::JobMetrics> {
    if doc.len() < SPLIT_MIN_LEN {
        return fast_job_metrics(doc);
    }
    split_at(doc, doc.len() / 2).0
}

/// How a split scan came to its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    /// Head and tail joined.
    Joined,
    /// One scanner's answer (the head's alone, or a whole scan after all).
    Single,
}

/// The split scan with the tail's start looked for from byte `from`.
fn split_at(doc: &[u8], from: usize) -> (Option<model::JobMetrics>, Path) {
    let Some(start) = tail_start(doc, from) else {
        return (fast_job_metrics(doc), Path::Single);
    };
    let (head, tail) = std::thread::scope(|s| {
        let tail = s.spawn(|| scan_tail(doc, start));
        let head = scan_head(doc, start);
        // A panic in the tail (there is none: every access is checked) counts as giving up.
        (head, tail.join().ok().flatten())
    });
    match (head, tail) {
        (Head::Whole(answer), _) => (answer, Path::Single),
        (Head::Stopped(acc, open), Some(tail)) => match join(acc, &open, tail) {
            Some(joined) => (Some(joined), Path::Joined),
            None => (fast_job_metrics(doc), Path::Single),
        },
        (Head::Stopped(..) | Head::Unusable, _) => (fast_job_metrics(doc), Path::Single),
    }
}

/// The first `{"index":` at or after `from` (within [`SEARCH_SPAN`]) that follows `[` or
/// `,` (whitespace aside): a candidate start of a subtask.
fn tail_start(doc: &[u8], from: usize) -> Option<usize> {
    let end = doc.len().min(from.saturating_add(SEARCH_SPAN));
    let window = doc.get(from..end)?;
    memchr::memmem::find_iter(window, b"{\"index\":")
        .map(|at| from + at)
        .find(|&at| after_list_punctuation(doc, at))
}

/// The head's samples followed by the tail's, the open group's and operator's labelled
/// as [`Acc::end_group`] and [`Acc::end_operator`] would have; `None` if the tail's
/// counts do not fit (they always do).
fn join(mut acc: Acc, open: &Open<'_>, tail: Tail) -> Option<model::JobMetrics> {
    let base = acc.samples.len();
    let Tail {
        acc: rest,
        group_end,
        nulls,
        operator_end,
    } = tail;
    acc.samples.extend(rest.samples);
    acc.unknown_metric_groups = acc
        .unknown_metric_groups
        .saturating_add(rest.unknown_metric_groups);
    acc.null_values = acc
        .null_values
        .saturating_add(rest.null_values)
        .saturating_add(open.nulls)
        .saturating_add(nulls);
    let group = acc.samples.get_mut(open.group_start..base + group_end)?;
    for sample in group {
        sample.kind = open.kind;
    }
    let operator = acc
        .samples
        .get_mut(open.operator_start..base + operator_end)?;
    for sample in operator {
        sample.node_id.clear();
        sample.node_id.push_str(open.node_id);
    }
    Some(acc.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arroyo::wire::serde_decoder::serde_job_metrics;
    use crate::arroyo::wire::test_support::*;

    /// Every candidate start in `doc`: the split answer equals the single scanner's.
    /// Returns how many of them were joined.
    fn check_every_start(doc: &[u8]) -> usize {
        let single = fast_job_metrics(doc);
        let mut joined = 0;
        let mut from = 0;
        while let Some(start) = tail_start(doc, from) {
            let (answer, path) = split_at(doc, start);
            assert_eq!(answer, single, "tail from byte {start}");
            joined += usize::from(path == Path::Joined);
            from = start + 1;
        }
        joined
    }

    #[test]
    fn joined_answers_equal_one_scanners_on_the_captures() {
        for rel in [
            "arroyo-main-addb390/job_metrics_rpc.json",
            "arroyo-main-addb390/job_metrics_rpc_full_window.json",
            "arroyo-main-addb390/job_metrics_rpc_first_points.json",
            "arroyo-v0.15.0/job_metrics_rpc.json",
        ] {
            let doc = fixture(rel);
            let subtasks = memchr::memmem::find_iter(&doc, b"{\"index\":").count();
            let joined = check_every_start(&doc);
            // Every subtask but the very first of the document (nothing before it to
            // stop in) is a place to join at.
            assert!(
                joined + 1 >= subtasks && joined > 0,
                "{rel}: {joined} of {subtasks}"
            );
        }
    }

    #[test]
    fn joined_answers_equal_one_scanners_on_every_release() {
        use arroyo_sim::{generate_metrics_document, Release};
        for release in Release::ALL {
            let doc = generate_metrics_document(
                release,
                &[(0, 3), (2, 2), (5, 4)],
                6,
                1_795_608_672_537_756,
                7,
            );
            assert!(check_every_start(doc.as_bytes()) > 0, "{release:?}");
        }
    }

    #[test]
    fn other_key_orders_fall_back_to_one_scanner() {
        // Group name after its subtasks, operator id after its groups: the head stops
        // without the kind or the id, and a whole scan answers.
        let doc = br#"[{"node_id":1,"metric_groups":[{"subtasks":[{"index":0,"metrics":[{"time":5,"value":1}]},{"index":1,"metrics":[{"time":5,"value":2}]}],"name":"messages_recv"}]},{"metric_groups":[{"name":"backpressure","subtasks":[{"index":0,"metrics":[{"time":5,"value":0.5}]},{"index":1,"metrics":[{"time":6,"value":0.25}]}]}],"node_id":2}]"#;
        let expected = serde_job_metrics(doc).unwrap();
        let mut from = 0;
        let mut starts = 0;
        while let Some(start) = tail_start(doc, from) {
            let (answer, path) = split_at(doc, start);
            assert_eq!(answer.as_ref(), Some(&expected), "tail from byte {start}");
            assert_eq!(path, Path::Single, "tail from byte {start}");
            starts += 1;
            from = start + 1;
        }
        assert_eq!(starts, 4);
    }

    /// Generated documents (every key order, extra keys, nulls, escapes) and their
    /// mutations, split everywhere: the split answer is the single scanner's, and when
    /// there is one it is serde's.
    #[test]
    fn generated_and_mutated_documents() {
        const BYTES: &[u8] = b"{}[]\",:0123456789.eE+- \n\\n";
        let mut rng = Rng(0x5B11_7000);
        let mut joined = 0;
        for round in 0..3_000 {
            let mut doc = generated_doc(&mut rng).into_bytes();
            mutate_odd_rounds(&mut rng, round, &mut doc, BYTES);
            let single = fast_job_metrics(&doc);
            if let Some(s) = &single {
                assert_eq!(serde_job_metrics(&doc).as_ref(), Ok(s));
            }
            joined += check_every_start(&doc);
        }
        // Most generated documents shuffle keys or add some: few places to join at.
        assert!(joined > 50, "{joined}");
    }

    #[test]
    fn small_documents_take_one_thread() {
        let doc = fixture("arroyo-main-addb390/job_metrics_rpc.json");
        assert!(doc.len() < SPLIT_MIN_LEN);
        assert_eq!(fast_job_metrics_split(&doc), fast_job_metrics(&doc));
    }

    #[test]
    fn a_large_document_is_joined() {
        use arroyo_sim::{generate_metrics_document, Release};
        let doc = generate_metrics_document(
            Release::Main,
            &[(0, 40), (1, 40), (4, 40)],
            151,
            1_795_608_672_537_756,
            3,
        );
        assert!(doc.len() >= SPLIT_MIN_LEN, "{}", doc.len());
        let (answer, path) = split_at(doc.as_bytes(), doc.len() / 2);
        assert_eq!(path, Path::Joined);
        assert_eq!(answer, fast_job_metrics(doc.as_bytes()));
        assert_eq!(fast_job_metrics_split(doc.as_bytes()), answer);
    }
}
