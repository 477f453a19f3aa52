//! `wire::decode_job_errors_page` (a page of a job's error log): never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = arroyo_exporter::arroyo::wire::decode_job_errors_page(data);
});
