//! Running one approved command: `sh -c <command>` in a folder of the workspace, with a clean
//! environment (`PATH`, `HOME` = the workspace, `LANG`; none of the gateway's keys or tokens),
//! in a process group of its own, its output captured up to a cap. The whole group is killed
//! when the command ends (nothing it started in the background outlives it), when it runs past
//! its time limit, and when the call is dropped (`chat.abort`): [`Group`]'s drop does it.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};

/// Output kept of each stream; the rest is read and counted, so the command never blocks on a
/// full pipe.
pub const MAX_STREAM_BYTES: usize = 32 * 1024;
/// How long the output may still arrive after the command ended and its group was killed (a
/// process that left the group may hold the pipe open).
const DRAIN_GRACE: Duration = Duration::from_secs(1);
pub const SHELL: &str = "/bin/sh";
/// `PATH` when the gateway has none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Exited(i32),
    Signalled(i32),
    TimedOut(Duration),
}

/// One stream's captured output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    pub bytes: Vec<u8>,
    /// Everything the command wrote to the stream, kept or not.
    pub total: u64,
}

impl Captured {
    fn keep(&mut self, chunk: &[u8]) {
        let room = MAX_STREAM_BYTES.saturating_sub(self.bytes.len());
        self.bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        self.total += chunk.len() as u64;
    }

    /// The text, with a note when some was left out.
    pub fn text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.bytes).into_owned();
        if self.total > self.bytes.len() as u64 {
            text.push_str(&format!(
                "\n[cut: {} bytes were written; only the first {} are shown]",
                self.total,
                self.bytes.len()
            ));
        }
        text
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub ending: Ending,
    pub stdout: Captured,
    pub stderr: Captured,
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("the command could not start: {0}")]
pub struct SpawnError(#[from] std::io::Error);

/// The environment a command gets, and nothing else.
pub fn environment(home: &Path) -> Vec<(&'static str, String)> {
    let path = std::env::var("PATH").ok().filter(|path| !path.is_empty()).unwrap_or_else(|| DEFAULT_PATH.into());
    let lang = std::env::var("LANG").ok().filter(|lang| !lang.is_empty()).unwrap_or_else(|| "C.UTF-8".into());
    vec![("PATH", path), ("HOME", home.display().to_string()), ("LANG", lang)]
}

/// A command's process group, killed (SIGKILL to every member) on [`Group::kill`] and on drop.
struct Group(Option<rustix::process::Pid>);

impl Group {
    fn kill(&mut self) {
        if let Some(group) = self.0.take() {
            // Gone already (every member exited) is the usual answer, and fine.
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads `reader` to its end into `captured`.
async fn capture(reader: Option<impl AsyncRead + Unpin>, captured: &mut Captured) {
    let Some(mut reader) = reader else { return };
    let mut chunk = vec![0; 8192];
    while let Ok(read @ 1..) = reader.read(&mut chunk).await {
        captured.keep(&chunk[..read]);
    }
}

/// Runs `command` in `cwd` with `home` as `HOME`; `limit` bounds its run. `started` is told the
/// moment the process exists.
pub async fn run(
    command: &str,
    cwd: &Path,
    home: &Path,
    limit: Duration,
    started: impl FnOnce(),
) -> Result<Finished, SpawnError> {
    let mut shell = tokio::process::Command::new(SHELL);
    shell
        .arg("-c")
        .arg(command)
        .current_dir(cwd)
        .env_clear()
        .envs(environment(home))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so one signal reaches everything it starts; the shell leads it.
        .process_group(0)
        .kill_on_drop(true);
    let begun = Instant::now();
    let mut child = shell.spawn()?;
    let mut group = Group(child.id().and_then(|id| rustix::process::Pid::from_raw(i32::try_from(id).ok()?)));
    started();
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let (mut out, mut err) = (Captured::default(), Captured::default());
    let ending = {
        let reading = async { tokio::join!(capture(stdout, &mut out), capture(stderr, &mut err)) };
        let waiting = tokio::time::timeout(limit, child.wait());
        tokio::pin!(reading, waiting);
        let mut read = false;
        let waited = loop {
            tokio::select! {
                waited = &mut waiting => break waited,
                _ = &mut reading, if !read => read = true,
            }
        };
        // The shell has been reaped (or is past its time): its group goes now. The group id is
        // the shell's pid, which the kernel does not hand out again while the group has a
        // member, and only after cycling through every other pid once it has none.
        group.kill();
        if !read {
            let _ = tokio::time::timeout(DRAIN_GRACE, &mut reading).await;
        }
        match waited {
            Ok(Ok(status)) => ending(status),
            Ok(Err(error)) => return Err(SpawnError(error)),
            Err(_) => Ending::TimedOut(limit),
        }
    };
    if let Ending::TimedOut(_) = ending {
        // Killed with its group above; reap it here rather than leave it to the runtime.
        let _ = tokio::time::timeout(DRAIN_GRACE, child.wait()).await;
    }
    Ok(Finished { ending, stdout: out, stderr: err, elapsed: begun.elapsed() })
}

fn ending(status: ExitStatus) -> Ending {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => Ending::Exited(code),
        (None, Some(signal)) => Ending::Signalled(signal),
        (None, None) => Ending::Exited(-1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sh(command: &str, limit: Duration) -> Finished {
        let dir = tempfile::tempdir().unwrap();
        run(command, dir.path(), dir.path(), limit, || {}).await.unwrap()
    }

    #[tokio::test]
    async fn output_and_exit_code_are_captured() {
        let finished = sh("echo out; echo err >&2; exit 3", Duration::from_secs(10)).await;
        assert_eq!(finished.ending, Ending::Exited(3));
        assert_eq!(finished.stdout.text(), "out\n");
        assert_eq!(finished.stderr.text(), "err\n");
    }

    #[tokio::test]
    async fn long_output_is_cut_with_a_note_and_never_blocks_the_command() {
        let finished = sh("head -c 200000 /dev/zero | tr '\\0' x; echo done >&2", Duration::from_secs(10)).await;
        assert_eq!(finished.ending, Ending::Exited(0));
        assert_eq!(finished.stdout.bytes.len(), MAX_STREAM_BYTES);
        assert_eq!(finished.stdout.total, 200_000);
        assert!(finished.stdout.text().ends_with("[cut: 200000 bytes were written; only the first 32768 are shown]"));
        assert_eq!(finished.stderr.text(), "done\n");
    }

    #[tokio::test]
    async fn the_environment_is_only_path_home_and_lang() {
        let dir = tempfile::tempdir().unwrap();
        let finished = run("env", dir.path(), dir.path(), Duration::from_secs(10), || {}).await.unwrap();
        let mut names: Vec<String> = finished
            .stdout
            .text()
            .lines()
            .filter_map(|line| line.split_once('=').map(|(name, _)| name.to_owned()))
            .collect();
        names.sort();
        // `sh` itself adds `PWD` (and some shells `SHLVL`, `_`, `OLDPWD`).
        names.retain(|name| !["PWD", "SHLVL", "_", "OLDPWD"].contains(&name.as_str()));
        assert_eq!(names, ["HOME", "LANG", "PATH"]);
        assert!(finished.stdout.text().contains(&format!("HOME={}", dir.path().display())));
    }

    #[tokio::test]
    async fn a_background_child_does_not_outlive_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let command = format!("sleep 100 & echo $! > {}", pid_file.display());
        let finished = run(&command, dir.path(), dir.path(), Duration::from_secs(10), || {}).await.unwrap();
        assert_eq!(finished.ending, Ending::Exited(0));
        let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
        assert!(gone(pid).await, "the background sleep was killed with the group");
    }

    /// Whether `pid` is gone (or a zombie waiting for its parent), within a few seconds.
    pub async fn gone(pid: i32) -> bool {
        for _ in 0..300 {
            match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                Err(_) => return true,
                Ok(stat) if stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')) => {
                    return true;
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
        false
    }

    #[tokio::test]
    async fn a_timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        let command = format!("sleep 100 & echo $! > {0}; sleep 100 & echo $! >> {0}; wait", pids.display());
        let finished = run(&command, dir.path(), dir.path(), Duration::from_millis(500), || {}).await.unwrap();
        assert_eq!(finished.ending, Ending::TimedOut(Duration::from_millis(500)));
        let listed = std::fs::read_to_string(&pids).unwrap();
        let pids: Vec<i32> = listed.lines().map(|line| line.trim().parse().unwrap()).collect();
        assert_eq!(pids.len(), 2);
        for pid in pids {
            assert!(gone(pid).await, "sleep {pid} survived the timeout");
        }
    }

    #[tokio::test]
    async fn dropping_the_call_kills_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let command = format!("sleep 100 & echo $! > {}; wait", pid_file.display());
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let running = run(&command, dir.path(), dir.path(), Duration::from_secs(60), move || {
            let _ = started_tx.send(());
        });
        tokio::select! {
            _ = running => panic!("the command ended by itself"),
            () = async {
                started_rx.await.unwrap();
                while std::fs::read_to_string(&pid_file).map_or(true, |text| !text.ends_with('\n')) {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            } => {}
        }
        let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
        assert!(gone(pid).await, "the sleep was killed when the call was dropped");
    }
}
