//! An S3 proxy on 127.0.0.1 in front of SeaweedFS that can lose answers: it forwards a PUT,
//! lets the server store it, and then breaks the connection instead of passing the answer on,
//! the way a request that timed out at the edge after landing looks to the client.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use futures_util::stream;

use super::fake_server::FakeServer;

/// Bodies the proxy reads at most (snapshots of the tests' stores are far smaller).
const MAX_BODY: usize = 64 * 1024 * 1024;

#[derive(Default)]
struct Plan {
    /// `(key fragment, answers still to drop)`, tried in order.
    drops: Vec<(String, usize)>,
    /// Keys of the PUTs whose answers were dropped, in order.
    dropped: Vec<String>,
    /// Key fragments whose next GET answers 404, as if the object had just been deleted.
    vanish: Vec<String>,
}

#[derive(Clone)]
struct Shared {
    upstream: String,
    client: reqwest::Client,
    plan: Arc<Mutex<Plan>>,
}

pub struct S3Proxy {
    pub addr: SocketAddr,
    plan: Arc<Mutex<Plan>>,
    server: FakeServer,
}

impl S3Proxy {
    pub async fn start(upstream: &str) -> Self {
        let plan = Arc::new(Mutex::new(Plan::default()));
        let shared = Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client"),
            plan: Arc::clone(&plan),
        };
        let server = FakeServer::start(Router::new().fallback(forward).with_state(shared)).await;
        Self { addr: server.addr(), plan, server }
    }

    pub fn endpoint(&self) -> String {
        self.server.base_url()
    }

    /// The answers to the next `count` PUTs whose key contains `fragment` are lost after the
    /// server handled them (stored the first; refused a retry's condition). Four lose every
    /// attempt of one write: the client's own three retries included.
    pub fn drop_answers(&self, fragment: &str, count: usize) {
        self.plan.lock().unwrap().drops.push((fragment.to_owned(), count));
    }

    /// The next GET of a key containing `fragment` answers 404 (the object was deleted by
    /// retention between the manifest read and the object read), once.
    pub fn vanish_once(&self, fragment: &str) {
        self.plan.lock().unwrap().vanish.push(fragment.to_owned());
    }

    /// Keys whose PUT answers were dropped so far.
    pub fn dropped(&self) -> Vec<String> {
        self.plan.lock().unwrap().dropped.clone()
    }
}

async fn forward(State(shared): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return Response::builder().status(413).body(Body::empty()).unwrap();
    };
    if parts.method == http::Method::GET && take_vanish(&shared.plan, parts.uri.path()) {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>";
        return Response::builder()
            .status(404)
            .header("content-type", "application/xml")
            .body(Body::from(body))
            .unwrap();
    }
    let path_and_query = parts.uri.path_and_query().map_or("/", |value| value.as_str());
    let url = format!("{}{path_and_query}", shared.upstream);
    // The signature covers `Host`: it goes on as the client sent it.
    let mut outgoing = shared.client.request(parts.method.clone(), &url).body(bytes);
    for (name, value) in &parts.headers {
        if name != http::header::CONTENT_LENGTH && name != http::header::CONNECTION {
            outgoing = outgoing.header(name, value);
        }
    }
    let answer = match outgoing.send().await {
        Ok(answer) => answer,
        Err(_) => return Response::builder().status(502).body(Body::empty()).unwrap(),
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let body = answer.bytes().await.unwrap_or_default();
    let lost = parts.method == http::Method::PUT && take_drop(&shared.plan, parts.uri.path());
    let mut response = if lost {
        // Headers go out, then the body breaks: the client never learns the PUT landed.
        let broken = stream::iter([Err::<bytes::Bytes, std::io::Error>(std::io::Error::other("answer lost"))]);
        Response::new(Body::from_stream(broken))
    } else {
        Response::new(Body::from(body))
    };
    *response.status_mut() = status;
    for (name, value) in &headers {
        if name != http::header::CONTENT_LENGTH && name != http::header::TRANSFER_ENCODING {
            response.headers_mut().append(name, value.clone());
        }
    }
    response
}

fn take_drop(plan: &Mutex<Plan>, path: &str) -> bool {
    let mut plan = plan.lock().unwrap();
    let Some(index) = plan.drops.iter().position(|(fragment, left)| *left > 0 && path.contains(fragment.as_str()))
    else {
        return false;
    };
    plan.drops[index].1 -= 1;
    plan.dropped.push(path.to_owned());
    true
}

fn take_vanish(plan: &Mutex<Plan>, path: &str) -> bool {
    let mut plan = plan.lock().unwrap();
    let Some(index) = plan.vanish.iter().position(|fragment| path.contains(fragment.as_str())) else { return false };
    plan.vanish.remove(index);
    true
}
