//! `molt chat` end to end: the real binary in tmux against the in-process gateway and the fake
//! model. It types a message, reads the streamed reply off the screen, approves a second
//! device that asks to pair, waits for approval itself, and leaves the terminal as it found it.

use crate::support;

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use support::client::{Client, ConnectOptions};
use support::fake_anthropic::{FakeAnthropic, Reply};
use support::gateway::{TOKEN, TestGateway};
use support::tmux::{Tmux, quote};

const WAIT: Duration = Duration::from_secs(20);
/// A remote client: the proxy header makes the gateway treat it as not local.
const REMOTE: [(&str, &str); 1] = [("x-forwarded-for", "198.51.100.7")];

/// `molt chat` in a 110×32 window; after it exits the shell reports its status and the
/// terminal mode, then idles so the screen can be read.
fn start_chat(url: &str, config: &Path, token: Option<&str>) -> Tmux {
    let mut env = format!(
        "env -i PATH=/usr/bin:/bin HOME={home} XDG_CONFIG_HOME={config} TERM=xterm-256color",
        home = quote(&config.display().to_string()),
        config = quote(&config.display().to_string()),
    );
    if let Some(token) = token {
        env.push_str(&format!(" MOLT_GATEWAY_TOKEN={}", quote(token)));
    }
    let binary = quote(env!("CARGO_BIN_EXE_molt"));
    let script = format!(
        "{env} {binary} chat --url {url}; echo \"molt chat exited $?\"; stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo; echo 'end of modes'; sleep 120"
    );
    Tmux::start(110, 32, &format!("sh -c {}", quote(&script)))
}

fn slow_reply() -> Reply {
    let words = "Molting is how a lobster grows: it sheds the old shell and hardens a new one.";
    Reply::Slow { chunks: words.split_inclusive(' ').map(str::to_owned).collect(), delay_ms: 250 }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_streams_a_reply_approves_a_device_and_restores_the_terminal() {
    let fake = FakeAnthropic::start().await;
    fake.push(slow_reply());
    // The remote device's connection comes through a reverse proxy (the test) that names it.
    let gateway = TestGateway::builder().model(&fake).env("MOLT_TRUSTED_PROXIES", "127.0.0.1").start().await;
    let config = tempfile::tempdir().unwrap();
    let tmux = start_chat(&gateway.http_url(""), config.path(), Some(TOKEN));
    tmux.wait_for("● connected", WAIT).await;

    tmux.type_text("How do lobsters grow?");
    tmux.keys(&["Enter"]);
    let partial = tmux.wait_for("streaming · Esc aborts", WAIT).await;
    assert!(partial.contains("How do lobsters grow?"), "{partial}");
    // The reply names its model and its tokens; the status bar adds them up with a cost.
    let done =
        tmux.wait_for_all(&["hardens a new one.", "assistant · claude-sonnet-4-5 · ", "tokens · ~$"], WAIT).await;
    assert!(!done.contains("streaming · Esc"), "{done}");

    // A second device asks to pair from a remote-looking address and waits on its connect.
    let (mut waiting, _) = Client::connect_waiting(&gateway.ws_url(), &REMOTE, &ConnectOptions::new(TOKEN)).await;

    tmux.wait_for_all(&["Approvals (1)", "device molt-test", "linux · 198.51.100.7"], WAIT).await;
    tmux.keys(&["Tab", "Tab"]);
    tmux.keys(&["a"]);
    tmux.wait_for("Approve device molt-test?", WAIT).await;
    tmux.keys(&["y"]);
    let hello = waiting.recv_json().await.unwrap();
    assert_eq!((hello["id"].as_str(), hello["ok"].as_bool()), (Some("c1"), Some(true)), "{hello}");
    let approved = tmux
        .wait_until("the approval", WAIT, |screen| {
            screen.contains("approved molt-test") && screen.contains("none waiting")
        })
        .await;
    assert!(!approved.contains(TOKEN), "the token never reaches the screen");

    tmux.keys(&["C-c"]);
    let after = tmux.wait_for("end of modes", WAIT).await;
    assert!(after.contains("molt chat exited 0"), "{after}");
    let modes: Vec<&str> =
        after.lines().map(str::trim).filter(|line| line.ends_with("icanon") || line.ends_with("echo")).collect();
    assert_eq!(modes, ["icanon", "echo"], "the terminal is back in cooked mode with echo:\n{after}");
    assert!(!after.contains("Sessions"), "the alternate screen is gone:\n{after}");

    let identity = config.path().join("molt/identity.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [identity.clone(), config.path().join("molt/device-tokens.json")] {
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", file.display());
        }
    }
    drop(tmux);
    gateway.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn esc_aborts_a_reply_new_sessions_resizes_and_sigterm_restores_the_terminal() {
    let fake = FakeAnthropic::start().await;
    let chunks = (0..60).map(|n| format!("word{n} ")).collect();
    fake.push(Reply::Slow { chunks, delay_ms: 200 });
    let gateway = TestGateway::builder().model(&fake).start().await;
    let config = tempfile::tempdir().unwrap();
    let tmux = start_chat(&gateway.http_url(""), config.path(), Some(TOKEN));
    tmux.wait_for("● connected", WAIT).await;
    tmux.type_text("Count slowly");
    tmux.keys(&["Enter"]);
    tmux.wait_for("word1 ", WAIT).await;
    tmux.keys(&["Escape"]);
    let aborted = tmux.wait_for("assistant · aborted", WAIT).await;
    assert!(!aborted.contains("word59"), "the reply stopped early: {aborted}");

    tmux.resize(60, 16);
    // The redraw follows the resize: wait for the narrow layout itself, not just a cleared screen.
    tmux.wait_until("the narrow layout", WAIT, |screen| screen.contains("Message") && !screen.contains("Sessions"))
        .await;
    tmux.resize(110, 32);
    tmux.wait_for("Sessions", WAIT).await;

    tmux.keys(&["C-n"]);
    // The old session stays listed; the new one starts empty.
    let fresh = tmux.wait_for_all(&["› tui-", "  Main", "Type a message"], WAIT).await;
    assert!(!fresh.contains("Count slowly"), "{fresh}");
    tmux.keys(&["M-Down"]);
    tmux.wait_for("Count slowly", WAIT).await;

    // SIGTERM (as from `kill`) leaves like Ctrl+C: the terminal is restored.
    let shell = tmux.pane_pid();
    let children = std::process::Command::new("pgrep").args(["-P", &shell.to_string()]).output().unwrap();
    let chat = String::from_utf8_lossy(&children.stdout).trim().to_owned();
    assert!(!chat.is_empty(), "molt chat runs under the pane's shell");
    assert!(std::process::Command::new("kill").args(["-TERM", &chat]).status().unwrap().success());
    let after = tmux.wait_for("end of modes", WAIT).await;
    assert!(after.contains("molt chat exited 0") && after.contains("icanon"), "{after}");
    assert!(!after.contains("-icanon"), "{after}");
    drop(tmux);
    gateway.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_waits_for_its_own_approval_and_connects_the_moment_it_is_given() {
    let gateway = TestGateway::start(&[("MOLT_LOOPBACK_AUTO_APPROVE", "false")]).await;
    let config = tempfile::tempdir().unwrap();
    let tmux = start_chat(&gateway.http_url(""), config.path(), Some(TOKEN));
    tmux.wait_for_all(&["Waiting for approval", "hint: on the gateway's machine run `molt pair approve"], WAIT).await;

    let mut options = ConnectOptions::new(TOKEN).scopes(&["operator.admin"]);
    options.identity = None;
    let (mut admin, _) = Client::connect(&gateway.ws_url(), &options).await.unwrap();
    let pending = admin.call("device.pair.list", json!({})).await["pending"].clone();
    assert_eq!(pending[0]["clientId"], "molt-tui");
    admin.call("device.pair.approve", json!({"requestId": pending[0]["requestId"]})).await;
    tmux.wait_for("● connected", WAIT).await;
    drop(tmux);
    gateway.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_gateway_and_a_wrong_token_get_a_screen_with_a_hint() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let config = tempfile::tempdir().unwrap();
    let tmux = start_chat(&dead, config.path(), Some(TOKEN));
    tmux.wait_for_all(&["Cannot reach the gateway", "hint: start it with `molt gateway`"], WAIT).await;
    drop(tmux);

    let gateway = TestGateway::start(&[]).await;
    let tmux = start_chat(&gateway.http_url(""), config.path(), Some("not-the-token"));
    let screen = tmux.wait_for_all(&["The gateway refused the token", "hint: set `MOLT_GATEWAY_TOKEN`"], WAIT).await;
    assert!(!screen.contains("not-the-token"));
    drop(tmux);
    gateway.stop().await.unwrap();
}

#[test]
fn without_a_terminal_or_with_a_bad_url_it_exits_1_with_a_hint() {
    let config = tempfile::tempdir().unwrap();
    let run = |url: &str| {
        let mut command = support::process::molt();
        command.args(["chat", "--url", url]).env("XDG_CONFIG_HOME", config.path());
        command.stdin(std::process::Stdio::null()).output().unwrap()
    };
    let piped = run("http://127.0.0.1:9");
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert_eq!(piped.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error: `molt chat` needs a terminal"), "{stderr}");
    assert!(stderr.contains("hint: run `molt chat` in a terminal"), "{stderr}");
    let bad = run("ftp://example.com");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is not an http, https, ws or wss URL"), "{stderr}");
}
