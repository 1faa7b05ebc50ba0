//! Owns `FakeServer`, the base every fake stands on: it serves a fake's axum router on
//! 127.0.0.1:0 with TCP_NODELAY, writes every request it receives (method, path, headers, body)
//! to a `Journal` in arrival order before the fake answers, wakes waiters once the fake has
//! answered, and shuts down when dropped. What a fake answers, and what it keeps besides the
//! requests, is the fake's own business.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Largest request body read; a larger one is recorded with body `Null` and answered 413.
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// One request as a fake received it. Handlers get it as an `Extension<RecordedRequest>`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    /// The URI path, without the query string.
    pub path: String,
    /// Header names are lowercase; values that are not UTF-8 are converted lossily.
    pub headers: Vec<(String, String)>,
    /// The parsed JSON body, or `Null` when the body is empty or not JSON.
    pub body: Value,
    /// When the whole request had been read (for the benches' latency figures).
    pub at: std::time::Instant,
}

impl RecordedRequest {
    /// The first value of header `name` (matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn new(parts: &axum::http::request::Parts, body: &[u8]) -> RecordedRequest {
        let headers = parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        RecordedRequest {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            headers,
            body: serde_json::from_slice(body).unwrap_or(Value::Null),
            at: std::time::Instant::now(),
        }
    }
}

/// Every request a fake received, in order, and the signal that something changed.
#[derive(Default)]
pub struct Journal {
    requests: Mutex<Vec<RecordedRequest>>,
    changed: Notify,
}

impl Journal {
    fn lock(&self) -> MutexGuard<'_, Vec<RecordedRequest>> {
        self.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every request received so far, in order (including the ones the fake refused).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().clone()
    }

    /// Forgets the requests received so far.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Wakes every waiter. The server calls it after each answer; a fake calls it when its
    /// state changed outside a request (a WebSocket frame, an ack, a queued update).
    pub fn notify(&self) {
        self.changed.notify_waiters();
    }

    /// Waits until `check` holds (tried at once, then after every answer or `notify`) or
    /// `timeout` passes; whether it held.
    pub async fn wait_until(&self, timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Made before the check, so a change between the check and the wait still wakes it.
            let changed = self.changed.notified();
            if check() {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return check();
            }
        }
    }

    /// Waits until `n` requests arrived or `timeout` passed; returns every request so far.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<RecordedRequest> {
        self.wait_until(timeout, || self.lock().len() >= n).await;
        self.requests()
    }

    fn record(&self, request: RecordedRequest) {
        self.lock().push(request);
    }
}

/// Wakes the journal's waiters when a request's handling ends, answered or abandoned.
struct Answered<'a>(&'a Journal);

impl Drop for Answered<'_> {
    fn drop(&mut self) {
        self.0.notify();
    }
}

/// Records a request, hands it on with its body intact (and the record as an extension), and
/// wakes the waiters once the fake has answered.
async fn record(State(journal): State<Arc<Journal>>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        journal.record(RecordedRequest::new(&parts, &[]));
        journal.notify();
        return status_response(StatusCode::PAYLOAD_TOO_LARGE);
    };
    let recorded = RecordedRequest::new(&parts, &bytes);
    journal.record(recorded.clone());
    let _answered = Answered(&journal);
    parts.extensions.insert(recorded);
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// A listener bound on 127.0.0.1:0 that does not serve yet: a fake that puts its own address
/// in its answers (a WebSocket URL, say) learns it here, before any request can arrive.
pub struct Bound {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    journal: Arc<Journal>,
    stop: CancellationToken,
}

impl Bound {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The journal the server will write to, for a fake's own state to notify through.
    pub fn journal(&self) -> Arc<Journal> {
        Arc::clone(&self.journal)
    }

    /// Cancelled when the server is dropped: streams and sockets a fake keeps open end with it.
    pub fn stopping(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Serves `router`, recording every request, until the returned server is dropped.
    pub fn serve(self, router: Router) -> FakeServer {
        let Bound { listener, addr, journal, stop } = self;
        let router = router.layer(axum::middleware::from_fn_with_state(Arc::clone(&journal), record));
        let stopped = stop.clone().cancelled_owned();
        tokio::spawn(async move {
            let _ = axum::serve(super::no_delay(listener), router).with_graceful_shutdown(stopped).await;
        });
        FakeServer { addr, journal, stop }
    }
}

/// A fake's server on 127.0.0.1; dropping it stops accepting, closes idle connections and
/// cancels [`FakeServer::stopping`].
pub struct FakeServer {
    addr: SocketAddr,
    journal: Arc<Journal>,
    stop: CancellationToken,
}

impl FakeServer {
    /// Binds 127.0.0.1:0 without serving yet (see [`Bound`]).
    pub async fn bind() -> Bound {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("fake server: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake server: local address");
        Bound { listener, addr, journal: Arc::default(), stop: CancellationToken::new() }
    }

    /// Serves `router` on 127.0.0.1:0, recording every request.
    pub async fn start(router: Router) -> FakeServer {
        FakeServer::bind().await.serve(router)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.journal.requests()
    }

    /// Waits until `n` requests arrived or `timeout` passed; returns every request so far.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<RecordedRequest> {
        self.journal.wait_for(n, timeout).await
    }

    /// Waits until `check` holds or `timeout` passes; whether it held (see [`Journal::wait_until`]).
    pub async fn wait_until(&self, timeout: Duration, check: impl FnMut() -> bool) -> bool {
        self.journal.wait_until(timeout, check).await
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn status_response(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// A JSON response; a status that is not a valid HTTP status becomes 500.
pub fn json_response(status: u16, body: &Value, headers: &[(&'static str, String)]) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let map = response.headers_mut();
    map.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in headers {
        set_header(&mut response, name, value);
    }
    response
}

/// Sets a header, skipping a value that is not a valid header value.
pub fn set_header(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(HeaderName::from_static(name), value);
    }
}

/// `prefix` followed by `len` random alphanumeric characters.
pub fn random_id(prefix: &str, len: usize) -> String {
    let tail: String = rand::rng().sample_iter(Alphanumeric).take(len).map(char::from).collect();
    format!("{prefix}{tail}")
}
