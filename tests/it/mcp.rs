//! MCP servers end to end, with the real reference servers from npm: their tools reach the
//! model as `mcp__<server>__<tool>` with their schemas, a call's text and images come back to
//! it, a stdio server sees only the environment it is given, a crashing server is shown down and
//! comes back, a hanging one blocks no turn, a changed tool list is listed again, and a broken
//! `mcp.json` leaves the gateway running without MCP.

use crate::support;

use serde_json::{Value, json};
use support::client::{Client, ConnectOptions};
use support::fake_anthropic::{FakeAnthropic, Reply, ToolCall};
use support::gateway::{TOKEN, TestGateway};
use support::mcp;

fn key() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Sends `message` to `main` and waits for the run to end; returns its last `chat` event.
async fn turn(gateway: &TestGateway, message: &str) -> Value {
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap();
    let ack =
        client.call("chat.send", json!({"sessionKey": "main", "message": message, "idempotencyKey": key()})).await;
    let chats = client.chat_run(ack["runId"].as_str().unwrap()).await;
    client.close().await;
    chats.last().unwrap().clone()
}

/// The tools offered in a recorded request, by name.
fn offered(request: &Value) -> Vec<Value> {
    request["tools"].as_array().cloned().unwrap_or_default()
}

fn offered_names(request: &Value) -> Vec<String> {
    offered(request).iter().map(|tool| tool["name"].as_str().unwrap().to_owned()).collect()
}

fn mcp_names(request: &Value) -> Vec<String> {
    offered_names(request).into_iter().filter(|name| name.starts_with("mcp__")).collect()
}

/// The `tool_result` blocks of the last message of a recorded request.
fn results(request: &Value) -> Vec<Value> {
    let messages = request["messages"].as_array().unwrap();
    messages.last().unwrap()["content"].as_array().unwrap().clone()
}

/// A result's text, whether its content is a string or blocks.
fn text_of(result: &Value) -> String {
    match &result["content"] {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks.iter().filter_map(|block| block["text"].as_str()).collect::<Vec<_>>().join(""),
        other => panic!("unexpected content {other}"),
    }
}

#[tokio::test]
async fn stdio_servers_tools_are_offered_and_their_text_and_images_reach_the_model() {
    let model = FakeAnthropic::start().await;
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::write(shared.join("note.txt"), "the note's text").unwrap();
    let config = mcp::write_config(
        dir.path(),
        &json!({"mcpServers": {
            "everything": {"command": "node", "args": [mcp::everything(), "stdio"], "env": {"GIVEN": "${FOR_THE_SERVER}"}},
            "files": {"command": "node", "args": [mcp::filesystem(), shared], "tools": ["read_text_file", "list_directory"]},
        }}),
    );
    let gateway = TestGateway::builder()
        .model(&model)
        .env("MOLT_MCP_CONFIG", config.display().to_string())
        .env("PATH", mcp::path())
        .env("FOR_THE_SERVER", "given-value")
        .start()
        .await;
    let ready = mcp::wait_up(&gateway, &["everything", "files"]).await;
    assert_eq!(ready["files"]["tools"], 2, "the allowlist keeps two of the filesystem server's tools");

    let note = shared.join("note.txt").display().to_string();
    model.push(Reply::Tools {
        text: String::new(),
        calls: vec![
            ToolCall::new("mcp__everything__echo", &json!({"message": "hello over stdio"})),
            ToolCall::new("mcp__everything__get-tiny-image", &json!({})),
            ToolCall::new("mcp__everything__get-env", &json!({})),
            ToolCall::new("mcp__files__read_text_file", &json!({"path": note})),
            ToolCall::new("mcp__files__read_text_file", &json!({"path": "/etc/passwd"})),
        ],
    });
    model.push(Reply::text("Done."));
    let last = turn(&gateway, "use the servers").await;
    assert_eq!(last["state"], "final");

    let requests = model.requests();
    let names = offered_names(&requests[0].body);
    for name in ["mcp__everything__echo", "mcp__everything__get-tiny-image", "mcp__everything__get-env"] {
        assert!(names.contains(&name.to_owned()), "{name} offered: {names:?}");
    }
    let files: Vec<&String> = names.iter().filter(|name| name.starts_with("mcp__files__")).collect();
    assert_eq!(files, ["mcp__files__read_text_file", "mcp__files__list_directory"]);
    assert!(names.contains(&"memory_write".to_owned()), "the built-in tools stay: {names:?}");
    let echo = offered(&requests[0].body).into_iter().find(|tool| tool["name"] == "mcp__everything__echo").unwrap();
    assert_eq!(echo["input_schema"]["properties"]["message"]["type"], "string", "the server's schema: {echo}");
    assert!(!echo["description"].as_str().unwrap().is_empty());

    let answered = results(&requests[1].body);
    assert_eq!(text_of(&answered[0]), "Echo: hello over stdio");
    let image = answered[1]["content"].as_array().expect("blocks with the image");
    let picture = image.iter().find(|block| block["type"] == "image").expect("an image block");
    assert_eq!(picture["source"]["media_type"], "image/png");
    assert!(picture["source"]["data"].as_str().unwrap().starts_with("iVBORw0KGgo"), "a PNG: {picture}");

    // The server's environment is `PATH`, `HOME`, `LANG` (when set) and its own `env`, nothing
    // of the gateway's: not its model key, not its token, not the test process's variables.
    let env: Value = serde_json::from_str(&text_of(&answered[2])).expect("get-env answers JSON");
    let names: Vec<&str> = env.as_object().unwrap().keys().map(String::as_str).collect();
    assert!(names.iter().all(|name| ["PATH", "HOME", "LANG", "GIVEN"].contains(name)), "{names:?}");
    assert_eq!(env["GIVEN"], "given-value");
    assert_eq!(env["PATH"], mcp::path());

    assert_eq!(text_of(&answered[3]), "the note's text");
    assert!(answered[3].get("is_error").is_none());
    assert_eq!(answered[4]["is_error"], true, "outside its folder the server refuses: {}", answered[4]);
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn a_streamable_http_server_is_called_and_its_header_values_stay_hidden() {
    let server = mcp::HttpEverything::start().await;
    let model = FakeAnthropic::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = mcp::write_config(
        dir.path(),
        &json!({"mcpServers": {"remote": {"type": "http", "url": server.url(), "headers": {"X-Api-Key": "${REMOTE_KEY}"}, "timeoutSecs": 20}}}),
    );
    let gateway = TestGateway::builder()
        .model(&model)
        .env("MOLT_MCP_CONFIG", config.display().to_string())
        .env("REMOTE_KEY", "k-123")
        .start()
        .await;
    mcp::wait_up(&gateway, &["remote"]).await;
    model.push(Reply::Tools {
        text: String::new(),
        calls: vec![ToolCall::new("mcp__remote__get-sum", &json!({"a": 2, "b": 3}))],
    });
    model.push(Reply::text("Five."));
    assert_eq!(turn(&gateway, "add").await["state"], "final");
    let requests = model.requests();
    assert!(offered_names(&requests[0].body).contains(&"mcp__remote__get-sum".to_owned()));
    assert_eq!(text_of(&results(&requests[1].body)[0]), "The sum of 2 and 3 is 5.");
    let status = gateway.admin_status().await.unwrap();
    assert_eq!(status["mcp"]["servers"]["remote"]["transport"], "http");
    assert!(!status.to_string().contains("k-123"), "the header's value is never shown");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn an_http_server_that_goes_away_is_shown_down_and_comes_back() {
    let server = mcp::HttpEverything::start().await;
    let port = server.port;
    let model = FakeAnthropic::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config =
        mcp::write_config(dir.path(), &json!({"mcpServers": {"remote": {"type": "http", "url": server.url()}}}));
    let gateway =
        TestGateway::builder().model(&model).env("MOLT_MCP_CONFIG", config.display().to_string()).start().await;
    mcp::wait_up(&gateway, &["remote"]).await;
    drop(server);
    model.push(Reply::Tools {
        text: String::new(),
        calls: vec![ToolCall::new("mcp__remote__echo", &json!({"message": "anyone?"}))],
    });
    model.push(Reply::text("It is gone."));
    assert_eq!(turn(&gateway, "echo").await["state"], "final");
    let failed = &results(&model.requests()[1].body)[0];
    assert_eq!(failed["is_error"], true, "{failed}");
    // Found by the ping the failed call asks for (or, at the latest, the next periodic one).
    mcp::wait_for(&gateway, "remote down", |mcp| mcp["remote"]["state"] != "up").await;
    let _again = mcp::HttpEverything::start_on(port).await;
    mcp::wait_up(&gateway, &["remote"]).await;
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn a_crashing_server_is_shown_down_with_its_stderr_and_comes_back() {
    let model = FakeAnthropic::start().await;
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("fixed");
    let script = format!(
        "if [ -e \"$MARKER\" ]; then exec node {} stdio; fi; echo 'cannot open the database' >&2; exit 1",
        mcp::everything()
    );
    let config = mcp::write_config(
        dir.path(),
        &json!({"mcpServers": {
            "flaky": {"command": "sh", "args": ["-c", script], "env": {"MARKER": marker}},
            "unset": {"command": "node", "env": {"KEY": "${NOT_SET_ANYWHERE}"}},
            "off": {"command": "node", "disabled": true},
        }}),
    );
    let gateway = TestGateway::builder()
        .model(&model)
        .env("MOLT_MCP_CONFIG", config.display().to_string())
        .env("PATH", mcp::path())
        .start()
        .await;
    let down = mcp::wait_for(&gateway, "flaky down", |mcp| mcp["flaky"]["state"] == "down").await;
    assert_eq!(down["unset"]["state"], "invalid");
    assert_eq!(down["off"]["state"], "disabled");
    let (status, readyz) = gateway.readyz().await;
    assert_eq!(status, 200, "a down MCP server does not make the gateway unready");
    let public = readyz.to_string();
    assert!(!public.contains("database") && !public.contains("NOT_SET_ANYWHERE"), "/readyz says no why: {public}");

    let admin = gateway.admin_status().await.unwrap();
    let flaky = &admin["mcp"]["servers"]["flaky"];
    assert_eq!(flaky["stderr"], json!(["cannot open the database"]), "{admin}");
    assert!(flaky["lastError"].is_string(), "{flaky}");
    let unset = admin["mcp"]["servers"]["unset"]["lastError"].as_str().unwrap();
    assert_eq!(unset, "`env.KEY` names `${NOT_SET_ANYWHERE}`, which is not set");

    std::fs::write(&marker, "").unwrap();
    mcp::wait_up(&gateway, &["flaky"]).await;
    let admin = gateway.admin_status().await.unwrap();
    assert!(admin["mcp"]["servers"]["flaky"]["restarts"].as_u64().unwrap() >= 1, "{admin}");
    model.push(Reply::text("Hi."));
    turn(&gateway, "hello").await;
    let names = offered_names(&model.requests()[0].body);
    assert!(names.contains(&"mcp__flaky__echo".to_owned()), "{names:?}");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn a_hanging_server_blocks_no_turn() {
    let model = FakeAnthropic::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = mcp::write_config(
        dir.path(),
        &json!({"mcpServers": {
            "stuck": {"command": "sleep", "args": ["1000"]},
            "everything": {"command": "node", "args": [mcp::everything()]},
        }}),
    );
    let gateway = TestGateway::builder()
        .model(&model)
        .env("MOLT_MCP_CONFIG", config.display().to_string())
        .env("PATH", mcp::path())
        .start()
        .await;
    let seen = mcp::wait_up(&gateway, &["everything"]).await;
    assert_eq!(seen["stuck"]["state"], "connecting");
    model.push(Reply::text("Answered."));
    let last = turn(&gateway, "are you there").await;
    assert_eq!(last["state"], "final");
    assert_eq!(last["message"]["content"][0]["text"], "Answered.");
    let names = offered_names(&model.requests()[0].body);
    assert!(names.iter().any(|name| name.starts_with("mcp__everything__")), "{names:?}");
    assert!(!names.iter().any(|name| name.starts_with("mcp__stuck__")), "{names:?}");
    // The stop is bounded although the server never answered.
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn a_changed_tool_list_is_listed_again() {
    let model = FakeAnthropic::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = mcp::write_config(
        dir.path(),
        &json!({"mcpServers": {"changing": {"command": "node", "args": [mcp::fixture("changing.mjs")], "env": {"MCP_SDK": mcp::sdk()}}}}),
    );
    let gateway = TestGateway::builder()
        .model(&model)
        .env("MOLT_MCP_CONFIG", config.display().to_string())
        .env("PATH", mcp::path())
        .start()
        .await;
    mcp::wait_up(&gateway, &["changing"]).await;
    model.push(Reply::Tools { text: String::new(), calls: vec![ToolCall::new("mcp__changing__add-tool", &json!({}))] });
    model.push(Reply::text("Added."));
    turn(&gateway, "add a tool").await;
    assert_eq!(mcp_names(&model.requests()[0].body), ["mcp__changing__add-tool"]);
    assert_eq!(text_of(&results(&model.requests()[1].body)[0]), "added");
    mcp::wait_for(&gateway, "two tools", |mcp| mcp["changing"]["tools"] == 2).await;
    model.push(Reply::text("Now two."));
    turn(&gateway, "again").await;
    let names = mcp_names(&model.requests()[2].body);
    assert_eq!(names, ["mcp__changing__add-tool", "mcp__changing__added-later"]);
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn a_broken_mcp_json_names_its_line_and_the_gateway_runs_without_mcp() {
    let model = FakeAnthropic::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mcp.json");
    std::fs::write(&path, "{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"node\",}\n  }\n}\n").unwrap();
    let gateway = TestGateway::builder()
        .model(&model)
        .env("MOLT_MCP_CONFIG", path.display().to_string())
        .env("PATH", mcp::path())
        .start()
        .await;
    let admin = gateway.admin_status().await.unwrap();
    let error = admin["mcp"]["error"].as_str().unwrap();
    assert!(error.starts_with(&format!("`{}` line 3, column", path.display())), "{error}");
    assert_eq!(admin["mcp"]["servers"], json!({}));
    model.push(Reply::text("Fine."));
    assert_eq!(turn(&gateway, "hi").await["state"], "final");
    assert!(offered_names(&model.requests()[0].body).iter().all(|name| !name.starts_with("mcp__")));
    gateway.stop().await.unwrap();
}
