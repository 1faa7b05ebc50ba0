//! Splits a reply at a platform's length limit on the cleanest boundary available: a blank
//! line, then a line break, then a space, and only then inside a word.

/// Pieces of `text`, each at most `max_chars` characters, that concatenate (modulo the
/// whitespace at the cut) back to `text`. No piece is blank, unless `text` is (then `[""]`).
pub fn split(text: &str, max_chars: usize) -> Vec<String> {
    let max_chars = max_chars.max(1);
    let mut pieces = Vec::new();
    let mut rest = text;
    while rest.chars().count() > max_chars {
        let limit = rest.char_indices().nth(max_chars).map_or(rest.len(), |(index, _)| index);
        let window = &rest[..limit];
        let cut = ["\n\n", "\n", " "]
            .iter()
            .filter_map(|separator| window.rfind(separator).filter(|&at| at > 0).map(|at| (at, separator.len())))
            .next();
        let (head, tail) = match cut {
            Some((at, width)) => (&rest[..at], &rest[at + width..]),
            None => (window, &rest[limit..]),
        };
        // A cut inside a run of tabs or other whitespace leaves nothing to show: platforms
        // refuse an empty message, and the reply streamer numbers its messages by piece.
        let head = head.trim_end();
        if !head.is_empty() {
            pieces.push(head.to_owned());
        }
        rest = tail.trim_start_matches(['\n', ' ']);
    }
    // Platforms drop trailing whitespace, so a piece that keeps it would never match.
    let rest = rest.trim_end();
    if !rest.is_empty() || pieces.is_empty() {
        pieces.push(rest.to_owned());
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn short_text_is_one_piece() {
        assert_eq!(split("hello", 10), ["hello"]);
        assert_eq!(split("", 10), [""]);
    }

    #[test]
    fn prefers_paragraphs_then_lines_then_words() {
        assert_eq!(split("aaaa\n\nbbbb\ncccc", 12), ["aaaa", "bbbb\ncccc"]);
        assert_eq!(split("aaaa\nbbbb cccc", 10), ["aaaa", "bbbb cccc"]);
        assert_eq!(split("aaaa bbbb cccc", 10), ["aaaa bbbb", "cccc"]);
    }

    #[test]
    fn whitespace_runs_longer_than_the_limit_make_no_blank_piece() {
        // Found by fuzzing (fuzz/corpus/split/blank-piece): the window after a cut held only
        // tabs and non-breaking spaces, which the cut's trimming does not skip.
        assert_eq!(split("a\t\t\t\t\t\tb", 3), ["a", "\tb"]);
        assert_eq!(split("a\t\t\t\t\t\t\r\n\r\n   b  \u{a0}\u{a0}\u{a0} c", 3), ["a", "b", "c"]);
        assert_eq!(split("\t\t\t\t\t", 2), [""]);
    }

    #[test]
    fn cuts_inside_a_word_only_when_it_must_and_counts_characters() {
        assert_eq!(split("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        let pieces = split(&"é".repeat(9), 4);
        assert_eq!(pieces, ["éééé", "éééé", "é"]);
        for piece in split(&"word ".repeat(2000), 4096) {
            assert!(piece.chars().count() <= 4096);
            assert!(!piece.starts_with(' ') && !piece.ends_with(' '));
        }
    }
}
