//! The bottleneck rule: which operators of a job hold the pipeline back.
//!
//! Arroyo's `backpressure` is how full a subtask's output queue is, so it rises on the
//! operators *upstream* of a slow one, not on the slow one itself. An operator is the
//! bottleneck when it is not backpressured itself (the highest backpressure of its
//! subtasks is below the threshold) while at least one of its direct upstream operators
//! is (at or above the threshold): records pile up in front of it, not behind it.
//!
//! Limits, by construction:
//! - a sink has no output queue (Arroyo reports 0), so it is never backpressured: a slow
//!   sink (or the system behind it) shows as the sink being the bottleneck;
//! - with fan-in, one backpressured input is enough; two operators can both be
//!   bottlenecks (one per branch);
//! - an operator whose own backpressure is unknown (no sample, or `NaN`) is never a
//!   bottleneck, and an upstream whose backpressure is unknown does not count as
//!   backpressured: a job without data (idle, just started) has no bottleneck;
//! - when every operator is backpressured (the sink's own destination is slow and the
//!   sink is not in the data), there is no operator to name.
//!
//! Pure: node ids, edges and values in, the set of bottleneck node ids out.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Backpressure at or above which an operator counts as backpressured, in (0, 1].
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Threshold(f64);

impl Threshold {
    /// The default threshold, 0.5: the output queue is half full.
    pub const DEFAULT: Threshold = Threshold(0.5);

    /// `value` as a threshold, or `None` unless 0 < `value` <= 1.
    pub fn new(value: f64) -> Option<Threshold> {
        (value > 0.0 && value <= 1.0).then_some(Threshold(value))
    }

    /// The threshold as a number.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl Default for Threshold {
    fn default() -> Self {
        Threshold::DEFAULT
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The bottleneck operators of one job.
///
/// `edges` are the graph's `(upstream, downstream)` node id pairs; `backpressure` is each
/// operator's highest backpressure over its subtasks (newest point each), by node id,
/// missing for operators without data. Returns the downstream ends of the edges whose
/// upstream is backpressured while the downstream is not (see the module's rule).
pub fn bottlenecks<'e>(
    edges: impl IntoIterator<Item = (&'e str, &'e str)>,
    backpressure: &BTreeMap<&str, f64>,
    threshold: Threshold,
) -> BTreeSet<&'e str> {
    let known = |node: &str| backpressure.get(node).copied().filter(|v| !v.is_nan());
    let t = threshold.get();
    edges
        .into_iter()
        .filter(|(src, dst)| src != dst)
        .filter(|(src, _)| known(src).is_some_and(|v| v >= t))
        .filter(|(_, dst)| known(dst).is_some_and(|v| v < t))
        .map(|(_, dst)| dst)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(edges: &[(&'static str, &'static str)], bp: &[(&str, f64)]) -> Vec<&'static str> {
        let map: BTreeMap<&str, f64> = bp.iter().copied().collect();
        bottlenecks(edges.iter().copied(), &map, Threshold::DEFAULT)
            .into_iter()
            .collect()
    }

    const CHAIN: [(&str, &str); 3] = [("0", "1"), ("1", "4"), ("4", "6")];

    #[test]
    fn chain_names_the_first_operator_that_is_not_backpressured() {
        // 4 is slow: 0 and 1 fill their output queues, 4 and the sink do not.
        assert_eq!(
            run(&CHAIN, &[("0", 0.9), ("1", 0.8), ("4", 0.1), ("6", 0.0)]),
            ["4"]
        );
        // The sink is slow.
        assert_eq!(
            run(&CHAIN, &[("0", 0.9), ("1", 0.9), ("4", 0.7), ("6", 0.0)]),
            ["6"]
        );
        // Only the source is backpressured.
        assert_eq!(
            run(&CHAIN, &[("0", 0.5), ("1", 0.49), ("4", 0.0), ("6", 0.0)]),
            ["1"]
        );
    }

    #[test]
    fn threshold_is_inclusive_for_upstream_and_exclusive_for_the_bottleneck() {
        assert_eq!(
            run(&[("a", "b")], &[("a", 0.5), ("b", 0.5)]),
            Vec::<&str>::new()
        );
        assert_eq!(run(&[("a", "b")], &[("a", 0.5), ("b", 0.4999)]), ["b"]);
        assert_eq!(
            run(&[("a", "b")], &[("a", 0.4999), ("b", 0.0)]),
            Vec::<&str>::new()
        );
        let map = BTreeMap::from([("a", 0.3), ("b", 0.1)]);
        let low = Threshold::new(0.2).unwrap();
        assert_eq!(
            bottlenecks([("a", "b")], &map, low)
                .into_iter()
                .collect::<Vec<_>>(),
            ["b"]
        );
    }

    #[test]
    fn fan_in_one_backpressured_input_is_enough() {
        // a -> j <- b: j is slow but only a's queue is full (b is a slow source).
        let edges = [("a", "j"), ("b", "j"), ("j", "s")];
        assert_eq!(
            run(&edges, &[("a", 0.95), ("b", 0.0), ("j", 0.0), ("s", 0.0)]),
            ["j"]
        );
        assert_eq!(
            run(&edges, &[("a", 0.95), ("b", 0.7), ("j", 0.0), ("s", 0.0)]),
            ["j"]
        );
    }

    #[test]
    fn fan_out_names_each_slow_branch() {
        // s -> x, s -> y: s's queues towards both are full; x and y both lag.
        let edges = [("s", "x"), ("s", "y"), ("x", "kx"), ("y", "ky")];
        assert_eq!(
            run(
                &edges,
                &[("s", 0.9), ("x", 0.0), ("y", 0.1), ("kx", 0.0), ("ky", 0.0)]
            ),
            ["x", "y"]
        );
        // One branch further down: y's own output is full, ky is slow.
        assert_eq!(
            run(
                &edges,
                &[("s", 0.9), ("x", 0.0), ("y", 0.8), ("kx", 0.0), ("ky", 0.0)]
            ),
            ["ky", "x"]
        );
    }

    #[test]
    fn none_backpressured_means_no_bottleneck() {
        assert!(run(&CHAIN, &[("0", 0.01), ("1", 0.0), ("4", 0.3), ("6", 0.0)]).is_empty());
    }

    #[test]
    fn all_backpressured_means_no_bottleneck() {
        assert!(run(&CHAIN, &[("0", 0.9), ("1", 0.9), ("4", 0.9), ("6", 0.9)]).is_empty());
    }

    #[test]
    fn missing_data_is_never_a_bottleneck_nor_backpressured() {
        // No data at all (an idle or just started job).
        assert!(run(&CHAIN, &[]).is_empty());
        // 4 has no sample: it is not named, and 6 behind it is not either.
        assert!(run(&CHAIN, &[("0", 0.9), ("1", 0.9), ("6", 0.0)]).is_empty());
        // NaN counts as missing, on either side.
        assert!(run(&CHAIN, &[("0", 0.9), ("1", f64::NAN), ("4", 0.0)]).is_empty());
        assert!(run(&CHAIN, &[("0", f64::NAN), ("1", 0.0)]).is_empty());
        // An edge to a node outside the data.
        assert!(run(&[("0", "ghost")], &[("0", 0.9)]).is_empty());
    }

    #[test]
    fn self_loops_and_repeated_edges() {
        assert!(run(&[("a", "a")], &[("a", 0.9)]).is_empty());
        assert_eq!(
            run(&[("a", "b"), ("a", "b")], &[("a", 0.9), ("b", 0.0)]),
            ["b"]
        );
    }

    #[test]
    fn threshold_bounds() {
        assert_eq!(Threshold::default().get(), 0.5);
        assert!(Threshold::new(1.0).is_some());
        assert!(Threshold::new(1e-9).is_some());
        for bad in [0.0, -0.1, 1.0001, f64::NAN, f64::INFINITY] {
            assert!(Threshold::new(bad).is_none(), "{bad}");
        }
        assert_eq!(Threshold::new(0.25).unwrap().to_string(), "0.25");
    }
}
