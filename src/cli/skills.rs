//! `molt skills`: list, add (a folder, zipped here, or a `.zip`), remove, enable and disable
//! the assistant's skills, against a local gateway (its token) or a deployed one (an Access
//! service token), through the admin API.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::admin_client::AdminClient;
use super::context::Context;
use super::error::{Hint, UserError};
use super::gateway_url::Target;
use crate::core::settings::{GatewayFlags, Settings};
use crate::core::skills::Limits;
use crate::core::skills::pack::{self, PackError};

#[derive(Debug, Args)]
pub struct SkillsArgs {
    /// The gateway's URL [env: MOLT_URL] [default: http://127.0.0.1:<port from settings>]
    #[arg(long, global = true)]
    url: Option<String>,
    /// The local gateway's data directory, where its token is kept [env: MOLT_DATA_DIR]
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Print the API's JSON instead of text
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: SkillsCommand,
}

#[derive(Debug, Subcommand)]
enum SkillsCommand {
    /// The installed skills: on or off, and whether the model is offered them (and why not)
    List,
    /// Install a skill from its folder (named as the skill) or a `.zip` of it
    Add {
        /// The skill's folder, holding `SKILL.md`, or a `.zip`
        path: PathBuf,
        /// Take the place of an installed skill of the same name
        #[arg(long)]
        replace: bool,
    },
    /// Remove an installed skill and its files
    Remove { name: String },
    /// Offer an installed skill to the model again
    Enable { name: String },
    /// Stop offering a skill to the model; it stays installed
    Disable { name: String },
}

pub fn run(args: SkillsArgs, context: &Context) -> anyhow::Result<()> {
    context.block_on(async move {
        let flags = GatewayFlags { data_dir: args.data_dir.clone(), ..GatewayFlags::default() };
        let settings = Settings::from_process(&flags).map_err(UserError::from)?;
        // The archive is made before anything is sent: a skill refused here costs no request.
        let archive = match &args.command {
            SkillsCommand::Add { path, .. } => Some(archive(path)?),
            _ => None,
        };
        let client = AdminClient::new(Target::resolve(args.url.as_deref(), &settings)?)?;
        let (json, text) = execute(&client, &args.command, archive).await?;
        if args.json { super::output::json(&json) } else { super::output::print(&text) }
    })
}

async fn execute(
    client: &AdminClient,
    command: &SkillsCommand,
    archive: Option<Vec<u8>>,
) -> anyhow::Result<(Value, String)> {
    Ok(match command {
        SkillsCommand::List => {
            let view = client.get("/api/admin/skills").await?;
            let text = list_text(&view);
            (view, text)
        }
        SkillsCommand::Add { replace, .. } => {
            let query = if *replace { "?replace=true" } else { "" };
            let answer = client.post_zip(&format!("/api/admin/skills{query}"), archive.unwrap_or_default()).await?;
            let skill = &answer["skill"];
            let verb = if answer["replaced"] == true { "replaced" } else { "added" };
            let text = format!("{verb} `{}`: {}\n", text(skill, "name"), state(skill));
            (answer, text)
        }
        SkillsCommand::Remove { name } => {
            let answer = client.delete(&format!("/api/admin/skills/{name}")).await?;
            (answer, format!("removed `{name}`\n"))
        }
        SkillsCommand::Enable { name } | SkillsCommand::Disable { name } => {
            let enabled = matches!(command, SkillsCommand::Enable { .. });
            let skill = client.put(&format!("/api/admin/skills/{name}"), &json!({"enabled": enabled})).await?;
            let text = format!("`{name}` is {}\n", state(&skill));
            (skill, text)
        }
    })
}

/// The `.zip` to send: the folder packed, or the file as it is.
fn archive(path: &Path) -> anyhow::Result<Vec<u8>> {
    let limit = Limits::DEFAULT.archive_bytes;
    let metadata = std::fs::metadata(path)
        .map_err(|source| UserError::from(SkillsCliError::Read { path: path.to_owned(), source }))?;
    if metadata.is_dir() {
        return Ok(pack::pack(path, &Limits::DEFAULT).map_err(UserError::from)?);
    }
    if metadata.len() > limit {
        return Err(
            UserError::from(SkillsCliError::TooLarge { path: path.to_owned(), bytes: metadata.len(), limit }).into()
        );
    }
    std::fs::read(path).map_err(|source| UserError::from(SkillsCliError::Read { path: path.to_owned(), source }).into())
}

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field].as_str().unwrap_or("-")
}

/// `on: in the prompt`, `off`, `on: not usable: needs …`.
fn state(skill: &Value) -> String {
    let switch = if skill["enabled"] == true { "on" } else { "off" };
    match (skill["usable"] == true, skill["listed"] == true, skill["reason"].as_str()) {
        (_, true, _) => format!("{switch}: in the prompt"),
        (false, _, Some(reason)) => format!("{switch}: not usable: {reason}"),
        (true, false, Some(reason)) if switch == "on" => format!("{switch}: {reason}"),
        _ => switch.to_owned(),
    }
}

fn list_text(view: &Value) -> String {
    let skills = view["skills"].as_array().cloned().unwrap_or_default();
    if skills.is_empty() {
        return "No skills installed\n  add one with `molt skills add <folder or .zip>`\n".into();
    }
    let listed = skills.iter().filter(|skill| skill["listed"] == true).count();
    let mut out = format!(
        "Skills ({}): {listed} in the prompt, {} bytes (about {} tokens)\n",
        skills.len(),
        view["promptBytes"].as_u64().unwrap_or(0),
        view["promptTokens"].as_u64().unwrap_or(0),
    );
    let width = skills.iter().map(|skill| text(skill, "name").len()).max().unwrap_or(0);
    for skill in &skills {
        let switch = if skill["enabled"] == true { "on" } else { "off" };
        let about = match (skill["usable"] == true, skill["reason"].as_str()) {
            (false, Some(reason)) => format!("not usable: {reason}"),
            (true, Some(reason)) if switch == "on" => reason.to_owned(),
            _ => cut(skill["description"].as_str().unwrap_or(""), 72),
        };
        out.push_str(&format!("  {:<width$}  {switch:<3}  {about}\n", text(skill, "name")));
    }
    out
}

fn cut(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_owned();
    }
    format!("{}…", text.chars().take(chars - 1).collect::<String>().trim_end())
}

#[derive(Debug, thiserror::Error)]
enum SkillsCliError {
    #[error("cannot read `{path}`: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("`{path}` is {bytes} bytes; a skill's archive is at most {limit}")]
    TooLarge { path: PathBuf, bytes: u64, limit: u64 },
}

impl Hint for SkillsCliError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::Read { .. } => "give the skill's folder (the one holding `SKILL.md`) or a `.zip` of it".into(),
            Self::TooLarge { .. } => "leave large assets out of the skill".into(),
        })
    }
}

impl Hint for PackError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::Symlink(_) | Self::Special(_) => "copy the file it points to into the skill's folder instead".into(),
            Self::NoSkillFile(_) => "give the folder that holds the skill's `SKILL.md`".into(),
            Self::TooManyFiles(..) | Self::TooLarge(..) => "leave large assets out of the skill".into(),
            Self::BadPath { .. } | Self::NoName(_) => "rename it, then run `molt skills add` again".into(),
            Self::Read { .. } | Self::Zip(_) => "check the folder's permissions".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_reads_without_colour_and_says_why_a_skill_is_not_offered() {
        let view = json!({
            "promptBytes": 412, "promptTokens": 138,
            "skills": [
                {"name": "calendar", "description": "Reads the calendar.", "enabled": true, "usable": true, "listed": true},
                {"name": "github", "enabled": true, "usable": false, "listed": false, "reason": "needs `gh` on `PATH`"},
                {"name": "notes", "description": "Keeps notes.", "enabled": false, "usable": true, "listed": false},
            ],
        });
        assert_eq!(
            list_text(&view),
            "Skills (3): 1 in the prompt, 412 bytes (about 138 tokens)\n\
             \x20 calendar  on   Reads the calendar.\n\
             \x20 github    on   not usable: needs `gh` on `PATH`\n\
             \x20 notes     off  Keeps notes.\n"
        );
        assert_eq!(state(&view["skills"][0]), "on: in the prompt");
        assert_eq!(state(&view["skills"][1]), "on: not usable: needs `gh` on `PATH`");
        assert_eq!(state(&view["skills"][2]), "off");
        assert!(list_text(&json!({"skills": []})).starts_with("No skills installed"));
    }
}
