//! The bucket: an `object_store` S3 client configured for R2 (region `auto`, path-style
//! requests, standard conditional headers) with every request timed out, retried with
//! jittered backoff, and counted for the operations-per-hour report.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use object_store::aws::{AmazonS3, AmazonS3Builder, S3ConditionalPut};
use object_store::path::Path;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig,
    UpdateVersion,
};

use super::status::Operations;
use super::transport::Transport;
use crate::core::settings::ReplicationSettings;

/// What a caller must tell apart; everything else is `Other` with a message free of secrets.
#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    #[error("`{0}` does not exist")]
    NotFound(String),
    /// `If-None-Match: *` failed: the object exists.
    #[error("`{0}` already exists")]
    AlreadyExists(String),
    /// `If-Match` failed: someone else wrote the object since we read it.
    #[error("`{0}` was changed by someone else")]
    Precondition(String),
    #[error("bucket request for `{key}` failed: {message}")]
    Other { key: String, message: String },
}

/// The version of an object as read or written, for a later `If-Match`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(pub UpdateVersion);

#[derive(Clone)]
pub struct Bucket {
    store: Arc<AmazonS3>,
    prefix: String,
    pub operations: Arc<Operations>,
}

/// Bound on one request; object_store retries inside it (3 times, 100 ms → 2 s, jittered).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl Bucket {
    pub fn connect(settings: &ReplicationSettings) -> Result<Self, BucketError> {
        let client = ClientOptions::new().with_allow_http(settings.endpoint.starts_with("http://"));
        let transport = Transport::new(REQUEST_TIMEOUT, Duration::from_secs(5))
            .map_err(|error| BucketError::Other { key: String::new(), message: error.to_string() })?;
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(2),
                base: 2.0,
            },
            max_retries: 3,
            retry_timeout: Duration::from_secs(20),
        };
        let store = AmazonS3Builder::new()
            .with_endpoint(&settings.endpoint)
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_access_key_id(settings.access_key_id.expose())
            .with_secret_access_key(settings.secret_access_key.expose())
            // R2 and most S3-compatible servers answer on `https://<endpoint>/<bucket>/<key>`.
            .with_virtual_hosted_style_request(false)
            // R2 honours `If-None-Match: *` and `If-Match: <etag>` on PutObject.
            .with_conditional_put(S3ConditionalPut::ETagMatch)
            // R2 does not implement object tagging.
            .with_disable_tagging(true)
            .with_client_options(client)
            .with_http_connector(transport)
            .with_retry(retry)
            .build()
            .map_err(|error| BucketError::Other { key: String::new(), message: scrub(&error.to_string()) })?;
        Ok(Self {
            store: Arc::new(store),
            prefix: settings.prefix.clone(),
            operations: Arc::new(Operations::default()),
        })
    }

    fn path(&self, key: &str) -> Path {
        if self.prefix.is_empty() { Path::from(key) } else { Path::from(format!("{}/{key}", self.prefix)) }
    }

    /// Reads an object and its version.
    pub async fn get(&self, key: &str) -> Result<(Bytes, Version), BucketError> {
        self.operations.class_b();
        let result = self.store.get(&self.path(key)).await.map_err(|error| classify(key, error))?;
        let version = UpdateVersion { e_tag: result.meta.e_tag.clone(), version: result.meta.version.clone() };
        let bytes = tokio::time::timeout(REQUEST_TIMEOUT, result.bytes())
            .await
            .map_err(|_| BucketError::Other { key: key.to_owned(), message: "timed out reading the body".into() })?
            .map_err(|error| classify(key, error))?;
        Ok((bytes, Version(version)))
    }

    /// Creates an object that must not exist yet (`If-None-Match: *`).
    pub async fn create(&self, key: &str, bytes: Vec<u8>) -> Result<Version, BucketError> {
        self.put(key, bytes, PutMode::Create).await
    }

    /// Replaces an object only if it is still at `version` (`If-Match`).
    pub async fn update(&self, key: &str, bytes: Vec<u8>, version: &Version) -> Result<Version, BucketError> {
        self.put(key, bytes, PutMode::Update(version.0.clone())).await
    }

    async fn put(&self, key: &str, bytes: Vec<u8>, mode: PutMode) -> Result<Version, BucketError> {
        self.operations.class_a();
        let options = PutOptions { mode, ..PutOptions::default() };
        let result = self
            .store
            .put_opts(&self.path(key), PutPayload::from(Bytes::from(bytes)), options)
            .await
            .map_err(|error| classify(key, error))?;
        Ok(Version(result.into()))
    }

    pub async fn delete(&self, key: &str) -> Result<(), BucketError> {
        self.operations.class_a();
        match self.store.delete(&self.path(key)).await {
            Ok(()) => Ok(()),
            Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(classify(key, error)),
        }
    }
}

fn classify(key: &str, error: object_store::Error) -> BucketError {
    match error {
        object_store::Error::NotFound { .. } => BucketError::NotFound(key.to_owned()),
        object_store::Error::AlreadyExists { .. } => BucketError::AlreadyExists(key.to_owned()),
        object_store::Error::Precondition { .. } => BucketError::Precondition(key.to_owned()),
        other => BucketError::Other { key: key.to_owned(), message: scrub(&other.to_string()) },
    }
}

/// object_store's messages name URLs and never credentials (they travel in signed headers), but
/// strip query strings anyway so a presigned URL can never reach a log.
fn scrub(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut skipping = false;
    for character in message.chars() {
        match character {
            '?' => skipping = true,
            ' ' | '\n' | ')' | ',' => {
                skipping = false;
                out.push(character);
            }
            _ if !skipping => out.push(character),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn scrub_removes_query_strings() {
        assert_eq!(super::scrub("GET http://h/b/k?X-Amz-Signature=abc failed"), "GET http://h/b/k failed");
    }
}
