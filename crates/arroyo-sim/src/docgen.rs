//! Generator of `JobMetrics` documents shaped like Arroyo's (SIMULATED data).
//!
//! Values are a deterministic function of `(seed, node, subtask, series, sampling slot)`:
//! two documents generated with the same seed at different end times agree on every
//! point they share, so consecutive scrapes see continuous, slowly wandering series.
//! Slots are [`COLLECTION_INTERVAL_MICROS`] apart; each subtask has a small constant
//! offset (tens to a few hundred µs), as on a real controller.
//!
//! The flow model: nodes are a linear chain in the order given (first = source, last =
//! sink). The source emits [`DocSpec::source_rate`] messages/s in total; each middle node
//! passes on a seed-chosen fraction; sources report `*_recv` = 0 and sinks `*_sent` = 0.
//! Rates are per subtask (the node's rate split over its parallelism, with a few percent of
//! spread between subtasks).

use crate::facts::{MetricName, NewestPoint, Point};
use crate::release::{wire_node_id, Release};

/// Maximum points a series holds (Arroyo's 5-minute ring buffer).
pub const MAX_POINTS: usize = 150;

/// Spacing of the controller's samples, in microseconds.
pub const COLLECTION_INTERVAL_MICROS: u64 = 2_000_000;

/// A change applied to a generated job's series from some instant on (scenarios).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Effect {
    /// From `since_micros` on, the source's output (and so every node's rates) falls to
    /// `factor` times its normal value, reached through the controller's EWMA (α = 0.1).
    ThroughputDrop {
        /// First instant of the drop (µs since the epoch).
        since_micros: u64,
        /// Remaining fraction, e.g. 0.1 for a 90 % drop.
        factor: f64,
    },
    /// From `since_micros` on, node `node_id`'s backpressure stays between `low` and `high`.
    Backpressure {
        /// Affected graph node.
        node_id: u32,
        /// First instant (µs since the epoch).
        since_micros: u64,
        /// Lowest value.
        low: f64,
        /// Highest value.
        high: f64,
    },
    /// From `since_micros` on, one subtask carries `factor` times its normal rates (a hot
    /// key), reached through the EWMA.
    Skew {
        /// Affected graph node.
        node_id: u32,
        /// Affected subtask index.
        subtask: u32,
        /// First instant (µs since the epoch).
        since_micros: u64,
        /// Multiplier, e.g. 10.0.
        factor: f64,
    },
}

/// Everything that determines one generated document.
#[derive(Debug, Clone, PartialEq)]
pub struct DocSpec {
    /// Wire shape.
    pub release: Release,
    /// `(node_id, parallelism)` in chain order: first = source, last = sink.
    pub nodes: Vec<(u32, u32)>,
    /// Samples the controller has taken so far. Series hold at most [`MAX_POINTS`];
    /// `backpressure` holds `min(samples, 150)` points and the four rate series one fewer
    /// until the buffer is full (`samples` > 150). 0 = every group with `"subtasks": []`.
    pub samples: usize,
    /// The newest sample is the last slot at or before this instant (µs since the epoch).
    pub end_time_micros: u64,
    /// Seed of the values.
    pub seed: u64,
    /// Seed of the (random-looking) order of nodes, groups and subtasks.
    pub order_seed: u64,
    /// Total messages/s emitted by the source (default 1000).
    pub source_rate: f64,
    /// Scenario effects.
    pub effects: Vec<Effect>,
}

impl DocSpec {
    /// A spec with default rate, no effects, and `order_seed = seed`.
    pub fn new(
        release: Release,
        nodes: &[(u32, u32)],
        samples: usize,
        end_time_micros: u64,
        seed: u64,
    ) -> DocSpec {
        DocSpec {
            release,
            nodes: nodes.to_vec(),
            samples,
            end_time_micros,
            seed,
            order_seed: seed,
            source_rate: 1000.0,
            effects: Vec::new(),
        }
    }

    /// Number of points the document holds (about 48 bytes each).
    pub fn point_count(&self) -> usize {
        let subtasks: usize = self.nodes.iter().map(|(_, p)| *p as usize).sum();
        let bp = self.samples.min(MAX_POINTS);
        let rates = self.samples.saturating_sub(1).min(MAX_POINTS);
        subtasks * (bp + 4 * rates)
    }

    /// Renders the document (compact JSON, as Arroyo writes it).
    pub fn render(&self) -> String {
        let plan = Plan::new(self);
        let mut out = String::with_capacity(plan.estimated_len());
        plan.render_into(&mut out);
        out
    }

    /// Appends the document to `out`.
    pub fn render_into(&self, out: &mut String) {
        let plan = Plan::new(self);
        out.reserve(plan.estimated_len());
        plan.render_into(out);
    }

    /// The newest point of every non-empty series, in node, subtask, [`MetricName::ALL`]
    /// order; `node_id` is written as the exporter labels it (decimal, or the legacy word
    /// id for v0.11).
    pub fn newest(&self) -> Vec<NewestPoint> {
        let plan = Plan::new(self);
        let mut out = Vec::new();
        for node in &plan.nodes {
            for sub in &node.subs {
                for kind in MetricName::ALL {
                    let n = plan.points(sub, kind);
                    if n == 0 {
                        continue;
                    }
                    let Some(k) = sub.newest_slot else { continue };
                    out.push(NewestPoint {
                        node_id: node.wire_id.clone(),
                        subtask_idx: sub.index,
                        name: kind,
                        point: Point {
                            time_micros: slot_time(k, sub.offset),
                            value: plan.value(node, sub, kind, k),
                        },
                    });
                }
            }
        }
        out
    }
}

/// Generates a metrics document like Arroyo's `JobMetricsResp.metrics` for `nodes`
/// (`(node_id, parallelism)`, chain order), with `points_per_series` samples taken (see
/// [`DocSpec::samples`]) and the newest at or before `end_time_micros`. Deterministic per
/// `seed` (values and order).
pub fn generate_metrics_document(
    release: Release,
    nodes: &[(u32, u32)],
    points_per_series: usize,
    end_time_micros: u64,
    seed: u64,
) -> String {
    DocSpec::new(release, nodes, points_per_series, end_time_micros, seed).render()
}

/// The newest point of every series of the document that
/// [`generate_metrics_document`] returns for the same arguments.
pub fn expected_newest(
    release: Release,
    nodes: &[(u32, u32)],
    points_per_series: usize,
    end_time_micros: u64,
    seed: u64,
) -> Vec<NewestPoint> {
    DocSpec::new(release, nodes, points_per_series, end_time_micros, seed).newest()
}

// ---------------------------------------------------------------------------------------

/// SplitMix64 finaliser: a cheap, well-mixed 64-bit hash step.
#[inline]
pub(crate) fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash of several words.
#[inline]
pub(crate) fn hash(words: &[u64]) -> u64 {
    words
        .iter()
        .fold(0x5851_F42D_4C95_7F2D, |acc, w| mix(acc ^ *w))
}

/// Maps a hash to [0, 1).
#[inline]
pub(crate) fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// Small deterministic generator for shuffles.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(mix(seed ^ 0xA076_1D64_78BD_642F))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    pub(crate) fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

fn slot_time(k: u64, offset: u64) -> u64 {
    k * COLLECTION_INTERVAL_MICROS + offset
}

fn first_slot_at_or_after(t: u64) -> u64 {
    t.div_ceil(COLLECTION_INTERVAL_MICROS)
}

/// EWMA approach from 1 towards `factor`, `k - k0 + 1` samples after the change.
#[inline]
fn ramp(k: u64, k0: u64, factor: f64) -> f64 {
    if k < k0 {
        1.0
    } else {
        let n = (k - k0 + 1).min(2000) as i32;
        factor + (1.0 - factor) * 0.9f64.powi(n)
    }
}

const KIND_SALT: [u64; 5] = [0x11, 0x22, 0x33, 0x44, 0x55];

struct SubPlan {
    index: u32,
    offset: u64,
    newest_slot: Option<u64>,
    /// Series hash keys, by [`MetricName::ALL`] position.
    keys: [u64; 5],
    /// Messages/s received and sent by this subtask (before wave, noise and effects).
    msgs_in: f64,
    msgs_out: f64,
    /// Skew multiplier from this slot on, with its factor.
    skew: Option<(u64, f64)>,
    /// Backpressure range from this slot on.
    bp: Option<(u64, f64, f64)>,
}

struct NodePlan {
    wire_id: String,
    numeric_id: u32,
    /// Bytes per message received / sent.
    bpm_in: f64,
    bpm_out: f64,
    subs: Vec<SubPlan>,
}

struct Plan<'a> {
    spec: &'a DocSpec,
    nodes: Vec<NodePlan>,
    bp_points: usize,
    rate_points: usize,
    wave_base: u64,
    wave: Vec<f64>,
    wave_p1: f64,
    wave_p2: f64,
    wave_ph1: f64,
    wave_ph2: f64,
    drop: Option<(u64, f64)>,
}

impl<'a> Plan<'a> {
    fn new(spec: &'a DocSpec) -> Plan<'a> {
        let seed = spec.seed;
        let count = spec.nodes.len();
        let bp_points = spec.samples.min(MAX_POINTS);
        let rate_points = spec.samples.saturating_sub(1).min(MAX_POINTS);
        let drop = spec.effects.iter().rev().find_map(|e| match e {
            Effect::ThroughputDrop {
                since_micros,
                factor,
            } => Some((first_slot_at_or_after(*since_micros), *factor)),
            _ => None,
        });

        // Bytes per message of each node's output; the input of node i is node i-1's output.
        let bpm_out: Vec<f64> = spec
            .nodes
            .iter()
            .map(|(id, _)| 60.0 + (hash(&[seed, *id as u64, 0xB1]) % 1000) as f64)
            .collect();
        let mut nodes = Vec::with_capacity(count);
        let mut flow = spec.source_rate.max(0.0);
        for (pos, &(node_id, parallelism)) in spec.nodes.iter().enumerate() {
            let is_source = pos == 0;
            let is_sink = count > 1 && pos + 1 == count;
            let total_in = if is_source { 0.0 } else { flow };
            let selectivity = if is_source {
                1.0
            } else {
                [1.0, 1.0, 0.8, 0.25][(hash(&[seed, node_id as u64, 0x5E1]) % 4) as usize]
            };
            let total_out = if is_sink { 0.0 } else { flow * selectivity };
            flow = if is_source { flow } else { flow * selectivity };
            let p = parallelism.max(1);
            let mut subs = Vec::with_capacity(p as usize);
            for s in 0..parallelism {
                let hs = hash(&[seed, node_id as u64, s as u64]);
                let offset = 20 + hs % 230;
                let newest_slot = spec
                    .end_time_micros
                    .checked_sub(offset)
                    .map(|t| t / COLLECTION_INTERVAL_MICROS);
                let weight = 1.0 + 0.04 * (unit(mix(hs)) - 0.5);
                let mut keys = [0u64; 5];
                for (i, salt) in KIND_SALT.iter().enumerate() {
                    keys[i] = mix(hs ^ salt.wrapping_mul(0x2545_F491_4F6C_DD1D));
                }
                let mut skew = None;
                let mut bp = None;
                for e in &spec.effects {
                    match *e {
                        Effect::Skew {
                            node_id: n,
                            subtask,
                            since_micros,
                            factor,
                        } if n == node_id && subtask == s => {
                            skew = Some((first_slot_at_or_after(since_micros), factor))
                        }
                        Effect::Backpressure {
                            node_id: n,
                            since_micros,
                            low,
                            high,
                        } if n == node_id => {
                            bp = Some((first_slot_at_or_after(since_micros), low, high))
                        }
                        _ => {}
                    }
                }
                subs.push(SubPlan {
                    index: s,
                    offset,
                    newest_slot,
                    keys,
                    msgs_in: total_in / p as f64 * weight,
                    msgs_out: total_out / p as f64 * weight,
                    skew,
                    bp,
                });
            }
            nodes.push(NodePlan {
                wire_id: wire_node_id(spec.release, node_id, pos, count),
                numeric_id: node_id,
                bpm_in: if pos == 0 { 0.0 } else { bpm_out[pos - 1] },
                bpm_out: bpm_out[pos],
                subs,
            });
        }

        let hw = hash(&[seed, 0x3A7E]);
        let newest = spec.end_time_micros / COLLECTION_INTERVAL_MICROS;
        let wave_base = newest.saturating_sub(MAX_POINTS as u64 + 1);
        let mut plan = Plan {
            spec,
            nodes,
            bp_points,
            rate_points,
            wave_base,
            wave: Vec::new(),
            wave_p1: 80.0 + (hw % 70) as f64,
            wave_p2: 13.0 + ((hw >> 8) % 11) as f64,
            wave_ph1: unit(mix(hw ^ 1)) * std::f64::consts::TAU,
            wave_ph2: unit(mix(hw ^ 2)) * std::f64::consts::TAU,
            drop,
        };
        plan.wave = (wave_base..=newest).map(|k| plan.wave_at(k)).collect();
        plan
    }

    fn wave_at(&self, k: u64) -> f64 {
        let kf = k as f64;
        1.0 + 0.06 * (std::f64::consts::TAU * kf / self.wave_p1 + self.wave_ph1).sin()
            + 0.025 * (std::f64::consts::TAU * kf / self.wave_p2 + self.wave_ph2).sin()
    }

    #[inline]
    fn wave(&self, k: u64) -> f64 {
        match k.checked_sub(self.wave_base) {
            Some(i) if (i as usize) < self.wave.len() => self.wave[i as usize],
            _ => self.wave_at(k),
        }
    }

    /// Points in this subtask's series of `kind`.
    fn points(&self, sub: &SubPlan, kind: MetricName) -> usize {
        let Some(k) = sub.newest_slot else { return 0 };
        let n = if kind == MetricName::Backpressure {
            self.bp_points
        } else {
            self.rate_points
        };
        n.min((k + 1).min(usize::MAX as u64) as usize)
    }

    #[inline]
    fn value(&self, node: &NodePlan, sub: &SubPlan, kind: MetricName, k: u64) -> f64 {
        let u = unit(mix(sub.keys[kind.position()] ^ k));
        if kind == MetricName::Backpressure {
            if let Some((k0, low, high)) = sub.bp {
                if k >= k0 {
                    return low + (high - low) * u;
                }
            }
            return if u < 0.6 { 0.0 } else { (u - 0.6) * 0.0375 };
        }
        let base = match kind {
            MetricName::MessagesRecv => sub.msgs_in,
            MetricName::MessagesSent => sub.msgs_out,
            MetricName::BytesRecv => sub.msgs_in * node.bpm_in,
            MetricName::BytesSent => sub.msgs_out * node.bpm_out,
            MetricName::Backpressure => 0.0,
        };
        if base == 0.0 {
            return 0.0;
        }
        let mut v = base * self.wave(k) * (1.0 + 0.01 * (u - 0.5));
        if let Some((k0, f)) = self.drop {
            v *= ramp(k, k0, f);
        }
        if let Some((k0, f)) = sub.skew {
            v *= ramp(k, k0, f);
        }
        v
    }

    fn estimated_len(&self) -> usize {
        let subtasks: usize = self.nodes.iter().map(|n| n.subs.len()).sum();
        let points = subtasks * (self.bp_points + 4 * self.rate_points);
        points * 48 + subtasks * 5 * 24 + self.nodes.len() * 256 + 2
    }

    fn render_into(&self, out: &mut String) {
        let release = self.spec.release;
        let (node_key, groups_key) = match release {
            Release::V0_11 => ("{\"operatorId\":\"", "\",\"metricGroups\":["),
            Release::V0_13 => ("{\"nodeId\":", ",\"metricGroups\":["),
            Release::V0_15 | Release::Main => ("{\"node_id\":", ",\"metric_groups\":["),
        };
        let mut rng = Rng::new(self.spec.order_seed);
        let mut itoa_buf = itoa::Buffer::new();
        let mut ryu_buf = ryu::Buffer::new();
        let mut node_order: Vec<usize> = (0..self.nodes.len()).collect();
        rng.shuffle(&mut node_order);
        out.push('[');
        for (ni, &n) in node_order.iter().enumerate() {
            let node = &self.nodes[n];
            if ni > 0 {
                out.push(',');
            }
            out.push_str(node_key);
            if release.numeric_node_ids() {
                out.push_str(itoa_buf.format(node.numeric_id));
            } else {
                out.push_str(&node.wire_id);
            }
            out.push_str(groups_key);
            let mut kinds = MetricName::ALL;
            rng.shuffle(&mut kinds);
            let mut sub_order: Vec<usize> = (0..node.subs.len()).collect();
            for (gi, kind) in kinds.iter().enumerate() {
                if gi > 0 {
                    out.push(',');
                }
                out.push_str("{\"name\":\"");
                out.push_str(kind.wire_name());
                out.push_str("\",\"subtasks\":[");
                rng.shuffle(&mut sub_order);
                let mut first_sub = true;
                for &si in &sub_order {
                    let sub = &node.subs[si];
                    let count = self.points(sub, *kind);
                    let Some(newest) = sub.newest_slot else {
                        continue;
                    };
                    if count == 0 {
                        continue;
                    }
                    if !first_sub {
                        out.push(',');
                    }
                    first_sub = false;
                    out.push_str("{\"index\":");
                    out.push_str(itoa_buf.format(sub.index));
                    out.push_str(",\"metrics\":[");
                    let oldest = newest + 1 - count as u64;
                    for k in oldest..=newest {
                        if k > oldest {
                            out.push(',');
                        }
                        out.push_str("{\"time\":");
                        out.push_str(itoa_buf.format(slot_time(k, sub.offset)));
                        out.push_str(",\"value\":");
                        out.push_str(ryu_buf.format(self.value(node, sub, *kind, k)));
                        out.push('}');
                    }
                    out.push_str("]}");
                }
                out.push_str("]}");
            }
            out.push_str("]}");
        }
        out.push(']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const END: u64 = 1_795_608_672_537_756;

    type Series = (String, String, u64, Vec<(u64, f64)>);

    fn series(doc: &Value, release: Release) -> Vec<Series> {
        let (nk, gk) = match release {
            Release::V0_11 => ("operatorId", "metricGroups"),
            Release::V0_13 => ("nodeId", "metricGroups"),
            _ => ("node_id", "metric_groups"),
        };
        let mut out = Vec::new();
        for op in doc.as_array().unwrap() {
            let id = match &op[nk] {
                Value::String(s) => s.clone(),
                v => v.as_u64().unwrap().to_string(),
            };
            for g in op[gk].as_array().unwrap() {
                for s in g["subtasks"].as_array().unwrap() {
                    let pts = s["metrics"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| (p["time"].as_u64().unwrap(), p["value"].as_f64().unwrap()))
                        .collect();
                    out.push((
                        id.clone(),
                        g["name"].as_str().unwrap().to_string(),
                        s["index"].as_u64().unwrap(),
                        pts,
                    ));
                }
            }
        }
        out
    }

    #[test]
    fn shapes_per_release() {
        let nodes = [(0, 2), (1, 2), (4, 2), (6, 2)];
        for release in Release::ALL {
            let doc = generate_metrics_document(release, &nodes, 91, END, 7);
            let v: Value = serde_json::from_str(&doc).unwrap();
            let s = series(&v, release);
            assert_eq!(s.len(), 40, "{release}");
            for (_, name, _, pts) in &s {
                let want = if name == "backpressure" { 91 } else { 90 };
                assert_eq!(pts.len(), want);
                assert!(pts
                    .windows(2)
                    .all(|w| w[1].0 - w[0].0 == COLLECTION_INTERVAL_MICROS));
                assert!(pts.last().unwrap().0 <= END);
            }
            let first = &v.as_array().unwrap()[0];
            match release {
                Release::V0_11 => assert!(first["operatorId"].is_string()),
                Release::V0_13 => assert!(first["nodeId"].is_u64()),
                _ => assert!(first["node_id"].is_u64()),
            }
        }
        let v11: Value = serde_json::from_str(&generate_metrics_document(
            Release::V0_11,
            &nodes,
            3,
            END,
            7,
        ))
        .unwrap();
        let mut ids: Vec<String> = series(&v11, Release::V0_11)
            .into_iter()
            .map(|s| s.0)
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids, ["sink_6", "source_0", "value_1", "value_4"]);
    }

    #[test]
    fn caps_and_empty() {
        let nodes = [(0, 1), (3, 1)];
        let full: Value = serde_json::from_str(&generate_metrics_document(
            Release::Main,
            &nodes,
            500,
            END,
            1,
        ))
        .unwrap();
        assert!(series(&full, Release::Main)
            .iter()
            .all(|s| s.3.len() == MAX_POINTS));
        let empty = generate_metrics_document(Release::Main, &nodes, 0, END, 1);
        let v: Value = serde_json::from_str(&empty).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 2);
        assert!(series(&v, Release::Main).is_empty());
        for op in v.as_array().unwrap() {
            assert_eq!(op["metric_groups"].as_array().unwrap().len(), 5);
        }
        // One sample: only backpressure has a point.
        let one: Value =
            serde_json::from_str(&generate_metrics_document(Release::Main, &nodes, 1, END, 1))
                .unwrap();
        let s = series(&one, Release::Main);
        assert_eq!(s.len(), 2);
        assert!(s.iter().all(|s| s.1 == "backpressure"));
    }

    #[test]
    fn newest_matches_document_and_flow_is_realistic() {
        let nodes = [(0, 2), (1, 3), (5, 1)];
        let doc = generate_metrics_document(Release::V0_15, &nodes, 40, END, 99);
        let v: Value = serde_json::from_str(&doc).unwrap();
        let s = series(&v, Release::V0_15);
        let expected = expected_newest(Release::V0_15, &nodes, 40, END, 99);
        assert_eq!(expected.len(), s.len());
        for e in &expected {
            let found = s
                .iter()
                .find(|(n, name, idx, _)| {
                    *n == e.node_id && name == e.name.wire_name() && *idx == e.subtask_idx as u64
                })
                .unwrap();
            let last = found.3.last().unwrap();
            assert_eq!(last.0, e.point.time_micros);
            assert_eq!(last.1.to_bits(), e.point.value.to_bits());
            match (e.node_id.as_str(), e.name) {
                ("0", MetricName::MessagesRecv | MetricName::BytesRecv) => {
                    assert_eq!(e.point.value, 0.0)
                }
                ("5", MetricName::MessagesSent | MetricName::BytesSent) => {
                    assert_eq!(e.point.value, 0.0)
                }
                (_, MetricName::Backpressure) => assert!((0.0..0.02).contains(&e.point.value)),
                ("0", MetricName::MessagesSent) => {
                    assert!((400.0..600.0).contains(&e.point.value), "{e:?}")
                }
                _ => assert!(e.point.value > 0.0, "{e:?}"),
            }
        }
    }

    #[test]
    fn deterministic_and_continuous() {
        let nodes = [(0, 2), (2, 2)];
        let a = generate_metrics_document(Release::Main, &nodes, 150, END, 5);
        let b = generate_metrics_document(Release::Main, &nodes, 150, END, 5);
        assert_eq!(a, b);
        assert_ne!(
            a,
            generate_metrics_document(Release::Main, &nodes, 150, END, 6)
        );
        // A later document agrees with the earlier one on the shared points.
        let later = generate_metrics_document(Release::Main, &nodes, 150, END + 10_000_000, 5);
        let sa = series(&serde_json::from_str(&a).unwrap(), Release::Main);
        let sb = series(&serde_json::from_str(&later).unwrap(), Release::Main);
        for (n, name, idx, pts) in &sa {
            let other = sb
                .iter()
                .find(|s| &s.0 == n && &s.1 == name && s.2 == *idx)
                .unwrap();
            assert_eq!(&pts[5..], &other.3[..pts.len() - 5]);
        }
    }

    #[test]
    fn effects() {
        let nodes = [(0, 2), (1, 2), (2, 2)];
        let since = END - 120_000_000;
        let mut spec = DocSpec::new(Release::Main, &nodes, 150, END, 3);
        let before = spec.newest();
        spec.effects = vec![
            Effect::ThroughputDrop {
                since_micros: since,
                factor: 0.1,
            },
            Effect::Backpressure {
                node_id: 1,
                since_micros: since,
                low: 0.8,
                high: 0.95,
            },
        ];
        let after = spec.newest();
        for (b, a) in before.iter().zip(&after) {
            match a.name {
                MetricName::Backpressure if a.node_id == "1" => {
                    assert!((0.8..=0.95).contains(&a.point.value))
                }
                MetricName::Backpressure => assert_eq!(a.point.value, b.point.value),
                _ if b.point.value == 0.0 => assert_eq!(a.point.value, 0.0),
                _ => {
                    let r = a.point.value / b.point.value;
                    assert!((0.09..0.11).contains(&r), "{r}");
                }
            }
        }
        spec.effects = vec![Effect::Skew {
            node_id: 1,
            subtask: 0,
            since_micros: since,
            factor: 10.0,
        }];
        let skew = spec.newest();
        let get = |s: &[NewestPoint], idx: u32| {
            s.iter()
                .find(|x| {
                    x.node_id == "1" && x.subtask_idx == idx && x.name == MetricName::MessagesRecv
                })
                .unwrap()
                .point
                .value
        };
        let r = get(&skew, 0) / get(&skew, 1);
        assert!((9.0..11.0).contains(&r), "{r}");
    }

    #[test]
    fn big_document_is_fast_enough() {
        // 1,000 subtasks, full window: about 35 MB.
        let nodes: Vec<(u32, u32)> = (0..10).map(|i| (i, 100)).collect();
        let t = std::time::Instant::now();
        let doc = generate_metrics_document(Release::Main, &nodes, 151, END, 11);
        let took = t.elapsed();
        assert!(doc.len() > 25_000_000, "{}", doc.len());
        assert!(took < std::time::Duration::from_secs(20), "{took:?}");
    }
}
