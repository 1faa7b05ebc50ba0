//! Real wrangler from npm (installed by `scripts/test.sh`) against molt's work: it speaks to the
//! fake Cloudflare API through `CLOUDFLARE_API_BASE_URL` (proof the fake speaks the real API),
//! and it accepts the deploy folder `molt init` renders (`wrangler deploy --dry-run`, offline).

use crate::support;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use support::fake_cloudflare::{ACCOUNT, FakeCloudflare, TOKEN};
use support::process::molt;

/// The pinned wrangler's install folder: `MOLT_WRANGLER_DIR`, else where `scripts/test.sh` puts it.
fn wrangler_dir() -> PathBuf {
    let dir = match std::env::var_os("MOLT_WRANGLER_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = std::env::var_os("HOME").expect("HOME is set");
            PathBuf::from(home).join(".cache/molt/wrangler-4.86.0")
        }
    };
    let binary = dir.join("node_modules/.bin/wrangler");
    assert!(
        binary.exists(),
        "wrangler is not installed at `{}`: run `scripts/test.sh`, which installs it (npm install wrangler@4.86.0)",
        binary.display()
    );
    dir
}

fn wrangler(cwd: &std::path::Path, home: &std::path::Path, api: &str) -> Command {
    let mut command = Command::new(wrangler_dir().join("node_modules/.bin/wrangler"));
    command
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("CI", "true")
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CLOUDFLARE_API_BASE_URL", api)
        .env("CLOUDFLARE_API_TOKEN", TOKEN)
        .env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs `command` off the runtime (the fake serves on it), feeding `stdin`, at most 120 s.
async fn output(mut command: Command, stdin: &str) -> Output {
    let input = stdin.to_owned();
    let run = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = command.spawn().expect("spawn wrangler");
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input.as_bytes()).expect("write stdin");
        drop(pipe);
        child.wait_with_output().expect("wrangler output")
    });
    tokio::time::timeout(std::time::Duration::from_secs(120), run)
        .await
        .expect("wrangler finished within 120 s")
        .expect("join")
}

fn describe(output: &Output, fake: Option<&FakeCloudflare>) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}\nrequests: {:?}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        fake.map(FakeCloudflare::calls)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn wrangler_lists_r2_buckets_from_the_fake() {
    let fake = FakeCloudflare::start().await;
    fake.state().buckets.insert("molt-data".into());
    let home = tempfile::tempdir().unwrap();
    let mut command = wrangler(home.path(), home.path(), &fake.base_url());
    command.args(["r2", "bucket", "list"]);
    let result = output(command, "").await;
    assert!(result.status.success(), "{}", describe(&result, Some(&fake)));
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(stdout.contains("molt-data"), "{}", describe(&result, Some(&fake)));
    let calls = fake.calls();
    assert!(calls.contains(&format!("GET /accounts/{ACCOUNT}/r2/buckets")), "{calls:?}");
    let request = fake.requests().into_iter().find(|r| r.path.ends_with("/r2/buckets")).unwrap();
    assert_eq!(request.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn wrangler_puts_a_worker_secret_into_the_fake() {
    let fake = FakeCloudflare::start().await;
    fake.add_script("molt");
    let home = tempfile::tempdir().unwrap();
    let mut command = wrangler(home.path(), home.path(), &fake.base_url());
    command.args(["secret", "put", "ANTHROPIC_API_KEY", "--name", "molt"]);
    let result = output(command, "sk-ant-from-wrangler\n").await;
    assert!(result.status.success(), "{}", describe(&result, Some(&fake)));
    assert_eq!(
        fake.state().scripts["molt"]["ANTHROPIC_API_KEY"],
        "sk-ant-from-wrangler",
        "{}",
        describe(&result, Some(&fake))
    );
    let put = fake.requests().into_iter().find(|r| r.method == "PUT").unwrap();
    assert_eq!(put.body["type"], "secret_text");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rendered_deploy_folder_passes_a_wrangler_dry_run_offline() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("deploy");
    let init = molt()
        .current_dir(home.path())
        .args(["init", "--non-interactive", "--no-verify", "--dir"])
        .arg(&dir)
        .args(["--image", "registry.cloudflare.com/0123/molt:0.1.0", "--channels", "telegram,slack"])
        .env("MOLT_CONFIG_DIR", home.path().join("config"))
        .env("MOLT_SECRET_STORE", "file")
        .env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
        .env("CLOUDFLARE_API_TOKEN", TOKEN)
        .env("ANTHROPIC_API_KEY", "k")
        .env("TELEGRAM_BOT_TOKEN", "t")
        .env("SLACK_BOT_TOKEN", "s")
        .env("SLACK_SIGNING_SECRET", "g")
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", describe(&init, None));
    std::os::unix::fs::symlink(wrangler_dir().join("node_modules"), dir.join("node_modules")).unwrap();
    let out = home.path().join("bundle");
    let mut command = wrangler(&dir, home.path(), "http://127.0.0.1:9/client/v4");
    command.args(["deploy", "--dry-run", "--outdir"]).arg(&out);
    let result = output(command, "").await;
    assert!(result.status.success(), "{}", describe(&result, None));
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(stdout.contains("env.MOLT (MoltContainer)"), "{stdout}");
    assert!(stdout.contains("registry.cloudflare.com/0123/molt:0.1.0"), "{stdout}");
    assert!(stdout.contains("--dry-run: exiting now."), "{stdout}");
    let bundle = std::fs::read_to_string(out.join("worker.js")).expect("the bundled Worker");
    assert!(bundle.contains("MoltContainer = class extends Container"), "the Worker defines the container class");
    // The gateway believes `cf-connecting-ip` only with this header carrying MOLT_PROXY_SECRET.
    assert!(bundle.contains(r#"headers.set("x-molt-proxy-secret", env.MOLT_PROXY_SECRET)"#), "{bundle}");
}

#[test]
fn the_rendered_package_json_pins_the_wrangler_these_tests_run() {
    let template = include_str!("../../templates/package.json.tmpl").replace("{{package_name}}", "\"molt\"");
    let pinned: serde_json::Value = serde_json::from_str(&template).unwrap();
    let installed = |package: &str| -> serde_json::Value {
        let path = wrangler_dir().join("node_modules").join(package).join("package.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    assert_eq!(pinned["devDependencies"]["wrangler"], installed("wrangler")["version"]);
    assert_eq!(pinned["dependencies"]["@cloudflare/containers"], installed("@cloudflare/containers")["version"]);
}
