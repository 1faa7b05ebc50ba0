//! Durable state against a real S3-compatible server (SeaweedFS on 127.0.0.1): restore after a
//! graceful stop, corrupt and truncated objects, two gateways on one bucket, and a bucket that
//! goes away for a while. The kill -9 loop is in `replication_kill.rs`.

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::client::{Client, ConnectOptions};
use support::fake_anthropic::FakeAnthropic;
use support::gateway::{TOKEN, TestGateway};
use support::s3_proxy::S3Proxy;
use support::seaweed::Seaweed;

struct Env(Vec<(String, String)>);

impl Env {
    fn new(seaweed: &Seaweed, fake: &FakeAnthropic, extra: &[(&str, &str)]) -> Self {
        let mut vars = seaweed.env();
        vars.push(("ANTHROPIC_API_KEY".into(), "k".into()));
        vars.push(("ANTHROPIC_BASE_URL".into(), fake.base_url()));
        vars.push(("MOLT_REPLICATION_INTERVAL_MS".into(), "200".into()));
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Self(vars)
    }

    fn pairs(&self) -> Vec<(&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }
}

async fn client(gateway: &TestGateway) -> Client {
    Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.expect("connect").0
}

/// Sends `count` messages to `session` and waits for each reply.
async fn chat(gateway: &TestGateway, session: &str, prefix: &str, count: usize) {
    let mut client = client(gateway).await;
    for index in 0..count {
        let text = format!("{prefix}-{index}");
        let ack =
            client.call("chat.send", json!({"sessionKey": session, "message": text, "idempotencyKey": text})).await;
        client.chat_run(ack["runId"].as_str().unwrap()).await;
    }
}

async fn history(gateway: &TestGateway, session: &str) -> Vec<Value> {
    let mut client = client(gateway).await;
    let payload = client.call("chat.history", json!({"sessionKey": session, "limit": 1000})).await;
    payload["messages"].as_array().cloned().unwrap_or_default()
}

fn contents(messages: &[Value]) -> Vec<String> {
    messages.iter().map(|m| format!("{}:{}", m["role"].as_str().unwrap_or(""), m["content"])).collect()
}

/// Waits (45 s at most: after a long outage the retry backoff reaches 30 s) until every
/// committed change is in the bucket.
async fn wait_shipped(gateway: &TestGateway) -> Value {
    let started = Instant::now();
    loop {
        let (_, body) = observe(gateway).await;
        let replication = &body["replication"];
        if replication["lastShippedSeq"].as_u64() >= replication["lastCommittedSeq"].as_u64()
            && replication["lastCommittedSeq"].as_u64() > Some(0)
        {
            return body;
        }
        assert!(started.elapsed() < Duration::from_secs(45), "changes were not shipped within 45 s: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (20 s at most) until `/readyz` shows `state`.
async fn wait_state(gateway: &TestGateway, state: &str) -> Value {
    let started = Instant::now();
    loop {
        let (_, body) = observe(gateway).await;
        if body["state"] == state {
            return body;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "never reached `{state}`: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn write(root: &Path, name: &str, text: &[u8]) {
    let path = root.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn a_graceful_stop_then_a_fresh_data_dir_restores_everything() {
    let seaweed = Seaweed::start().await;
    let fake = FakeAnthropic::start().await;
    let env = Env::new(&seaweed, &fake, &[]);
    let first = TestGateway::start(&env.pairs()).await;
    let workspace = first.data_dir.join("workspace");
    write(&workspace, "SOUL.md", b"You are calm.\n");
    write(&workspace, "USER.md", "Ada, likes \u{e9}t\u{e9}\n".as_bytes());
    write(&workspace, "MEMORY.md", b"- tea, no sugar\n");
    write(&workspace, "skills/cooking/SKILL.md", &[0, 159, 146, 150, 255]);
    write(&workspace, "skills/old/SKILL.md", b"obsolete");
    chat(&first, "main", "hello", 12).await;
    chat(&first, "agent:main:telegram:direct:42", "tg", 5).await;
    wait_shipped(&first).await;
    std::fs::remove_dir_all(workspace.join("skills/old")).unwrap();
    // The last messages are committed right before the stop: the stop must flush them.
    chat(&first, "main", "last", 3).await;
    let expected_main = contents(&history(&first, "main").await);
    let expected_tg = contents(&history(&first, "agent:main:telegram:direct:42").await);
    let expected_tree = tree(&workspace);
    first.stop().await.expect("clean stop");

    let second = TestGateway::start(&env.pairs()).await;
    assert_eq!(contents(&history(&second, "main").await), expected_main);
    assert_eq!(contents(&history(&second, "agent:main:telegram:direct:42").await), expected_tg);
    assert_eq!(expected_main.len(), 30, "15 messages and 15 replies");
    assert_eq!(tree(&second.data_dir.join("workspace")), expected_tree, "byte-identical, deletion included");
    let (status, body) = observe(&second).await;
    assert_eq!(status, 200);
    assert_eq!(body["replication"]["restored"]["source"], "bucket", "{body}");
    assert_eq!(body["replication"]["phase"], "active");
    assert!(body["replication"]["operations"]["classBLastHour"].as_u64() > Some(0));
    let status = client(&second).await.call("status", json!({})).await;
    assert_eq!(status["replication"]["phase"], "active", "{status}");
    assert_eq!(status["replication"]["location"], format!("{}/molt-state", seaweed.endpoint()));
    assert!(!status.to_string().contains(support::seaweed::SECRET_KEY), "no secret in the status");
    second.stop().await.unwrap();
}

#[tokio::test]
async fn corrupt_or_truncated_objects_are_refused_and_nothing_is_deleted() {
    let seaweed = Seaweed::start().await;
    let fake = FakeAnthropic::start().await;
    let env = Env::new(&seaweed, &fake, &[]);
    let first = TestGateway::start(&env.pairs()).await;
    chat(&first, "main", "keep", 4).await;
    first.stop().await.unwrap();
    let listing = seaweed.listing().await;
    let manifest: Value = serde_json::from_slice(&seaweed.get("manifest.json").await).unwrap();
    let segment = manifest["segments"].as_array().unwrap().last().unwrap()["key"].as_str().unwrap().to_owned();
    let snapshot = manifest["snapshots"].as_array().unwrap().last().unwrap()["key"].as_str().unwrap().to_owned();

    for (key, damage) in [(&segment, "truncated"), (&snapshot, "corrupt")] {
        let original = seaweed.get(key).await;
        let mut damaged = original.clone();
        if damage == "truncated" {
            damaged.truncate(damaged.len() / 2);
        } else {
            let middle = damaged.len() / 2;
            damaged[middle] ^= 0x5a;
        }
        seaweed.put(key, damaged).await;
        let before = seaweed.listing().await;

        let fresh = tempfile::tempdir().unwrap();
        let gateway = TestGateway::spawn_in(fresh.path(), &env.pairs()).await;
        let body = wait_state(&gateway, "failed").await;
        assert_eq!(body["reason"], "restore refused", "the public answer: the state, no keys: {body}");
        let admin = gateway.admin_status().await.unwrap_or_default();
        let reason = admin["gateway"]["readiness"]["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("restore refused") && reason.contains(damage) && reason.contains(key.as_str()),
            "{admin}"
        );
        let (status, _) = observe(&gateway).await;
        assert_eq!(status, 503);
        assert!(gateway.stop().await.is_err(), "serve reports the refused restore");
        assert_eq!(seaweed.listing().await, before, "a refused restore writes and deletes nothing");
        seaweed.put(key, original).await;
    }
    assert_eq!(seaweed.listing().await.len(), listing.len());

    let repaired = TestGateway::start(&env.pairs()).await;
    assert_eq!(history(&repaired, "main").await.len(), 8, "with the objects repaired, the restore goes through");
    repaired.stop().await.unwrap();
}

#[tokio::test]
async fn a_second_gateway_on_the_same_bucket_fences_the_first() {
    let seaweed = Seaweed::start().await;
    let fake = FakeAnthropic::start().await;
    let env = Env::new(&seaweed, &fake, &[]);
    let first = TestGateway::start(&env.pairs()).await;
    chat(&first, "main", "before", 2).await;
    // Connected before the second one starts: a new device's connect is a write too, and one
    // that shipped first would fence the first gateway before the test's own write.
    let mut watcher = client(&first).await;
    wait_shipped(&first).await;

    let second = TestGateway::start(&env.pairs()).await;
    assert_eq!(history(&second, "main").await.len(), 4, "the second one restored the first one's state");
    // The first one writes again (acknowledged before anything could tell): its manifest update
    // fails `If-Match`, it refuses every later write, tells its clients why, and stops.
    let text = "unshipped-before-fence";
    let ack =
        watcher.request("chat.send", json!({"sessionKey": "main", "message": text, "idempotencyKey": text})).await;
    assert_eq!(ack["ok"], true, "the write is acknowledged before the bucket can tell: {ack}");
    let shutdown = watcher.event("shutdown").await;
    let reason = shutdown["payload"]["reason"].as_str().unwrap_or_default().to_owned();
    assert!(reason.contains("no longer owns its bucket") && reason.contains("generation"), "{shutdown}");
    match first.stop().await {
        Err(molt::daemon::ServeError::Fenced(message)) => assert!(message.contains("refuses new writes"), "{message}"),
        other => panic!("a fenced gateway stops with the reason, not {other:?}"),
    }
    let manifest: Value = serde_json::from_slice(&seaweed.get("manifest.json").await).unwrap();
    let second_generation = observe(&second).await.1["replication"]["generation"].as_u64().unwrap();
    assert_eq!(manifest["generation"].as_u64(), Some(second_generation));

    chat(&second, "main", "after", 2).await;
    second.stop().await.unwrap();
    let third = TestGateway::start(&env.pairs()).await;
    let restored = contents(&history(&third, "main").await);
    assert!(restored.iter().any(|m| m.contains("after-1")), "{restored:?}");
    assert!(
        !restored.iter().any(|m| m.contains("unshipped-before-fence")),
        "the fenced instance wrote nothing into the bucket: {restored:?}"
    );
    third.stop().await.unwrap();
}

/// Waits (20 s at most) until the proxy has lost `count` answers.
async fn wait_dropped(gateway: &TestGateway, proxy: &S3Proxy, count: usize) -> Vec<String> {
    let started = Instant::now();
    loop {
        let dropped = proxy.dropped();
        if dropped.len() >= count {
            return dropped;
        }
        if started.elapsed() > Duration::from_secs(20) {
            panic!("only {dropped:?} were dropped; {}", observe(gateway).await.1);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn answers_lost_after_the_bucket_stored_a_write_never_fence_and_lose_nothing() {
    let seaweed = Seaweed::start().await;
    let proxy = S3Proxy::start(&seaweed.endpoint()).await;
    let fake = FakeAnthropic::start().await;
    let endpoint = proxy.endpoint();
    let env = Env::new(&seaweed, &fake, &[("MOLT_S3_ENDPOINT", endpoint.as_str()), ("MOLT_SNAPSHOT_EVERY", "100000")]);
    let gateway = TestGateway::start(&env.pairs()).await;
    chat(&gateway, "main", "first", 1).await;
    wait_shipped(&gateway).await;

    // A manifest write lands, and the answers to it and to all three retries are lost: the
    // round fails, and the next one finds its own write in the bucket.
    proxy.drop_answers("manifest.json", 4);
    chat(&gateway, "main", "manifest", 2).await;
    wait_dropped(&gateway, &proxy, 4).await;
    wait_shipped(&gateway).await;
    // The same for a segment, then for a snapshot.
    proxy.drop_answers("/changes/", 4);
    chat(&gateway, "main", "segment", 2).await;
    wait_dropped(&gateway, &proxy, 8).await;
    wait_shipped(&gateway).await;
    proxy.drop_answers("/snapshots/", 4);
    let backup =
        || reqwest::Client::new().post(gateway.http_url("/api/admin/replication/backup")).bearer_auth(TOKEN).send();
    let lost = backup().await.unwrap();
    assert!(!lost.status().is_success(), "the snapshot's answer was lost: the backup says so");
    wait_dropped(&gateway, &proxy, 12).await;
    assert!(backup().await.unwrap().status().is_success(), "and the next one succeeds");

    chat(&gateway, "main", "after", 1).await;
    let body = wait_shipped(&gateway).await;
    assert_eq!(body["state"], "ready", "{body}");
    assert_eq!(body["replication"]["phase"], "active", "never fenced: {body}");
    let expected = contents(&history(&gateway, "main").await);
    assert_eq!(expected.len(), 12);
    gateway.stop().await.unwrap();

    // A fresh container restores every message from the bucket itself.
    let direct = Env::new(&seaweed, &fake, &[]);
    let restored = TestGateway::start(&direct.pairs()).await;
    assert_eq!(contents(&history(&restored, "main").await), expected);
    restored.stop().await.unwrap();
}

#[tokio::test]
async fn a_restore_that_finds_an_object_gone_reads_the_manifest_again() {
    let seaweed = Seaweed::start().await;
    let proxy = S3Proxy::start(&seaweed.endpoint()).await;
    let fake = FakeAnthropic::start().await;
    let env = Env::new(&seaweed, &fake, &[]);
    let first = TestGateway::start(&env.pairs()).await;
    chat(&first, "main", "kept", 2).await;
    first.stop().await.unwrap();

    // The snapshot vanishes between the manifest read and its own read, as when the running
    // owner's retention removed it: the restore starts over from the manifest, not "corrupt".
    proxy.vanish_once("/snapshots/");
    let endpoint = proxy.endpoint();
    let through_proxy = Env::new(&seaweed, &fake, &[("MOLT_S3_ENDPOINT", endpoint.as_str())]);
    let second = TestGateway::start(&through_proxy.pairs()).await;
    assert_eq!(history(&second, "main").await.len(), 4);
    second.stop().await.unwrap();
}

#[tokio::test]
async fn a_restart_on_the_local_store_with_an_empty_workspace_keeps_the_workspace_files() {
    let seaweed = Seaweed::start().await;
    let fake = FakeAnthropic::start().await;
    let env = Env::new(&seaweed, &fake, &[]);
    let dir = tempfile::tempdir().unwrap();
    let gateway = TestGateway::start_in(dir.path(), &env.pairs()).await;
    write(&dir.path().join("workspace"), "SOUL.md", b"Be brief.");
    write(&dir.path().join("workspace"), "skills/cook/SKILL.md", b"pasta");
    chat(&gateway, "main", "local", 1).await;
    wait_shipped(&gateway).await;
    gateway.stop().await.unwrap();
    let manifest: Value = serde_json::from_slice(&seaweed.get("manifest.json").await).unwrap();
    assert_eq!(manifest["workspace"].as_object().map(|files| files.len()), Some(2), "{manifest}");

    // Same data dir (the store is local and newest), but the workspace folder was emptied.
    std::fs::remove_dir_all(dir.path().join("workspace")).unwrap();
    std::fs::create_dir_all(dir.path().join("workspace")).unwrap();
    let again = TestGateway::start_in(dir.path(), &env.pairs()).await;
    assert_eq!(observe(&again).await.1["replication"]["restored"]["source"], "local");
    chat(&again, "main", "after", 1).await;
    wait_shipped(&again).await;
    again.stop().await.unwrap();
    let manifest: Value = serde_json::from_slice(&seaweed.get("manifest.json").await).unwrap();
    assert_eq!(manifest["workspace"].as_object().map(|files| files.len()), Some(2), "nothing dropped: {manifest}");
    assert_eq!(std::fs::read(dir.path().join("workspace/skills/cook/SKILL.md")).unwrap(), b"pasta");
}

#[tokio::test]
async fn an_unreachable_bucket_buffers_changes_then_catches_up() {
    let mut seaweed = Seaweed::start().await;
    let fake = FakeAnthropic::start().await;
    let env = Env::new(&seaweed, &fake, &[]);
    let gateway = TestGateway::start(&env.pairs()).await;
    chat(&gateway, "main", "online", 2).await;
    wait_shipped(&gateway).await;

    seaweed.kill();
    chat(&gateway, "main", "offline", 10).await;
    let started = Instant::now();
    loop {
        let (status, body) = observe(&gateway).await;
        assert_eq!(status, 200, "an unreachable bucket does not stop the chat: {body}");
        if body["replication"]["lastError"].is_string() {
            assert!(body["replication"]["lagMs"].as_u64() > Some(0), "{body}");
            assert_eq!(body["state"], "ready", "not degraded while within the window and 30 s: {body}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(40), "the outage was never reported: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Past the shipping window and 30 s, the gateway says `degraded`, and goes on serving.
    loop {
        let (status, body) = observe(&gateway).await;
        assert_eq!(status, 200, "{body}");
        if body["state"] == "degraded" {
            assert!(body["reason"].as_str().unwrap_or_default().contains("s behind"), "{body}");
            assert!(body["replication"]["lagMs"].as_u64() > Some(30_200), "{body}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "never degraded: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    chat(&gateway, "main", "degraded", 1).await;
    seaweed.restart().await;
    chat(&gateway, "main", "back", 1).await;
    wait_shipped(&gateway).await;
    wait_state(&gateway, "ready").await;
    let expected = contents(&history(&gateway, "main").await);
    // Stop without the final flush mattering: everything is already shipped.
    gateway.stop().await.unwrap();

    let restored = TestGateway::start(&env.pairs()).await;
    assert_eq!(contents(&history(&restored, "main").await), expected);
    assert_eq!(expected.len(), 28);
    restored.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn molt_gateway_backup_snapshots_now_through_the_running_gateway_or_offline() {
    let seaweed = Seaweed::start().await;
    let fake = FakeAnthropic::start().await;
    let env = Env::new(&seaweed, &fake, &[("MOLT_GATEWAY_TOKEN", TOKEN)]);
    let gateway = TestGateway::start(&env.pairs()).await;
    chat(&gateway, "main", "backed", 3).await;

    let vars = env.0.clone();
    let run = move |args: Vec<String>| {
        let mut command = support::process::molt();
        command.args(&args).envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        command.output().expect("run molt")
    };
    let denied = reqwest::Client::new().post(gateway.http_url("/api/admin/replication/backup")).send().await.unwrap();
    assert_eq!(denied.status(), 401, "the admin API needs the gateway token");
    let url = gateway.http_url("");
    let data_dir = gateway.data_dir.display().to_string();
    let args = vec!["gateway".into(), "backup".into(), "--url".into(), url, "--data-dir".into(), data_dir.clone()];
    let output = tokio::task::block_in_place(|| run(args));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{stdout} {}", String::from_utf8_lossy(&output.stderr));
    let key = stdout.split('`').nth(1).unwrap_or_default().to_owned();
    assert!(key.starts_with("snapshots/"), "{stdout}");
    let manifest: Value = serde_json::from_slice(&seaweed.get("manifest.json").await).unwrap();
    assert_eq!(manifest["snapshots"].as_array().unwrap().last().unwrap()["key"], key.as_str());
    let newest = manifest["snapshots"].as_array().unwrap().last().unwrap()["last"].as_u64();
    assert!(
        manifest["segments"].as_array().unwrap().iter().all(|segment| segment["last"].as_u64() <= newest),
        "nothing after the snapshot is left to replay: {manifest}"
    );
    // While it runs, an offline backup would fence it: refused, with the way out.
    let args = vec!["gateway".into(), "backup".into(), "--offline".into(), "--data-dir".into(), data_dir.clone()];
    let refused = tokio::task::block_in_place(|| run(args));
    let stderr = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("a gateway holds the bucket") && stderr.contains("--force"), "{stderr}");
    assert_eq!(observe(&gateway).await.1["replication"]["phase"], "active", "the running gateway was not fenced");
    gateway.stop().await.unwrap();

    let args = vec!["gateway".into(), "backup".into(), "--offline".into(), "--data-dir".into(), data_dir];
    let output = tokio::task::block_in_place(|| run(args));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let manifest: Value = serde_json::from_slice(&seaweed.get("manifest.json").await).unwrap();
    assert!(manifest["generation"].as_u64() > Some(1), "the offline backup claimed the bucket: {manifest}");
}

#[tokio::test]
async fn snapshots_keep_the_last_n_and_an_idle_gateway_sends_no_requests() {
    let seaweed = Seaweed::start().await;
    let fake = FakeAnthropic::start().await;
    let env = Env::new(&seaweed, &fake, &[("MOLT_SNAPSHOT_EVERY", "10"), ("MOLT_SNAPSHOT_KEEP", "2")]);
    let gateway = TestGateway::start(&env.pairs()).await;
    chat(&gateway, "main", "compact", 12).await;
    let shipped = wait_shipped(&gateway).await;
    // Deletion follows the manifest update that stopped naming the objects.
    let started = Instant::now();
    loop {
        let snapshots: Vec<String> = seaweed
            .listing()
            .await
            .into_iter()
            .map(|(key, _, _)| key)
            .filter(|key| key.starts_with("snapshots/"))
            .collect();
        if snapshots.len() == 2 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "older snapshots are deleted: {snapshots:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The status counts the kept snapshots once the round that made the newest one is done,
    // which may be after the changes it shipped were reported.
    let started = Instant::now();
    loop {
        let (_, body) = observe(&gateway).await;
        if body["replication"]["snapshots"].as_u64() == Some(2) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the status counts 2 snapshots: {body} (shipped: {shipped})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Idle: once the last deletions and the manifest are done (the counts hold still for a
    // window), not one request in three shipping windows and more.
    let settle = Instant::now();
    let mut before = observe(&gateway).await.1["replication"]["operations"].clone();
    loop {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let now = observe(&gateway).await.1["replication"]["operations"].clone();
        if now == before {
            break;
        }
        assert!(settle.elapsed() < Duration::from_secs(20), "the bucket work did not settle: {now}");
        before = now;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = observe(&gateway).await.1["replication"]["operations"].clone();
    assert_eq!(before, after, "an idle gateway costs no bucket operations");
    assert!(after["classALastHour"].as_u64() > Some(5), "the chat did reach the bucket: {after}");

    let expected = contents(&history(&gateway, "main").await);
    gateway.stop().await.unwrap();
    let restored = TestGateway::start(&env.pairs()).await;
    assert_eq!(contents(&history(&restored, "main").await), expected);
    restored.stop().await.unwrap();
}

#[tokio::test]
async fn a_boot_with_the_bucket_down_says_restoring_until_the_bucket_is_back() {
    let mut seaweed = Seaweed::start().await;
    let fake = FakeAnthropic::start().await;
    let env = Env::new(&seaweed, &fake, &[]);
    let first = TestGateway::start(&env.pairs()).await;
    chat(&first, "main", "kept", 2).await;
    first.stop().await.unwrap();

    seaweed.kill();
    let fresh = tempfile::tempdir().unwrap();
    let gateway = TestGateway::spawn_in(fresh.path(), &env.pairs()).await;
    let body = wait_state(&gateway, "restoring").await;
    let started = Instant::now();
    loop {
        let (status, body) = gateway.readyz().await;
        assert_eq!(status, 503, "{body}");
        assert!(!body.to_string().contains("127.0.0.1"), "the public answer names no bucket: {body}");
        let admin = gateway.admin_status().await.unwrap_or_default();
        if admin["gateway"]["readiness"]["reason"].as_str().unwrap_or_default().contains("retrying") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no retry reported: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(body["ready"], false);
    seaweed.restart().await;
    let started = Instant::now();
    while observe(&gateway).await.0 != 200 {
        assert!(started.elapsed() < Duration::from_secs(45), "never became ready once the bucket was back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(history(&gateway, "main").await.len(), 4);
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn sigterm_ships_every_acknowledged_message_before_the_binary_exits() {
    let seaweed = Seaweed::start().await;
    let fake = FakeAnthropic::start().await;
    // A long window: without the flush on stop, the last messages could not be in the bucket.
    let env = Env::new(&seaweed, &fake, &[("MOLT_REPLICATION_INTERVAL_MS", "30000"), ("MOLT_GATEWAY_TOKEN", TOKEN)]);
    let dir = tempfile::tempdir().unwrap();
    let mut process = support::process::GatewayProcess::start(&dir.path().join("data"), &env.pairs(), &[]);
    let (mut client, _) = Client::connect(&process.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap();
    for index in 0..5 {
        let text = format!("term-{index}");
        let ack =
            client.call("chat.send", json!({"sessionKey": "main", "message": text, "idempotencyKey": text})).await;
        client.chat_run(ack["runId"].as_str().unwrap()).await;
    }
    process.signal("TERM");
    let (status, _) = process.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{}", process.stderr());
    assert!(process.stderr().contains("every change is in the bucket"), "{}", process.stderr());

    let restored = TestGateway::start(&env.pairs()).await;
    let messages = contents(&history(&restored, "main").await);
    assert_eq!(messages.len(), 10, "{messages:?}");
    restored.stop().await.unwrap();
}

#[tokio::test]
async fn paired_devices_codes_policies_and_the_audit_log_are_restored() {
    let seaweed = Seaweed::start().await;
    let fake = FakeAnthropic::start().await;
    let env = Env::new(&seaweed, &fake, &[]);
    let first = TestGateway::start(&env.pairs()).await;
    let options = ConnectOptions::new(TOKEN);
    let (_, hello) = Client::connect(&first.ws_url(), &options).await.expect("connect");
    let device_id = options.identity.as_ref().unwrap().device_id();
    let device_token = hello["auth"]["deviceToken"].as_str().unwrap().to_owned();
    let admin = |gateway: &TestGateway, method: reqwest::Method, path: &str| {
        reqwest::Client::new().request(method, gateway.http_url(path)).bearer_auth(TOKEN)
    };
    let policy = admin(&first, reqwest::Method::PUT, "/api/admin/policies/telegram")
        .json(&json!({"dmPolicy": "allowlist", "allowFrom": ["42", "43"]}));
    assert_eq!(policy.send().await.unwrap().status(), 200);
    let store = molt::daemon::store::Store::open(&first.data_dir).unwrap();
    store.issue_pairing_code("slack", "U1", Some("Grace")).await.unwrap();
    chat(&first, "main", "hello", 1).await;
    wait_shipped(&first).await;
    first.stop().await.expect("clean stop");

    let second = TestGateway::start(&env.pairs()).await;
    let read = |path: &'static str| {
        let request = admin(&second, reqwest::Method::GET, path);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let devices = read("/api/admin/devices").await;
    assert!(devices["paired"].as_array().unwrap().iter().any(|d| d["deviceId"] == device_id.as_str()), "{devices}");
    let policies = read("/api/admin/policies").await;
    assert_eq!(policies["channels"]["telegram"], json!({"dmPolicy": "allowlist", "allowFrom": ["42", "43"]}));
    let codes = read("/api/admin/codes").await;
    assert_eq!(codes["codes"][0]["senderName"], "Grace");
    let audit = read("/api/admin/audit").await;
    assert!(audit["entries"].as_array().unwrap().iter().any(|entry| entry["action"] == "policy.set"), "{audit}");
    // The device token issued before the restore still lets the device in.
    let mut again = options.clone();
    again.token = None;
    again.device_token = Some(device_token);
    let (_, hello) = Client::connect(&second.ws_url(), &again).await.expect("the device token survives the restore");
    assert_eq!(hello["auth"]["method"], "device-token");
    second.stop().await.unwrap();
}

/// `/readyz` (state and reason), with the replication details of the admin status, which
/// `/readyz` keeps private, where the gateway serves them.
async fn observe(gateway: &TestGateway) -> (u16, Value) {
    let (status, mut body) = gateway.readyz().await;
    if let Some(admin) = gateway.admin_status().await {
        body["replication"] = admin["replication"].clone();
    }
    (status, body)
}
