//! A connection's outgoing queue: frames wait here for the socket, counted in bytes. A client
//! whose queue passes the bound is too slow and is closed; every write to the socket has a
//! timeout, so a client that stops reading can hold neither memory nor a task for long. All
//! queues together draw on one [`Budget`], so many slow clients cannot add up to more memory
//! than the container has.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, DropGuard};

/// Longest one frame may take to reach the socket before the client counts as gone.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest a close frame may wait for the socket.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

type Sink = SplitSink<WebSocket, Message>;

enum Command {
    Frame(String),
    /// A close frame after everything queued before it; the writer ends after it.
    Close(u16, String),
}

/// The queue's bound was passed: the client is not reading fast enough.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("client too slow: {queued} bytes queued")]
pub struct TooSlow {
    pub queued: usize,
}

/// Bytes queued across every connection, and their bound.
#[derive(Debug)]
pub struct Budget {
    used: AtomicUsize,
    cap: usize,
    /// Open queues, to divide the bound among.
    queues: AtomicUsize,
}

impl Budget {
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self { used: AtomicUsize::new(0), cap, queues: AtomicUsize::new(0) })
    }

    fn fair_share(&self) -> usize {
        self.cap / self.queues.load(Ordering::Acquire).max(1)
    }

    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    fn give_back(&self, bytes: usize) {
        let _ = self.used.fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| Some(used.saturating_sub(bytes)));
    }
}

#[derive(Default)]
struct Queue {
    commands: VecDeque<Command>,
    /// Bytes of the queued frames.
    bytes: usize,
    /// The outbox is gone: the writer ends once the queue is empty.
    finished: bool,
    /// The close frame of an abort.
    abort: Option<(u16, String)>,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Notify,
    /// Fired by an abort: the writer drops the queue and sends `Queue::abort`.
    aborted: CancellationToken,
    budget: Arc<Budget>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        let left = self.queue().bytes;
        self.budget.give_back(left);
        self.budget.queues.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sending side, held by the connection.
pub struct Outbox {
    shared: Arc<Shared>,
    limit: usize,
    done: CancellationToken,
}

/// The writing side: owns the socket's sink until the outbox closes or the socket fails.
pub struct Writer {
    sink: Sink,
    shared: Arc<Shared>,
    /// Fires `Outbox::closed` when the writer is dropped.
    _done: DropGuard,
}

/// An outbox bounded at `limit` queued bytes (and by `budget` with every other one) and the
/// writer that empties it into `sink`.
pub fn channel(sink: Sink, limit: usize, budget: Arc<Budget>) -> (Outbox, Writer) {
    budget.queues.fetch_add(1, Ordering::AcqRel);
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue::default()),
        ready: Notify::new(),
        aborted: CancellationToken::new(),
        budget,
    });
    let done = CancellationToken::new();
    let outbox = Outbox { shared: Arc::clone(&shared), limit, done: done.clone() };
    let writer = Writer { sink, shared, _done: done.drop_guard() };
    (outbox, writer)
}

impl Outbox {
    /// Queues a text frame, unless the frames waiting behind the next one to be written would
    /// pass the bound. One large frame (a long reply's `final`) never closes a client that
    /// keeps up; a client that stops reading is closed after `limit` bytes.
    pub fn push(&self, text: String) -> Result<(), TooSlow> {
        let mut queue = self.shared.queue();
        let first = match queue.commands.front() {
            Some(Command::Frame(first)) => first.len(),
            _ => 0,
        };
        if !queue.commands.is_empty() && queue.bytes + text.len() - first > self.limit {
            return Err(TooSlow { queued: queue.bytes });
        }
        // Past the bound on every queue together, a client with less than its fair share
        // waiting behind its next frame still gets its frame (a long reply's one large `final` reaches a client that
        // keeps up); one with more waiting is the one to go. The total passes the bound by at
        // most one frame per client.
        let budget = &self.shared.budget;
        if budget.used() > budget.cap && queue.bytes - first > budget.fair_share() {
            return Err(TooSlow { queued: queue.bytes });
        }
        budget.used.fetch_add(text.len(), Ordering::AcqRel);
        queue.bytes += text.len();
        queue.commands.push_back(Command::Frame(text));
        drop(queue);
        self.shared.ready.notify_one();
        Ok(())
    }

    /// Queues a close frame after the frames already queued; nothing is sent after it.
    pub fn close(&self, code: u16, reason: &str) {
        self.shared.queue().commands.push_back(Command::Close(code, reason.to_owned()));
        self.shared.ready.notify_one();
    }

    /// Drops whatever is queued and closes at once: for a client that is too slow.
    pub fn abort(&self, code: u16, reason: &str) {
        let mut queue = self.shared.queue();
        queue.commands.clear();
        self.shared.budget.give_back(queue.bytes);
        queue.bytes = 0;
        queue.abort.get_or_insert_with(|| (code, reason.to_owned()));
        drop(queue);
        self.shared.aborted.cancel();
    }

    /// Fires when the writer has stopped: the socket failed, timed out or was closed.
    pub async fn closed(&self) {
        self.done.cancelled().await;
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.shared.queue().finished = true;
        self.shared.ready.notify_one();
    }
}

impl Shared {
    /// The next command (`Some(None)` once the outbox is gone and the queue empty), or `None`
    /// when there is nothing to do yet.
    fn next(&self) -> Option<Option<Command>> {
        let mut queue = self.queue();
        match queue.commands.pop_front() {
            Some(command) => {
                if let Command::Frame(text) = &command {
                    queue.bytes -= text.len();
                    self.budget.give_back(text.len());
                }
                Some(Some(command))
            }
            None if queue.finished => Some(None),
            None => None,
        }
    }
}

impl Writer {
    async fn aborted(&mut self) {
        let abort = self.shared.queue().abort.take();
        if let Some((code, reason)) = abort {
            close(&mut self.sink, code, &reason).await;
        }
    }

    /// Writes queued frames until a close, an abort, a failed or timed-out write, or the
    /// outbox being dropped with nothing left to send.
    pub async fn run(mut self) {
        loop {
            let command = match self.shared.next() {
                Some(command) => command,
                None => {
                    tokio::select! {
                        biased;
                        () = self.shared.aborted.cancelled() => return self.aborted().await,
                        () = self.shared.ready.notified() => continue,
                    }
                }
            };
            match command {
                None => return,
                Some(Command::Close(code, reason)) => {
                    close(&mut self.sink, code, &reason).await;
                    return;
                }
                Some(Command::Frame(text)) => {
                    let sent = tokio::select! {
                        biased;
                        // A frame cut short stays in the socket's buffer and is finished before
                        // the close frame.
                        () = self.shared.aborted.cancelled() => return self.aborted().await,
                        sent = tokio::time::timeout(SEND_TIMEOUT, self.sink.send(Message::Text(text.into()))) => sent,
                    };
                    match sent {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => return,
                        Err(_) => {
                            tracing::info!(timeout_s = SEND_TIMEOUT.as_secs(), "a client stopped reading; dropping it");
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// Sends a close frame (the reason cut to the 123 bytes a close frame allows), bounded in time.
async fn close(sink: &mut Sink, code: u16, reason: &str) {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let frame = CloseFrame { code, reason: reason[..end].to_owned().into() };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.send(Message::Close(Some(frame)))).await;
}
