//! The CLI as an operator meets it, pinned as uv pins its own: each case one snapshot of the
//! exit code, stdout and stderr together, from real runs of the binary with a clean
//! environment and no network beyond loopback (a running test gateway, a recording HTTP proxy).
//! Covers the gateway URL resolver and its one token rule, the deprecated URL variables, and
//! the one `NO_COLOR` rule (through a pseudo-terminal).

use crate::support;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use support::client::{Client, ConnectOptions};
use support::gateway::{TOKEN, TestGateway};
use support::process::molt;

/// `success`, `exit_code`, then stdout and stderr, as `uv_snapshot!` lays them out.
fn transcript(output: &Output) -> String {
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    format!(
        "success: {}\nexit_code: {}\n----- stdout -----\n{}\n----- stderr -----\n{}",
        output.status.success(),
        output.status.code().map_or_else(|| "signal".to_owned(), |code| code.to_string()),
        text(&output.stdout),
        text(&output.stderr),
    )
}

async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap()
}

/// insta's filters are regular expressions; a path is matched literally.
fn literal(text: &str) -> String {
    text.chars().fold(String::new(), |mut out, c| {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

/// Snapshots `text` (a transcript) with the given paths, ids, times and keys filtered.
fn snapshot(name: &str, text: &str, paths: &[(&Path, &str)]) {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    for (path, replacement) in paths {
        settings.add_filter(&literal(&path.display().to_string()), *replacement);
    }
    for (pattern, replacement) in [
        (r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "[UUID]"),
        (r"\b[0-9a-f]{64}\b", "[DEVICE-ID]"),
        // The short ids that open the lines of `molt pair list`.
        (r"(?m)^  [0-9a-f]{12}  ", "  [DEVICE]  "),
        (r"(?m)^  [0-9a-f]{8}  ", "  [REQUEST]  "),
        (r#""publicKey": "[A-Za-z0-9_-]+""#, r#""publicKey": "[KEY]""#),
        (r#"("\w+AtMs"): \d+"#, "$1: [MS]"),
        (r"\b\d+ (s|min|h|d)\b", "[N] $1"),
    ] {
        settings.add_filter(pattern, replacement);
    }
    settings.bind(|| insta::assert_snapshot!(name, text));
}

/// Runs `command` and snapshots its transcript.
async fn check(name: &str, command: Command, paths: &[(&Path, &str)]) {
    snapshot(name, &transcript(&run(command).await), paths);
}

/// A device on another machine asks to pair (the test's connection plays the proxy naming it).
async fn remote_request(gateway: &TestGateway) {
    let mut remote = Client::open_with(&gateway.ws_url(), &[("x-forwarded-for", "198.51.100.7")]).await;
    let refusal = remote.handshake(ConnectOptions::new(TOKEN).params(&remote.nonce())).await.unwrap_err();
    assert!(refusal.response.is_some(), "the request is refused until approved");
}

fn pair(gateway: &TestGateway, args: &[&str]) -> Command {
    let mut command = molt();
    command.arg("pair").arg("--url").arg(gateway.http_url("")).args(args).env("MOLT_GATEWAY_TOKEN", TOKEN);
    command
}

#[tokio::test(flavor = "multi_thread")]
async fn pair_lists_approves_and_explains_what_it_cannot_find() {
    let gateway = TestGateway::start(&[("MOLT_TRUSTED_PROXIES", "127.0.0.1")]).await;
    remote_request(&gateway).await;
    check("cli_pair_list", pair(&gateway, &["list"]), &[]).await;
    check("cli_pair_list_json", pair(&gateway, &["list", "--json"]), &[]).await;
    check("cli_pair_approve_unknown", pair(&gateway, &["approve", "zzzz"]), &[]).await;
    gateway.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_deprecated_url_variables_still_work_and_say_so() {
    let gateway = TestGateway::start(&[]).await;
    // `molt tail --gateway`'s old variable held a WebSocket URL: `molt pair` takes its HTTP form.
    let mut command = molt();
    command.args(["pair", "list"]).env("MOLT_GATEWAY_TOKEN", TOKEN).env("MOLT_GATEWAY_URL", gateway.ws_url());
    check("cli_pair_list_molt_gateway_url", command, &[]).await;
    gateway.stop().await.unwrap();

    let home = tempfile::tempdir().unwrap();
    let mut command = molt();
    command.current_dir(home.path()).arg("doctor").env("MOLT_WORKER_URL", "https://molt.example.workers.dev");
    check("cli_doctor_molt_worker_url", command, &[]).await;
}

#[tokio::test]
async fn doctor_with_nothing_configured_says_to_run_init() {
    let home = tempfile::tempdir().unwrap();
    let mut command = molt();
    command.current_dir(home.path()).arg("doctor");
    check("cli_doctor_nothing_configured", command, &[]).await;
}

#[tokio::test]
async fn urls_that_are_not_http_or_websocket_are_refused_before_any_connection() {
    let mut command = molt();
    command.args(["tail", "--gateway", "--url", "ftp://example.invalid"]);
    check("cli_tail_gateway_bad_url", command, &[]).await;
    let mut command = molt();
    command.args(["chat", "--url", "example.invalid:18789"]);
    check("cli_chat_bad_url", command, &[]).await;
}

/// A data directory whose gateway token the CLI may send to loopback URLs only.
fn data_dir_with_token() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gateway-token"), "data-dir-token\n").unwrap();
    dir
}

#[tokio::test]
async fn the_data_directorys_token_is_not_offered_to_a_remote_gateway() {
    let data = data_dir_with_token();
    let paths = [(data.path(), "[DATA]")];
    let mut command = molt();
    command.args(["tail", "--gateway", "--no-follow", "--url", "wss://molt.example.invalid"]);
    command.env("MOLT_DATA_DIR", data.path());
    check("cli_tail_gateway_remote_without_token", command, &paths).await;

    // The online backup asks the gateway that owns the bucket; a bucket must be configured.
    let mut command = molt();
    command.args(["gateway", "backup", "--url", "https://molt.example.invalid", "--data-dir"]).arg(data.path());
    command.envs([
        ("R2_ACCESS_KEY_ID", "key"),
        ("R2_SECRET_ACCESS_KEY", "secret"),
        ("R2_BUCKET_NAME", "bucket"),
        ("CF_ACCOUNT_ID", "account"),
    ]);
    check("cli_backup_remote_without_token", command, &paths).await;

    // `molt chat` may still go there (it pairs as a device), but stops here without a terminal.
    let mut command = molt();
    command.args(["chat", "--url", "http://example.invalid", "--data-dir"]).arg(data.path());
    check("cli_chat_remote_not_a_terminal", command, &paths).await;
}

/// Records the `Authorization` header and host of every request, and answers as a gateway's
/// admin API with no devices. As an HTTP proxy it receives requests for any host, so a run for
/// a remote URL shows what would have left this machine.
async fn recorder() -> (String, Arc<Mutex<Vec<(String, Option<String>)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let router = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let record = Arc::clone(&record);
        async move {
            let header = |name: &str| request.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
            let host_header = header("host").and_then(|host| host.split(':').next().map(str::to_owned));
            let host = request.uri().host().map(str::to_owned).or(host_header).unwrap_or_default();
            record.lock().unwrap().push((host, header("authorization")));
            axum::Json(serde_json::json!({"pending": [], "paired": []}))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_data_directorys_token_goes_to_loopback_urls_only() {
    let data = data_dir_with_token();
    let (proxy, seen) = recorder().await;

    let mut local = molt();
    local.args(["pair", "--url", &proxy, "--data-dir"]).arg(data.path()).arg("list");
    let output = run(local).await;
    assert!(output.status.success(), "{}", transcript(&output));
    assert_eq!(seen.lock().unwrap().pop(), Some(("127.0.0.1".to_owned(), Some("Bearer data-dir-token".to_owned()))));

    for (variable, url) in [("--url", "http://example.invalid"), ("MOLT_URL", "http://molt.example.invalid")] {
        let mut remote = molt();
        remote.args(["pair", "--data-dir"]).arg(data.path()).arg("list");
        remote.env("http_proxy", &proxy).env("HTTP_PROXY", &proxy);
        if variable == "MOLT_URL" {
            remote.env(variable, url);
        } else {
            remote.args([variable, url]);
        }
        let output = run(remote).await;
        assert!(output.status.success(), "{}", transcript(&output));
        let host = url.trim_start_matches("http://").to_owned();
        assert_eq!(seen.lock().unwrap().pop(), Some((host, None)), "no token offered to {url} ({variable})");
    }

    let mut explicit = molt();
    explicit.args(["pair", "--url", "http://example.invalid", "list"]).env("MOLT_GATEWAY_TOKEN", "chosen");
    explicit.env("http_proxy", &proxy).env("HTTP_PROXY", &proxy);
    assert!(run(explicit).await.status.success());
    let sent = seen.lock().unwrap().pop();
    assert_eq!(sent, Some(("example.invalid".to_owned(), Some("Bearer chosen".to_owned()))), "the user's choice");
}

#[tokio::test]
async fn completions_read_through_head_end_quietly() {
    let mut command = Command::new("bash");
    command
        .args(["-c", r#"set -o pipefail; "$0" completions bash | head -1"#, env!("CARGO_BIN_EXE_molt")])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    check("cli_completions_bash_head", command, &[]).await;
}

#[tokio::test]
async fn print_config_names_every_setting_and_its_source() {
    let data = tempfile::tempdir().unwrap();
    let mut command = molt();
    command.args(["gateway", "--print-config", "--data-dir"]).arg(data.path()).env("MOLT_PORT", "18999");
    check("cli_gateway_print_config", command, &[(data.path(), "[DATA]")]).await;
}

/// Runs `molt doctor` in a pseudo-terminal, so stderr is a terminal, with `NO_COLOR` as given;
/// escape sequences are shown as `\e`.
fn doctor_in_a_terminal(no_color: Option<&str>) -> String {
    let home = tempfile::tempdir().unwrap();
    let mut command = molt();
    command.current_dir(home.path()).arg("doctor").env("TERM", "xterm");
    if let Some(value) = no_color {
        command.env("NO_COLOR", value);
    }
    let mut session = rexpect::session::spawn_command(command, Some(20_000)).expect("spawn in a pty");
    let text = session.exp_eof().expect("doctor ends");
    text.replace("\r\n", "\n").replace('\x1b', "\\e")
}

#[tokio::test]
async fn no_color_set_and_not_empty_turns_colour_off() {
    let runs = tokio::task::spawn_blocking(|| {
        [None, Some(""), Some("1")].map(|no_color| (no_color, doctor_in_a_terminal(no_color)))
    })
    .await
    .unwrap();
    let text = runs
        .iter()
        .map(|(no_color, text)| format!("----- NO_COLOR={no_color:?} -----\n{text}"))
        .collect::<Vec<_>>()
        .join("\n");
    snapshot("cli_no_color_on_a_terminal", &text, &[]);
}
