//! Skills through the admin API: an added skill is listed in the exact system prompt the model
//! receives, a switched-off one leaves it, a removed one leaves the workspace; a skill whose
//! requirements are missing is not offered and the API says why; every change is audited; and
//! each bad archive is refused with its reason and nothing written.

use crate::support;

use std::io::Write;
use std::path::Path;

use molt::core::skills::Limits;
use molt::core::skills::pack::pack;
use rawzip::path::EntryPath;
use rawzip::{CompressionMethod, ZipArchiveWriter};
use serde_json::{Value, json};
use support::client::{Client, ConnectOptions};
use support::fake_anthropic::FakeAnthropic;
use support::gateway::{TOKEN, TestGateway};

fn api(gateway: &TestGateway, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new().request(method, gateway.http_url(path)).bearer_auth(TOKEN)
}

async fn json_of(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or_default())
}

async fn add(gateway: &TestGateway, archive: Vec<u8>) -> (u16, Value) {
    json_of(
        api(gateway, reqwest::Method::POST, "/api/admin/skills")
            .header("content-type", "application/zip")
            .body(archive),
    )
    .await
}

/// A skill folder `<parent>/<name>` with `SKILL.md` made of `front` and a script beside it.
pub fn skill_folder(parent: &Path, name: &str, front: &str) -> std::path::PathBuf {
    let folder = parent.join(name);
    std::fs::create_dir_all(folder.join("scripts")).unwrap();
    std::fs::write(folder.join("SKILL.md"), format!("---\n{front}\n---\n\n# {name}\n\n1. Run `scripts/run.sh`.\n"))
        .unwrap();
    std::fs::write(folder.join("scripts/run.sh"), "echo hi\n").unwrap();
    folder
}

fn zipped(parent: &Path, name: &str, front: &str) -> Vec<u8> {
    pack(&skill_folder(parent, name, front), &Limits::DEFAULT).unwrap()
}

/// An archive of raw entries: any path bytes, any Unix mode.
fn raw_zip(entries: &[(&[u8], &[u8], Option<u32>)]) -> Vec<u8> {
    let mut output = Vec::new();
    let mut archive = ZipArchiveWriter::new(&mut output);
    for (path, bytes, mode) in entries {
        let mut builder =
            archive.new_file(EntryPath::verbatim(path.to_vec())).compression_method(CompressionMethod::DEFLATE);
        if let Some(mode) = mode {
            builder = builder.unix_permissions(*mode);
        }
        let (mut entry, config) = builder.start().unwrap();
        let mut writer = config.wrap(flate2::write::DeflateEncoder::new(&mut entry, flate2::Compression::default()));
        writer.write_all(bytes).unwrap();
        let (encoder, descriptor) = writer.finish().unwrap();
        encoder.finish().unwrap();
        entry.finish(descriptor).unwrap();
    }
    archive.finish().unwrap();
    output
}

/// The system prompt of the model's `index`th request.
fn system_of(fake: &FakeAnthropic, index: usize) -> String {
    let requests = fake.requests();
    requests[index].body["system"][0]["text"].as_str().unwrap().to_owned()
}

async fn chat(gateway: &TestGateway, message: &str) {
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap();
    let key = format!("{:032x}", rand::random::<u128>());
    let ack = client.call("chat.send", json!({"sessionKey": "main", "message": message, "idempotencyKey": key})).await;
    let events = client.chat_run(ack["runId"].as_str().unwrap()).await;
    assert_eq!(events.last().unwrap()["state"], "final");
    client.close().await;
}

const WEATHER: &str = "name: weather\ndescription: >\n  Forecasts for a city: today, tomorrow\n  and the week.";

const SECTION: &str = "\n\n## Skills\n\nSkills are instructions for particular tasks, kept in the workspace. \
When a request matches a skill's description, read its file with `read_file` first and follow it; paths it \
names are relative to its folder.\n\n- weather (skills/weather/SKILL.md): Forecasts for a city: today, \
tomorrow and the week.";

#[tokio::test]
async fn an_added_skill_reaches_the_prompt_until_it_is_switched_off_and_removed() {
    let fake = FakeAnthropic::start().await;
    let gateway = TestGateway::builder().model(&fake).start().await;
    let source = tempfile::tempdir().unwrap();
    let (code, added) = add(&gateway, zipped(source.path(), "weather", WEATHER)).await;
    assert_eq!(code, 200, "{added}");
    assert_eq!(added["replaced"], false);
    assert_eq!(
        added["skill"],
        json!({"name": "weather", "description": "Forecasts for a city: today, tomorrow and the week.",
               "path": "skills/weather/SKILL.md", "enabled": true, "usable": true, "listed": true})
    );
    let installed = gateway.data_dir.join("workspace/skills/weather");
    assert_eq!(std::fs::read_to_string(installed.join("scripts/run.sh")).unwrap(), "echo hi\n");

    chat(&gateway, "what will the weather be?").await;
    let system = system_of(&fake, 0);
    assert!(system.starts_with("You are a personal assistant running on molt"), "{system}");
    assert!(system.ends_with(SECTION), "the exact listing ends the system prompt:\n{system}");

    let (code, listed) = json_of(api(&gateway, reqwest::Method::GET, "/api/admin/skills")).await;
    assert_eq!(code, 200);
    assert_eq!(listed["promptBytes"], SECTION.len());
    assert_eq!(listed["limits"], json!({"listed": 100, "listingBytes": 32768, "descriptionBytes": 300}));

    let put = |enabled: bool| {
        api(&gateway, reqwest::Method::PUT, "/api/admin/skills/weather").json(&json!({"enabled": enabled}))
    };
    let (code, off) = json_of(put(false)).await;
    assert_eq!((code, off["enabled"].as_bool(), off["listed"].as_bool()), (200, Some(false), Some(false)));
    chat(&gateway, "and tomorrow?").await;
    assert!(!system_of(&fake, 1).contains("## Skills"), "a switched-off skill leaves the prompt");

    let (code, removed) = json_of(api(&gateway, reqwest::Method::DELETE, "/api/admin/skills/weather")).await;
    assert_eq!((code, removed), (200, json!({"ok": true, "name": "weather"})));
    assert!(!installed.exists());
    assert_eq!(json_of(api(&gateway, reqwest::Method::DELETE, "/api/admin/skills/weather")).await.0, 404);
    assert_eq!(json_of(put(true)).await.0, 404);

    let (_, audit) = json_of(api(&gateway, reqwest::Method::GET, "/api/admin/audit")).await;
    let actions: Vec<(String, String, String)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["action"].as_str().unwrap().starts_with("skill."))
        .map(|entry| {
            let field = |name: &str| entry[name].as_str().unwrap_or_default().to_owned();
            (field("action"), field("target"), field("detail"))
        })
        .collect();
    let bytes = added_bytes(source.path().join("weather").as_path());
    assert_eq!(
        actions,
        [
            ("skill.remove".into(), "weather".into(), "folder removed".into()),
            ("skill.disable".into(), "weather".into(), "usable".into()),
            ("skill.add".into(), "weather".into(), format!("2 file(s), {bytes} bytes")),
        ]
    );
    gateway.stop().await.unwrap();
}

fn added_bytes(folder: &Path) -> u64 {
    ["SKILL.md", "scripts/run.sh"].iter().map(|file| std::fs::metadata(folder.join(file)).unwrap().len()).sum()
}

#[tokio::test]
async fn a_switched_off_skill_stays_off_after_a_restart_and_a_replaced_one_keeps_its_switch() {
    let dir = tempfile::tempdir().unwrap();
    let source = tempfile::tempdir().unwrap();
    let first = TestGateway::start_in(dir.path(), &[]).await;
    assert_eq!(add(&first, zipped(source.path(), "weather", WEATHER)).await.0, 200);
    let (code, _) =
        json_of(api(&first, reqwest::Method::PUT, "/api/admin/skills/weather").json(&json!({"enabled": false}))).await;
    assert_eq!(code, 200);
    let (code, conflict) = add(&first, zipped(source.path(), "weather", WEATHER)).await;
    assert_eq!(code, 409);
    assert!(conflict["error"]["hint"].as_str().unwrap().contains("molt skills add --replace"), "{conflict}");
    first.stop().await.unwrap();

    let second = TestGateway::start_in(dir.path(), &[]).await;
    let (_, listed) = json_of(api(&second, reqwest::Method::GET, "/api/admin/skills")).await;
    assert_eq!(listed["skills"][0]["enabled"], false, "the operator's switch outlives the process");
    let newer = "name: weather\ndescription: Forecasts, version two.";
    let (code, replaced) = json_of(api(&second, reqwest::Method::POST, "/api/admin/skills?replace=true").body(zipped(
        source.path(),
        "weather",
        newer,
    )))
    .await;
    assert_eq!(code, 200, "{replaced}");
    assert_eq!((replaced["replaced"].as_bool(), replaced["skill"]["enabled"].as_bool()), (Some(true), Some(false)));
    assert_eq!(replaced["skill"]["description"], "Forecasts, version two.");
    second.stop().await.unwrap();
}

#[tokio::test]
async fn a_skill_whose_requirements_are_missing_is_not_offered_and_the_api_says_why() {
    let fake = FakeAnthropic::start().await;
    let gateway = TestGateway::builder().model(&fake).start().await;
    let source = tempfile::tempdir().unwrap();
    let gated = "name: transcribe\ndescription: Transcribes audio.\nmetadata: {\"openclaw\": {\"requires\": \
                 {\"bins\": [\"sh\", \"molt-test-no-such-program\"], \"env\": [\"MOLT_TEST_NO_SUCH_VARIABLE\"]}}}";
    let (code, added) = add(&gateway, zipped(source.path(), "transcribe", gated)).await;
    assert_eq!(code, 200, "installed all the same: the machine may get the program later");
    assert_eq!(added["skill"]["usable"], false);
    assert_eq!(
        added["skill"]["reason"],
        "needs `molt-test-no-such-program` on `PATH`; needs `MOLT_TEST_NO_SUCH_VARIABLE` set in the gateway's environment"
    );
    let present = "name: shell-notes\ndescription: Notes about the shell.\nmetadata: {\"openclaw\": {\"requires\": {\"bins\": [\"sh\"], \"env\": [\"PATH\"]}}}";
    assert_eq!(add(&gateway, zipped(source.path(), "shell-notes", present)).await.1["skill"]["listed"], true);
    chat(&gateway, "hello").await;
    let system = system_of(&fake, 0);
    assert!(system.contains("- shell-notes (skills/shell-notes/SKILL.md): Notes about the shell."), "{system}");
    assert!(!system.contains("transcribe"), "{system}");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn each_bad_archive_is_refused_with_its_reason_and_nothing_is_written() {
    let gateway = TestGateway::start(&[]).await;
    let source = tempfile::tempdir().unwrap();
    let skill = |front: &str| format!("---\n{front}\n---\nBody.\n").into_bytes();
    let good = skill("name: good\ndescription: Fine.");
    let many: Vec<(Vec<u8>, Vec<u8>)> =
        (0..=Limits::DEFAULT.files).map(|index| (format!("good/f{index}").into_bytes(), b"x".to_vec())).collect();
    let mut too_many: Vec<(&[u8], &[u8], Option<u32>)> = vec![(b"good/SKILL.md", &good, None)];
    too_many.extend(many.iter().map(|(path, bytes)| (path.as_slice(), bytes.as_slice(), None)));
    let zeros = vec![0u8; 1024 * 1024];
    let mut bomb = raw_zip(&[(b"SKILL.md", &good, None), (b"zeros", &zeros, None)]);
    let record = bomb.windows(4).enumerate().filter(|(_, window)| *window == b"PK\x01\x02").nth(1).unwrap().0;
    bomb[record + 24..record + 28].copy_from_slice(&64u32.to_le_bytes());
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "front matter that does not parse",
            raw_zip(&[(b"SKILL.md", &skill("name: [oops"), None)]),
            400,
            "not valid YAML",
        ),
        (
            "no name",
            raw_zip(&[(b"SKILL.md", &skill("description: Fine."), None)]),
            400,
            "the front matter has no `name`",
        ),
        ("no description", raw_zip(&[(b"SKILL.md", &skill("name: good"), None)]), 400, "has no `description`"),
        (
            "an unsafe name",
            raw_zip(&[(b"SKILL.md", &skill("name: ../../etc\ndescription: x"), None)]),
            400,
            "only lowercase letters",
        ),
        (
            "a name unlike its folder",
            zipped(source.path(), "elsewhere", "name: good\ndescription: Fine."),
            400,
            "its folder is `elsewhere`",
        ),
        (
            "an entry with `..`",
            raw_zip(&[(b"SKILL.md", &good, None), (b"../../evil.sh", b"x", None)]),
            400,
            "leaves its folder",
        ),
        (
            "an absolute entry",
            raw_zip(&[(b"SKILL.md", &good, None), (b"/tmp/evil", b"x", None)]),
            400,
            "is an absolute path",
        ),
        (
            "a symbolic link",
            raw_zip(&[(b"SKILL.md", &good, None), (b"passwd", b"/etc/passwd", Some(0o120_777))]),
            400,
            "is a symbolic link",
        ),
        ("too many files", raw_zip(&too_many), 400, "more than 256 files"),
        ("a zip bomb", bomb, 400, "says it holds 64 bytes but inflates to more"),
        ("not a zip", b"PK but not really".to_vec(), 400, "not a readable `.zip`"),
        ("over the size limit", vec![0u8; Limits::DEFAULT.archive_bytes as usize + 1], 413, "is over 8388608 bytes"),
    ];
    for (what, archive, status, reason) in cases {
        let (code, body) = add(&gateway, archive).await;
        assert_eq!(code, status, "{what}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(reason), "{what}: {message}");
        let skills = gateway.data_dir.join("workspace/skills");
        let left: Vec<String> = std::fs::read_dir(&skills)
            .map(|entries| entries.map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{what}: nothing is written, not even a temporary folder: {left:?}");
    }
    let (code, body) =
        json_of(api(&gateway, reqwest::Method::POST, "/api/admin/skills").json(&json!({"skill": 1}))).await;
    assert_eq!(code, 415, "{body}");
    let (code, body) =
        json_of(api(&gateway, reqwest::Method::PUT, "/api/admin/skills/Bad_Name").json(&json!({"enabled": true})))
            .await;
    assert_eq!(code, 400, "{body}");
    let (_, audit) = json_of(api(&gateway, reqwest::Method::GET, "/api/admin/audit")).await;
    assert!(!audit["entries"].as_array().unwrap().iter().any(|entry| entry["action"] == "skill.add"));
    gateway.stop().await.unwrap();
}
