//! `wire::decode_admin_details` (the admin port's `/details`): never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = arroyo_exporter::arroyo::wire::decode_admin_details(data);
});
