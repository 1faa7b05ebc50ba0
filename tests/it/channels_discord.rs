//! Discord end to end against the fake gateway and REST API: identify with the right intents,
//! pairing, replies streamed by edits and split at 2000 characters, guild messages that need
//! a mention, resume after a drop with no second reply for a replayed message, op 7 and op 9,
//! a missing heartbeat ACK, 4014 explained, and 429 `retry_after` honoured.

use crate::support;

use std::time::Duration;

use serde_json::{Value, json};
use support::fake_anthropic::{FakeAnthropic, Reply};
use support::fake_discord::{self, FakeDiscord};
use support::gateway::{TOKEN, TestGateway};

const DM: &str = "700000000000000001";
const GUILD_CHANNEL: &str = "700000000000000002";
const GUILD: &str = "600000000000000001";
const USER: &str = "500000000000000042";

async fn start(discord: &FakeDiscord, model: &FakeAnthropic, extra: &[(&str, &str)]) -> TestGateway {
    let gateway = TestGateway::builder().discord(discord).model(model).envs(extra).start().await;
    discord.wait_until("identify", |discord| ops(discord, 2) == 1).await;
    gateway
}

fn ops(discord: &FakeDiscord, op: u64) -> usize {
    discord.frames().iter().filter(|frame| frame["op"] == op).count()
}

async fn status(gateway: &TestGateway) -> Value {
    gateway.admin_status().await.expect("admin status")["channels"]["discord"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn identify_pair_and_stream_a_split_reply() {
    let (discord, model) = (FakeDiscord::start().await, FakeAnthropic::start().await);
    let gateway = start(&discord, &model, &[]).await;
    let identify = discord.frames().into_iter().find(|frame| frame["op"] == 2).unwrap();
    assert_eq!(
        identify["d"]["intents"],
        (1 << 9) | (1 << 12) | (1 << 15),
        "GUILD_MESSAGES | DIRECT_MESSAGES | MESSAGE_CONTENT"
    );
    assert_eq!(identify["d"]["token"], fake_discord::TOKEN);
    assert_eq!(discord.calls()[0].authorization, format!("Bot {}", fake_discord::TOKEN));
    assert_eq!(discord.calls()[0].path, "/api/v10/gateway/bot");

    discord.message(DM, None, USER, "hi", false);
    discord.wait_until("the code", |discord| !discord.shown(DM).is_empty()).await;
    let text = discord.shown(DM)[0].clone();
    let code = text.split("molt pair code approve discord ").nth(1).unwrap()[..8].to_owned();
    let approve = reqwest::Client::new()
        .post(gateway.http_url(&format!("/api/admin/codes/discord/{code}/approve")))
        .bearer_auth(TOKEN);
    assert_eq!(approve.send().await.unwrap().status(), 200);

    let line = format!("{}\n", "abc ".repeat(24).trim_end());
    let chunks: Vec<String> = (0..30).map(|_| line.clone()).collect();
    model.push(Reply::Slow { chunks: chunks.clone(), delay_ms: 40 });
    discord.message(DM, None, USER, "long please", false);
    let full = chunks.concat();
    let body = full.trim_end();
    let cut = body[..2000].rfind('\n').unwrap();
    let expected = vec![text.clone(), body[..cut].to_owned(), body[cut + 1..].to_owned()];
    discord.wait_until("the split reply", |discord| discord.shown(DM) == expected).await;
    assert!(discord.calls().iter().any(|call| call.method == "PATCH"), "streamed by edits");
    assert!(discord.calls().iter().any(|call| call.path.ends_with("/typing")));
    assert!(discord.shown(DM).iter().all(|text| text.chars().count() <= 2000));
    gateway.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn guilds_need_a_mention_and_a_dropped_connection_resumes_without_a_second_reply() {
    let (discord, model) = (FakeDiscord::start().await, FakeAnthropic::start().await);
    let gateway = start(&discord, &model, &[("DISCORD_DM_ALLOW_FROM", USER)]).await;
    discord.message(GUILD_CHANNEL, Some(GUILD), USER, "no mention", false);
    let asked = discord.message(GUILD_CHANNEL, Some(GUILD), USER, "<@900000000000000001> ping", true);
    discord
        .wait_until("the reply", |discord| {
            discord.shown(GUILD_CHANNEL).first().is_some_and(|text| text.contains("ping"))
        })
        .await;
    assert_eq!(model.requests().len(), 1, "the unaddressed message never reached the model");

    discord.drop_connection();
    discord.wait_until("a resume", |discord| ops(discord, 6) == 1).await;
    let resume = discord.frames().into_iter().find(|frame| frame["op"] == 6).unwrap();
    assert_eq!(resume["d"]["session_id"], "session-1");
    assert!(resume["d"]["seq"].as_u64().unwrap() >= 3);
    discord.replay(&asked);
    discord.message(GUILD_CHANNEL, Some(GUILD), USER, "<@900000000000000001> after", true);
    discord.wait_until("the second reply", |discord| discord.shown(GUILD_CHANNEL).len() == 2).await;
    let mention = "<@900000000000000001>";
    assert_eq!(
        model.user_texts(),
        [format!("{mention} ping"), format!("{mention} after")],
        "the replayed message was not answered again, and the new one was"
    );
    gateway.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn op7_op9_and_a_missing_heartbeat_ack_reconnect() {
    let (discord, model) = (FakeDiscord::start().await, FakeAnthropic::start().await);
    let gateway = start(&discord, &model, &[("DISCORD_DM_POLICY", "open")]).await;
    discord.wait_until("a heartbeat", |discord| ops(discord, 1) >= 1).await;
    discord.op7_reconnect();
    discord.wait_until("a resume after op 7", |discord| ops(discord, 6) == 1).await;
    discord.op9_invalid_session(false);
    discord.wait_until("a fresh identify after op 9", |discord| ops(discord, 2) == 2).await;
    discord.withhold_acks(true);
    discord.wait_until("a resume after a missing ACK", |discord| ops(discord, 6) == 2).await;
    discord.withhold_acks(false);
    assert_eq!(discord.connections(), 4);
    discord.message(DM, None, USER, "still alive?", false);
    discord
        .wait_until("the reply", |discord| discord.shown(DM).first().is_some_and(|text| text.contains("still alive?")))
        .await;
    let live = status(&gateway).await;
    assert_eq!(live["connected"], true);
    assert!(live["reconnects"].as_u64().unwrap() >= 3, "{live}");
    gateway.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn close_4014_is_explained_and_not_retried_and_429_is_waited_out() {
    let (discord, model) = (FakeDiscord::start().await, FakeAnthropic::start().await);
    let gateway = start(&discord, &model, &[("DISCORD_DM_POLICY", "open")]).await;
    discord.rate_limit_next(1, 0.5);
    discord.message(DM, None, USER, "hello", false);
    discord.wait_until("the reply", |discord| discord.shown(DM) == ["You said: hello"]).await;
    let posts: Vec<_> =
        discord.calls().into_iter().filter(|call| call.method == "POST" && call.path.ends_with("/messages")).collect();
    assert_eq!(posts.len(), 2);
    assert!(posts[1].at - posts[0].at >= Duration::from_millis(450), "retry_after honoured");
    assert_eq!(posts[1].body, posts[0].body, "the same request again");
    assert_eq!(posts[0].body["allowed_mentions"], json!({"parse": []}), "a reply never pings anyone");

    // A spent bucket makes the next create wait for the bucket's reset (1 s in the fake).
    discord.wait_until("the typing calls to end", |discord| discord.calls().len() >= 4).await;
    let before = discord.calls().len();
    discord.bucket_remaining(0);
    // The typing call takes the spent bucket; the reply comes late enough that its create is
    // sent after the typing answer arrived (with both in flight at once, neither can know).
    model.push(Reply::Slow { chunks: vec!["You said: again".into()], delay_ms: 300 });
    discord.message(DM, None, USER, "again", false);
    discord.wait_until("the second reply", |discord| discord.shown(DM).len() == 2).await;
    let calls = discord.calls();
    let spent = &calls[before];
    let next = calls[before + 1..].iter().find(|call| call.method != "GET").unwrap();
    assert!(next.at - spent.at >= Duration::from_millis(950), "the call after a spent bucket waited for its reset");

    discord.close(4014);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let live = loop {
        let live = status(&gateway).await;
        if live["lastError"].as_str().is_some_and(|error| error.contains("4014"))
            || tokio::time::Instant::now() > deadline
        {
            break live;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(live["lastError"].as_str().unwrap().contains("MESSAGE CONTENT INTENT"), "{live}");
    assert_eq!(live["connected"], false);
    assert_eq!(discord.connections(), 1, "a fatal close is not retried");
    gateway.stop().await.unwrap();
}
