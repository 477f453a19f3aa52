//! `wire::JobMetricsStream` (a document decoded as it arrives) against
//! `wire::decode_whole` (decoded whole): the first two bytes choose how often a segment
//! is read and the size of the pieces, the rest is the document. Both answers, errors
//! included, must be equal; neither may panic.
#![no_main]

use arroyo_exporter::arroyo::wire::{decode_whole, JobMetricsStream};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [segment, piece, doc @ ..] = data else {
        return;
    };
    let mut stream = JobMetricsStream::with_segment(doc.len(), usize::from(*segment) + 1);
    for chunk in doc.chunks(usize::from(*piece) + 1) {
        stream.push(chunk);
    }
    assert_eq!(stream.finish().0, decode_whole(doc));
});
