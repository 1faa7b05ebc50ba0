//! Free text into an FTS5 query: the words of whatever the model wrote, each quoted as a
//! string, OR'ed together. Nothing the model writes reaches FTS5's query syntax (no operator,
//! column filter, prefix or `NEAR` group), so no text can make a search fail.

/// Words taken from one query at most; the rest are ignored.
const MAX_WORDS: usize = 16;
/// A longer "word" is not something a person types; it is skipped.
const MAX_WORD_CHARS: usize = 64;

/// English words too common to tell messages apart. Dropped from a query that has other words:
/// each would match most of the history, cost the ranking of every message it matches and add
/// nothing to the order.
const STOP_WORDS: &[&str] = &[
    "a", "about", "an", "and", "any", "are", "as", "at", "be", "but", "by", "can", "did", "do", "does", "for", "from",
    "had", "has", "have", "he", "her", "his", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no",
    "not", "of", "on", "or", "our", "she", "so", "that", "the", "their", "them", "then", "there", "they", "this", "to",
    "up", "us", "was", "we", "were", "what", "when", "where", "which", "who", "why", "will", "with", "you", "your",
];

/// A search's words, ready for FTS5's `MATCH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerms {
    words: Vec<String>,
}

impl SearchTerms {
    /// The words of `text`, or `None` when it has none (only spaces and punctuation).
    ///
    /// Words are runs of letters and digits, as SQLite's `unicode61` tokenizer splits them, so a
    /// quoted word is one token and matches what the index holds.
    pub fn parse(text: &str) -> Option<Self> {
        let mut words: Vec<String> = Vec::new();
        for word in text.split(|c: char| !c.is_alphanumeric()) {
            if word.is_empty() || word.chars().count() > MAX_WORD_CHARS {
                continue;
            }
            let word = word.to_lowercase();
            if !words.contains(&word) {
                words.push(word);
            }
        }
        let meaningful: Vec<String> =
            words.iter().filter(|word| !STOP_WORDS.contains(&word.as_str())).cloned().collect();
        if !meaningful.is_empty() {
            words = meaningful;
        }
        words.truncate(MAX_WORDS);
        (!words.is_empty()).then_some(Self { words })
    }

    /// The words searched for, lower-cased, in the order given.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// The FTS5 query: every word a quoted string (a `"` inside is doubled, although the split
    /// leaves none), any of them matching.
    pub fn expression(&self) -> String {
        self.quoted().join(" OR ")
    }

    /// The FTS5 query that matches only text holding every word.
    pub fn every_word_expression(&self) -> String {
        self.quoted().join(" AND ")
    }

    fn quoted(&self) -> Vec<String> {
        self.words.iter().map(|word| format!("\"{}\"", word.replace('"', "\"\""))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_and_ored_and_operators_are_plain_words() {
        let terms = SearchTerms::parse("Dentist  appointment, dentist?").unwrap();
        assert_eq!(terms.expression(), r#""dentist" OR "appointment""#);
        assert_eq!(terms.every_word_expression(), r#""dentist" AND "appointment""#);
        let terms = SearchTerms::parse(r#"col:x -y NEAR(a b) "half *star AND"#).unwrap();
        assert_eq!(terms.words(), ["col", "x", "y", "near", "b", "half", "star"]);
        assert_eq!(SearchTerms::parse("café Zürich").unwrap().words(), ["café", "zürich"]);
    }

    #[test]
    fn common_words_go_unless_they_are_all_there_is() {
        assert_eq!(SearchTerms::parse("what did we say about the boat").unwrap().words(), ["say", "boat"]);
        assert_eq!(SearchTerms::parse("The Who").unwrap().words(), ["the", "who"]);
    }

    #[test]
    fn punctuation_alone_has_no_words_and_long_queries_are_bounded() {
        for text in ["", "   ", "\"", "*", "-", ":", "()", "\"\"\""] {
            assert_eq!(SearchTerms::parse(text), None, "{text:?}");
        }
        let many: String = (0..100).map(|n| format!("word{n} ")).collect();
        assert_eq!(SearchTerms::parse(&many).unwrap().words().len(), MAX_WORDS);
        let long = format!("{} short", "x".repeat(MAX_WORD_CHARS + 1));
        assert_eq!(SearchTerms::parse(&long).unwrap().words(), ["short"]);
    }
}
