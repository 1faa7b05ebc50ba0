//! Log output: readable lines on a terminal or JSON lines, to stderr, filtered by `RUST_LOG`;
//! the same events also go to the daemon's ring for `logs.tail`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use super::output::{self, Stream};
use crate::core::settings::LogFormat;
use crate::daemon::logs::RingLayer;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().with_current_span(false).finish().with(RingLayer).try_init(),
        LogFormat::Text => {
            builder.with_ansi(output::color(Stream::Stderr)).compact().finish().with(RingLayer).try_init()
        }
    };
}

/// Logs a panic through `tracing` (so it reaches stderr in the chosen format and `logs.tail`)
/// with where it happened, the secrets of `secrets` scrubbed out of its message. The panic
/// then unwinds and ends only the task it happened in (a connection, a turn, a channel
/// handler): the gateway keeps serving.
pub fn install_panic_hook(secrets: Vec<String>) {
    let mut secrets: Vec<String> = secrets.into_iter().filter(|secret| !secret.is_empty()).collect();
    // Longest first, so a secret that contains another is scrubbed whole.
    secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    std::panic::set_hook(Box::new(move |info| {
        let location = info.location().map(|at| format!("{}:{}:{}", at.file(), at.line(), at.column()));
        let payload = info.payload();
        let text =
            payload.downcast_ref::<&str>().copied().or_else(|| payload.downcast_ref::<String>().map(String::as_str));
        let message = scrub(text.unwrap_or("(no message)"), &secrets);
        let thread = std::thread::current().name().unwrap_or("unnamed").to_owned();
        tracing::error!(
            location = location.as_deref().unwrap_or("unknown"),
            thread,
            panic = message,
            "a task panicked and was ended; the gateway keeps serving"
        );
    }));
}

fn scrub(text: &str, secrets: &[String]) -> String {
    secrets.iter().fold(text.to_owned(), |text, secret| text.replace(secret.as_str(), "[redacted]"))
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            crate::core::sync::lock(&self.0).extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_panic_is_logged_with_its_location_and_without_secrets() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
        let previous = std::panic::take_hook();
        install_panic_hook(vec!["sk-ant-secret".to_owned(), String::new()]);
        let line = line!() + 3;
        let result = tracing::subscriber::with_default(subscriber, || {
            std::panic::catch_unwind(|| {
                panic!("cannot call https://api.example/bot sk-ant-secret");
            })
        });
        std::panic::set_hook(previous);
        assert!(result.is_err());
        let log = String::from_utf8(crate::core::sync::lock(&captured.0).clone()).unwrap();
        assert!(log.contains("a task panicked and was ended"), "{log}");
        assert!(log.contains(&format!("src/cli/logging.rs:{line}:")), "{log}");
        assert!(log.contains("cannot call https://api.example/bot [redacted]"), "{log}");
        assert!(!log.contains("sk-ant-secret"), "{log}");
    }
}
