//! `wire::decode_metric_groups_envelope` (the REST bridge's `{"data": [...]}`) on
//! arbitrary bytes: never panics; accepted documents are well formed.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = arroyo_exporter::arroyo::wire::decode_metric_groups_envelope(data) {
        for w in m.samples.windows(2) {
            let a = (&w[0].node_id, w[0].subtask_idx, w[0].kind);
            let b = (&w[1].node_id, w[1].subtask_idx, w[1].kind);
            assert!(a < b, "samples not sorted or not merged: {a:?} then {b:?}");
        }
        assert!(m.samples.iter().all(|s| s.point.value.is_finite()));
    }
});
