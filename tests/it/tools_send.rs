//! `send_message` in a running gateway: the model (the Anthropic fake) asks for it in an
//! operator's turn; a chat the operator allowlisted gets the text through the real Telegram
//! adapter (the fake Bot API records the exact `sendMessage`), an unknown chat is refused with
//! nothing sent, `web:` stores a message the web page's `chat.history` shows, and every attempt
//! is in the audit log.

use crate::support;

use serde_json::{Value, json};
use support::client::{Client, ConnectOptions};
use support::fake_anthropic::{self, FakeAnthropic};
use support::fake_telegram::FakeTelegram;
use support::gateway::{TOKEN, TestGateway};

struct Setup {
    model: FakeAnthropic,
    telegram: FakeTelegram,
    gateway: TestGateway,
    client: Client,
}

/// A gateway on the fakes whose Telegram allowlist (set by the operator, not the environment)
/// holds chat 5151.
async fn setup() -> Setup {
    let (model, telegram) = (FakeAnthropic::start().await, FakeTelegram::start().await);
    let gateway =
        TestGateway::builder().model(&model).telegram(&telegram).env("TELEGRAM_DM_POLICY", "pairing").start().await;
    let response = reqwest::Client::new()
        .put(gateway.http_url("/api/admin/policies/telegram"))
        .bearer_auth(TOKEN)
        .json(&json!({"dmPolicy": "allowlist", "allowFrom": ["5151"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let client = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap().0;
    Setup { model, telegram, gateway, client }
}

impl Setup {
    /// One operator turn in `session` in which the model calls `send_message` with `input`,
    /// then answers "Done."; returns the tool's result as the model read it.
    async fn turn(&mut self, session: &str, input: Value) -> (String, bool) {
        self.model.push(fake_anthropic::Reply::ToolUse {
            text: String::new(),
            tool_name: "send_message".into(),
            input_json_chunks: vec![input.to_string()],
        });
        self.model.push(fake_anthropic::Reply::text("Done."));
        let key = format!("send-{}", self.model.requests().len());
        let params = json!({"sessionKey": session, "message": "pass it on", "idempotencyKey": key});
        let ack = self.client.call("chat.send", params).await;
        let events = self.client.chat_run(ack["runId"].as_str().unwrap()).await;
        assert_eq!(events.last().unwrap()["state"], "final", "{events:?}");
        let request = self.model.requests().pop().unwrap();
        tool_result(&request.body).expect("the model was sent the tool's result")
    }

    async fn audit(&self) -> Vec<Value> {
        let response = reqwest::Client::new()
            .get(self.gateway.http_url("/api/admin/audit"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        body["entries"].as_array().unwrap().iter().filter(|entry| entry["action"] == "message.send").cloned().collect()
    }

    fn sent(&self) -> Vec<Value> {
        self.telegram.calls_of("sendMessage").into_iter().map(|call| call.body).collect()
    }
}

/// The text and error flag of the last `tool_result` in an Anthropic request.
fn tool_result(body: &Value) -> Option<(String, bool)> {
    let mut blocks = body["messages"].as_array()?.iter().filter_map(|message| message["content"].as_array()).flatten();
    let result = blocks.rfind(|block| block["type"] == "tool_result")?;
    let text = match &result["content"] {
        Value::String(text) => text.clone(),
        other => other.as_array()?.iter().filter_map(|part| part["text"].as_str()).collect(),
    };
    Some((text, result["is_error"] == true))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_allowlisted_telegram_chat_gets_the_text_and_the_send_is_audited() {
    let mut setup = setup().await;
    let (result, is_error) =
        setup.turn("main", json!({"to": "telegram:5151", "text": "Your parcel <b>arrived</b>."})).await;
    assert_eq!((result.as_str(), is_error), ("sent to `telegram:5151`", false));
    let offered: Vec<Value> =
        setup.model.requests()[0].body["tools"].as_array().unwrap().iter().map(|t| t["name"].clone()).collect();
    assert!(offered.contains(&json!("send_message")), "{offered:?}");
    assert!(!offered.contains(&json!("web_search")), "no BRAVE_API_KEY, no web_search: {offered:?}");
    assert_eq!(
        setup.sent(),
        [json!({"chat_id": "5151", "text": "Your parcel &lt;b&gt;arrived&lt;/b&gt;.", "parse_mode": "HTML"})]
    );
    let audit = setup.audit().await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!((&audit[0]["actor"], &audit[0]["target"]), (&json!("operator"), &json!("telegram:5151")));
    assert_eq!(audit[0]["detail"], "sent: 27 characters in 1 message(s)");
    setup.gateway.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_chat_is_refused_and_nothing_is_sent() {
    let mut setup = setup().await;
    let (result, is_error) = setup.turn("main", json!({"to": "telegram:7777", "text": "hello stranger"})).await;
    assert!(is_error);
    assert!(
        result.starts_with("refused: `telegram:7777` is not a chat the operator has paired or allowlisted"),
        "{result}"
    );
    assert!(setup.sent().is_empty(), "{:?}", setup.sent());
    let audit = setup.audit().await;
    assert_eq!(audit[0]["target"], "telegram:7777");
    assert_eq!(audit[0]["detail"], "refused: 14 characters, not a known chat");
    setup.gateway.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn web_stores_an_assistant_message_that_chat_history_shows() {
    let mut setup = setup().await;
    // A page shows the main session, and so follows it.
    let mut page = Client::connect(&setup.gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap().0;
    page.call("chat.history", json!({"sessionKey": "main"})).await;
    let (result, is_error) =
        setup.turn("agent:main:ops", json!({"to": "web:main", "text": "The backup finished at 03:00."})).await;
    assert_eq!((result.as_str(), is_error), ("stored in session `agent:main:main`", false));
    let shown = page.event("chat").await["payload"].clone();
    assert_eq!(shown["sessionKey"], "agent:main:main");
    assert_eq!(shown["state"], "final");
    assert_eq!(shown["message"]["content"][0]["text"], "The backup finished at 03:00.");
    let history = setup.client.call("chat.history", json!({"sessionKey": "main"})).await;
    let messages = history["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["role"], "assistant");
    assert_eq!(messages[0]["content"][0]["text"], "The backup finished at 03:00.");
    assert!(setup.sent().is_empty());
    assert_eq!(setup.audit().await[0]["target"], "web:agent:main:main");
    setup.gateway.stop().await.unwrap();
}
