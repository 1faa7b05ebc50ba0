//! `send_message` against a recording [`Outbound`]: who may be reached, what is sent, what the
//! web page is told, and the audit row of every attempt.

use std::sync::Mutex;

use serde_json::json;

use super::*;
use crate::core::asker::MemoryScope;
use crate::core::pairing::DmPolicy;
use crate::core::scopes::Scope;
use crate::core::settings::ChannelSeed;
use crate::core::sync::lock;
use crate::daemon::store::Store;

/// Records every send; fails them all when `failing`, never finishes one when `hanging`.
#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<(String, String, String)>>,
    failing: bool,
    hanging: bool,
}

impl Outbound for Recorder {
    fn send<'a>(
        &'a self,
        channel: &'a str,
        chat_id: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, Result<usize, OutboundError>> {
        Box::pin(async move {
            if self.hanging {
                std::future::pending::<()>().await;
            }
            if self.failing {
                return Err(OutboundError::Failed {
                    sent: 0,
                    total: 1,
                    error: "telegram answered 403: blocked".into(),
                });
            }
            lock(&self.sent).push((channel.to_owned(), chat_id.to_owned(), text.to_owned()));
            Ok(1)
        })
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    recorder: Arc<Recorder>,
    events: EventBus,
    tool: SendMessage,
    context: ToolContext,
}

fn setup(failing: bool, asker: Asker) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Arc::new(Recorder { failing, ..Recorder::default() });
    let events = EventBus::default();
    let operators = OperatorIds::from_seeds(&[ChannelSeed {
        channel: "telegram",
        policy: Some(DmPolicy::Allowlist),
        allow_from: Some(vec!["1001".into()]),
    }]);
    let tool = SendMessage { outbound: Arc::clone(&recorder) as Arc<dyn Outbound>, events: events.clone(), operators };
    let context = ToolContext {
        workspace: dir.path().to_owned(),
        store: Store::open(dir.path()).unwrap(),
        session_key: SessionKey::main(),
        asker,
        scope: MemoryScope::Shared,
    };
    Setup { _dir: dir, recorder, events, tool, context }
}

impl Setup {
    async fn send(&self, to: &str, text: &str) -> Result<String, ToolError> {
        self.tool.call(json!({"to": to, "text": text}), &self.context).await
    }

    fn sent(&self) -> Vec<(String, String, String)> {
        lock(&self.recorder.sent).clone()
    }

    /// The audit rows, oldest first: (actor, action, target, detail).
    async fn audit(&self) -> Vec<(String, String, String, String)> {
        let mut rows = self.context.store.audit_log(10).await.unwrap();
        rows.reverse();
        rows.into_iter().map(|row| (row.actor, row.action, row.target, row.detail.unwrap_or_default())).collect()
    }
}

#[test]
fn targets_name_a_platform_and_an_id_it_could_mean() {
    let chat = |channel, id: &str| Ok(Target::Chat { channel, id: id.to_owned() });
    assert_eq!(target("telegram:-1001234"), chat("telegram", "-1001234"));
    assert_eq!(target(" discord: 700000000000000009 "), chat("discord", "700000000000000009"));
    assert_eq!(target("slack:C0123ABC"), chat("slack", "C0123ABC"));
    assert_eq!(target("web:main"), Ok(Target::Web(SessionKey::main())));
    for bad in ["telegram:@someone", "discord:abc", "slack:C1/../x", "telegram:", "sms:123", "123", "web:"] {
        assert!(target(bad).is_err(), "{bad}");
    }
    assert!(target("email:a@b").unwrap_err().to_string().contains("`telegram:<chat id>`"));
}

#[tokio::test]
async fn an_unknown_chat_is_refused_nothing_is_sent_and_the_attempt_is_audited() {
    let setup = setup(false, Asker::Operator);
    let error = setup.send("telegram:5555", "hello").await.unwrap_err().to_string();
    assert!(
        error.starts_with("refused: `telegram:5555` is not a chat the operator has paired or allowlisted"),
        "{error}"
    );
    assert!(setup.sent().is_empty());
    let audit = setup.audit().await;
    let refused = (
        "operator".into(),
        "message.send".into(),
        "telegram:5555".into(),
        "refused: 5 characters, not a known chat".into(),
    );
    assert_eq!(audit, [refused]);
}

#[tokio::test]
async fn allowlisted_chats_and_the_operators_own_ids_are_sent_to_and_audited_without_the_text() {
    let setup = setup(false, Asker::Sender { channel: "telegram".into(), sender_id: "1001".into() });
    setup.context.store.set_allowlist("slack", vec!["U0009".into()]).await.unwrap();
    let mut audit_feed = setup.events.subscribe(Scope::Admin);
    assert_eq!(setup.send("slack:U0009", "  the report is ready  ").await.unwrap(), "sent to `slack:U0009`");
    assert_eq!(setup.send("telegram:1001", "note to self").await.unwrap(), "sent to `telegram:1001`");
    assert_eq!(
        setup.sent(),
        [
            ("slack".into(), "U0009".into(), "the report is ready".into()),
            ("telegram".into(), "1001".into(), "note to self".into()),
        ]
    );
    let audit = setup.audit().await;
    assert_eq!(
        audit[0],
        (
            "telegram:1001".into(),
            "message.send".into(),
            "slack:U0009".into(),
            "sent: 19 characters in 1 message(s)".into()
        )
    );
    assert!(audit.iter().all(|row| !row.3.contains("report")), "{audit:?}");
    assert_eq!(audit_feed.try_recv().unwrap().event, "audit.appended");
}

#[tokio::test]
async fn a_failed_send_is_reported_and_audited() {
    let setup = setup(true, Asker::Operator);
    let error = setup.send("telegram:1001", "hi").await.unwrap_err().to_string();
    assert_eq!(error, "cannot send to `telegram:1001`: telegram answered 403: blocked");
    assert_eq!(setup.audit().await[0].3, "failed: 2 characters: telegram answered 403: blocked");
}

#[tokio::test]
async fn a_send_cut_short_by_its_timeout_is_still_audited() {
    let mut setup = setup(false, Asker::Operator);
    setup.tool.outbound = Arc::new(Recorder { hanging: true, ..Recorder::default() });
    let call = setup.send("telegram:1001", "are you there?");
    assert!(tokio::time::timeout(std::time::Duration::from_millis(50), call).await.is_err());
    // The row is written by a task of its own once the call is dropped.
    let mut audit = Vec::new();
    for _ in 0..500 {
        audit = setup.audit().await;
        if !audit.is_empty() {
            break;
        }
        tokio::task::yield_now().await;
    }
    let cut = (
        "operator".into(),
        "message.send".into(),
        "telegram:1001".into(),
        "cut short: 14 characters, perhaps partly sent".into(),
    );
    assert_eq!(audit, [cut]);
}

#[tokio::test]
async fn web_stores_an_assistant_message_and_tells_the_clients() {
    let setup = setup(false, Asker::Operator);
    let key = SessionKey::main();
    let mut chat = setup.events.subscribe_session(&key);
    let mut sessions = setup.events.subscribe(Scope::Read);
    assert_eq!(setup.send("web:main", "dinner is at eight").await.unwrap(), "stored in session `agent:main:main`");
    let history = setup.context.store.history(&key, 10).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!((history[0].role, history[0].content.as_str()), (MessageRole::Assistant, "dinner is at eight"));
    let event = chat.try_recv().unwrap();
    let final_step = &event.chat().unwrap().step;
    assert!(matches!(final_step, ChatStep::Final { message, .. } if message.joined_text() == "dinner is at eight"));
    assert_eq!(sessions.try_recv().unwrap().event, "sessions.changed");
    assert!(setup.sent().is_empty(), "no platform is involved");
    assert_eq!(setup.audit().await[0].2, "web:agent:main:main");
}

#[tokio::test]
async fn web_refuses_a_platforms_session_and_one_that_does_not_exist() {
    let setup = setup(false, Asker::Operator);
    let platform = setup.send("web:agent:main:telegram:direct:42", "hi").await.unwrap_err().to_string();
    assert!(platform.contains("send to its chat as `telegram:<chat id>`"), "{platform}");
    let missing = setup.send("web:agent:main:notes", "hi").await.unwrap_err().to_string();
    assert_eq!(missing, "refused: there is no session `agent:main:notes`; `web:main` is the main session");
    assert!(setup.context.store.history(&SessionKey::parse("agent:main:notes").unwrap(), 1).await.unwrap().is_empty());
}

#[tokio::test]
async fn empty_and_oversized_texts_are_refused() {
    let setup = setup(false, Asker::Operator);
    assert_eq!(setup.send("telegram:1001", " \n").await.unwrap_err().to_string(), "the text is empty");
    let long = setup.send("telegram:1001", &"x".repeat(MAX_TEXT_CHARS + 1)).await.unwrap_err().to_string();
    assert!(long.contains("at most 16000"), "{long}");
    assert!(setup.sent().is_empty());
}

#[test]
fn only_the_operator_is_offered_it_unless_granted() {
    let mut registry = Registry::empty();
    let settings = ToolSettings::default();
    offer(&mut registry, &settings, Arc::new(Recorder::default()), EventBus::default(), OperatorIds::default());
    use crate::core::asker::Rights;
    assert!(registry.permitted(SEND_MESSAGE, Rights::Operator).is_ok());
    assert!(registry.permitted(SEND_MESSAGE, Rights::Guest).is_err());
    let mut off = Registry::empty();
    let disabled = ToolSettings { enabled: false, ..ToolSettings::default() };
    offer(&mut off, &disabled, Arc::new(Recorder::default()), EventBus::default(), OperatorIds::default());
    assert!(off.offered(Rights::Operator).is_empty());
}
