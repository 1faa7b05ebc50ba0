//! Runs the real `molt` binary as a child process with a clean environment, reads the URL it
//! prints, and stops it with a signal.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct GatewayProcess {
    pub child: Child,
    /// The first line printed on stdout.
    pub banner: String,
    /// `127.0.0.1:PORT`
    pub addr: String,
    pub stderr_path: std::path::PathBuf,
}

pub fn molt() -> Command {
    molt_via(&[])
}

/// `molt` run through `wrapper` (e.g. `taskset -c 0`), a program that ends by exec'ing its
/// arguments, so the child's PID is molt's; an empty wrapper runs molt itself.
pub fn molt_via(wrapper: &[&str]) -> Command {
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(env!("CARGO_BIN_EXE_molt"));
            command
        }
        None => Command::new(env!("CARGO_BIN_EXE_molt")),
    };
    command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).env("HOME", "/nonexistent");
    command
}

impl GatewayProcess {
    /// Starts `molt gateway --port 0 --data-dir DIR` with `env` and waits for its banner.
    pub fn start(data_dir: &Path, env: &[(&str, &str)], extra_args: &[&str]) -> Self {
        Self::start_via(&[], data_dir, env, extra_args)
    }

    /// Like `start`, with molt run through `wrapper` (see [`molt_via`]).
    pub fn start_via(wrapper: &[&str], data_dir: &Path, env: &[(&str, &str)], extra_args: &[&str]) -> Self {
        let stderr_path = data_dir.with_extension(format!("stderr-{}.log", rand::random::<u32>()));
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut command = molt_via(wrapper);
        command.args(["gateway", "--port", "0", "--data-dir"]).arg(data_dir).args(extra_args);
        command.envs(env.iter().copied()).stdout(Stdio::piped()).stderr(stderr).stdin(Stdio::null());
        let mut child = command.spawn().expect("spawn molt");
        let stdout = child.stdout.take().unwrap();
        let mut banner = String::new();
        BufReader::new(stdout).read_line(&mut banner).expect("read banner");
        let addr = banner
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| {
                panic!(
                    "no URL in the banner: {banner:?}; stderr: {}",
                    std::fs::read_to_string(&stderr_path).unwrap_or_default()
                )
            })
            .to_owned();
        let process = Self { child, banner, addr, stderr_path };
        process.wait_ready();
        process
    }

    /// Polls `/readyz` with a plain HTTP/1.1 request every millisecond until it answers 200
    /// (15 s at most: with a bucket, the store is restored first); the fine step keeps
    /// start-up measurements honest.
    fn wait_ready(&self) {
        use std::io::{Read, Write};
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(15) {
            if let Ok(mut stream) = std::net::TcpStream::connect(&self.addr) {
                let request = format!("GET /readyz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", self.addr);
                let mut response = String::new();
                if stream.write_all(request.as_bytes()).is_ok()
                    && stream.read_to_string(&mut response).is_ok()
                    && response.starts_with("HTTP/1.1 200")
                {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("molt did not become ready within 15 s; stderr:\n{}", self.stderr());
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn signal(&self, name: &str) {
        let status =
            Command::new("kill").arg(format!("-{name}")).arg(self.child.id().to_string()).status().expect("kill");
        assert!(status.success());
    }

    /// Waits for exit within `bound`; returns the exit status and how long it took.
    pub fn wait_exit(&mut self, bound: Duration) -> (std::process::ExitStatus, Duration) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return (status, started.elapsed());
            }
            if started.elapsed() > bound {
                let _ = self.child.kill();
                panic!("molt did not exit within {bound:?}; stderr:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stderr_path);
    }
}
