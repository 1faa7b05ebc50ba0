//! The web chat page in headless Chromium against the real gateway and the fake provider:
//! open it with the token, send a message, see the streamed reply, find it again after a
//! reload.

use crate::support;

use std::time::Duration;

use support::browser::Browser;
use support::fake_anthropic::{FakeAnthropic, Reply};
use support::gateway::{TOKEN, TestGateway};

const WAIT: Duration = Duration::from_secs(20);

/// Types `MESSAGE` as a person would (the input event enables the send button) and clicks send.
const TYPE_AND_SEND: &str = "(() => { const input = document.querySelector('#input'); input.value = 'MESSAGE'; \
     input.dispatchEvent(new Event('input', {bubbles: true})); document.querySelector('#send').click(); return true; })()";

#[tokio::test]
async fn the_page_streams_a_reply_from_the_provider() {
    let fake = FakeAnthropic::start().await;
    let gateway = TestGateway::builder().model(&fake).start().await;
    fake.push(Reply::Slow {
        chunks: ["Hello ", "from ", "the ", "fake ", "model.\n\n", "```rust\nfn main() {}\n```"]
            .map(String::from)
            .to_vec(),
        delay_ms: 60,
    });
    let browser = Browser::launch().await.expect("launch chromium");

    // The printed URL carries the token in the fragment: the page trades it for the HttpOnly
    // cookie and clears it, so it is in neither the address bar, the history, nor storage.
    browser.goto(&gateway.http_url(&format!("/#token={TOKEN}"))).await.unwrap();
    browser.wait_for("document.querySelector('#status').dataset.state === 'connected'", WAIT).await.unwrap();
    let address = browser.eval("location.href").await.unwrap();
    assert_eq!(address, serde_json::json!(gateway.http_url("/")), "the token left the address bar");
    let kept = browser
        .eval(&format!("[document.cookie, JSON.stringify(localStorage), JSON.stringify(sessionStorage)].join('|').includes('{TOKEN}')"))
        .await
        .unwrap();
    assert_eq!(kept, serde_json::json!(false), "no script-readable copy of the token");
    let cookie = browser.eval("document.cookie.includes('molt_token')").await.unwrap();
    assert_eq!(cookie, serde_json::json!(false), "the cookie is HttpOnly");

    browser.eval(TYPE_AND_SEND.replace("MESSAGE", "Hi molt").as_str()).await.unwrap();
    browser.wait_for("document.querySelector('.msg.assistant.streaming') !== null", WAIT).await.unwrap();
    browser
        .wait_for("(() => { const m = [...document.querySelectorAll('.msg.assistant')].pop(); return m && !m.classList.contains('streaming') && m.textContent.includes('Hello from the fake model.'); })()", WAIT)
        .await
        .unwrap();
    let code = browser.eval("document.querySelector('.msg.assistant pre code')?.textContent").await.unwrap();
    assert_eq!(code, serde_json::json!("fn main() {}"), "code blocks are formatted");
    let user = browser.eval("document.querySelector('.msg.user').textContent").await.unwrap();
    assert!(user.as_str().unwrap().contains("Hi molt"));
    // `MOLT_SCREENSHOT=path.png` keeps the picture for a person to look at.
    let keep = std::env::var_os("MOLT_SCREENSHOT");
    let screenshot = keep
        .clone()
        .map(Into::into)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("molt-chat-{}.png", std::process::id())));
    browser.screenshot(&screenshot).await.unwrap();
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 10_000);
    if keep.is_none() {
        let _ = std::fs::remove_file(&screenshot);
    }

    browser.goto(&gateway.http_url("/")).await.unwrap();
    browser
        .wait_for("[...document.querySelectorAll('.msg.assistant')].some(m => m.textContent.includes('Hello from the fake model.'))", WAIT)
        .await
        .unwrap();
    let problems: Vec<String> = browser
        .console()
        .into_iter()
        .filter(|line| line.contains("Content Security Policy") || line.contains("Uncaught"))
        .collect();
    assert!(problems.is_empty(), "console errors: {problems:?}");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn the_page_shows_the_missing_variable_when_no_model_is_configured() {
    let gateway = TestGateway::start(&[]).await;
    let browser = Browser::launch().await.expect("launch chromium");
    browser.goto(&gateway.http_url(&format!("/#token={TOKEN}"))).await.unwrap();
    browser.wait_for("document.querySelector('#status').dataset.state === 'connected'", WAIT).await.unwrap();
    browser.eval(TYPE_AND_SEND.replace("MESSAGE", "anyone?").as_str()).await.unwrap();
    let error = browser.wait_for("document.querySelector('.msg.error')?.textContent", WAIT).await.unwrap();
    assert!(error.as_str().unwrap().contains("ANTHROPIC_API_KEY"), "{error}");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn the_admin_page_approves_a_waiting_chat_page() {
    let gateway = TestGateway::start(&[("MOLT_LOOPBACK_AUTO_APPROVE", "false")]).await;
    let chat = Browser::launch().await.expect("launch chromium");
    chat.goto(&gateway.http_url(&format!("/?token={TOKEN}"))).await.unwrap();
    chat.wait_for("document.querySelector('#status').textContent.includes('Waiting for approval')", WAIT)
        .await
        .unwrap();

    let admin = Browser::launch().await.expect("launch chromium");
    admin.goto(&gateway.http_url(&format!("/?token={TOKEN}"))).await.unwrap();
    admin.goto(&gateway.http_url("/_admin/")).await.unwrap();
    admin.wait_for("document.querySelector('#pending .pending button.approve') !== null", WAIT).await.unwrap();
    admin.eval("document.querySelector('#pending .pending button.approve').click(); true").await.unwrap();
    chat.wait_for("document.querySelector('#status').dataset.state === 'connected'", WAIT).await.unwrap();
    admin.wait_for("document.querySelector('#paired .device') !== null", WAIT).await.unwrap();
    let entry = admin.wait_for("document.querySelector('#audit tr.entry')?.textContent", WAIT).await.unwrap();
    assert!(entry.as_str().unwrap().contains("device.approve"), "{entry}");
    let problems: Vec<String> = admin
        .console()
        .into_iter()
        .filter(|line| line.contains("Content Security Policy") || line.contains("Uncaught"))
        .collect();
    assert!(problems.is_empty(), "console errors: {problems:?}");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn the_page_shows_a_tool_call_as_a_chip_and_answers_slash_commands() {
    let fake = FakeAnthropic::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("workspace")).unwrap();
    std::fs::write(dir.path().join("workspace/notes.md"), "Ada's birthday is on 3 May.").unwrap();
    let gateway = TestGateway::builder().model(&fake).data_dir(dir.path()).start().await;
    let call = support::fake_anthropic::ToolCall::new("read_file", &serde_json::json!({"path": "notes.md"}));
    fake.push(Reply::Tools { text: "Let me check.".into(), calls: vec![call] });
    fake.push(Reply::text(" It is on 3 May."));
    let browser = Browser::launch().await.expect("launch chromium");
    browser.goto(&gateway.http_url(&format!("/#token={TOKEN}"))).await.unwrap();
    browser.wait_for("document.querySelector('#status').dataset.state === 'connected'", WAIT).await.unwrap();
    // Every state a chip shows on the way, in order.
    browser
        .eval("window.chipStates = []; new MutationObserver(() => document.querySelectorAll('.tool').forEach((c) => { \
               const s = c.querySelector('.tool-status').textContent; if (window.chipStates.at(-1) !== s) window.chipStates.push(s); })) \
               .observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true }); true")
        .await
        .unwrap();
    browser.eval(TYPE_AND_SEND.replace("MESSAGE", "When is the birthday?").as_str()).await.unwrap();
    browser
        .wait_for("(() => { const m = [...document.querySelectorAll('.msg.assistant')].pop(); return m && !m.classList.contains('streaming') && m.textContent.includes('It is on 3 May.'); })()", WAIT)
        .await
        .unwrap();
    let states = browser.eval("window.chipStates").await.unwrap();
    assert_eq!(states, serde_json::json!(["running", "done"]), "the chip runs, then is done");
    let chip = browser
        .eval("(() => { const c = document.querySelector('.msg.assistant .tool'); c.open = true; return [c.querySelector('.tool-name').textContent, c.querySelector('.tool-args').textContent, c.querySelector('.tool-result').textContent]; })()")
        .await
        .unwrap();
    assert_eq!(chip[0], "read_file");
    assert!(chip[1].as_str().unwrap().contains("\"path\": \"notes.md\""), "{chip}");
    assert!(chip[2].as_str().unwrap().contains("Ada's birthday is on 3 May."), "{chip}");

    // History brings the chip back after a reload.
    browser.goto(&gateway.http_url("/")).await.unwrap();
    browser
        .wait_for("document.querySelector('.msg.assistant .tool.done .tool-name')?.textContent === 'read_file'", WAIT)
        .await
        .unwrap();

    browser.wait_for("document.querySelector('#status').dataset.state === 'connected'", WAIT).await.unwrap();
    browser.eval(TYPE_AND_SEND.replace("MESSAGE", "/status").as_str()).await.unwrap();
    browser
        .wait_for("[...document.querySelectorAll('.msg.assistant')].some((m) => m.textContent.includes('Model: claude-sonnet-4-5'))", WAIT)
        .await
        .unwrap();
    assert_eq!(fake.requests().len(), 2, "the command never reached the model");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn the_admin_page_grants_a_tool_to_guests() {
    let gateway = TestGateway::start(&[]).await;
    let admin = Browser::launch().await.expect("launch chromium");
    admin.goto(&gateway.http_url(&format!("/?token={TOKEN}"))).await.unwrap();
    admin.goto(&gateway.http_url("/_admin/")).await.unwrap();
    admin.wait_for("document.querySelector('#tools input[data-tool=\"write_file\"]') !== null", WAIT).await.unwrap();
    let read_box =
        admin.eval("document.querySelector('#tools input[data-tool=\"read_file\"]').disabled").await.unwrap();
    assert_eq!(read_box, serde_json::json!(true), "a reading tool has nothing to grant");
    admin
        .eval("document.querySelector('#tools input[data-tool=\"write_file\"]').click(); document.querySelector('#tools button.save-tools').click(); true")
        .await
        .unwrap();
    let entry = admin
        .wait_for("[...document.querySelectorAll('#audit tr.entry')].map((r) => r.textContent).find((t) => t.includes('tools.guests'))", WAIT)
        .await
        .unwrap();
    assert!(entry.as_str().unwrap().contains("write_file"), "{entry}");
    let view: serde_json::Value = reqwest::Client::new()
        .get(gateway.http_url("/api/admin/tools"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let write = view["tools"].as_array().unwrap().iter().find(|tool| tool["name"] == "write_file").unwrap().clone();
    assert_eq!(write["guests"], true);
    let problems: Vec<String> = admin
        .console()
        .into_iter()
        .filter(|line| line.contains("Content Security Policy") || line.contains("Uncaught"))
        .collect();
    assert!(problems.is_empty(), "console errors: {problems:?}");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn the_admin_page_lists_skills_says_why_one_is_not_usable_and_switches_one_off() {
    let gateway = TestGateway::start(&[]).await;
    let source = tempfile::tempdir().unwrap();
    let add = |name: &str, front: &str| {
        let folder = crate::skills::skill_folder(source.path(), name, front);
        let archive = molt::core::skills::pack::pack(&folder, &molt::core::skills::Limits::DEFAULT).unwrap();
        reqwest::Client::new().post(gateway.http_url("/api/admin/skills")).bearer_auth(TOKEN).body(archive).send()
    };
    assert!(add("weather", "name: weather\ndescription: Forecasts for a city.").await.unwrap().status().is_success());
    let gated = "name: transcribe\ndescription: Transcribes audio.\nmetadata: {\"openclaw\": {\"requires\": {\"bins\": [\"molt-test-no-such-program\"]}}}";
    assert!(add("transcribe", gated).await.unwrap().status().is_success());
    let admin = Browser::launch().await.expect("launch chromium");
    admin.goto(&gateway.http_url(&format!("/?token={TOKEN}"))).await.unwrap();
    admin.goto(&gateway.http_url("/_admin/")).await.unwrap();
    admin
        .wait_for("document.querySelector('#skills .skill-row[data-skill=\"weather\"]') !== null", WAIT)
        .await
        .unwrap();
    let unusable = admin
        .eval("document.querySelector('#skills .skill-row[data-skill=\"transcribe\"] .about').textContent")
        .await
        .unwrap();
    assert_eq!(unusable, serde_json::json!("Not usable: needs molt-test-no-such-program on PATH"));
    let weather =
        admin.eval("document.querySelector('#skills .skill-row[data-skill=\"weather\"]').textContent").await.unwrap();
    assert_eq!(weather, serde_json::json!("weatheronForecasts for a city.Turn off"));
    admin
        .eval("document.querySelector('#skills .skill-row[data-skill=\"weather\"] button.switch-skill').click(); true")
        .await
        .unwrap();
    admin
        .wait_for(
            "document.querySelector('#skills .skill-row[data-skill=\"weather\"]').classList.contains('off')",
            WAIT,
        )
        .await
        .unwrap();
    let entry = admin
        .wait_for("[...document.querySelectorAll('#audit tr.entry')].map((r) => r.textContent).find((t) => t.includes('skill.disable'))", WAIT)
        .await
        .unwrap();
    assert!(entry.as_str().unwrap().contains("weather"), "{entry}");
    let view: serde_json::Value = reqwest::Client::new()
        .get(gateway.http_url("/api/admin/skills"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let weather = view["skills"].as_array().unwrap().iter().find(|skill| skill["name"] == "weather").unwrap().clone();
    assert_eq!((weather["enabled"].as_bool(), weather["listed"].as_bool()), (Some(false), Some(false)));
    if let Some(path) = std::env::var_os("MOLT_SCREENSHOT") {
        admin
            .eval("document.querySelector('#skills-title').scrollIntoView(); window.scrollBy(0, -80); true")
            .await
            .unwrap();
        admin.screenshot(std::path::Path::new(&path)).await.unwrap();
    }
    let problems: Vec<String> = admin
        .console()
        .into_iter()
        .filter(|line| line.contains("Content Security Policy") || line.contains("Uncaught"))
        .collect();
    assert!(problems.is_empty(), "console errors: {problems:?}");
    gateway.stop().await.unwrap();
}
