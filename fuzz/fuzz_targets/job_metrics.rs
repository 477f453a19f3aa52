//! `wire::decode_job_metrics` on arbitrary bytes: never panics, and what it accepts is
//! well formed (finite values, one sample per series, sorted).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = arroyo_exporter::arroyo::wire::decode_job_metrics(data) {
        check(&m);
    }
});

fn check(m: &arroyo_exporter::model::JobMetrics) {
    for w in m.samples.windows(2) {
        let a = (&w[0].node_id, w[0].subtask_idx, w[0].kind);
        let b = (&w[1].node_id, w[1].subtask_idx, w[1].kind);
        assert!(a < b, "samples not sorted or not merged: {a:?} then {b:?}");
    }
    for s in &m.samples {
        assert!(s.point.value.is_finite(), "non-finite value kept: {s:?}");
    }
}
