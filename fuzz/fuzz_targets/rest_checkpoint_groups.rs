//! `wire::decode_checkpoint_groups` (a checkpoint's `operator_checkpoint_groups`): never
//! panics, and an accepted answer's size is the sum of its operators' bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = arroyo_exporter::arroyo::wire::decode_checkpoint_groups(data, 1) {
        let sum = d
            .operators
            .iter()
            .fold(0u64, |s, o| s.saturating_add(o.bytes));
        assert_eq!(d.total_bytes(), sum);
        for o in &d.operators {
            assert!(o.phase_seconds.values().all(|v| v.is_finite() && *v >= 0.0));
        }
    }
});
