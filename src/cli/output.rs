//! Everything the CLI prints goes through here. Stdout carries data only (text, or `--json`);
//! `error:`, `warning:`, `hint:`, notes and progress go to stderr. Colour follows one rule
//! ([`color_wanted`]): the stream is a terminal and `NO_COLOR` is unset or empty
//! (<https://no-color.org>); the message prefixes are styled as clap styles its own. A reader
//! that went away (`molt pair list | head -1`) ends the command quietly with status 0,
//! ripgrep's way; any other write failure is an error like the rest.

use std::ffi::OsStr;
use std::fmt::Display;
use std::io::{self, IsTerminal, Write};

use clap::builder::styling::{AnsiColor, Style};

/// Stdout's reader closed the pipe: nothing more can be shown, and nothing went wrong.
#[derive(Debug, thiserror::Error)]
#[error("stdout was closed by its reader")]
pub struct Closed;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// The one colour rule: colour only on a terminal, and never when `NO_COLOR` is set to
/// anything but the empty string.
pub fn color_wanted(no_color: Option<&OsStr>, terminal: bool) -> bool {
    terminal && no_color.is_none_or(OsStr::is_empty)
}

/// Whether what goes to `stream` is coloured, by [`color_wanted`] and this process.
pub fn color(stream: Stream) -> bool {
    let terminal = match stream {
        Stream::Stdout => io::stdout().is_terminal(),
        Stream::Stderr => io::stderr().is_terminal(),
    };
    color_wanted(std::env::var_os("NO_COLOR").as_deref(), terminal)
}

/// Colours for text bound for one stream, or plain text when that stream gets none.
#[derive(Debug, Clone, Copy)]
pub struct Paint {
    color: bool,
}

impl Paint {
    pub fn new(color: bool) -> Self {
        Self { color }
    }

    pub fn for_stream(stream: Stream) -> Self {
        Self::new(color(stream))
    }

    pub fn red(&self, text: &str) -> String {
        self.style(AnsiColor::Red.on_default(), text)
    }
    pub fn yellow(&self, text: &str) -> String {
        self.style(AnsiColor::Yellow.on_default(), text)
    }
    pub fn green(&self, text: &str) -> String {
        self.style(AnsiColor::Green.on_default(), text)
    }
    pub fn dim(&self, text: &str) -> String {
        self.style(Style::new().dimmed(), text)
    }

    fn style(&self, style: Style, text: &str) -> String {
        if self.color { format!("{style}{text}{style:#}") } else { text.to_owned() }
    }
}

/// The prefix of a line on stderr, styled as clap's: bold red `error:`, bold yellow `warning:`,
/// bold green `hint:` (clap's `tip:` green), plain `note:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Error,
    Warning,
    Hint,
    Note,
}

impl Label {
    fn text(self) -> &'static str {
        match self {
            Self::Error => "error:",
            Self::Warning => "warning:",
            Self::Hint => "hint:",
            Self::Note => "note:",
        }
    }

    fn style(self) -> Style {
        let bold = Style::new().bold();
        match self {
            Self::Error => bold.fg_color(Some(AnsiColor::Red.into())),
            Self::Warning => bold.fg_color(Some(AnsiColor::Yellow.into())),
            Self::Hint => bold.fg_color(Some(AnsiColor::Green.into())),
            Self::Note => Style::new(),
        }
    }

    /// `label message`, the label styled when `color`.
    pub fn line(self, message: impl Display, color: bool) -> String {
        let text = self.text();
        if color {
            let style = self.style();
            format!("{style}{text}{style:#} {message}")
        } else {
            format!("{text} {message}")
        }
    }
}

/// `error: message` on stderr.
pub fn error(message: impl Display) {
    labelled(Label::Error, message);
}

/// `warning: message` on stderr.
pub fn warning(message: impl Display) {
    labelled(Label::Warning, message);
}

/// `hint: message` on stderr.
pub fn hint(message: impl Display) {
    labelled(Label::Hint, message);
}

/// `note: message` on stderr.
pub fn note(message: impl Display) {
    labelled(Label::Note, message);
}

fn labelled(label: Label, message: impl Display) {
    status(label.line(message, color(Stream::Stderr)));
}

/// A line of progress or explanation on stderr. Stderr is the last place to report anything, so
/// a failure to write it is ignored.
pub fn status(text: impl Display) {
    let mut stderr = io::stderr().lock();
    let _ = writeln!(stderr, "{text}");
}

/// Prints `text` as is and flushes it.
pub fn print(text: impl Display) -> anyhow::Result<()> {
    write(&mut io::stdout().lock(), format_args!("{text}"))
}

/// Prints `text` and a newline, and flushes it.
pub fn println(text: impl Display) -> anyhow::Result<()> {
    write(&mut io::stdout().lock(), format_args!("{text}\n"))
}

/// Prints a `--json` answer: one indented document.
pub fn json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|error| anyhow::anyhow!("cannot encode JSON: {error}"))?;
    println(text)
}

/// Writes one line to an already locked stdout (a stream of lines), flushing it.
pub fn line(out: &mut impl Write, text: impl Display) -> anyhow::Result<()> {
    write(out, format_args!("{text}\n"))
}

fn write(out: &mut impl Write, text: std::fmt::Arguments<'_>) -> anyhow::Result<()> {
    match out.write_fmt(text).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Err(Closed.into()),
        Err(error) => Err(anyhow::Error::new(error).context("cannot write to stdout")),
    }
}

/// Whether a command ended because stdout's reader left (exit quietly, status 0).
pub fn is_closed(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| cause.is::<Closed>())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Failing(io::ErrorKind);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(self.0.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_reader_is_quiet_and_other_failures_are_errors() {
        let closed = line(&mut Failing(io::ErrorKind::BrokenPipe), "x").unwrap_err();
        assert!(is_closed(&closed.context("listing devices")));
        let full = line(&mut Failing(io::ErrorKind::StorageFull), "x").unwrap_err();
        assert!(!is_closed(&full));
        assert!(format!("{full:#}").starts_with("cannot write to stdout"), "{full:#}");
    }

    #[test]
    fn no_color_set_and_not_empty_turns_colour_off() {
        let set = |value: &str| Some(OsStr::new(value).to_owned());
        assert!(color_wanted(None, true));
        assert!(color_wanted(set("").as_deref(), true), "an empty NO_COLOR is as if unset");
        assert!(!color_wanted(set("1").as_deref(), true));
        assert!(!color_wanted(set("0").as_deref(), true), "any non-empty value, even `0`");
        assert!(!color_wanted(None, false), "never on a pipe or a file");
    }

    #[test]
    fn labels_are_styled_as_clap_styles_its_own() {
        assert_eq!(Label::Error.line("boom", false), "error: boom");
        assert_eq!(Label::Error.line("boom", true), "\x1b[1m\x1b[31merror:\x1b[0m boom");
        assert_eq!(Label::Warning.line("old", true), "\x1b[1m\x1b[33mwarning:\x1b[0m old");
        assert_eq!(Label::Hint.line("run it", true), "\x1b[1m\x1b[32mhint:\x1b[0m run it");
        assert_eq!(Label::Note.line("fyi", true), "note: fyi");
        assert_eq!(Paint::new(true).red("x"), "\x1b[31mx\x1b[0m");
        assert_eq!(Paint::new(false).red("x"), "x");
    }
}
