//! Keeps a channel's connection loop running: a panic in it (a bug) ends that task only, so
//! the loop is started again after a pause, and the channel's liveness says so meanwhile
//! instead of staying `connected` with nothing behind it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::liveness::Liveness;

const FIRST_PAUSE: Duration = Duration::from_secs(1);
const LONGEST_PAUSE: Duration = Duration::from_secs(60);

/// Runs `start()` until it returns on its own (it was told to stop) or `stop` fires; each panic
/// restarts it after a pause that doubles up to a minute.
pub async fn supervise<F, Fut>(liveness: Arc<Liveness>, stop: CancellationToken, start: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut pause = FIRST_PAUSE;
    loop {
        match tokio::spawn(start()).await {
            Ok(()) => return,
            Err(error) if error.is_panic() => {
                liveness.disconnected();
                liveness.error("the connection loop stopped unexpectedly; it restarts by itself");
                tracing::error!(
                    channel = liveness.channel,
                    retry_in_ms = pause.as_millis() as u64,
                    "a channel's connection loop panicked; restarting it"
                );
            }
            Err(_) => return,
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
        liveness.reconnecting();
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_panicking_loop_is_restarted_and_reported_until_it_ends() {
        let liveness = Arc::new(Liveness::new("telegram", "polling"));
        liveness.connected();
        let starts = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&starts);
        let seen = Arc::clone(&liveness);
        supervise(Arc::clone(&liveness), CancellationToken::new(), move || {
            let attempt = counted.fetch_add(1, Ordering::SeqCst);
            let seen = Arc::clone(&seen);
            async move {
                if attempt < 2 {
                    panic!("a bug in the loop");
                }
                // Restarted: the channel was reported down in between.
                assert!(!seen.is_connected());
            }
        })
        .await;
        assert_eq!(starts.load(Ordering::SeqCst), 3);
        assert!(liveness.view()["lastError"].as_str().unwrap().contains("stopped unexpectedly"));
        assert_eq!(liveness.reconnects(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_during_the_pause_ends_it() {
        let liveness = Arc::new(Liveness::new("slack", "socket"));
        let stop = CancellationToken::new();
        stop.cancel();
        let starts = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&starts);
        supervise(liveness, stop, move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { panic!("always") }
        })
        .await;
        assert_eq!(starts.load(Ordering::SeqCst), 1);
    }
}
