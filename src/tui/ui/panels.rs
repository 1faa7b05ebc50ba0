//! The left column (sessions, then approvals waiting for an answer: commands, devices, codes)
//! and the status bar.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph};

use super::Theme;
use crate::core::models::format_usd;
use crate::tui::app::{App, Focus, Link, Reason, short_command};

pub fn sessions(frame: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let focused = app.focus == Focus::Sessions;
    let mut block = Block::bordered().title(" Sessions ");
    if focused {
        block = block.border_style(theme.focused_border()).title_bottom(" ↵ open · n new · r reset ");
    }
    let sessions = app.visible_sessions();
    let current = sessions.iter().position(|session| session.key == app.current);
    let items: Vec<ListItem<'_>> = sessions
        .into_iter()
        .map(|session| {
            let marker = if session.key == app.current { "› " } else { "  " };
            ListItem::new(format!("{marker}{}", session.display_name))
        })
        .collect();
    // The list scrolls to keep the selected (or, unfocused, the current) session in view.
    let selected = if focused { Some(app.session_selected) } else { current };
    let highlight = if focused { theme.selected() } else { Style::new() };
    let list = List::new(items).block(block).highlight_style(highlight);
    frame.render_stateful_widget(list, area, &mut ListState::default().with_selected(selected));
}

/// Two lines per request, a border, and a hint line when focused; three lines when empty.
pub fn approvals_height(app: &App) -> u16 {
    let count = u16::try_from(app.pending_count()).unwrap_or(u16::MAX);
    if count == 0 { 3 } else { count.saturating_mul(2).saturating_add(2).min(14) }
}

pub fn approvals(frame: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let count = app.pending_count();
    let focused = app.focus == Focus::Approvals;
    let title = if count == 0 { " Approvals ".to_owned() } else { format!(" Approvals ({count}) ") };
    let mut block = Block::bordered().title(title);
    if count > 0 {
        block = block.border_style(theme.attention()).title_style(theme.attention());
        let command = app.approval_selected < app.execs.len();
        block = block.title_bottom(match (focused, command) {
            (true, true) => " a once · A always · r deny ",
            (true, false) => " a approve · r reject ",
            (false, _) => " Tab here, then a / r ",
        });
    } else if focused {
        block = block.border_style(theme.focused_border());
    }
    if count == 0 {
        let text =
            if app.is_connected() && !app.can_pair && !app.can_approve { "no pairing scope" } else { "none waiting" };
        frame.render_widget(Paragraph::new(Line::styled(text, theme.dim())).block(block), area);
        return;
    }
    let mut items: Vec<ListItem<'_>> = Vec::new();
    for exec in &app.execs {
        let request = &exec.request;
        items.push(ListItem::new(vec![
            Line::styled(format!("run {}", short_command(&request.command, 60)), theme.attention()),
            Line::styled(
                format!(
                    "  {} · {}",
                    request.cwd.as_deref().unwrap_or("workspace"),
                    request.asked_by.as_deref().unwrap_or("operator")
                ),
                theme.dim(),
            ),
        ]));
    }
    for device in &app.devices {
        let platform = if device.platform.is_empty() { "unknown platform" } else { device.platform.as_str() };
        items.push(ListItem::new(vec![
            Line::styled(format!("device {}", device.name), theme.attention()),
            Line::styled(format!("  {platform} · {}", device.address), theme.dim()),
        ]));
    }
    for code in &app.codes {
        let who = code.sender_name.as_deref().unwrap_or(&code.sender_id);
        items.push(ListItem::new(vec![
            Line::styled(format!("{} user {who}", code.channel), theme.attention()),
            Line::styled(format!("  id {} · code {}", code.sender_id, code.code), theme.dim()),
        ]));
    }
    let highlight = if focused { theme.selected() } else { Style::new() };
    let list = List::new(items).block(block).highlight_style(highlight);
    frame.render_stateful_widget(list, area, &mut ListState::default().with_selected(Some(app.approval_selected)));
}

fn seconds(milliseconds: u64) -> u64 {
    milliseconds.div_ceil(1000)
}

/// `● connected · molt 0.1.0` and the like.
fn link_label(app: &App) -> String {
    match &app.link {
        Link::Connecting { attempt: 1, .. } => "○ connecting".to_owned(),
        Link::Connecting { attempt, .. } => format!("○ reconnecting (attempt {attempt})"),
        Link::Waiting { .. } => "○ waiting for approval".to_owned(),
        Link::Connected => "● connected".to_owned(),
        Link::Down(down) => {
            let what = match down.reason {
                Reason::PairingRejected => "✕ rejected",
                Reason::TokenRefused(_) | Reason::AccessDenied(_) => "✕ refused",
                _ => "✕ disconnected",
            };
            match app.retry_left_ms(down) {
                Some(retry) => format!("{what} · retry in {} s", seconds(retry)),
                None => what.to_owned(),
            }
        }
    }
}

pub fn status(frame: &mut Frame<'_>, area: Rect, app: &App, theme: &Theme) {
    let link_style = match app.link {
        Link::Connected => theme.assistant(),
        Link::Down(_) => theme.error(),
        _ => theme.attention(),
    };
    let separator = || Span::styled(" │ ", theme.dim());
    let mut spans = vec![Span::styled(link_label(app), link_style)];
    if let Some(model) = &app.model {
        spans.extend([separator(), Span::raw(model.clone())]);
    }
    let tokens = app.usage.total();
    let cost = if app.cost_usd > 0.0 || (tokens > 0 && !app.unpriced) {
        format!(" · ~{}", format_usd(app.cost_usd))
    } else if tokens > 0 {
        " · cost n/a".to_owned()
    } else {
        String::new()
    };
    spans.extend([separator(), Span::raw(format!("{tokens} tokens{cost}"))]);
    let pending = app.pending_count();
    if pending > 0 {
        let noun = if pending == 1 { "approval" } else { "approvals" };
        spans.extend([separator(), Span::styled(format!("{pending} {noun} waiting"), theme.attention())]);
    }
    if let Some(degraded) = &app.degraded {
        spans.extend([separator(), Span::styled(format!("degraded: {degraded}"), theme.error())]);
    }
    if let Some(flash) = &app.flash {
        spans.extend([separator(), Span::styled(flash.clone(), theme.attention())]);
    }
    // `? help` keeps its place at the right edge however long the rest is.
    let help = " ? help";
    let [left, right] = Layout::horizontal([Constraint::Min(0), Constraint::Length(7)]).areas(area);
    frame.render_widget(Paragraph::new(Line::from(spans)), left);
    frame.render_widget(Paragraph::new(Line::styled(help, theme.dim()).right_aligned()), right);
}
