//! The provider SSE decoder. The first byte picks chunk sizes: the events must not depend on
//! how the stream was cut into chunks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use molt::fuzzing::{SseDecoder, SseEvent};

fuzz_target!(|data: &[u8]| {
    let Some((&seed, stream)) = data.split_first() else { return };
    let whole = SseDecoder::default().push(stream);
    let mut decoder = SseDecoder::default();
    let mut chunked: Result<Vec<SseEvent>, String> = Ok(Vec::new());
    let mut rest = stream;
    let mut step = 0usize;
    while !rest.is_empty() {
        let size = (usize::from(seed.rotate_left(step as u32 % 8)) % 7 + 1).min(rest.len());
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        step += 1;
        match decoder.push(chunk) {
            Ok(records) => {
                if let Ok(all) = &mut chunked {
                    all.extend(records);
                }
            }
            Err(error) => {
                chunked = Err(error);
                break;
            }
        }
    }
    match (whole, chunked) {
        (Ok(whole), Ok(chunked)) => assert_eq!(whole, chunked),
        (Err(_), Err(_)) => {}
        (whole, chunked) => panic!("whole {whole:?} but chunked {chunked:?}"),
    }
});
