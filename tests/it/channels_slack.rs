//! Slack end to end against the fake Web API and Socket Mode: pairing, approval through the
//! admin API, streamed replies by `chat.update` in threads, acks, retried envelopes answered
//! once, `disconnect` and deaf sockets replaced, `Retry-After`, and the Events API with signed
//! requests.

use crate::support;

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use support::fake_anthropic::{FakeAnthropic, Reply};
use support::fake_slack::{self, FakeSlack};
use support::gateway::{TOKEN, TestGateway};

const DM: &str = "D0001";
const CHANNEL: &str = "C0001";
const USER: &str = "U0042";

async fn start(slack: &FakeSlack, model: &FakeAnthropic, extra: &[(&str, &str)]) -> TestGateway {
    TestGateway::builder().slack(slack).model(model).envs(extra).start().await
}

async fn socket_gateway(slack: &FakeSlack, model: &FakeAnthropic, extra: &[(&str, &str)]) -> TestGateway {
    let gateway = TestGateway::builder().slack_socket(slack).model(model).envs(extra).start().await;
    slack.wait_until("a socket", |slack| slack.live_sockets() == 1).await;
    gateway
}

fn admin(gateway: &TestGateway, path: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new().post(gateway.http_url(path)).bearer_auth(TOKEN)
}

async fn status(gateway: &TestGateway) -> Value {
    let mut client = support::client::Client::connect(&gateway.ws_url(), &support::client::ConnectOptions::new(TOKEN))
        .await
        .unwrap()
        .0;
    client.call("channels.status", json!({})).await
}

#[tokio::test(flavor = "multi_thread")]
async fn socket_mode_pairs_acks_streams_in_threads_and_answers_a_retry_once() {
    let (slack, model) = (FakeSlack::start().await, FakeAnthropic::start().await);
    let gateway = socket_gateway(&slack, &model, &[]).await;
    assert_eq!(slack.calls_of("apps.connections.open")[0].authorization, format!("Bearer {}", fake_slack::APP_TOKEN));

    let first = slack.deliver(&slack.callback(DM, USER, "hello"), 0);
    slack.wait_until("the pairing code", |slack| !slack.shown(DM).is_empty()).await;
    assert!(slack.acks().contains(&first), "every envelope is acked");
    let text = slack.shown(DM)[0].0.clone();
    let code = text.split("molt pair code approve slack ").nth(1).unwrap()[..8].to_owned();
    let approved = admin(&gateway, &format!("/api/admin/codes/slack/{code}/approve")).send().await.unwrap();
    assert_eq!(approved.status(), 200);

    model.push(Reply::Slow { chunks: vec!["Hello ".into(), "from ".into(), "molt".into()], delay_ms: 700 });
    let question = slack.callback(CHANNEL, USER, &format!("<@{}> hi there", fake_slack::BOT_USER));
    let envelope = slack.deliver(&question, 0);
    slack
        .wait_until("the streamed reply", |slack| {
            slack.shown(CHANNEL).first().is_some_and(|(text, _)| text == "Hello from molt")
        })
        .await;
    let thread = question["event"]["ts"].as_str().unwrap().to_owned();
    assert_eq!(slack.shown(CHANNEL)[0].1.as_deref(), Some(thread.as_str()), "answered in a thread under the question");
    assert!(!slack.calls_of("chat.update").is_empty(), "streamed by chat.update");
    let retried = slack.deliver(&question, 1);
    slack.wait_until("the retry's ack", |slack| slack.acks().contains(&retried)).await;
    assert!(slack.acks().contains(&envelope));

    // A message in the channel that does not mention the bot is left alone. The next one's
    // reply also proves the retry, read before it on the same socket, had its chance to run.
    slack.deliver(&slack.callback(CHANNEL, USER, "just chatting"), 0);
    slack.deliver(&slack.callback(CHANNEL, USER, &format!("<@{}> again", fake_slack::BOT_USER)), 0);
    slack.wait_until("the second reply", |slack| slack.shown(CHANNEL).len() == 2).await;
    let mention = format!("<@{}>", fake_slack::BOT_USER);
    assert_eq!(
        model.user_texts(),
        [format!("{mention} hi there"), format!("{mention} again")],
        "a retried envelope is not answered twice"
    );
    assert_eq!(slack.calls_of("chat.postMessage").len(), 3, "the code, then one reply per question");
    let channels = status(&gateway).await;
    assert_eq!(channels["channels"]["slack"]["mode"], "socket");
    assert_eq!(channels["channels"]["slack"]["connected"], true);
    gateway.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn disconnect_and_deaf_sockets_are_replaced_with_one_live_socket() {
    let (slack, model) = (FakeSlack::start().await, FakeAnthropic::start().await);
    let env = [("SLACK_DM_POLICY", "open"), ("MOLT_CHANNEL_DEAF_AFTER_SECS", "1")];
    let gateway = socket_gateway(&slack, &model, &env).await;
    slack.disconnect();
    slack.wait_until("a second socket", |slack| slack.connections() == 2 && slack.live_sockets() == 1).await;
    slack.go_deaf();
    slack.wait_until("a third socket after the deaf one", |slack| slack.connections() == 3).await;
    slack.wait_until("one live socket", |slack| slack.live_sockets() == 1).await;
    slack.deliver(&slack.callback(DM, USER, "still there?"), 0);
    slack
        .wait_until("the reply", |slack| slack.shown(DM).first().is_some_and(|(text, _)| text.contains("still there?")))
        .await;
    let channels = status(&gateway).await;
    assert!(channels["channels"]["slack"]["reconnects"].as_u64().unwrap() >= 2, "{channels}");
    assert!(channels["channels"]["slack"]["lastError"].as_str().unwrap().contains("deaf"));
    gateway.stop().await.unwrap();
}

fn signed(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_events_api_verifies_signatures_answers_the_challenge_and_honours_retry_after() {
    let (slack, model) = (FakeSlack::start().await, FakeAnthropic::start().await);
    let secret = "events-signing-secret";
    let gateway = start(&slack, &model, &[("SLACK_SIGNING_SECRET", secret), ("SLACK_DM_POLICY", "open")]).await;
    let url = gateway.http_url("/channels/slack/events");
    let post = |body: String, timestamp: i64, signature: String| {
        reqwest::Client::new()
            .post(&url)
            .header("x-slack-request-timestamp", timestamp.to_string())
            .header("x-slack-signature", signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let challenge = json!({"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}).to_string();
    let answer = post(challenge.clone(), now, signed(secret, now, &challenge)).await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.json::<Value>().await.unwrap()["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );
    assert_eq!(post(challenge.clone(), now, signed("wrong", now, &challenge)).await.unwrap().status(), 401);
    let stale = now - 301;
    assert_eq!(post(challenge.clone(), stale, signed(secret, stale, &challenge)).await.unwrap().status(), 401);

    slack.fail("chat.postMessage", 1, 429, "ratelimited", Some(1));
    let event = slack.callback(DM, USER, "over http").to_string();
    assert_eq!(post(event.clone(), now, signed(secret, now, &event)).await.unwrap().status(), 200);
    let whole = vec![("You said: over http".to_owned(), None)];
    slack.wait_until("the whole reply", |slack| slack.shown(DM) == whole).await;
    let posts = slack.calls_of("chat.postMessage");
    assert_eq!(posts.len(), 2);
    assert!(posts[1].at - posts[0].at >= Duration::from_millis(950), "Retry-After honoured");
    // The retry posts what the reply had streamed by then; edits bring the rest.
    assert_eq!(posts[1].body, posts[0].body, "the refused post is sent again as it was");
    let text = posts[1].body["text"].as_str().unwrap_or_default();
    assert!(!text.is_empty() && "You said: over http".starts_with(text), "{}", posts[1].body);
    // Slack retries with the same event: acknowledged, not answered again (a later event's
    // reply shows the retry had its chance).
    assert_eq!(post(event.clone(), now, signed(secret, now, &event)).await.unwrap().status(), 200);
    let later = slack.callback(DM, USER, "later").to_string();
    assert_eq!(post(later.clone(), now, signed(secret, now, &later)).await.unwrap().status(), 200);
    slack.wait_until("the later reply", |slack| slack.shown(DM).len() == 2).await;
    assert_eq!(model.user_texts(), ["over http", "later"]);
    assert!(slack.calls_of("apps.connections.open").is_empty(), "no socket without an app token");
    gateway.stop().await.unwrap();
}
