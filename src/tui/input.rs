//! The message editor: multi-line text with a cursor, and the history of sent messages
//! (Up on the first line and Down on the last line walk it, as in a shell).

/// The text being written and what was sent before.
#[derive(Debug, Clone, Default)]
pub struct Input {
    chars: Vec<char>,
    cursor: usize,
    history: Vec<String>,
    /// Position in `history` while browsing it; `None` when editing a new message.
    browsing: Option<usize>,
    draft: String,
}

impl Input {
    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    pub fn set_text(&mut self, text: &str) {
        self.chars = text.chars().collect();
        self.cursor = self.chars.len();
    }

    pub fn insert(&mut self, character: char) {
        self.chars.insert(self.cursor, character);
        self.cursor += 1;
    }

    pub fn insert_str(&mut self, text: &str) {
        for character in text.chars().filter(|character| *character == '\n' || !character.is_control()) {
            self.insert(character);
        }
    }

    pub fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            self.chars.remove(self.cursor);
        }
    }

    pub fn delete(&mut self) {
        if self.cursor < self.chars.len() {
            self.chars.remove(self.cursor);
        }
    }

    pub fn left(&mut self) {
        self.cursor = self.cursor.saturating_sub(1);
    }

    pub fn right(&mut self) {
        self.cursor = (self.cursor + 1).min(self.chars.len());
    }

    pub fn home(&mut self) {
        self.cursor = self.line_start(self.cursor);
    }

    pub fn end(&mut self) {
        self.cursor = self.line_end(self.cursor);
    }

    /// Deletes from the start of the line to the cursor (Ctrl+U).
    pub fn clear_to_line_start(&mut self) {
        let start = self.line_start(self.cursor);
        self.chars.drain(start..self.cursor);
        self.cursor = start;
    }

    /// Deletes the word before the cursor (Ctrl+W).
    pub fn delete_word(&mut self) {
        let mut start = self.cursor;
        while start > 0 && self.chars[start - 1].is_whitespace() {
            start -= 1;
        }
        while start > 0 && !self.chars[start - 1].is_whitespace() {
            start -= 1;
        }
        self.chars.drain(start..self.cursor);
        self.cursor = start;
    }

    /// Up: the line above, or the previous history entry from the first line.
    pub fn up(&mut self) {
        let start = self.line_start(self.cursor);
        if start == 0 {
            self.history_back();
            return;
        }
        let column = self.cursor - start;
        let above = self.line_start(start - 1);
        self.cursor = (above + column).min(start - 1);
    }

    /// Down: the line below, or the next history entry from the last line.
    pub fn down(&mut self) {
        let end = self.line_end(self.cursor);
        if end == self.chars.len() {
            self.history_forward();
            return;
        }
        let column = self.cursor - self.line_start(self.cursor);
        let below = end + 1;
        self.cursor = (below + column).min(self.line_end(below));
    }

    /// Takes the text to send, records it in the history and empties the editor.
    pub fn submit(&mut self) -> String {
        let text = self.text();
        if !text.trim().is_empty() && self.history.last() != Some(&text) {
            self.history.push(text.clone());
        }
        self.chars.clear();
        self.cursor = 0;
        self.browsing = None;
        self.draft.clear();
        text
    }

    /// The lines of the text and the cursor as (line, column in characters).
    pub fn lines_and_cursor(&self) -> (Vec<String>, (usize, usize)) {
        let text = self.text();
        let lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
        let before: String = self.chars[..self.cursor].iter().collect();
        let line = before.matches('\n').count();
        let column = before.rsplit('\n').next().map_or(0, |last| last.chars().count());
        (lines, (line, column))
    }

    fn history_back(&mut self) {
        let next = match self.browsing {
            None if self.history.is_empty() => return,
            None => {
                self.draft = self.text();
                self.history.len() - 1
            }
            Some(0) => return,
            Some(index) => index - 1,
        };
        self.browsing = Some(next);
        let entry = self.history[next].clone();
        self.set_text(&entry);
    }

    fn history_forward(&mut self) {
        let Some(index) = self.browsing else { return };
        if index + 1 < self.history.len() {
            self.browsing = Some(index + 1);
            let entry = self.history[index + 1].clone();
            self.set_text(&entry);
        } else {
            self.browsing = None;
            let draft = std::mem::take(&mut self.draft);
            self.set_text(&draft);
        }
    }

    fn line_start(&self, position: usize) -> usize {
        self.chars[..position].iter().rposition(|character| *character == '\n').map_or(0, |index| index + 1)
    }

    fn line_end(&self, position: usize) -> usize {
        self.chars[position..]
            .iter()
            .position(|character| *character == '\n')
            .map_or(self.chars.len(), |index| position + index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(text: &str) -> Input {
        let mut input = Input::default();
        input.insert_str(text);
        input
    }

    #[test]
    fn edits_several_lines() {
        let mut input = typed("one\ntwo");
        assert_eq!(input.lines_and_cursor(), (vec!["one".to_owned(), "two".to_owned()], (1, 3)));
        input.up();
        input.insert('!');
        assert_eq!(input.text(), "one!\ntwo");
        input.down();
        input.home();
        input.insert('>');
        assert_eq!(input.text(), "one!\n>two");
        input.delete_word();
        assert_eq!(input.text(), "one!\ntwo", "a word ends at the line break");
        input.end();
        input.backspace();
        assert_eq!(input.text(), "one!\ntw");
        input.clear_to_line_start();
        assert_eq!(input.text(), "one!\n");
    }

    #[test]
    fn walks_the_history_and_keeps_the_draft() {
        let mut input = typed("first");
        assert_eq!(input.submit(), "first");
        input.insert_str("second");
        input.submit();
        input.insert_str("draft");
        input.up();
        assert_eq!(input.text(), "second");
        input.up();
        input.up();
        assert_eq!(input.text(), "first");
        input.down();
        input.down();
        assert_eq!(input.text(), "draft");
    }

    #[test]
    fn pasted_control_characters_are_dropped() {
        assert_eq!(typed("a\u{1b}[31mb\tc\nd").text(), "a[31mbc\nd");
    }
}
