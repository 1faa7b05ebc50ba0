//! Drives a program in tmux on a private server socket: a fixed-size window, keys sent with
//! `send-keys`, the screen read with `capture-pane`, bounded waits. The server is killed on
//! drop, so a failing test leaves no session behind.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub struct Tmux {
    /// The server's socket, in a directory removed with it.
    socket: std::path::PathBuf,
    session: String,
    _dir: tempfile::TempDir,
}

fn tmux(socket: &std::path::Path, args: &[&str]) -> Output {
    let mut command = Command::new("tmux");
    command.arg("-S").arg(socket).args(["-f", "/dev/null"]).args(args).output().expect("run tmux")
}

/// Quotes a value for `sh`.
pub fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

impl Tmux {
    /// Starts `command` (a shell command line) in a detached `width`×`height` window.
    pub fn start(width: u16, height: u16, command: &str) -> Self {
        let dir = tempfile::Builder::new().prefix("molt-tmux").tempdir_in("/tmp").expect("socket directory");
        let tmux = Self { socket: dir.path().join("socket"), session: "chat".to_owned(), _dir: dir };
        let (width, height) = (width.to_string(), height.to_string());
        let output = tmux.run(&["new-session", "-d", "-s", &tmux.session, "-x", &width, "-y", &height, command]);
        assert!(output.status.success(), "tmux new-session: {}", String::from_utf8_lossy(&output.stderr));
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        tmux(&self.socket, args)
    }

    /// The visible screen as text.
    pub fn capture(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", &self.session]).stdout).into_owned()
    }

    /// `send-keys` with tmux key names (`Enter`, `Tab`, `C-c`) or literal text with `-l`.
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.session];
        args.extend_from_slice(keys);
        assert!(self.run(&args).status.success(), "tmux send-keys {keys:?}");
    }

    pub fn type_text(&self, text: &str) {
        assert!(self.run(&["send-keys", "-t", &self.session, "-l", text]).status.success());
    }

    /// The pid of the pane's first process (the shell running the command).
    pub fn pane_pid(&self) -> u32 {
        let output = self.run(&["list-panes", "-t", &self.session, "-F", "#{pane_pid}"]);
        String::from_utf8_lossy(&output.stdout).trim().parse().expect("pane pid")
    }

    /// Resizes the window, as a user dragging the terminal's corner would.
    pub fn resize(&self, width: u16, height: u16) {
        let (width, height) = (width.to_string(), height.to_string());
        assert!(self.run(&["resize-window", "-t", &self.session, "-x", &width, "-y", &height]).status.success());
    }

    /// Polls the screen until `done` holds, at most `bound`; panics with the last screen.
    pub async fn wait_until(&self, what: &str, bound: Duration, done: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let screen = self.capture();
            if done(&screen) {
                return screen;
            }
            if started.elapsed() > bound {
                panic!("waited {bound:?} for {what}; the screen:\n{screen}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_for(&self, needle: &str, bound: Duration) -> String {
        self.wait_for_all(&[needle], bound).await
    }

    /// Waits until every needle is on screen at once: a frame may be captured half drawn.
    pub async fn wait_for_all(&self, needles: &[&str], bound: Duration) -> String {
        self.wait_until(&format!("{needles:?}"), bound, |screen| needles.iter().all(|needle| screen.contains(needle)))
            .await
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}
