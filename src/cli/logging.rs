//! Log output: readable lines on a terminal or JSON lines, to stderr, filtered by `RUST_LOG`;
//! the same events also go to the daemon's ring for `logs.tail`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::core::settings::LogFormat;
use crate::daemon::logs::RingLayer;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().with_current_span(false).finish().with(RingLayer).try_init(),
        LogFormat::Text => builder
            .with_ansi(std::env::var_os("NO_COLOR").is_none() && std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .compact()
            .finish()
            .with(RingLayer)
            .try_init(),
    };
}
