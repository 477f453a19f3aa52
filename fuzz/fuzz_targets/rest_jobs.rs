//! `wire::decode_jobs` (REST `/api/v1/jobs` and `/pipelines/{id}/jobs`): never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = arroyo_exporter::arroyo::wire::decode_jobs(data);
});
