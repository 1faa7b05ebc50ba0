//! Everything the CLI prints on stdout goes through here. A reader that went away
//! (`molt pair list | head -1`) ends the command quietly with status 0, ripgrep's way; any
//! other write failure is an error like the rest.

use std::fmt::Display;
use std::io::{self, Write};

/// Stdout's reader closed the pipe: nothing more can be shown, and nothing went wrong.
#[derive(Debug, thiserror::Error)]
#[error("stdout was closed by its reader")]
pub struct Closed;

/// Prints `text` as is and flushes it.
pub fn print(text: impl Display) -> anyhow::Result<()> {
    write(&mut io::stdout().lock(), format_args!("{text}"))
}

/// Prints `text` and a newline, and flushes it.
pub fn println(text: impl Display) -> anyhow::Result<()> {
    write(&mut io::stdout().lock(), format_args!("{text}\n"))
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
}
