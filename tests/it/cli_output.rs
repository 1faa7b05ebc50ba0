//! Stdout closed by its reader (`molt completions bash | head -1`): the command exits quietly
//! with status 0, on a real pipe whose read end is closed before the command writes.

use crate::support;

use std::process::{Command, Output};

use support::gateway::{TOKEN, TestGateway};
use support::process::molt;

/// Runs `command` with stdout on a pipe nobody reads any more.
fn with_closed_stdout(mut command: Command) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    command.stdout(writer).stderr(std::process::Stdio::piped());
    command.output().unwrap()
}

fn assert_quiet_success(output: &Output) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!((output.status.code(), stderr.as_ref()), (Some(0), ""), "exit quietly with status 0");
}

#[test]
fn completions_and_the_man_page_exit_quietly_when_the_reader_left() {
    for args in [&["completions", "bash"][..], &["man"]] {
        let mut command = molt();
        command.args(args);
        assert_quiet_success(&with_closed_stdout(command));
    }
}

#[tokio::test]
async fn pair_list_exits_quietly_when_the_reader_left() {
    let gateway = TestGateway::start(&[]).await;
    for json in [false, true] {
        let mut command = molt();
        command.args(["pair", "--url", &gateway.http_url(""), "list"]).env("MOLT_GATEWAY_TOKEN", TOKEN);
        if json {
            command.arg("--json");
        }
        let output = tokio::task::spawn_blocking(move || with_closed_stdout(command)).await.unwrap();
        assert_quiet_success(&output);
    }
    gateway.stop().await.unwrap();
}
