//! `wire::decode_checkpoints` (REST checkpoints list): never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = arroyo_exporter::arroyo::wire::decode_checkpoints(data);
});
