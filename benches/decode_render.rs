//! Decode + render benchmark (issue 5): the exporter's path against the obvious
//! implementation ([`baseline`]), in the same run, on generated `JobMetrics` documents of
//! 10, 100 and 1,000 subtasks (and 10,000 with `BENCH_FULL=1`), 150 points per series as
//! Arroyo sends them. Throughput is in bytes of JSON input.
//!
//! ```text
//! cargo bench --bench decode_render                      # 10, 100, 1,000 subtasks
//! BENCH_FULL=1 cargo bench --bench decode_render         # and 10,000 (350 MB document)
//! cargo bench --bench decode_render -- --warm-up-time 0.2 --measurement-time 0.5 --sample-size 10
//! ```
//!
//! Before measuring, the two implementations are checked against each other (same
//! decoded samples, same rendered values), on the benchmark documents and on documents of
//! every release shape; this also runs under `cargo test --all-targets` (criterion's test
//! mode, small sizes only). At the end a table of MB/s and ratios is printed from
//! criterion's estimates of this run.

mod baseline;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use arroyo_exporter::arroyo::wire::{decode_job_metrics, Encoding, UnaryBody};
use arroyo_exporter::exposition::{self, Format};
use arroyo_exporter::model::{
    Job, JobMetrics, JobSnapshot, MetricsOutcome, Operator, Pipeline, Snapshot,
};
use arroyo_sim::{generate_metrics_document, DocSpec, Release};
use criterion::{BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput};

/// Newest sample of the generated documents (µs since the epoch).
const END: u64 = 1_795_608_672_537_756;
/// Samples taken: more than 150, so every series (rates too) holds the full 150 points.
const SAMPLES: usize = 151;
const GROUP: &str = "decode_render";
const BREAKDOWN: &str = "decode_render_parts";

/// One benchmark input.
struct Case {
    subtasks: u32,
    doc: String,
    pipeline: Arc<Pipeline>,
}

/// Graph of `subtasks` subtasks: 5 operators up to 100 subtasks, 10 beyond.
fn nodes_for(subtasks: u32) -> Vec<(u32, u32)> {
    let count = if subtasks >= 1000 { 10 } else { 5 };
    (0..count).map(|i| (i * 2, subtasks / count)).collect()
}

/// A pipeline with the graph, so `operator_name` labels are filled as in production.
fn pipeline_for(nodes: &[(u32, u32)]) -> Arc<Pipeline> {
    const DESCRIPTIONS: [&str; 4] = [
        "Nexmark<200 eps>",
        "nexmark -> watermark -> ArrowKey<_>",
        "TumblingWindow<TumblingWindow> -> sink projection",
        "Blackhole",
    ];
    let operators = nodes
        .iter()
        .enumerate()
        .map(|(i, (id, parallelism))| {
            let op = Operator {
                node_id: id.to_string(),
                operator: "chained_op".to_string(),
                description: DESCRIPTIONS[i % DESCRIPTIONS.len()].to_string(),
                parallelism: *parallelism,
            };
            (id.to_string(), op)
        })
        .collect();
    Arc::new(Pipeline {
        id: "pl_benchmark1".to_string(),
        name: "nexmark_bids_per_auction".to_string(),
        checkpoint_interval_micros: Some(10_000_000),
        operators,
        ..Pipeline::default()
    })
}

fn case(subtasks: u32) -> Case {
    let nodes = nodes_for(subtasks);
    let started = Instant::now();
    let doc = generate_metrics_document(Release::Main, &nodes, SAMPLES, END, 7);
    eprintln!(
        "generated the {subtasks}-subtask document: {:.1} MB in {:.1?}",
        doc.len() as f64 / 1e6,
        started.elapsed()
    );
    Case {
        subtasks,
        doc,
        pipeline: pipeline_for(&nodes),
    }
}

/// One scrape's snapshot holding one job's metrics.
fn snapshot(metrics: JobMetrics, pipeline: &Arc<Pipeline>) -> Snapshot {
    Snapshot {
        up: true,
        jobs: vec![JobSnapshot {
            job: Job {
                id: "job_benchmark".to_string(),
                pipeline_id: Some(pipeline.id.clone()),
                state: "Running".to_string(),
                ..Job::default()
            },
            pipeline: Some(Arc::clone(pipeline)),
            metrics: MetricsOutcome::Ok(metrics),
        }],
        subtask_series: true,
        ..Snapshot::default()
    }
}

/// The exporter's path: decode (hand-written scanner) and render OpenMetrics.
fn exporter(doc: &[u8], pipeline: &Arc<Pipeline>) -> Vec<u8> {
    let metrics = decode_job_metrics(doc).expect("generated documents decode");
    let mut out = Vec::new();
    exposition::render(&snapshot(metrics, pipeline), Format::OpenMetrics, &mut out);
    out
}

/// The baseline's path: serde into owned structs, `prometheus` registry and encoder.
fn baseline(doc: &[u8], pipeline: &Arc<Pipeline>, registry: &baseline::Exporter) -> Vec<u8> {
    let metrics = baseline::decode(doc).expect("generated documents decode");
    registry.render(&snapshot(metrics, pipeline))
}

/// Sample lines of an exposition: (name, sorted labels) → value.
type Samples = BTreeMap<(String, Vec<(String, String)>), f64>;

/// Parses the sample lines of an exposition (label values in these benchmarks hold no
/// escapes).
fn samples(text: &[u8]) -> Samples {
    let text = std::str::from_utf8(text).expect("UTF-8 exposition");
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        assert!(!labels.contains('\\'), "unexpected escape in {line}");
        let mut pairs: Vec<(String, String)> = labels
            .split("\",")
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once("=\"").expect("label pair");
                (k.to_string(), v.trim_end_matches('"').to_string())
            })
            .collect();
        pairs.sort();
        out.insert((name.to_string(), pairs), value.parse().expect("value"));
    }
    out
}

/// Checks that both implementations do the same work: identical decoded samples, and the
/// same value for every series the baseline renders.
fn differential(doc: &[u8], pipeline: &Arc<Pipeline>, what: &str) {
    let ours = decode_job_metrics(doc).expect("exporter decodes");
    let theirs = baseline::decode(doc).expect("baseline decodes");
    assert_eq!(ours, theirs, "decoded samples differ: {what}");
    assert!(!ours.samples.is_empty() || doc.len() < 10_000, "{what}");

    let registry = baseline::Exporter::new();
    let ours = samples(&exporter(doc, pipeline));
    let theirs = samples(&baseline(doc, pipeline, &registry));
    for (key, value) in &theirs {
        let mine = ours
            .get(key)
            .unwrap_or_else(|| panic!("{what}: exporter lacks {key:?}"));
        let close = (mine - value).abs() <= 1e-12 * value.abs().max(1.0);
        assert!(close, "{what}: {key:?}: {mine} vs {value}");
    }
    let rendered = |m: &Samples, family: &str| m.keys().filter(|(name, _)| name == family).count();
    for family in [
        "arroyo_subtask_received_messages_per_second",
        "arroyo_operator_backpressure_ratio",
    ] {
        assert_eq!(rendered(&ours, family), rendered(&theirs, family), "{what}");
    }
}

/// The differential check on documents of every release shape and fill level.
fn differential_all_releases() {
    let nodes = [(0, 3), (1, 2), (4, 1), (6, 2)];
    let pipeline = pipeline_for(&nodes);
    for release in Release::ALL {
        for samples in [0, 1, 2, 90, 150, 151, 300] {
            for seed in [1, 2] {
                let mut spec = DocSpec::new(release, &nodes, samples, END, seed);
                spec.order_seed = seed.wrapping_mul(31);
                let doc = spec.render();
                // Older releases name nodes with words; the graph here is numeric, so
                // operator names stay empty on both sides.
                differential(doc.as_bytes(), &pipeline, &format!("{release} {samples}"));
            }
        }
    }
}

fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("criterion")
}

/// Median time per iteration (ns) of one benchmark of this run, from criterion's files.
fn median_ns(group: &str, id: &str) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(id.replace('/', std::path::MAIN_SEPARATOR_STR))
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn print_summary(cases: &[Case]) {
    println!("\n## decode + render (median of criterion samples, this run)\n");
    println!("| subtasks | document | exporter | baseline | exporter / baseline | exporter time | per subtask |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for c in cases {
        let mb = c.doc.len() as f64 / 1e6;
        let ours = median_ns(GROUP, &format!("exporter/{}", c.subtasks));
        let theirs = median_ns(GROUP, &format!("baseline/{}", c.subtasks));
        let rate = |ns: Option<f64>| {
            ns.map(|ns| format!("{:.0} MB/s", mb * 1e9 / ns))
                .unwrap_or_else(|| "-".into())
        };
        let ratio = match (ours, theirs) {
            (Some(a), Some(b)) => format!("{:.1}x", b / a),
            _ => "-".into(),
        };
        let time = ours
            .map(|ns| format!("{:.2} ms", ns / 1e6))
            .unwrap_or_else(|| "-".into());
        let per = ours
            .map(|ns| format!("{:.2} µs", ns / 1e3 / f64::from(c.subtasks)))
            .unwrap_or_else(|| "-".into());
        println!(
            "| {} | {mb:.2} MB | {} | {} | {ratio} | {time} | {per} |",
            c.subtasks,
            rate(ours),
            rate(theirs)
        );
    }
    if let Some(c) = cases.iter().find(|c| c.subtasks == 1000) {
        let mb = c.doc.len() as f64 / 1e6;
        println!("\n## parts, 1,000 subtasks\n");
        println!("| part | exporter | baseline | exporter / baseline |");
        println!("|---|---:|---:|---:|");
        for (part, id) in [
            ("decode", "exporter"),
            ("decode, streamed in 16 KiB frames", "streamed"),
            ("decode, after the last frame", "after-last-frame"),
            ("render", "exporter"),
        ] {
            let part_id = part.split(',').next().unwrap_or(part);
            let ours = median_ns(BREAKDOWN, &format!("{part_id}/{id}"));
            let theirs = match id {
                "exporter" => median_ns(BREAKDOWN, &format!("{part_id}/baseline")),
                _ => None,
            };
            let show = |ns: Option<f64>| match ns {
                Some(ns) if part_id == "decode" && id != "after-last-frame" => {
                    format!("{:.2} ms ({:.0} MB/s)", ns / 1e6, mb * 1e9 / ns)
                }
                Some(ns) => format!("{:.2} ms", ns / 1e6),
                None => "-".into(),
            };
            let ratio = match (ours, theirs) {
                (Some(a), Some(b)) => format!("{:.1}x", b / a),
                _ => "-".into(),
            };
            println!("| {part} | {} | {} | {ratio} |", show(ours), show(theirs));
        }
    }
}

/// `JobMetricsResp { metrics: doc }` in an uncompressed gRPC message frame.
fn grpc_body(doc: &[u8]) -> Vec<u8> {
    let mut message = Vec::new();
    prost::encoding::bytes::encode(1, &doc.to_vec(), &mut message);
    let mut body = vec![0];
    body.extend_from_slice(&u32::try_from(message.len()).expect("size").to_be_bytes());
    body.extend_from_slice(&message);
    body
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this in criterion's
    // test mode (each benchmark once), where small sizes are enough.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let full = std::env::var("BENCH_FULL").is_ok_and(|v| !v.is_empty() && v != "0");
    let sizes: &[u32] = match (benchmarking, full) {
        (false, _) => &[10, 100],
        (true, false) => &[10, 100, 1000],
        (true, true) => &[10, 100, 1000, 10_000],
    };

    differential_all_releases();
    let cases: Vec<Case> = sizes.iter().map(|n| case(*n)).collect();
    for c in &cases {
        differential(
            c.doc.as_bytes(),
            &c.pipeline,
            &format!("{} subtasks", c.subtasks),
        );
    }
    eprintln!("differential check passed: exporter == baseline on every document");

    let mut criterion = Criterion::default()
        .output_directory(&criterion_dir())
        .configure_from_args();
    let registry = baseline::Exporter::new();
    {
        let mut group = criterion.benchmark_group(GROUP);
        for c in &cases {
            group.throughput(Throughput::Bytes(c.doc.len() as u64));
            // One iteration of the large cases takes long: equal iterations per sample.
            if c.subtasks >= 1000 {
                group.sampling_mode(SamplingMode::Flat);
            } else {
                group.sampling_mode(SamplingMode::Auto);
            }
            // The 350 MB document: a baseline iteration takes seconds; 10 samples.
            if c.subtasks >= 10_000 {
                group.sample_size(10);
            }
            let doc = c.doc.as_bytes();
            group.bench_function(BenchmarkId::new("exporter", c.subtasks), |b| {
                b.iter(|| exporter(std::hint::black_box(doc), &c.pipeline))
            });
            group.bench_function(BenchmarkId::new("baseline", c.subtasks), |b| {
                b.iter(|| baseline(std::hint::black_box(doc), &c.pipeline, &registry))
            });
        }
        group.finish();
    }
    if let Some(c) = cases.iter().find(|c| c.subtasks == 1000) {
        let doc = c.doc.as_bytes();
        let mut group = criterion.benchmark_group(BREAKDOWN);
        group.sampling_mode(SamplingMode::Flat);
        group.bench_function(BenchmarkId::new("decode", "exporter"), |b| {
            b.iter(|| decode_job_metrics(std::hint::black_box(doc)))
        });
        group.bench_function(BenchmarkId::new("decode", "baseline"), |b| {
            b.iter(|| baseline::decode(std::hint::black_box(doc)).map(|m| m.samples.len()))
        });
        // As the exporter reads an answer: the gRPC body in 16 KiB DATA frames through
        // `UnaryBody`, into a buffer kept from the previous answer. All of it, then only
        // what is left after the last frame arrives (the part a scrape waits for).
        let body = grpc_body(doc);
        let frames: Vec<&[u8]> = body.chunks(16 * 1024).collect();
        let (last, before) = frames.split_last().expect("frames");
        let kept = std::cell::Cell::new(Vec::new());
        group.bench_function(BenchmarkId::new("decode", "streamed"), |b| {
            b.iter(|| {
                let mut reader = UnaryBody::in_buffer(Encoding::Identity, usize::MAX, kept.take());
                for frame in &frames {
                    reader.push(std::hint::black_box(frame)).expect("frame");
                }
                let (answer, buffer) = reader.finish();
                kept.set(buffer);
                answer.map(|m| m.samples.len())
            })
        });
        group.bench_function(BenchmarkId::new("decode", "after-last-frame"), |b| {
            b.iter_batched(
                || {
                    let mut reader =
                        UnaryBody::in_buffer(Encoding::Identity, usize::MAX, kept.take());
                    for frame in before {
                        reader.push(frame).expect("frame");
                    }
                    reader
                },
                |mut reader| {
                    reader.push(std::hint::black_box(last)).expect("frame");
                    let (answer, buffer) = reader.finish();
                    kept.set(buffer);
                    answer.map(|m| m.samples.len())
                },
                BatchSize::PerIteration,
            )
        });
        let snap = snapshot(decode_job_metrics(doc).expect("decodes"), &c.pipeline);
        group.bench_function(BenchmarkId::new("render", "exporter"), |b| {
            b.iter(|| {
                let mut out = Vec::new();
                exposition::render(std::hint::black_box(&snap), Format::OpenMetrics, &mut out);
                out
            })
        });
        group.bench_function(BenchmarkId::new("render", "baseline"), |b| {
            b.iter(|| registry.render(std::hint::black_box(&snap)))
        });
        group.finish();
    }
    criterion.final_summary();
    if benchmarking {
        print_summary(&cases);
    }
}
