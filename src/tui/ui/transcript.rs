//! The conversation: the transcript with the streaming reply (scrolled from the bottom), the
//! screen message that replaces it while not connected, and the message editor.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use unicode_width::UnicodeWidthChar;

use super::{Measure, Theme, centered};
use crate::tui::app::{App, Disconnect, Focus, Link, Reason, Role};
use crate::tui::wire::short_session_name;

/// The most lines the editor grows to before it scrolls.
const INPUT_MAX_LINES: u16 = 6;

pub fn transcript(frame: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) -> Measure {
    let name = app
        .sessions
        .iter()
        .find(|session| session.key == app.current)
        .map_or_else(|| short_session_name(&app.current), |session| session.display_name.clone());
    let mut block = Block::bordered().title(format!(" {name} "));
    if app.scroll > 0 {
        block = block.title_bottom(Line::from(format!(" ↓ {} more lines · PgDn ", app.scroll)).right_aligned());
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if app.link != Link::Connected {
        screen_message(frame, inner, app, theme);
        return Measure { height: inner.height, lines: 0 };
    }
    let lines = transcript_lines(app, theme, usize::from(inner.width.max(1)));
    if lines.is_empty() {
        let hint = wrap("Type a message and press Enter · ? shows the keys", usize::from(inner.width));
        let hint: Vec<Line<'_>> = hint.into_iter().map(|line| Line::styled(line, theme.dim()).centered()).collect();
        let height = u16::try_from(hint.len()).unwrap_or(u16::MAX).min(inner.height);
        let row = Rect { y: inner.y + inner.height.saturating_sub(height) / 2, height, ..inner };
        frame.render_widget(Paragraph::new(hint), row);
    }
    let height = usize::from(inner.height);
    let end = lines.len().saturating_sub(app.scroll.min(lines.len().saturating_sub(height)));
    let start = end.saturating_sub(height);
    let visible: Vec<Line<'_>> = lines[start..end].to_vec();
    frame.render_widget(Paragraph::new(visible), inner);
    Measure { height: inner.height, lines: lines.len() }
}

fn transcript_lines<'a>(app: &'a App, theme: &Theme, width: usize) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    let push =
        |lines: &mut Vec<Line<'a>>, label: &'static str, style, note: Option<String>, text: &str, cursor: bool| {
            push_blank(lines);
            let mut header = vec![Span::styled(label, style)];
            if let Some(note) = note {
                header.push(Span::styled(format!(" · {note}"), theme.dim()));
            }
            lines.push(Line::from(header));
            let mut body = wrap(text, width);
            if cursor {
                match body.last_mut() {
                    Some(last) if last.chars().count() < width => last.push('▌'),
                    _ => body.push("▌".to_owned()),
                }
            }
            lines.extend(body.into_iter().map(Line::raw));
        };
    let mut previous = None;
    for entry in &app.transcript {
        if entry.role == Role::Tool {
            // One dim line per call, under the message that asked for it.
            let state = entry.note.as_deref().unwrap_or_default();
            let style = if state == "failed" { theme.error() } else { theme.dim() };
            if previous != Some(Role::Tool) {
                push_blank(&mut lines);
            }
            lines.extend(
                wrap(&format!("⚙ {} · {state}", entry.text), width).into_iter().map(|line| Line::styled(line, style)),
            );
            previous = Some(Role::Tool);
            continue;
        }
        let (label, style) = match entry.role {
            Role::User => ("you", theme.user()),
            Role::Assistant | Role::Tool => ("assistant", theme.assistant()),
            Role::Error => ("error", theme.error()),
        };
        push(&mut lines, label, style, entry.note.clone(), &entry.text, false);
        previous = Some(entry.role);
    }
    if let Some(streaming) = &app.streaming {
        push(
            &mut lines,
            "assistant",
            theme.assistant(),
            Some("streaming · Esc aborts".to_owned()),
            &streaming.text,
            true,
        );
    }
    lines
}

/// A blank line between blocks.
fn push_blank(lines: &mut Vec<Line<'_>>) {
    if !lines.is_empty() {
        lines.push(Line::raw(""));
    }
}

/// Splits `text` into lines at most `width` columns wide, breaking at spaces where it can.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        let mut line_width = 0;
        for word in paragraph.split_inclusive(' ') {
            let word_width: usize = word.chars().map(|character| character.width().unwrap_or(0)).sum();
            if line_width + word_width.saturating_sub(usize::from(word.ends_with(' '))) > width && !line.is_empty() {
                lines.push(std::mem::take(&mut line).trim_end().to_owned());
                line_width = 0;
            }
            for character in word.chars() {
                let character_width = character.width().unwrap_or(0);
                if line_width + character_width > width && !(character == ' ' && line_width == width) {
                    lines.push(std::mem::take(&mut line));
                    line_width = 0;
                }
                line.push(character);
                line_width += character_width;
            }
        }
        lines.push(line.trim_end().to_owned());
    }
    lines
}

/// Title, explanation and `hint:` for each state of the link that is not `Connected`.
fn screen_text(app: &App) -> (String, String, Option<String>) {
    let url = &app.config.url;
    let device = app.config.device_id.get(..12).unwrap_or_default();
    match &app.link {
        Link::Connected => (String::new(), String::new(), None),
        Link::Connecting { previous: None, .. } => (format!("Connecting to {url}…"), String::new(), None),
        // Keep the last failure on screen while trying again, so it does not flicker.
        Link::Connecting { previous: Some(down), .. } => {
            let (title, body, hint) = down_text(app, &Disconnect { retry_in_ms: None, ..down.clone() });
            (title, format!("{body} Reconnecting…"), hint)
        }
        Link::Waiting { request_id } => (
            "Waiting for approval".to_owned(),
            format!(
                "This terminal (device {device}…) asked to pair with {url}. It connects the moment an operator approves it."
            ),
            Some(format!(
                "on the gateway's machine run `molt pair approve {}`, or approve it on the admin page",
                request_id.split('-').next().unwrap_or_default()
            )),
        ),
        Link::Down(down) => down_text(app, down),
    }
}

fn down_text(app: &App, down: &Disconnect) -> (String, String, Option<String>) {
    let url = &app.config.url;
    let retry = match app.retry_left_ms(down) {
        Some(milliseconds) => format!(" Retrying in {} s.", milliseconds.div_ceil(1000)),
        None => String::new(),
    };
    match &down.reason {
        Reason::Unreachable(why) => (
            "Cannot reach the gateway".to_owned(),
            format!("{url}: {why}.{retry}"),
            Some("start it with `molt gateway`, or pass `--url https://<worker>.workers.dev`".to_owned()),
        ),
        Reason::AccessDenied(status) => (
            "Cloudflare Access refused the connection".to_owned(),
            format!("{url} answered HTTP {status}.{retry}"),
            Some("set `MOLT_ACCESS_CLIENT_ID` and `MOLT_ACCESS_CLIENT_SECRET` to an Access service token".to_owned()),
        ),
        Reason::TokenRefused(why) => (
            "The gateway refused the token".to_owned(),
            format!("{why}.{retry}"),
            Some(
                "set `MOLT_GATEWAY_TOKEN` to the token in the gateway's data directory (`gateway-token`), then run `molt chat` again"
                    .to_owned(),
            ),
        ),
        Reason::PairingRejected => (
            "An operator rejected this terminal".to_owned(),
            format!("The gateway at {url} turned down device {}….", app.config.device_id.get(..12).unwrap_or_default()),
            Some("ask the operator to approve it, then run `molt chat` again".to_owned()),
        ),
        Reason::Refused(error) => ("The gateway refused the connection".to_owned(), format!("{}.{retry}", error.message), None),
        Reason::Closed(why) => ("Disconnected".to_owned(), format!("{why}.{retry}"), None),
    }
}

fn screen_message(frame: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let (title, body, hint) = screen_text(app);
    let style = match app.link {
        Link::Down(_) | Link::Connecting { previous: Some(_), .. } => theme.error(),
        _ => theme.attention(),
    };
    let width = area.width.saturating_sub(4).min(72);
    let mut lines: Vec<Line<'_>> =
        wrap(&title, usize::from(width)).into_iter().map(|line| Line::styled(line, style)).collect();
    for paragraph in [Some(body), hint.map(|hint| format!("hint: {hint}"))].into_iter().flatten() {
        if !paragraph.is_empty() {
            lines.push(Line::raw(""));
            lines.extend(wrap(&paragraph, usize::from(width)).into_iter().map(Line::raw));
        }
    }
    let height = u16::try_from(lines.len()).unwrap_or(u16::MAX);
    frame.render_widget(Paragraph::new(lines), centered(area, width, height));
}

pub fn input_height(app: &App, available: u16) -> u16 {
    let (lines, _) = app.input.lines_and_cursor();
    let lines = u16::try_from(lines.len()).unwrap_or(u16::MAX).clamp(1, INPUT_MAX_LINES);
    (lines + 2).min(available.saturating_sub(3).max(3))
}

pub fn input(frame: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let focused = app.focus == Focus::Input;
    let mut block = Block::bordered().title(" Message · Enter send · Alt+Enter new line ");
    block = if focused { block.border_style(theme.focused_border()) } else { block.border_style(theme.dim()) };
    let inner = block.inner(area);
    let (lines, (row, column)) = app.input.lines_and_cursor();
    let height = usize::from(inner.height.max(1));
    let first = (row + 1).saturating_sub(height);
    let shown: Vec<Line<'_>> = lines.iter().skip(first).take(height).map(|line| Line::raw(line.clone())).collect();
    let line = &lines[row];
    let cursor_width: usize = line.chars().take(column).map(|character| character.width().unwrap_or(0)).sum();
    let horizontal = cursor_width.saturating_sub(usize::from(inner.width.saturating_sub(1)));
    let offset = u16::try_from(horizontal).unwrap_or(u16::MAX);
    frame.render_widget(Paragraph::new(shown).block(block).scroll((0, offset)), area);
    if focused && app.confirm.is_none() && !app.help {
        let x = inner.x + u16::try_from(cursor_width - horizontal).unwrap_or(0);
        let y = inner.y + u16::try_from(row - first).unwrap_or(0);
        frame.set_cursor_position(Position { x, y });
    }
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_at_spaces_and_breaks_long_words() {
        assert_eq!(wrap("the quick brown fox", 10), ["the quick", "brown fox"]);
        assert_eq!(wrap("abcdefghijkl", 5), ["abcde", "fghij", "kl"]);
        assert_eq!(wrap("one\n\ntwo", 10), ["one", "", "two"]);
        assert_eq!(wrap("", 10), [""]);
        assert_eq!(wrap("日本語の文", 4), ["日本", "語の", "文"]);
    }
}
