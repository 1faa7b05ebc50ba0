//! `molt init` and `molt deploy` as an operator runs them: the real binary against the fake
//! Cloudflare API (and its Telegram endpoints), asserting every request, idempotence, resuming
//! after a failure, `molt secrets` and `molt token rotate`.

use crate::support;

use std::process::Output;

use serde_json::Value;
use support::fake_cloudflare::{ACCOUNT, FakeCloudflare, R2_GROUP_ID, TOKEN};
use support::process::molt;

const TELEGRAM_TOKEN: &str = "123456:telegram-test-token";

struct Operator {
    fake: FakeCloudflare,
    home: tempfile::TempDir,
}

impl Operator {
    async fn new() -> Operator {
        Operator { fake: FakeCloudflare::start().await, home: tempfile::tempdir().unwrap() }
    }

    fn dir(&self) -> std::path::PathBuf {
        self.home.path().join("deploy")
    }

    /// Runs `molt ARGS` off the async runtime, with the fake's URLs and a file secret store.
    async fn run(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
        let mut command = molt();
        command
            .current_dir(self.home.path())
            .args(args)
            .env("CLOUDFLARE_API_BASE_URL", self.fake.base_url())
            .env("MOLT_TELEGRAM_API_URL", self.fake.telegram_url())
            .env("MOLT_CONFIG_DIR", self.home.path().join("config"))
            .env("MOLT_SECRET_STORE", "file")
            .envs(env.iter().copied());
        let input = stdin.map(str::to_owned);
        tokio::task::spawn_blocking(move || {
            use std::io::Write;
            command
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            let mut child = command.spawn().expect("spawn molt");
            let mut pipe = child.stdin.take().expect("stdin");
            if let Some(text) = input {
                pipe.write_all(text.as_bytes()).expect("write stdin");
            }
            drop(pipe);
            child.wait_with_output().expect("molt output")
        })
        .await
        .expect("join")
    }

    async fn init(&self, extra: &[&str]) -> Output {
        let dir = self.dir();
        let mut args = vec!["init", "--non-interactive", "--dir", dir.to_str().unwrap(), "--worker-name", "molt"];
        args.extend_from_slice(extra);
        let env = [
            ("CLOUDFLARE_ACCOUNT_ID", ACCOUNT),
            ("CLOUDFLARE_API_TOKEN", TOKEN),
            ("ANTHROPIC_API_KEY", "sk-ant-test"),
            ("TELEGRAM_BOT_TOKEN", TELEGRAM_TOKEN),
        ];
        self.run(&args, &env, None).await
    }

    async fn deploy(&self) -> Output {
        let dir = self.dir();
        self.run(&["deploy", "--skip-wrangler", "--dir", dir.to_str().unwrap()], &[], None).await
    }

    fn secrets_file(&self) -> Value {
        let text = std::fs::read_to_string(self.home.path().join("config/secrets/molt.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
}

const FULL_INIT: &[&str] = &[
    "--channels",
    "telegram",
    "--telegram-mode",
    "webhook",
    "--access-team-domain",
    "ada.cloudflareaccess.com",
    "--access-emails",
    "ada@example.com,bob@example.com",
];

#[tokio::test]
async fn deploy_makes_exactly_the_expected_requests_and_a_second_run_changes_nothing() {
    let operator = Operator::new().await;
    assert_success(&operator.init(FULL_INIT).await);
    assert_eq!(operator.fake.calls(), ["GET /user/tokens/verify"], "init checks the token and nothing else");
    operator.fake.clear_requests();
    operator.fake.add_script("molt");

    let first = operator.deploy().await;
    assert_success(&first);
    let account = format!("/accounts/{ACCOUNT}");
    let calls = operator.fake.calls();
    let app_id = operator.fake.state().apps[0]["id"].as_str().unwrap().to_owned();
    let mut expected = vec![
        "GET /user/tokens/verify".to_owned(),
        format!("GET {account}/r2/buckets/molt-data"),
        format!("POST {account}/r2/buckets"),
        "GET /user/tokens/permission_groups".to_owned(),
        "POST /user/tokens".to_owned(),
        format!("GET {account}/workers/subdomain"),
        format!("PUT {account}/workers/subdomain"),
        format!("GET {account}/access/apps"),
        format!("POST {account}/access/apps"),
        format!("GET {account}/access/apps/{app_id}/policies"),
        format!("POST {account}/access/apps/{app_id}/policies"),
        format!("GET {account}/access/organizations"),
        format!("GET {account}/workers/scripts/molt/secrets"),
    ];
    let secret_names = [
        "ANTHROPIC_API_KEY",
        "CF_ACCESS_AUD",
        "MOLTBOT_GATEWAY_TOKEN",
        "MOLT_PROXY_SECRET",
        "R2_ACCESS_KEY_ID",
        "R2_SECRET_ACCESS_KEY",
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_WEBHOOK_SECRET",
    ];
    expected.extend(secret_names.iter().map(|_| format!("PUT {account}/workers/scripts/molt/secrets")));
    expected.push(format!("POST /telegram/bot{TELEGRAM_TOKEN}/setWebhook"));
    assert_eq!(calls, expected);

    let requests = operator.fake.requests();
    for request in &requests {
        if request.path.starts_with("/client/v4") {
            assert_eq!(request.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
        }
    }
    let body = |call: &str| {
        requests
            .iter()
            .find(|r| format!("{} {}", r.method, r.path.replace("/client/v4", "")) == call)
            .unwrap()
            .body
            .clone()
    };
    assert_eq!(body(&format!("POST {account}/r2/buckets")), serde_json::json!({"name": "molt-data"}));
    let token_request = body("POST /user/tokens");
    assert_eq!(token_request["policies"][0]["permission_groups"][0]["id"], R2_GROUP_ID);
    let resource = format!("com.cloudflare.edge.r2.bucket.{ACCOUNT}_default_molt-data");
    assert_eq!(token_request["policies"][0]["resources"][&resource], "*");
    let app = body(&format!("POST {account}/access/apps"));
    assert_eq!(app["type"], "self_hosted");
    let host = "molt.molt-01234567.workers.dev";
    assert_eq!(
        app["destinations"],
        serde_json::json!([{"type": "public", "uri": format!("{host}/_admin")}, {"type": "public", "uri": format!("{host}/api/admin")}])
    );
    let policy = body(&format!("POST {account}/access/apps/{app_id}/policies"));
    assert_eq!(policy["decision"], "allow");
    assert_eq!(policy["include"][1]["email"]["email"], "bob@example.com");

    // The pushed secrets are the local ones (the Cloudflare token stays local), with the
    // R2 secret derived from the created token's value, and the AUD read from the app.
    {
        let state = operator.fake.state();
        let pushed = &state.scripts["molt"];
        assert_eq!(pushed.keys().map(String::as_str).collect::<Vec<_>>(), secret_names);
        let created = &state.tokens[0];
        assert_eq!(pushed["R2_ACCESS_KEY_ID"], created["id"].as_str().unwrap());
        let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(created["value"].as_str().unwrap().as_bytes()));
        assert_eq!(pushed["R2_SECRET_ACCESS_KEY"], digest);
        assert_eq!(pushed["CF_ACCESS_AUD"], state.apps[0]["aud"].as_str().unwrap());
        assert_eq!(pushed["MOLTBOT_GATEWAY_TOKEN"].len(), 64);
        assert_eq!(pushed["MOLT_PROXY_SECRET"].len(), 64, "the Worker proves itself to the gateway with it");
        assert_ne!(pushed["MOLT_PROXY_SECRET"], pushed["MOLTBOT_GATEWAY_TOKEN"]);
        let (webhook, webhook_secret) = state.telegram_webhook.clone().unwrap();
        assert_eq!(webhook, format!("https://{host}/channels/telegram/webhook"));
        assert_eq!(&webhook_secret, &pushed["TELEGRAM_WEBHOOK_SECRET"]);
    }
    assert_eq!(text(&first.stdout), format!("https://{host}/\n"), "stdout carries only the URL");
    let stderr = text(&first.stderr);
    assert!(!stderr.contains("sk-ant-test") && !stderr.contains(TOKEN), "no secret in the output: {stderr}");

    operator.fake.clear_requests();
    let second = operator.deploy().await;
    assert_success(&second);
    assert_eq!(operator.fake.changes(), Vec::<String>::new(), "a second run changes nothing");
    assert!(text(&second.stderr).contains("nothing to change"), "{}", text(&second.stderr));
    assert_eq!(text(&second.stdout), text(&first.stdout));
}

#[tokio::test]
async fn a_failed_deploy_resumes_where_it_stopped() {
    let operator = Operator::new().await;
    assert_success(&operator.init(&[]).await);
    // No Worker yet: the secrets step fails after the bucket, credentials and subdomain are done.
    let failed = operator.deploy().await;
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed.stderr));
    let stderr = text(&failed.stderr);
    assert!(stderr.contains("error: the Worker `molt` does not exist"), "{stderr}");
    assert!(stderr.contains("hint: upload it: run `molt deploy --dir"), "{stderr}");
    assert!(operator.secrets_file().get("R2_ACCESS_KEY_ID").is_some(), "the credentials were kept");

    operator.fake.add_script("molt");
    operator.fake.clear_requests();
    assert_success(&operator.deploy().await);
    let changes = operator.fake.changes();
    assert!(
        changes.iter().all(|call| call.ends_with("/workers/scripts/molt/secrets")),
        "only the secrets were left: {changes:?}"
    );
    // ANTHROPIC_API_KEY, MOLTBOT_GATEWAY_TOKEN, MOLT_PROXY_SECRET, R2_ACCESS_KEY_ID,
    // R2_SECRET_ACCESS_KEY.
    assert_eq!(changes.len(), 5, "{changes:?}");
}

#[tokio::test]
async fn a_wrong_token_fails_with_the_apis_code_and_a_hint() {
    let operator = Operator::new().await;
    let dir = operator.dir();
    let env = [("CLOUDFLARE_ACCOUNT_ID", ACCOUNT), ("CLOUDFLARE_API_TOKEN", "wrong"), ("ANTHROPIC_API_KEY", "k")];
    let output = operator.run(&["init", "--non-interactive", "--dir", dir.to_str().unwrap()], &env, None).await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("Invalid API Token (code 1000)"), "{stderr}");
    assert!(stderr.contains("hint: check `CLOUDFLARE_API_TOKEN`"), "{stderr}");
    assert!(!stderr.contains("wrong"), "the token is never echoed: {stderr}");
    assert!(!dir.join("molt.toml").exists());
}

#[tokio::test]
async fn an_existing_bucket_is_kept_and_a_conflict_is_not_an_error() {
    let operator = Operator::new().await;
    operator.fake.state().buckets.insert("molt-data".into());
    operator.fake.state().subdomain = Some("ada".into());
    operator.fake.add_script("molt");
    assert_success(&operator.init(&[]).await);
    operator.fake.clear_requests();
    let output = operator.deploy().await;
    assert_success(&output);
    let changes = operator.fake.changes();
    assert!(!changes.iter().any(|call| call.contains("r2/buckets") || call.contains("subdomain")), "{changes:?}");
    assert_eq!(text(&output.stdout), "https://molt.ada.workers.dev/\n");
}

#[tokio::test]
async fn secrets_set_list_push_and_token_rotate() {
    let operator = Operator::new().await;
    operator.fake.add_script("molt");
    assert_success(&operator.init(&[]).await);
    let dir = operator.dir();
    let dir = dir.to_str().unwrap();
    assert_success(
        &operator.run(&["secrets", "set", "DISCORD_BOT_TOKEN", "--dir", dir], &[], Some("discord-secret\n")).await,
    );
    assert_eq!(operator.secrets_file()["DISCORD_BOT_TOKEN"], "discord-secret");

    assert_success(&operator.run(&["secrets", "push", "--dir", dir], &[], None).await);
    assert_eq!(operator.fake.state().scripts["molt"]["DISCORD_BOT_TOKEN"], "discord-secret");
    assert!(!operator.fake.state().scripts["molt"].contains_key("CLOUDFLARE_API_TOKEN"));

    let list = operator.run(&["secrets", "list", "--dir", dir], &[], None).await;
    assert_success(&list);
    let listed = text(&list.stdout);
    assert!(listed.contains("DISCORD_BOT_TOKEN\tlocal\tworker"), "{listed}");
    assert!(listed.contains("CLOUDFLARE_API_TOKEN\tlocal\t(local only)"), "{listed}");
    assert!(!listed.contains("discord-secret"));

    let before = operator.fake.state().scripts["molt"]["MOLTBOT_GATEWAY_TOKEN"].clone();
    let rotated = operator.run(&["token", "rotate", "--dir", dir], &[], None).await;
    assert_success(&rotated);
    let after = operator.fake.state().scripts["molt"]["MOLTBOT_GATEWAY_TOKEN"].clone();
    assert_ne!(before, after);
    assert_eq!(operator.secrets_file()["MOLTBOT_GATEWAY_TOKEN"], after.as_str());
    assert!(text(&rotated.stderr).contains("Paired devices stay approved"));
    assert!(!text(&rotated.stderr).contains(&after), "the new token is not printed");

    let shown = operator.run(&["secrets", "get", "MOLTBOT_GATEWAY_TOKEN", "--dir", dir], &[], None).await;
    assert_eq!(text(&shown.stdout).trim(), after);
}

#[test]
fn deploy_without_init_names_the_command_to_run() {
    let home = tempfile::tempdir().unwrap();
    let output = molt().current_dir(home.path()).args(["deploy", "--dir", "nowhere"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("hint: run `molt init --dir nowhere` first"), "{stderr}");
}

#[tokio::test]
async fn access_on_the_whole_host_leaves_the_channel_webhooks_outside() {
    let operator = Operator::new().await;
    operator.fake.add_script("molt");
    let mut args = FULL_INIT.to_vec();
    args.push("--access-whole-host");
    assert_success(&operator.init(&args).await);
    assert_success(&operator.deploy().await);
    let state = operator.fake.state();
    let host = "molt.molt-01234567.workers.dev";
    let admin = state.apps.iter().find(|app| app["name"] == "molt molt admin").unwrap();
    assert_eq!(admin["destinations"], serde_json::json!([{"type": "public", "uri": host}]));
    let channels = state.apps.iter().find(|app| app["name"] == "molt molt channel webhooks").unwrap();
    assert_eq!(channels["destinations"], serde_json::json!([{"type": "public", "uri": format!("{host}/channels")}]));
    let bypass = &state.policies[channels["id"].as_str().unwrap()][0];
    assert_eq!(bypass["decision"], "bypass");
    assert_eq!(bypass["include"], serde_json::json!([{"everyone": {}}]));
    let allow = &state.policies[admin["id"].as_str().unwrap()][0];
    assert_eq!(allow["decision"], "allow");
}

#[tokio::test]
async fn a_missing_node_or_docker_is_explained_with_a_hint() {
    let operator = Operator::new().await;
    operator.fake.add_script("molt");
    assert_success(&operator.init(&[]).await);
    let dir = operator.dir();
    let dir = dir.to_str().unwrap();
    let no_node = operator.run(&["deploy", "--dir", dir], &[("PATH", "")], None).await;
    assert_eq!(no_node.status.code(), Some(1));
    let stderr = text(&no_node.stderr);
    assert!(stderr.contains("error: `npx` was not found: Node.js is needed to run wrangler"), "{stderr}");
    assert!(stderr.contains("hint: install Node.js 20 or newer"), "{stderr}");

    // Node.js but no Docker, and no registry image: the Dockerfile cannot be built.
    let bin = operator.home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("npx"), "#!/bin/sh\nexit 0\n").unwrap();
    let no_docker = operator.run(&["deploy", "--dir", dir], &[("PATH", bin.to_str().unwrap())], None).await;
    assert_eq!(no_docker.status.code(), Some(1));
    let stderr = text(&no_docker.stderr);
    assert!(stderr.contains("wrangler needs a running Docker engine"), "{stderr}");
    assert!(stderr.contains("--image REF"), "{stderr}");
}

#[tokio::test]
async fn npm_ci_installs_from_the_lockfile_without_secrets_and_only_wrangler_gets_the_token() {
    let operator = Operator::new().await;
    operator.fake.add_script("molt");
    assert_success(&operator.init(&[]).await);
    // npm, npx and docker stand-ins that record their arguments and environment.
    let bin = operator.home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let record = |name: &str, then: &str| {
        let out = bin.join(format!("{name}.txt"));
        let script = format!(
            "#!/bin/sh\n{{ echo \"args: $*\"; test -f package-lock.json && echo 'lockfile: present'; env; }} > '{}'\n{then}\n",
            out.display()
        );
        let path = bin.join(name);
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    };
    record("npm", "exit 0");
    record("npx", "echo 'Deployed molt triggers'; echo '  https://molt.ada.workers.dev'");
    record("docker", "exit 0");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let dir = operator.dir();
    let env = [("PATH", path.as_str()), ("CLOUDFLARE_API_TOKEN", TOKEN), ("ANTHROPIC_API_KEY", "sk-ant-in-the-shell")];
    assert_success(&operator.run(&["deploy", "--dir", dir.to_str().unwrap()], &env, None).await);

    let npm = std::fs::read_to_string(bin.join("npm.txt")).expect("npm ran");
    assert!(npm.starts_with("args: ci --no-audit --no-fund --loglevel=error\nlockfile: present\n"), "{npm}");
    for secret in [TOKEN, "sk-ant-in-the-shell", "CLOUDFLARE_API_TOKEN"] {
        assert!(!npm.contains(secret), "the install's environment holds no secret: {npm}");
    }
    assert!(npm.lines().any(|line| line == format!("PATH={path}")), "npm still finds its programs: {npm}");
    let npx = std::fs::read_to_string(bin.join("npx.txt")).expect("wrangler ran");
    assert!(npx.starts_with("args: --no-install wrangler deploy\n"), "the token is never in argv: {npx}");
    assert!(npx.lines().any(|line| line == format!("CLOUDFLARE_API_TOKEN={TOKEN}")), "{npx}");
}
