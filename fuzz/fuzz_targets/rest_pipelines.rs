//! `wire::decode_pipelines_page` and `wire::decode_pipeline` (REST pipelines): never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = arroyo_exporter::arroyo::wire::decode_pipelines_page(data);
    let _ = arroyo_exporter::arroyo::wire::decode_pipeline(data);
});
