//! The native protocol's way in: bytes, split by the line decoder in chunks the fuzzer chooses,
//! each line parsed as a client frame. Nothing may panic, the decoder's buffer must stay
//! within its bound, and every accepted frame must serialise and parse back to itself.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use palaver_proto::{parse_request, LineDecoder};

const LIMIT: usize = 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    // The first byte decides how the stream is cut into reads.
    let chunk = usize::from(split).max(1);
    let mut decoder = LineDecoder::new(LIMIT);
    let mut buf = BytesMut::new();
    for piece in rest.chunks(chunk) {
        buf.extend_from_slice(piece);
        while let Some(line) = decoder.decode(&mut buf) {
            let Ok(line) = line else { continue };
            assert!(line.len() <= LIMIT);
            if let Ok(request) = parse_request(&line) {
                let again = serde_json::to_vec(&request).expect("requests serialise");
                let back = parse_request(&again).expect("a serialised request parses");
                assert_eq!(back, request);
            }
        }
        assert!(buf.len() <= LIMIT + 1, "the decoder holds at most one line");
    }
});
