//! `wire::UnaryBody` (a JobMetrics answer's body: gRPC frame, decompression, protobuf,
//! document) on arbitrary bytes: the first byte chooses the encoding and the size of the
//! pieces, the rest is the body. Never panics, and stays within its size limit.
#![no_main]

use arroyo_exporter::arroyo::wire::{Encoding, UnaryBody};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [control, body @ ..] = data else {
        return;
    };
    let encoding = match control % 3 {
        0 => Encoding::Identity,
        1 => Encoding::Gzip,
        _ => Encoding::Zstd,
    };
    let mut reader = UnaryBody::new(encoding, 1 << 20);
    for chunk in body.chunks(usize::from(control / 3) + 1) {
        if reader.push(chunk).is_err() {
            return;
        }
    }
    let (_, buffer) = reader.finish();
    assert!(buffer.len() <= (1 << 20) + 16, "kept {} bytes", buffer.len());
});
