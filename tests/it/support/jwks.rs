//! A local Cloudflare Access stand-in: serves a JWKS of real RSA keys on 127.0.0.1, counts
//! fetches, can switch key sets or fail; signs RS256 tokens like the edge does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::fake_server::FakeServer;

pub const TEAM: &str = "molt-test.cloudflareaccess.com";
pub const AUD: &str = "aud-molt-test-0123456789";

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/access");
const CERTS_PATH: &str = "/cdn-cgi/access/certs";

struct State {
    published: Mutex<Vec<String>>,
    failing: AtomicBool,
}

pub struct FakeAccess {
    pub certs_url: String,
    state: Arc<State>,
    server: FakeServer,
}

fn jwks() -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURES}/jwks.json")).unwrap()).unwrap()
}

impl FakeAccess {
    /// Publishes the keys named (`key1`, `key2`).
    pub async fn start(kids: &[&str]) -> Self {
        let state = Arc::new(State {
            published: Mutex::new(kids.iter().map(|kid| kid.to_string()).collect()),
            failing: AtomicBool::new(false),
        });
        let shared = Arc::clone(&state);
        let app = axum::Router::new().route(
            CERTS_PATH,
            axum::routing::get(move || {
                let state = Arc::clone(&shared);
                async move {
                    if state.failing.load(Ordering::SeqCst) {
                        return (axum::http::StatusCode::BAD_GATEWAY, axum::Json(json!({"error": "upstream"})));
                    }
                    let published = state.published.lock().unwrap().clone();
                    let keys: Vec<Value> = jwks()["keys"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|key| published.iter().any(|kid| key["kid"] == kid.as_str()))
                        .cloned()
                        .collect();
                    (
                        axum::http::StatusCode::OK,
                        axum::Json(json!({"keys": keys, "public_cert": {"kid": "x", "cert": "-"}, "public_certs": []})),
                    )
                }
            }),
        );
        let server = FakeServer::start(app).await;
        let certs_url = format!("{}{CERTS_PATH}", server.base_url());
        Self { certs_url, state, server }
    }

    pub fn publish(&self, kids: &[&str]) {
        *self.state.published.lock().unwrap() = kids.iter().map(|kid| kid.to_string()).collect();
    }

    pub fn fail(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    /// How many times the keys were fetched.
    pub fn fetches(&self) -> usize {
        self.server.requests().iter().filter(|request| request.method == "GET" && request.path == CERTS_PATH).count()
    }

    /// The gateway's environment for this Access application.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CF_ACCESS_TEAM_DOMAIN", TEAM.into()),
            ("CF_ACCESS_AUD", AUD.into()),
            ("CF_ACCESS_CERTS_URL", self.certs_url.clone()),
        ]
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Claims as Access issues them for a person.
pub fn claims(email: &str) -> Value {
    json!({"aud": [AUD], "email": email, "exp": now() + 600, "iat": now(), "nbf": now() - 5, "iss": format!("https://{TEAM}"), "type": "app", "sub": "user-1"})
}

/// An RS256 token signed by `kid`'s private key.
pub fn sign(kid: &str, claims: &Value) -> String {
    let der = std::fs::read(format!("{FIXTURES}/{kid}.der")).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(&der)).unwrap()
}

/// HS256 signed with the public key as the HMAC secret: the classic algorithm-confusion attack.
pub fn sign_hs256_with_public_key(kid: &str, claims: &Value) -> String {
    let public = std::fs::read(format!("{FIXTURES}/{kid}.pub.der")).unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(&public)).unwrap()
}

/// `alg: none` with an empty signature.
pub fn unsigned(kid: &str, claims: &Value) -> String {
    use base64::Engine;
    let b64 = |value: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
    format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT", "kid": kid})), b64(claims))
}
