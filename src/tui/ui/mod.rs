//! Drawing: lays out the sessions, approvals, transcript, input and status bar from the app's
//! state, and reports what it measured (the transcript's height and line count) back to it.

mod overlays;
mod panels;
#[cfg(test)]
mod tests;
mod transcript;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};

use super::app::App;

/// Colours, or none at all (then emphasis is bold, dim and reverse only), as `molt chat` decides
/// by the CLI's one rule: a terminal, and `NO_COLOR` unset or empty.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    fn tint(&self, color: Color) -> Style {
        if self.color { Style::new().fg(color) } else { Style::new() }
    }

    pub fn dim(&self) -> Style {
        self.tint(Color::DarkGray).add_modifier(if self.color { Modifier::empty() } else { Modifier::DIM })
    }

    pub fn user(&self) -> Style {
        self.tint(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn assistant(&self) -> Style {
        self.tint(Color::Green).add_modifier(Modifier::BOLD)
    }

    pub fn error(&self) -> Style {
        self.tint(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn attention(&self) -> Style {
        self.tint(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn focused_border(&self) -> Style {
        self.tint(Color::Cyan)
    }
}

/// What a draw measured, fed back to the app so scrolling stays within the transcript.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measure {
    pub height: u16,
    pub lines: usize,
}

/// The narrowest window that still shows the sessions and approvals column.
const SIDEBAR_MIN_WIDTH: u16 = 70;
const SIDEBAR_WIDTH: u16 = 30;

pub fn render(frame: &mut Frame<'_>, app: &App, theme: &Theme) -> Measure {
    let [main, status] = Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(frame.area());
    let conversation = if main.width >= SIDEBAR_MIN_WIDTH {
        let [left, right] = Layout::horizontal([Constraint::Length(SIDEBAR_WIDTH), Constraint::Min(20)]).areas(main);
        let approvals_height = panels::approvals_height(app).min(left.height.saturating_sub(3));
        let [sessions, approvals] =
            Layout::vertical([Constraint::Min(3), Constraint::Length(approvals_height)]).areas(left);
        panels::sessions(frame, sessions, app, theme);
        panels::approvals(frame, approvals, app, theme);
        right
    } else {
        main
    };
    let input_height = transcript::input_height(app, conversation.height);
    let [transcript_area, input_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(input_height)]).areas(conversation);
    let measure = transcript::transcript(frame, transcript_area, app, theme);
    transcript::input(frame, input_area, app, theme);
    panels::status(frame, status, app, theme);
    if let Some(confirm) = &app.confirm {
        overlays::confirm(frame, confirm, theme);
    } else if app.help {
        overlays::help(frame, theme);
    }
    measure
}

/// A rectangle of at most `width` × `height` in the middle of `area`.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height }
}
