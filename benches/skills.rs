//! What installed skills add to the system prompt: N realistic skills (names and descriptions
//! in the shape of OpenClaw's and Anthropic's published ones, 90 to 400 characters) are added
//! through the admin API to a gateway running in-process against the fake Anthropic server; the
//! system prompt the model receives is compared before and after. Prints bytes, molt's token
//! estimate (3 bytes a token, `src/daemon/agent/budget.rs`) and a 4-bytes-a-token count, and
//! how many skills the listing holds. Counts, not times: the build does not change them.
//! Run: `cargo bench --bench skills -- [--skills 100]`.

#[path = "../tests/it/support/mod.rs"]
mod support;

#[path = "measure/mod.rs"]
mod measure;

use molt::core::skills::Limits;
use molt::core::skills::pack::pack;
use serde_json::{Value, json};
use support::client::{Client, ConnectOptions};
use support::fake_anthropic::FakeAnthropic;
use support::gateway::{TOKEN, TestGateway};

/// `(topic, what it does, when to use it)`: the two halves the Agent Skills guidance asks of a
/// description.
const TOPICS: &[(&str, &str, &str)] = &[
    (
        "pdf",
        "Extract text and tables from PDF files, fill PDF forms, merge and split documents.",
        "Use when the user mentions a PDF, a form to fill in, or pages to combine.",
    ),
    (
        "docx",
        "Create and edit Word documents with tracked changes, comments and styles kept intact.",
        "Use when the user asks for a .docx, a letter, a report or edits to an existing document.",
    ),
    (
        "xlsx",
        "Read, clean and build spreadsheets: formulas, pivot-style summaries, charts, CSV import.",
        "Use when the user works with .xlsx or .csv files or asks for a table of figures.",
    ),
    (
        "weather",
        "Current conditions and forecasts for any city through wttr.in, no key needed.",
        "Use when the user asks about the weather, rain, temperature or what to wear.",
    ),
    (
        "github",
        "Issues, pull requests, CI runs and releases through the `gh` CLI.",
        "Use when the user mentions a repository, an issue number, a failing check or a review.",
    ),
    (
        "calendar",
        "Read and create events in the user's calendar, find free slots, send invitations.",
        "Use when the user asks about meetings, availability, or to schedule something.",
    ),
    (
        "email",
        "Search, summarise and draft email in the user's mailbox over IMAP and SMTP.",
        "Use when the user asks about messages, replies to write, or their inbox.",
    ),
    (
        "notes",
        "Keep and search plain Markdown notes in the workspace, with tags and dates.",
        "Use when the user wants to jot something down or find an earlier note.",
    ),
    (
        "recipes",
        "Plan meals, scale recipes, convert units and build a shopping list by aisle.",
        "Use when the user talks about cooking, ingredients, dinner plans or groceries.",
    ),
    (
        "travel",
        "Plan trips: routes, train and flight options, opening hours, a day-by-day outline.",
        "Use when the user is going somewhere, asks about tickets, or needs an itinerary.",
    ),
    (
        "finance",
        "Categorise transactions from bank exports, track a budget and flag unusual spending.",
        "Use when the user shares a statement, asks where money went, or sets a budget.",
    ),
    (
        "translate",
        "Translate text between languages keeping tone, names and formatting.",
        "Use when the user asks for a translation or writes in a language they want rendered in another.",
    ),
    (
        "summarize",
        "Summarise long articles, transcripts and threads into key points and decisions.",
        "Use when the user pastes or links something long and asks for the gist.",
    ),
    (
        "code-review",
        "Review a diff for bugs, security problems and style against the project's conventions.",
        "Use when the user shares a patch, a pull request or asks for a second pair of eyes.",
    ),
    (
        "shell",
        "Explain and compose shell commands and scripts for Linux and macOS safely.",
        "Use when the user asks how to do something in a terminal or pastes a command.",
    ),
    (
        "sql",
        "Write and explain SQL queries for SQLite and PostgreSQL, and read query plans.",
        "Use when the user asks about a database, a query, or slow reports.",
    ),
    (
        "home",
        "Control lights, heating and scenes through Home Assistant's REST API.",
        "Use when the user asks to switch something at home or about the house's state.",
    ),
    (
        "music",
        "Search and queue music, build playlists from a mood or a list of artists.",
        "Use when the user asks to play something or wants listening suggestions.",
    ),
    (
        "fitness",
        "Log workouts, plan training weeks and track progress toward a goal.",
        "Use when the user mentions a run, a gym session, or a fitness plan.",
    ),
    (
        "reading",
        "Track books to read and read, with notes, quotes and recommendations.",
        "Use when the user talks about books, reading lists or wants a suggestion.",
    ),
    (
        "invoice",
        "Draft invoices and quotes from a template with numbering, taxes and due dates.",
        "Use when the user needs to bill a client or asks about an unpaid invoice.",
    ),
    (
        "slides",
        "Outline and build slide decks with speaker notes from a brief or a document.",
        "Use when the user prepares a talk, a pitch or a presentation.",
    ),
    (
        "diagram",
        "Draw flowcharts, sequence and architecture diagrams as Mermaid or Graphviz.",
        "Use when the user asks for a diagram or to visualise a process or a system.",
    ),
    (
        "research",
        "Search the web, compare sources and write a short cited brief.",
        "Use when the user asks an open question that needs several sources.",
    ),
    (
        "contacts",
        "Find and update people in the address book; birthdays and how they met.",
        "Use when the user mentions someone by name or asks for a phone number or address.",
    ),
];

/// Variants of each topic, as a user's collection has several skills near one another.
const FLAVOURS: &[(&str, &str)] = &[
    ("", ""),
    ("-pro", " Handles large batches and keeps a log of what it changed so it can be undone."),
    ("-lite", ""),
    (
        "-team",
        " Shares results with the team's channel and follows the team's naming rules and templates for every file it writes.",
    ),
];

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(run(measure::flag("--skills", 100) as usize));
}

/// The `index`th skill: its name and front matter.
fn skill(index: usize) -> (String, String) {
    let (topic, what, when) = TOPICS[index % TOPICS.len()];
    let (suffix, more) = FLAVOURS[(index / TOPICS.len()) % FLAVOURS.len()];
    let round = index / (TOPICS.len() * FLAVOURS.len());
    let name = if round == 0 { format!("{topic}{suffix}") } else { format!("{topic}{suffix}-{round}") };
    let front = format!("name: {name}\ndescription: \"{what}{more} {when}\"\nlicense: MIT");
    (name, front)
}

async fn system_prompt(gateway: &TestGateway, fake: &FakeAnthropic) -> String {
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.expect("connect");
    let key = format!("{:032x}", rand::random::<u128>());
    let ack = client.call("chat.send", json!({"sessionKey": "main", "message": "hello", "idempotencyKey": key})).await;
    client.chat_run(ack["runId"].as_str().expect("run id")).await;
    client.close().await;
    let requests = fake.requests();
    requests.last().expect("a request").body["system"][0]["text"].as_str().expect("system text").to_owned()
}

async fn run(count: usize) {
    let fake = FakeAnthropic::start().await;
    let gateway = TestGateway::builder().model(&fake).start().await;
    let before = system_prompt(&gateway, &fake).await;
    let source = tempfile::tempdir().expect("temp dir");
    let http = reqwest::Client::new();
    let mut descriptions = Vec::new();
    for index in 0..count {
        let (name, front) = skill(index);
        let folder = source.path().join(&name);
        std::fs::create_dir_all(&folder).expect("folder");
        std::fs::write(
            folder.join("SKILL.md"),
            format!("---\n{front}\n---\n\n# {name}\n\n1. Read the request.\n2. Act.\n"),
        )
        .expect("SKILL.md");
        let archive = pack(&folder, &Limits::DEFAULT).expect("pack");
        let answer: Value = http
            .post(gateway.http_url("/api/admin/skills"))
            .bearer_auth(TOKEN)
            .body(archive)
            .send()
            .await
            .expect("add")
            .json()
            .await
            .expect("json");
        descriptions.push(answer["skill"]["description"].as_str().expect("added").chars().count());
    }
    let after = system_prompt(&gateway, &fake).await;
    let view: Value = http
        .get(gateway.http_url("/api/admin/skills"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let listed = view["skills"].as_array().expect("skills").iter().filter(|skill| skill["listed"] == true).count();
    let added = after.len() - before.len();
    descriptions.sort_unstable();
    let cut = descriptions.iter().filter(|length| **length > 300).count();
    println!("skills installed: {count}; listed in the prompt: {listed}");
    println!(
        "descriptions: {} to {} characters, median {}; {cut} cut at 300 bytes in the prompt",
        descriptions[0],
        descriptions[descriptions.len() - 1],
        descriptions[descriptions.len() / 2]
    );
    println!("system prompt: {} bytes before, {} after", before.len(), after.len());
    println!(
        "added: {added} bytes = {} tokens by molt's estimate (3 bytes a token), {} at 4 bytes a token; {} bytes a skill",
        added.div_ceil(3),
        added.div_ceil(4),
        added / count.max(1)
    );
    println!("the admin API's own figure: {} bytes, {} tokens", view["promptBytes"], view["promptTokens"]);
    gateway.stop().await.expect("stop");
}
