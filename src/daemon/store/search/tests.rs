//! The search index on a real SQLite file: it follows every way a message comes and goes,
//! notes are indexed again when they change and forgotten when deleted, and no query text can
//! make a search fail.

use std::path::Path;

use super::*;
use crate::core::ids::{RunId, SessionKey};
use crate::daemon::store::{NewMessage, Usage};

fn message(key: &SessionKey, role: MessageRole, content: &str) -> NewMessage {
    NewMessage {
        session_key: key.clone(),
        run_id: RunId::generate(),
        role,
        content: content.into(),
        idempotency_key: None,
        model: None,
        stop_reason: None,
        usage: Usage::default(),
        tools: Vec::new(),
    }
}

fn key(raw: &str) -> SessionKey {
    SessionKey::parse(raw).unwrap()
}

/// Message ids the index itself answers for `word`: stale entries show here even when the
/// message they point to is gone.
async fn indexed(store: &Store, word: &str) -> Vec<i64> {
    let expression = SearchTerms::parse(word).unwrap().expression();
    store
        .call(move |connection| {
            let mut statement = connection
                .prepare("SELECT rowid FROM messages_search WHERE messages_search MATCH ?1 ORDER BY rowid")?;
            let rows = statement.query_map([expression], |row| row.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<i64>>>()?)
        })
        .await
        .unwrap()
}

/// FTS5's own check that the index holds exactly what `messages` holds.
async fn consistent(store: &Store) {
    store
        .call(|connection| {
            connection
                .execute("INSERT INTO messages_search (messages_search, rank) VALUES ('integrity-check', 1)", [])?;
            Ok(())
        })
        .await
        .expect("the index matches the messages");
}

async fn search(store: &Store, workspace: &Path, text: &str, reach: &SearchReach) -> Vec<SearchHit> {
    let terms = SearchTerms::parse(text).unwrap();
    store.search_memory(workspace, &terms, reach, MAX_HITS).await.unwrap().hits
}

fn texts(hits: &[SearchHit]) -> Vec<&str> {
    hits.iter().map(|hit| hit.snippet.as_str()).collect()
}

#[tokio::test]
async fn the_index_follows_inserts_resets_and_cascading_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (kept, reset, deleted) =
        (key("agent:main:main"), key("agent:main:telegram:direct:1"), key("agent:main:discord:direct:2"));
    store.append_message(message(&kept, MessageRole::User, "the heron nests by the river")).await.unwrap();
    store.append_message(message(&reset, MessageRole::User, "a heron in the reset session")).await.unwrap();
    store.append_message(message(&deleted, MessageRole::Assistant, "a heron in the deleted session")).await.unwrap();
    assert_eq!(indexed(&store, "heron").await.len(), 3);
    consistent(&store).await;

    assert_eq!(store.reset_session(&reset).await.unwrap(), 1);
    assert_eq!(indexed(&store, "heron").await.len(), 2, "a reset removes its messages from the index");
    consistent(&store).await;

    // The messages go by the foreign key's cascade, not by a statement on `messages`.
    assert!(store.delete_session(&deleted).await.unwrap());
    assert_eq!(indexed(&store, "heron").await.len(), 1, "the cascade fires the delete trigger");
    consistent(&store).await;

    let hits = search(&store, dir.path(), "heron", &SearchReach::Everything).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].source, HitSource::Message { session_key: kept.to_string(), role: MessageRole::User });
    assert_eq!(hits[0].snippet, "the **heron** nests by the river");
    assert!(hits[0].date.ends_with(" UTC") && hits[0].date.len() == "2026-12-08 14:03 UTC".len(), "{}", hits[0].date);
}

#[tokio::test]
async fn updated_rows_are_indexed_with_their_new_text() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.append_message(message(&SessionKey::main(), MessageRole::User, "old words")).await.unwrap();
    // The statement replication replays an upsert with, over a row that exists.
    store
        .call(|connection| {
            connection.execute(
                "INSERT INTO messages (id, session_key, run_id, role, content, created_ms) VALUES (1, 'agent:main:main', 'r', 'user', 'new text', 0)
                 ON CONFLICT (id) DO UPDATE SET content = excluded.content",
                [],
            )?;
            Ok(())
        })
        .await
        .unwrap();
    assert!(indexed(&store, "old").await.is_empty());
    assert_eq!(indexed(&store, "new").await, [1]);
    consistent(&store).await;
}

#[tokio::test]
async fn a_database_from_before_the_index_gets_its_messages_indexed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .append_message(message(&SessionKey::main(), MessageRole::User, "written before search existed"))
            .await
            .unwrap();
        // Back to the schema of version 6, the messages kept.
        store
            .call(|connection| {
                connection.execute_batch(
                    "DROP TRIGGER messages_search_insert; DROP TRIGGER messages_search_delete;
                     DROP TRIGGER messages_search_update; DROP TABLE messages_search;
                     DROP TABLE notes_search; DROP TABLE notes_indexed; PRAGMA user_version = 6;",
                )?;
                Ok(())
            })
            .await
            .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(indexed(&store, "existed").await, [1]);
    consistent(&store).await;
}

#[tokio::test]
async fn hostile_queries_answer_without_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.append_message(message(&SessionKey::main(), MessageRole::User, "near the col of x and y")).await.unwrap();
    std::fs::write(dir.path().join("MEMORY.md"), "- col x near the star\n").unwrap();
    // Raw, these are FTS5 syntax errors: the search must never pass them on as they are.
    let raw = store
        .call(|connection| {
            Ok(connection
                .query_row("SELECT COUNT(*) FROM messages_search WHERE messages_search MATCH 'NEAR('", [], |row| {
                    row.get::<_, i64>(0)
                })
                .is_err())
        })
        .await
        .unwrap();
    assert!(raw, "`NEAR(` is a syntax error for FTS5");
    let hostile = [
        "\"",
        "a AND",
        "*",
        "NEAR(",
        "col:x",
        "-",
        "AND",
        ":",
        "x*",
        "^near",
        "\"unbalanced",
        ")",
        "OR OR",
        "{col}: x",
        "NEAR(x y, 2)",
        "x NOT y",
        "'; DROP TABLE messages; --",
        "\u{0}",
        "🦀",
    ];
    for text in hostile {
        let Some(terms) = SearchTerms::parse(text) else { continue };
        let answer = store.search_memory(dir.path(), &terms, &SearchReach::Everything, 5).await;
        assert!(answer.is_ok(), "{text:?}: {answer:?}");
    }
    let hits = search(&store, dir.path(), "col:x", &SearchReach::Everything).await;
    assert_eq!(hits.len(), 2, "the words of `col:x` are searched as words");
}

#[tokio::test]
async fn hits_are_ranked_and_limited() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let main = SessionKey::main();
    for n in 0..10 {
        store.append_message(message(&main, MessageRole::User, &format!("kayak trip number {n}"))).await.unwrap();
    }
    // The best match is the newest: the ranking, not the order of storage, must bring it first.
    store.append_message(message(&main, MessageRole::User, "a kayak rental near the kayak club")).await.unwrap();
    for n in 0..30 {
        store.append_message(message(&main, MessageRole::Assistant, &format!("paddle number {n}"))).await.unwrap();
    }
    let terms = SearchTerms::parse("kayak rental").unwrap();
    let session = SearchReach::Limited { session_key: main.to_string(), notes: Vec::new() };
    for reach in [SearchReach::Everything, session] {
        let hits = store.search_memory(dir.path(), &terms, &reach, 3).await.unwrap().hits;
        assert_eq!(hits.len(), 3);
        assert_eq!(hits[0].snippet, "a **kayak** **rental** near the **kayak** club", "{reach:?}: {:?}", texts(&hits));
        assert!(hits.windows(2).all(|pair| pair[0].score <= pair[1].score));
        let kayak = SearchTerms::parse("kayak").unwrap();
        let best = store.search_memory(dir.path(), &kayak, &reach, 1).await.unwrap().hits;
        assert!(best[0].snippet.contains("rental"), "the word twice ranks first: {reach:?}");
    }
    let terms = SearchTerms::parse("paddle").unwrap();
    let capped = store.search_memory(dir.path(), &terms, &SearchReach::Everything, 500).await.unwrap().hits;
    assert_eq!(capped.len(), MAX_HITS);
    let one = store.search_memory(dir.path(), &terms, &SearchReach::Everything, 0).await.unwrap().hits;
    assert_eq!(one.len(), 1, "a limit of 0 still answers one hit");
}

#[tokio::test]
async fn notes_are_indexed_again_when_they_change_and_forgotten_when_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().join("workspace");
    std::fs::create_dir_all(workspace.join("memory/telegram")).unwrap();
    std::fs::write(workspace.join("MEMORY.md"), "# People\n\n- Ada likes tea\n\n- Ada likes the violin\n").unwrap();
    std::fs::write(workspace.join("memory/2026-12-08.md"), "Met Ada at the violin shop\n").unwrap();
    std::fs::write(workspace.join("memory/telegram/42.md"), "- I play the violin too\n").unwrap();
    std::fs::write(workspace.join("SOUL.md"), "violin").unwrap();
    std::fs::write(workspace.join("memory/draft.txt"), "violin").unwrap();
    let store = Store::open(dir.path()).unwrap();
    let hits = search(&store, &workspace, "violin", &SearchReach::Everything).await;
    let mut sources: Vec<(String, u32, String)> = hits
        .iter()
        .map(|hit| match &hit.source {
            HitSource::Note { path, line } => (path.clone(), *line, hit.date.clone()),
            other => panic!("only notes match: {other:?}"),
        })
        .collect();
    sources.sort();
    assert_eq!(sources[0], ("MEMORY.md".into(), 5, sources[0].2.clone()));
    assert_eq!(sources[1], ("memory/2026-12-08.md".into(), 1, "2026-12-08".into()));
    assert_eq!(sources[2].0, "memory/telegram/42.md");
    assert_eq!(sources.len(), 3, "only MEMORY.md and memory/**/*.md are notes");
    assert_eq!(sources[0].2.len(), "2026-12-08".len(), "undated notes carry the day they changed");

    std::fs::write(workspace.join("MEMORY.md"), "# People\n\n- Ada now plays the cello\n").unwrap();
    let cello = search(&store, &workspace, "cello", &SearchReach::Everything).await;
    assert_eq!(texts(&cello), ["# People\n- Ada now plays the **cello**"]);
    std::fs::remove_file(workspace.join("memory/2026-12-08.md")).unwrap();
    let left = search(&store, &workspace, "violin", &SearchReach::Everything).await;
    assert_eq!(texts(&left), ["- I play the **violin** too"]);
    let remembered: i64 = store
        .call(|connection| Ok(connection.query_row("SELECT COUNT(*) FROM notes_indexed", [], |row| row.get(0))?))
        .await
        .unwrap();
    assert_eq!(remembered, 2, "the deleted file is forgotten");
}

#[tokio::test]
async fn a_changed_file_of_the_same_size_is_indexed_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("MEMORY.md");
    std::fs::write(&path, "- otter\n").unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(search(&store, dir.path(), "otter", &SearchReach::Everything).await.len(), 1);
    std::fs::write(&path, "- beave\n").unwrap();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options().write(true).open(&path).unwrap().set_modified(later).unwrap();
    assert!(search(&store, dir.path(), "otter", &SearchReach::Everything).await.is_empty());
    assert_eq!(search(&store, dir.path(), "beave", &SearchReach::Everything).await.len(), 1);
}

#[cfg(unix)]
#[tokio::test]
async fn links_out_of_the_workspace_are_not_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.md"), "the launch code").unwrap();
    std::fs::create_dir_all(dir.path().join("memory")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.md"), dir.path().join("memory/link.md")).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("memory/folder")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.md"), dir.path().join("MEMORY.md")).unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert!(search(&store, dir.path(), "launch", &SearchReach::Everything).await.is_empty());
}

#[tokio::test]
async fn a_limited_reach_sees_one_session_and_the_named_notes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("memory/telegram")).unwrap();
    std::fs::write(dir.path().join("MEMORY.md"), "- the wifi password is in the drawer\n").unwrap();
    std::fs::write(dir.path().join("memory/telegram/1.md"), "- my wifi is slow\n").unwrap();
    std::fs::write(dir.path().join("memory/telegram/2.md"), "- wifi: hunter2\n").unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (mine, theirs) = (key("agent:main:telegram:direct:1"), key("agent:main:telegram:direct:2"));
    store.append_message(message(&mine, MessageRole::User, "is the wifi down?")).await.unwrap();
    store.append_message(message(&theirs, MessageRole::User, "my wifi password is hunter2")).await.unwrap();
    let reach = SearchReach::Limited {
        session_key: mine.to_string(),
        notes: vec!["MEMORY.md".into(), "memory/telegram/1.md".into()],
    };
    let hits = search(&store, dir.path(), "wifi password", &reach).await;
    assert_eq!(hits.len(), 3, "{:?}", texts(&hits));
    assert!(hits.iter().all(|hit| !hit.snippet.contains("hunter2")), "{:?}", texts(&hits));
    assert_eq!(search(&store, dir.path(), "wifi", &SearchReach::Everything).await.len(), 5);
}

#[tokio::test]
async fn a_search_answers_from_the_index_it_has_when_writes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("MEMORY.md"), "- lentils\n").unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.append_message(message(&SessionKey::main(), MessageRole::User, "lentils for dinner")).await.unwrap();
    assert_eq!(search(&store, dir.path(), "lentils", &SearchReach::Everything).await.len(), 2);
    store.refuse_writes("fenced".into());
    std::fs::write(dir.path().join("MEMORY.md"), "- beans and rice\n").unwrap();
    let hits = search(&store, dir.path(), "lentils", &SearchReach::Everything).await;
    assert_eq!(hits.len(), 2, "the note as it was indexed still answers: {:?}", texts(&hits));
    assert!(search(&store, dir.path(), "rice", &SearchReach::Everything).await.is_empty());
}

#[tokio::test]
async fn fts5_ranks_only_what_it_returns_and_skips_other_sessions_before_ranking() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let plans = store
        .call(|connection| {
            let mut plans = Vec::new();
            let bound: &[&dyn rusqlite::ToSql] = &[&"x", &"", &"", &1, &5, &0];
            for sql in [
                format!("{MESSAGES} ORDER BY rank LIMIT ?5"),
                session::SESSION_MATCHES.to_owned(),
                session::DESCRIBE.to_owned(),
            ] {
                let mut statement = connection.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                let count = statement.parameter_count();
                let steps = statement.query_map(&bound[..count], |row| row.get::<_, String>(3))?;
                plans.push(steps.collect::<rusqlite::Result<Vec<_>>>()?.join("; "));
            }
            Ok(plans)
        })
        .await
        .unwrap();
    for plan in &plans {
        assert!(plan.starts_with("SCAN messages_search VIRTUAL TABLE"), "FTS5 is the outer loop: {plan}");
        assert!(!plan.contains("TEMP B-TREE"), "no sort outside FTS5: {plan}");
    }
    for plan in &plans[1..] {
        assert!(!plan.contains(":="), "no query per listed message: {plan}");
    }
}

#[tokio::test]
async fn past_the_window_common_words_rank_recent_matches_and_every_word_still_finds_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.append_message(message(&SessionKey::main(), MessageRole::User, "an old heron by the kayak")).await.unwrap();
    store
        .call(|connection| {
            let transaction = connection.transaction()?;
            let mut insert = transaction.prepare(
                "INSERT INTO messages (session_key, run_id, role, content, created_ms) VALUES ('agent:main:main', 'r', 'assistant', ?1, 0)",
            )?;
            for n in 0..RANKED_WINDOW.max(session::SCANNED_WINDOW) + 10 {
                insert.execute([format!("kayak number {n}")])?;
            }
            drop(insert);
            transaction.commit()?;
            Ok(())
        })
        .await
        .unwrap();
    let session = SearchReach::Limited { session_key: SessionKey::main().to_string(), notes: Vec::new() };
    for reach in [SearchReach::Everything, session] {
        let ask = |text: &str| {
            let (store, terms, reach) = (store.clone(), SearchTerms::parse(text).unwrap(), reach.clone());
            let workspace = dir.path().to_owned();
            async move { store.search_memory(&workspace, &terms, &reach, 5).await.unwrap() }
        };
        let common = ask("kayak").await;
        assert!(common.recent_only, "more matches than the window: {reach:?}");
        assert_eq!(common.hits.len(), 5);
        assert!(common.hits.iter().all(|hit| !hit.snippet.contains("heron")), "the oldest is past the window");
        let both = ask("kayak heron").await;
        assert!(both.recent_only);
        assert_eq!(both.hits[0].snippet, "an old **heron** by the **kayak**", "every word finds it: {reach:?}");
        let rare = ask("heron").await;
        assert!(!rare.recent_only);
        assert_eq!(rare.hits.len(), 1);
    }
}

#[tokio::test]
async fn a_snapshot_carries_the_index_and_answers_once_opened() {
    let (dir, restored) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let store = Store::open(dir.path()).unwrap();
    store.append_message(message(&SessionKey::main(), MessageRole::User, "the puffin colony")).await.unwrap();
    // How replication takes a snapshot.
    let target = restored.path().join("molt.db");
    let path = target.to_string_lossy().into_owned();
    store.call(move |connection| Ok(connection.execute("VACUUM INTO ?1", [path])?)).await.unwrap();
    let copy = Store::open(restored.path()).unwrap();
    consistent(&copy).await;
    assert_eq!(
        texts(&search(&copy, restored.path(), "puffin", &SearchReach::Everything).await),
        ["the **puffin** colony"]
    );
}
