//! Differential test of the exporter's `JobMetrics` decoder (hand-written scanner, serde
//! fallback) against the benchmark's baseline (serde_json into owned structs of the whole
//! document, `benches/baseline`), on generated documents of every release shape.

#[path = "../benches/baseline/mod.rs"]
mod baseline;

use arroyo_exporter::arroyo::wire::{decode_job_metrics, decode_metric_groups_envelope};
use arroyo_sim::{DocSpec, Effect, Release};

const END: u64 = 1_795_608_672_537_756;

fn check(doc: &str, what: &str) {
    let ours = decode_job_metrics(doc.as_bytes()).expect("exporter decodes");
    let theirs = baseline::decode(doc.as_bytes()).expect("baseline decodes");
    assert_eq!(ours, theirs, "{what}");
    let envelope = format!(r#"{{"data":{doc},"hasMore":false}}"#);
    let wrapped = decode_metric_groups_envelope(envelope.as_bytes()).expect("envelope decodes");
    assert_eq!(wrapped, theirs, "{what} (envelope)");
}

#[test]
fn exporter_decoder_equals_baseline_on_generated_documents() {
    let graphs: [&[(u32, u32)]; 3] = [
        &[(0, 1)],
        &[(0, 3), (1, 2), (4, 1), (6, 2)],
        &[(0, 40), (2, 40), (5, 20)],
    ];
    let mut series = 0;
    for release in Release::ALL {
        for nodes in graphs {
            for samples in [0, 1, 2, 3, 75, 149, 150, 151, 500] {
                for seed in [1, 0xBEEF] {
                    let mut spec = DocSpec::new(release, nodes, samples, END, seed);
                    spec.order_seed = seed ^ samples as u64;
                    spec.effects = vec![Effect::Backpressure {
                        node_id: nodes[0].0,
                        since_micros: END - 60_000_000,
                        low: 0.5,
                        high: 0.9,
                    }];
                    let doc = spec.render();
                    check(&doc, &format!("{release} {nodes:?} {samples} {seed}"));
                    series += spec.newest().len();
                }
            }
        }
    }
    assert!(series > 10_000, "{series}");
}

#[test]
fn exporter_decoder_equals_baseline_on_reformatted_documents() {
    // Whitespace everywhere and keys in another order: the scanner's general path.
    for release in Release::ALL {
        let doc = DocSpec::new(release, &[(0, 2), (3, 2)], 20, END, 5).render();
        let value: serde_json::Value = serde_json::from_str(&doc).expect("JSON");
        let pretty = serde_json::to_string_pretty(&value).expect("JSON");
        check(&pretty, &format!("{release} pretty"));
        let reordered = doc
            .replace(r#"{"time":"#, r#"{"extra":[1,{"a":null}],"time":"#)
            .replace(r#","value":"#, r#","note":"x","value":"#);
        check(&reordered, &format!("{release} extra keys"));
    }
}
