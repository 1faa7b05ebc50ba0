//! `molt init` as an operator meets it: the non-interactive output and files pinned by
//! snapshots, one interactive run through a pseudo-terminal, the announced keyring fallback,
//! and the completions and man page in `completions/` kept in sync with the CLI.

use crate::support;

use std::path::Path;
use std::process::Output;

use support::process::molt;

const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn init(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    molt()
        .current_dir(home)
        .args(["init", "--non-interactive", "--no-verify", "--dir", "deploy"])
        .args(args)
        .env("MOLT_CONFIG_DIR", home.join("config"))
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn settings(home: &Path) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex_escape(&home.display().to_string()), "[HOME]");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

/// insta's filters are regular expressions; a path is matched literally.
fn regex_escape(text: &str) -> String {
    text.chars().fold(String::new(), |mut out, c| {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

#[test]
fn non_interactive_init_writes_the_pinned_files() {
    let home = tempfile::tempdir().unwrap();
    let env = [
        ("MOLT_SECRET_STORE", "file"),
        ("CLOUDFLARE_ACCOUNT_ID", ACCOUNT),
        ("CLOUDFLARE_API_TOKEN", "cf-token"),
        ("ANTHROPIC_API_KEY", "sk-ant-secret"),
        ("TELEGRAM_BOT_TOKEN", "123:tg-secret"),
        ("SLACK_BOT_TOKEN", "xoxb-secret"),
        ("SLACK_SIGNING_SECRET", "slack-signing-secret"),
    ];
    let args = [
        "--worker-name",
        "assistant",
        "--channels",
        "telegram,slack",
        "--access-team-domain",
        "ada.cloudflareaccess.com",
        "--access-emails",
        "ada@example.com",
        "--model",
        "claude-sonnet-4-5",
    ];
    let output = init(home.path(), &args, &env);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let deploy = home.path().join("deploy");
    let file = |name: &str| std::fs::read_to_string(deploy.join(name)).unwrap();
    settings(home.path()).bind(|| {
        insta::assert_snapshot!("init_stdout", text(&output.stdout));
        insta::assert_snapshot!("init_stderr", text(&output.stderr));
        insta::assert_snapshot!("init_molt_toml", file("molt.toml"));
        insta::assert_snapshot!("init_wrangler_toml", file("wrangler.toml"));
        insta::assert_snapshot!("init_package_json", file("package.json"));
    });
    let everything: String =
        ["molt.toml", "wrangler.toml", "package.json", "worker.js", "Dockerfile"].iter().map(|n| file(n)).collect();
    for (_, secret) in &env[2..] {
        assert!(!everything.contains(secret), "no secret in the deploy folder");
        assert!(!text(&output.stdout).contains(secret) && !text(&output.stderr).contains(secret));
    }
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.path().join("config/secrets/assistant.json")).unwrap())
            .unwrap();
    let token = stored["MOLTBOT_GATEWAY_TOKEN"].as_str().unwrap();
    assert!(token.len() == 64 && token.chars().all(|c| c.is_ascii_hexdigit()), "32 bytes, hex");
    assert_eq!(stored["SLACK_SIGNING_SECRET"], "slack-signing-secret");
    assert!(stored.get("TELEGRAM_WEBHOOK_SECRET").is_some(), "webhook mode gets a secret token");
    let proxy_secret = stored["MOLT_PROXY_SECRET"].as_str().unwrap();
    assert!(proxy_secret.len() == 64 && proxy_secret != token, "the Worker's own secret, apart from the token");

    // A second init keeps the gateway token and the choices made before.
    let again = init(home.path(), &[], &[("MOLT_SECRET_STORE", "file"), ("MOLT_WORKER_NAME", "assistant")]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    let stored_again: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.path().join("config/secrets/assistant.json")).unwrap())
            .unwrap();
    assert_eq!(stored_again["MOLTBOT_GATEWAY_TOKEN"], token);
    assert_eq!(stored_again["MOLT_PROXY_SECRET"], proxy_secret);
    assert!(file("molt.toml").contains("[deploy.channels.slack]"));
}

#[test]
fn non_interactive_init_names_everything_missing_at_once() {
    let home = tempfile::tempdir().unwrap();
    let output =
        init(home.path(), &["--provider", "ai-gateway", "--instance-type", "huge"], &[("MOLT_SECRET_STORE", "file")]);
    assert_eq!(output.status.code(), Some(1));
    settings(home.path()).bind(|| insta::assert_snapshot!("init_missing", text(&output.stderr)));
    assert!(!home.path().join("deploy").exists(), "nothing is written when something is missing");
}

#[test]
fn without_a_keyring_service_secrets_go_to_an_announced_0600_file() {
    let home = tempfile::tempdir().unwrap();
    // No `MOLT_SECRET_STORE` and no D-Bus session in the environment: no Secret Service answers.
    let env = [("CLOUDFLARE_ACCOUNT_ID", ACCOUNT), ("CLOUDFLARE_API_TOKEN", "t"), ("ANTHROPIC_API_KEY", "k")];
    let output = init(home.path(), &[], &env);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    let path = home.path().join("config/secrets/molt.json");
    assert!(stderr.contains("note: no OS keyring service is running"), "{stderr}");
    assert!(stderr.contains(&format!("secrets are kept in `{}` (mode 0600)", path.display())), "{stderr}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    // Once the file exists it is used without probing or announcing again.
    let again = init(home.path(), &[], &env);
    assert!(again.status.success());
    assert!(!text(&again.stderr).contains("no OS keyring"), "{}", text(&again.stderr));
}

/// Writes keys to the terminal at once (rexpect buffers until a flush).
fn type_keys(session: &mut rexpect::session::PtySession, keys: &str) {
    session.send(keys).expect("write to the pty");
    session.flush().expect("flush the pty");
}

#[test]
fn interactive_init_through_a_pseudo_terminal() {
    let home = tempfile::tempdir().unwrap();
    let mut command = molt();
    command
        .current_dir(home.path())
        .args(["init", "--no-verify", "--dir", "deploy"])
        .env("MOLT_CONFIG_DIR", home.path().join("config"))
        .env("MOLT_SECRET_STORE", "file")
        .env("TERM", "dumb");
    let mut session = rexpect::session::spawn_command(command, Some(20_000)).expect("spawn in a pty");
    let enter = "\r";
    session.exp_string("Cloudflare account id").unwrap();
    type_keys(&mut session, &format!("{ACCOUNT}{enter}"));
    session.exp_string("Cloudflare API token").unwrap();
    type_keys(&mut session, &format!("cf-token{enter}"));
    session.exp_string("Worker name").unwrap();
    type_keys(&mut session, enter);
    session.exp_string("Model provider").unwrap();
    type_keys(&mut session, enter);
    session.exp_string("Anthropic API key").unwrap();
    type_keys(&mut session, &format!("sk-ant-typed{enter}"));
    session.exp_string("Sleep after idle").unwrap();
    type_keys(&mut session, enter);
    session.exp_string("Channels").unwrap();
    type_keys(&mut session, " ");
    type_keys(&mut session, enter);
    session.exp_string("goes deaf while it sleeps").unwrap();
    session.exp_string("Telegram mode").unwrap();
    type_keys(&mut session, enter);
    session.exp_string("Telegram DM policy").unwrap();
    type_keys(&mut session, enter);
    session.exp_string("Telegram bot token").unwrap();
    type_keys(&mut session, &format!("123:tg{enter}"));
    session.exp_string("Instance type").unwrap();
    session.exp_string("/month 24/7").unwrap();
    type_keys(&mut session, enter);
    session.exp_string("Access team domain").unwrap();
    type_keys(&mut session, &format!("ada.cloudflareaccess.com{enter}"));
    session.exp_string("Emails allowed").unwrap();
    type_keys(&mut session, &format!("ada@example.com{enter}"));
    session.exp_string("behind Access too").unwrap();
    type_keys(&mut session, "y");
    session.exp_string("next: `molt deploy --dir deploy`").unwrap();
    session.exp_eof().unwrap();

    let toml = std::fs::read_to_string(home.path().join("deploy/molt.toml")).unwrap();
    let config: toml::Value = toml::from_str(&toml).unwrap();
    assert_eq!(config["deploy"]["account_id"].as_str(), Some(ACCOUNT));
    assert_eq!(config["deploy"]["worker_name"].as_str(), Some("molt"));
    assert_eq!(config["deploy"]["instance_type"].as_str(), Some("lite"));
    assert_eq!(config["deploy"]["channels"]["telegram"]["mode"].as_str(), Some("webhook"));
    assert_eq!(config["deploy"]["access"]["emails"][0].as_str(), Some("ada@example.com"));
    assert_eq!(config["deploy"]["access"]["whole_host"].as_bool(), Some(true));
    assert_eq!(config["model"]["provider"].as_str(), Some("anthropic"));
    let stored = std::fs::read_to_string(home.path().join("config/secrets/molt.json")).unwrap();
    assert!(stored.contains("sk-ant-typed") && stored.contains("123:tg") && stored.contains("cf-token"));
}

#[test]
fn completions_and_man_page_match_the_cli() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    let update = std::env::var_os("MOLT_UPDATE_COMPLETIONS").is_some();
    let mut generated = vec![("molt.1".to_owned(), molt().arg("man").output().unwrap())];
    for (shell, file) in [
        ("bash", "molt.bash"),
        ("zsh", "_molt"),
        ("fish", "molt.fish"),
        ("elvish", "molt.elv"),
        ("powershell", "_molt.ps1"),
    ] {
        generated.push((file.to_owned(), molt().args(["completions", shell]).output().unwrap()));
    }
    for (file, output) in generated {
        assert!(output.status.success() && !output.stdout.is_empty(), "{file}: {}", text(&output.stderr));
        let path = folder.join(&file);
        if update {
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::write(&path, &output.stdout).unwrap();
            continue;
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == output.stdout,
            "`completions/{file}` differs from what the CLI generates; regenerate them with \
             `MOLT_UPDATE_COMPLETIONS=1 cargo test --test init completions` and commit the result"
        );
    }
}
