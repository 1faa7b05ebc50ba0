//! `molt skills` against a running gateway: add a folder and a `.zip`, list (text and JSON),
//! switch, remove; stdout carries the data, errors end with a `hint:` and exit with 1. Output
//! pinned by snapshots (ports and temporary paths filtered).

use crate::support;

use std::path::Path;
use std::process::Output;

use serde_json::Value;
use support::gateway::{TOKEN, TestGateway};
use support::process::molt;

use super::skills::skill_folder;

async fn skills(gateway: &TestGateway, args: &[&str]) -> Output {
    let mut command = molt();
    command.arg("skills").arg("--url").arg(gateway.http_url("")).args(args).env("MOLT_GATEWAY_TOKEN", TOKEN);
    tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

macro_rules! snapshot {
    ($name:expr, $value:expr, $temp:expr) => {
        let temp = regex_escape($temp);
        insta::with_settings!({filters => vec![
            (temp.as_str(), "[TEMP]"),
            (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
        ]}, {
            insta::assert_snapshot!($name, $value);
        });
    };
}

/// `path` as a regular expression that matches it literally.
fn regex_escape(path: &Path) -> String {
    path.display()
        .to_string()
        .chars()
        .flat_map(|c| if c.is_alphanumeric() || c == '/' { vec![c] } else { vec!['\\', c] })
        .collect()
}

fn ok(output: &Output) {
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(output));
    assert_eq!(stderr(output), "", "nothing on stderr when all went well");
}

#[tokio::test(flavor = "multi_thread")]
async fn add_a_folder_and_a_zip_list_switch_and_remove() {
    let gateway = TestGateway::start(&[]).await;
    let source = tempfile::tempdir().unwrap();
    let weather = skill_folder(source.path(), "weather", "name: weather\ndescription: Forecasts for a city.");
    let added = skills(&gateway, &["add", weather.to_str().unwrap()]).await;
    ok(&added);
    snapshot!("skills_add_folder", stdout(&added), source.path());

    let gated = skill_folder(
        source.path(),
        "transcribe",
        "name: transcribe\ndescription: Transcribes audio.\nmetadata: {\"openclaw\": {\"requires\": {\"bins\": [\"molt-test-no-such-program\"]}}}",
    );
    let zip = source.path().join("transcribe.zip");
    std::fs::write(&zip, molt::core::skills::pack::pack(&gated, &molt::core::skills::Limits::DEFAULT).unwrap())
        .unwrap();
    let added = skills(&gateway, &["add", zip.to_str().unwrap()]).await;
    ok(&added);
    snapshot!("skills_add_zip", stdout(&added), source.path());
    assert!(gateway.data_dir.join("workspace/skills/transcribe/scripts/run.sh").is_file());

    let disabled = skills(&gateway, &["disable", "weather"]).await;
    ok(&disabled);
    assert_eq!(stdout(&disabled), "`weather` is off\n");
    let list = skills(&gateway, &["list"]).await;
    ok(&list);
    snapshot!("skills_list", stdout(&list), source.path());
    let enabled = skills(&gateway, &["enable", "weather"]).await;
    assert_eq!(stdout(&enabled), "`weather` is on: in the prompt\n");

    let json = skills(&gateway, &["list", "--json"]).await;
    ok(&json);
    let parsed: Value = serde_json::from_slice(&json.stdout).unwrap();
    let names: Vec<&str> =
        parsed["skills"].as_array().unwrap().iter().map(|skill| skill["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["transcribe", "weather"]);

    let removed = skills(&gateway, &["remove", "transcribe"]).await;
    ok(&removed);
    assert_eq!(stdout(&removed), "removed `transcribe`\n");
    assert!(!gateway.data_dir.join("workspace/skills/transcribe").exists());
    gateway.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_say_why_and_what_to_do() {
    let gateway = TestGateway::start(&[]).await;
    let source = tempfile::tempdir().unwrap();
    let unknown = skills(&gateway, &["remove", "nothing-here"]).await;
    assert_eq!((unknown.status.code(), stdout(&unknown).as_str()), (Some(1), ""));
    snapshot!("skills_remove_unknown", stderr(&unknown), source.path());

    let mismatched = skill_folder(source.path(), "forecast", "name: weather\ndescription: Forecasts.");
    let refused = skills(&gateway, &["add", mismatched.to_str().unwrap()]).await;
    assert_eq!(refused.status.code(), Some(1));
    snapshot!("skills_add_mismatched", stderr(&refused), source.path());

    let linked = skill_folder(source.path(), "linked", "name: linked\ndescription: Links.");
    std::os::unix::fs::symlink("/etc/passwd", linked.join("passwd")).unwrap();
    let refused = skills(&gateway, &["add", linked.to_str().unwrap()]).await;
    assert_eq!(refused.status.code(), Some(1));
    snapshot!("skills_add_symlink", stderr(&refused), source.path());

    let missing = skills(&gateway, &["add", source.path().join("nowhere").to_str().unwrap()]).await;
    assert_eq!(missing.status.code(), Some(1));
    snapshot!("skills_add_missing", stderr(&missing), source.path());

    let weather = skill_folder(source.path(), "weather", "name: weather\ndescription: Forecasts.");
    ok(&skills(&gateway, &["add", weather.to_str().unwrap()]).await);
    let again = skills(&gateway, &["add", weather.to_str().unwrap()]).await;
    assert_eq!(again.status.code(), Some(1));
    snapshot!("skills_add_twice", stderr(&again), source.path());
    let replaced = skills(&gateway, &["add", "--replace", weather.to_str().unwrap()]).await;
    ok(&replaced);
    assert_eq!(stdout(&replaced), "replaced `weather`: on: in the prompt\n");
    let skills_folder = gateway.data_dir.join("workspace/skills");
    let mut left: Vec<String> = std::fs::read_dir(&skills_folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["weather"], "the refused skills left nothing behind");
    gateway.stop().await.unwrap();
}
