//! Durable state in R2 or any S3 bucket: moltworker's variable names (`R2_ACCESS_KEY_ID`,
//! `R2_SECRET_ACCESS_KEY`, `CF_ACCOUNT_ID`, `R2_BUCKET_NAME`) plus `MOLT_S3_ENDPOINT`.

use std::time::Duration;

use crate::core::secret::Secret;

use super::SettingsError;
use super::layers::{Layers, Origin};

/// Where and how the store is replicated. Present only when a bucket is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationSettings {
    /// `https://<account>.r2.cloudflarestorage.com`, or `MOLT_S3_ENDPOINT`. Never holds credentials.
    pub endpoint: String,
    pub bucket: String,
    /// Key prefix inside the bucket (no leading or trailing `/`), empty for the bucket's root.
    pub prefix: String,
    /// `auto` for R2.
    pub region: String,
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    /// The shipping window: at most one upload round per interval while changes arrive.
    pub interval: Duration,
    /// The longest a stop waits for the last changes to reach the bucket.
    pub flush_timeout: Duration,
    /// A new snapshot after this many shipped changes (compaction of the change segments).
    pub snapshot_every: u64,
    /// Snapshots kept in the bucket; older ones and the segments only they need are deleted.
    pub keep_snapshots: usize,
}

impl ReplicationSettings {
    /// `endpoint/bucket/prefix`, shown in logs and status; never contains a secret.
    pub fn location(&self) -> String {
        let mut location = format!("{}/{}", self.endpoint.trim_end_matches('/'), self.bucket);
        if !self.prefix.is_empty() {
            location.push('/');
            location.push_str(&self.prefix);
        }
        location
    }
}

const R2_VARS: &str =
    "`R2_ACCESS_KEY_ID`, `R2_SECRET_ACCESS_KEY`, `R2_BUCKET_NAME` and `CF_ACCOUNT_ID` (or `MOLT_S3_ENDPOINT`)";

pub(super) fn resolve(layers: &mut Layers<'_>) -> Result<Option<ReplicationSettings>, SettingsError> {
    let access_key_id = layers.secret("r2_access_key_id", &["R2_ACCESS_KEY_ID"]);
    let secret_access_key = layers.secret("r2_secret_access_key", &["R2_SECRET_ACCESS_KEY"]);
    let bucket = layers.optional::<String>("r2_bucket_name", None, &["R2_BUCKET_NAME"], None)?;
    let account = layers.optional::<String>("cf_account_id", None, &["CF_ACCOUNT_ID"], None)?;
    let endpoint = layers.optional::<String>("s3_endpoint", None, &["MOLT_S3_ENDPOINT"], None)?;
    let any = access_key_id.is_some() || secret_access_key.is_some() || bucket.is_some() || endpoint.is_some();
    if !any {
        // `CF_ACCOUNT_ID` alone is also used by other features; it does not turn replication on.
        layers.record("replication", "off (no bucket configured)", Origin::Default);
        return Ok(None);
    }
    let (Some(access_key_id), Some(secret_access_key), Some(bucket)) = (access_key_id, secret_access_key, bucket)
    else {
        return Err(SettingsError::Missing { what: "replication to R2", vars: R2_VARS });
    };
    let endpoint = match (endpoint, account) {
        (Some(endpoint), _) => endpoint.trim_end_matches('/').to_owned(),
        (None, Some(account)) => {
            let endpoint = format!("https://{account}.r2.cloudflarestorage.com");
            layers.record("s3_endpoint", endpoint.clone(), Origin::Derived("CF_ACCOUNT_ID"));
            endpoint
        }
        (None, None) => return Err(SettingsError::Missing { what: "replication to R2", vars: R2_VARS }),
    };
    check_endpoint(&endpoint)?;
    let region = layers.value("s3_region", None, &["MOLT_S3_REGION"], None, "auto".to_owned())?;
    let prefix = layers.value("s3_prefix", None, &["MOLT_S3_PREFIX"], None, String::new())?;
    let interval_ms = layers.value("replication_interval_ms", None, &["MOLT_REPLICATION_INTERVAL_MS"], None, 1000)?;
    let flush_secs = layers.value("replication_flush_secs", None, &["MOLT_REPLICATION_FLUSH_SECS"], None, 10)?;
    let snapshot_every = layers.value("snapshot_every", None, &["MOLT_SNAPSHOT_EVERY"], None, 1000)?;
    let keep_snapshots: usize = layers.value("snapshot_keep", None, &["MOLT_SNAPSHOT_KEEP"], None, 3)?;
    Ok(Some(ReplicationSettings {
        endpoint,
        bucket,
        prefix: prefix.trim_matches('/').to_owned(),
        region,
        access_key_id,
        secret_access_key,
        interval: Duration::from_millis(interval_ms.clamp(50, 60_000)),
        flush_timeout: Duration::from_secs(flush_secs.clamp(1, 300)),
        snapshot_every: snapshot_every.max(10),
        keep_snapshots: keep_snapshots.max(1),
    }))
}

/// An endpoint is `http(s)://host[:port]` with no credentials or path.
fn check_endpoint(endpoint: &str) -> Result<(), SettingsError> {
    let invalid = || SettingsError::Invalid {
        name: "s3_endpoint",
        // The value may carry credentials (`https://user:pass@host`): never echo it.
        value: "(not shown)".to_owned(),
        expected: "`https://host[:port]` without credentials or a path",
    };
    let rest = endpoint.strip_prefix("https://").or_else(|| endpoint.strip_prefix("http://")).ok_or_else(invalid)?;
    if rest.is_empty() || rest.contains('@') || rest.contains('/') || rest.contains('?') {
        return Err(invalid());
    }
    Ok(())
}
