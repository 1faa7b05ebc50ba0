//! Cloudflare Access: verifies the edge's JWT (RS256 only) against the team's published keys,
//! fetched once, cached by `kid`, and fetched again for an unknown `kid` at most every 30 s.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde::Deserialize;

use crate::core::settings::AccessSettings;

/// Clock skew allowed on `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 60;
/// Least time between two fetches of the keys.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(30);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

pub const JWT_HEADER: &str = "cf-access-jwt-assertion";
pub const JWT_COOKIE: &str = "CF_Authorization";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error("sign in through Cloudflare Access: no Access token on the request")]
    Missing,
    #[error("the Cloudflare Access token is not valid: {0}")]
    Invalid(String),
    #[error("cannot fetch Cloudflare Access's signing keys from `{url}`: {reason}")]
    KeysUnavailable { url: String, reason: String },
}

/// Who the edge says is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessIdentity {
    /// The person's email, or `service token <client id>` for an Access service token.
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub struct Claims {
    email: Option<String>,
    common_name: Option<String>,
    sub: Option<String>,
}

impl Claims {
    /// The name the audit log records: the email, else the service token, else the subject.
    pub fn identity(self) -> AccessIdentity {
        let name = match (self.email, self.common_name, self.sub) {
            (Some(email), _, _) if !email.is_empty() => email,
            (_, Some(client), _) if !client.is_empty() => format!("service token {client}"),
            (_, _, Some(sub)) => format!("access subject {sub}"),
            _ => "access identity".into(),
        };
        AccessIdentity { name }
    }
}

/// The `kid` of an RS256 token's header. Any other algorithm (`none`, HMAC) fails here,
/// before any key is fetched or used.
pub fn rs256_kid(token: &str) -> Result<String, AccessError> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|error| AccessError::Invalid(format!("malformed token: {error}")))?;
    if header.alg != Algorithm::RS256 {
        return Err(AccessError::Invalid(format!(
            "algorithm {:?} is not accepted; Access signs with RS256",
            header.alg
        )));
    }
    header.kid.ok_or_else(|| AccessError::Invalid("the token names no key (`kid`)".into()))
}

#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, DecodingKey>,
    fetched: Option<Instant>,
}

pub struct AccessVerifier {
    settings: AccessSettings,
    refetch_interval: Duration,
    client: reqwest::Client,
    keys: tokio::sync::Mutex<Keys>,
}

/// The token from `Cf-Access-Jwt-Assertion`, else from the `CF_Authorization` cookie.
pub fn token_from(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers.get(JWT_HEADER).and_then(|value| value.to_str().ok()) {
        return Some(value.trim().to_owned());
    }
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(&format!("{JWT_COOKIE}=")).map(str::to_owned))
}

impl AccessVerifier {
    pub fn new(settings: AccessSettings) -> Self {
        Self::with_refetch_interval(settings, REFETCH_INTERVAL)
    }

    pub fn with_refetch_interval(settings: AccessSettings, refetch_interval: Duration) -> Self {
        let client = reqwest::Client::builder().timeout(FETCH_TIMEOUT).build().unwrap_or_default();
        Self { settings, refetch_interval, client, keys: tokio::sync::Mutex::new(Keys::default()) }
    }

    pub fn settings(&self) -> &AccessSettings {
        &self.settings
    }

    pub async fn verify(&self, token: &str) -> Result<AccessIdentity, AccessError> {
        let kid = rs256_kid(token)?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_issuer(&[self.settings.issuer()]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "aud", "iss"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|error| AccessError::Invalid(error.to_string()))?;
        Ok(data.claims.identity())
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, AccessError> {
        let mut keys = self.keys.lock().await;
        if let Some(key) = keys.by_kid.get(kid) {
            return Ok(key.clone());
        }
        let may_fetch = keys.fetched.is_none_or(|at| at.elapsed() >= self.refetch_interval);
        if may_fetch {
            let fetched = self.fetch().await;
            keys.fetched = Some(Instant::now());
            match fetched {
                Ok(by_kid) => keys.by_kid = by_kid,
                Err(error) => {
                    // A failed fetch may be retried at once: nothing was learnt.
                    keys.fetched = None;
                    if keys.by_kid.is_empty() {
                        return Err(error);
                    }
                    tracing::warn!(%error, "keeping the cached Access keys");
                }
            }
        }
        keys.by_kid.get(kid).cloned().ok_or_else(|| AccessError::Invalid(format!("unknown signing key `{kid}`")))
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, AccessError> {
        let url = self.settings.certs_url.clone();
        let unavailable = |reason: String| AccessError::KeysUnavailable { url: url.clone(), reason };
        let response = self.client.get(&url).send().await.map_err(|error| unavailable(error.to_string()))?;
        if !response.status().is_success() {
            return Err(unavailable(format!("HTTP {}", response.status())));
        }
        let set: JwkSet = response.json().await.map_err(|error| unavailable(format!("not a key set: {error}")))?;
        let mut by_kid = HashMap::new();
        for jwk in set.keys {
            let Some(kid) = jwk.common.key_id.clone() else { continue };
            match DecodingKey::from_jwk(&jwk) {
                Ok(key) => {
                    by_kid.insert(kid, key);
                }
                Err(error) => tracing::warn!(%kid, %error, "skipping an unusable Access key"),
            }
        }
        tracing::info!(keys = by_kid.len(), "fetched Cloudflare Access keys");
        Ok(by_kid)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::{Value, json};

    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/access");

    /// Serves the fixture keys named in `published`, counting fetches.
    async fn serve_keys(published: Arc<std::sync::Mutex<Vec<&'static str>>>, fetches: Arc<AtomicUsize>) -> String {
        let all: Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURES}/jwks.json")).unwrap()).unwrap();
        let app = axum::Router::new().route(
            "/certs",
            axum::routing::get(move || {
                fetches.fetch_add(1, Ordering::SeqCst);
                let kids = published.lock().unwrap().clone();
                let keys: Vec<Value> = all["keys"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|k| kids.iter().any(|kid| k["kid"] == *kid))
                    .cloned()
                    .collect();
                async move { axum::Json(json!({"keys": keys})) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/certs", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    fn token(kid: &str) -> String {
        let der = std::fs::read(format!("{FIXTURES}/{kid}.der")).unwrap();
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.into());
        let now = crate::core::time::now_ms() / 1000;
        let claims =
            json!({"aud": ["aud"], "iss": "https://team.example", "exp": now + 60, "email": "ada@example.com"});
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_der(&der)).unwrap()
    }

    #[tokio::test]
    async fn an_unknown_kid_triggers_one_refetch_per_interval() {
        let published = Arc::new(std::sync::Mutex::new(vec!["key1"]));
        let fetches = Arc::new(AtomicUsize::new(0));
        let url = serve_keys(Arc::clone(&published), Arc::clone(&fetches)).await;
        let settings = AccessSettings { team_domain: "team.example".into(), audience: "aud".into(), certs_url: url };
        let verifier = AccessVerifier::with_refetch_interval(settings, Duration::from_millis(200));
        assert_eq!(verifier.verify(&token("key1")).await.unwrap().name, "ada@example.com");
        published.lock().unwrap().push("key2");
        assert!(
            matches!(verifier.verify(&token("key2")).await, Err(AccessError::Invalid(_))),
            "inside the interval: no refetch"
        );
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(verifier.verify(&token("key2")).await.is_ok(), "the rotated key is fetched");
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
        assert!(verifier.verify(&token("key1")).await.is_ok(), "the old key still works while published");
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }
}
