//! The reply splitter's promises, on any text and limit (the first byte picks the limit):
//! every piece within the limit; the pieces, in order, are the text with only whitespace
//! dropped between and after them; no blank piece unless the text is blank (platforms refuse
//! empty messages, and the reply streamer numbers messages by piece).
#![no_main]

use libfuzzer_sys::fuzz_target;
use molt::fuzzing::split;

fuzz_target!(|data: &[u8]| {
    let Some((&limit, text)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(text) else { return };
    let max_chars = usize::from(limit % 64) + 1;
    let pieces = split(text, max_chars);
    assert!(!pieces.is_empty(), "no piece at all");
    let blank = text.trim().is_empty();
    let mut rest = text;
    for (index, piece) in pieces.iter().enumerate() {
        assert!(piece.chars().count() <= max_chars, "piece {index} {piece:?} longer than {max_chars}");
        if blank {
            assert_eq!(pieces, [""], "blank text");
        } else {
            assert!(!piece.trim().is_empty(), "blank piece {index} in {pieces:?}");
        }
        // Only whitespace may be dropped before a piece.
        while !rest.starts_with(piece.as_str()) {
            let mut chars = rest.chars();
            match chars.next() {
                Some(dropped) if dropped.is_whitespace() => rest = chars.as_str(),
                _ => panic!("piece {index} {piece:?} is not next in {rest:?}"),
            }
        }
        rest = &rest[piece.len()..];
    }
    assert!(rest.trim().is_empty(), "text {rest:?} was dropped at the end");
});
