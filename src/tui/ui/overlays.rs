//! Windows drawn over the screen: the key help, and the confirmation before an approval, a
//! rejection, a command's answer (with the allowlist entry to edit) or a reset.

use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::{Theme, centered};
use crate::core::protocol::exec::{ExecApprovalRequested, ExecDecision};
use crate::tui::app::Confirm;
use crate::tui::app::short_command;
use crate::tui::wire::short_session_name;

/// Every key, as `?` shows them; the README lists the same.
pub const KEYS: &[(&str, &str)] = &[
    ("Enter", "send the message"),
    ("Alt+Enter", "new line (also Shift+Enter, Ctrl+J)"),
    ("Up / Down", "move in the message; history at its ends"),
    ("Esc", "abort the streaming reply"),
    ("PgUp / PgDn", "scroll the conversation (or the mouse wheel)"),
    ("Tab", "focus: message → sessions → approvals"),
    ("Ctrl+N", "new session"),
    ("Alt+Up / Down", "previous / next session"),
    ("Ctrl+R", "reset this session (asks first)"),
    ("a / r", "approve / reject the selected request (asks first)"),
    ("A", "always allow the selected command (asks first)"),
    ("? or F1", "this help"),
    ("Ctrl+C", "quit"),
];

pub fn help(frame: &mut Frame<'_>, theme: &Theme) {
    let mut lines: Vec<Line<'_>> = KEYS
        .iter()
        .map(|(key, what)| Line::from(vec![Span::styled(format!("{key:<15}"), theme.user()), Span::raw(*what)]))
        .collect();
    lines.extend([Line::raw(""), Line::styled("any key closes this help", theme.dim())]);
    let height = u16::try_from(lines.len()).unwrap_or(u16::MAX).saturating_add(2);
    let area = centered(frame.area(), 68, height);
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(" Keys ")), area);
}

pub fn confirm(frame: &mut Frame<'_>, confirm: &Confirm, theme: &Theme) {
    let (question, detail) = match confirm {
        Confirm::Device { approve, device } => (
            format!("{} device {}?", if *approve { "Approve" } else { "Reject" }, device.name),
            format!("{} · {} · {}…", device.platform, device.address, device.device_id.get(..12).unwrap_or_default()),
        ),
        Confirm::Code { approve, code } => (
            format!(
                "{} {} user {}?",
                if *approve { "Approve" } else { "Reject" },
                code.channel,
                code.sender_name.as_deref().unwrap_or(&code.sender_id)
            ),
            format!("user id {} · code {}", code.sender_id, code.code),
        ),
        Confirm::Exec { decision, approval, pattern } => return exec(frame, *decision, approval, pattern, theme),
        Confirm::Reset { key } => (
            format!("Reset session {}?", short_session_name(key)),
            "Its messages are deleted on the gateway.".to_owned(),
        ),
    };
    let lines = vec![
        Line::styled(question, theme.attention()),
        Line::raw(detail),
        Line::raw(""),
        Line::from(vec![
            Span::styled("y", theme.user()),
            Span::raw(" yes   "),
            Span::styled("n", theme.user()),
            Span::raw(" no"),
        ]),
    ];
    let area = centered(frame.area(), 60, 6);
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(" Confirm ")), area);
}

/// The confirmation of a command's answer; `allow-always` edits its allowlist entry in place.
fn exec(frame: &mut Frame<'_>, decision: ExecDecision, approval: &ExecApprovalRequested, pattern: &str, theme: &Theme) {
    let request = &approval.request;
    let question = match decision {
        ExecDecision::AllowOnce => "Run this command once?",
        ExecDecision::AllowAlways => "Run it, and from now on without asking?",
        ExecDecision::Deny => "Deny this command?",
    };
    let mut lines = vec![
        Line::styled(question, theme.attention()),
        Line::raw(format!("$ {}", short_command(&request.command, 54))),
        Line::styled(
            format!(
                "in {} · asked by {}",
                request.cwd.as_deref().unwrap_or("the workspace"),
                request.asked_by.as_deref().unwrap_or("the operator")
            ),
            theme.dim(),
        ),
        Line::raw(""),
    ];
    if decision == ExecDecision::AllowAlways {
        lines.push(Line::from(vec![Span::raw("allowlist: "), Span::styled(format!("{pattern}▏"), theme.user())]));
        lines.push(Line::styled("type to edit; a prefix may end in *", theme.dim()));
        lines.push(Line::from(vec![
            Span::styled("Enter", theme.user()),
            Span::raw(" allow always   "),
            Span::styled("Esc", theme.user()),
            Span::raw(" cancel"),
        ]));
    } else {
        lines.push(Line::from(vec![
            Span::styled("y", theme.user()),
            Span::raw(" yes   "),
            Span::styled("n", theme.user()),
            Span::raw(" no"),
        ]));
    }
    let height = u16::try_from(lines.len()).unwrap_or(u16::MAX).saturating_add(2);
    let area = centered(frame.area(), 64, height);
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(" Confirm ")), area);
}
