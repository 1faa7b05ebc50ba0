//! `molt init`'s questions about the chat channels: which ones, their modes and DM policies,
//! their tokens, and a note when a mode cannot hear messages while the container sleeps.

use super::{InitArgs, POLICIES};
use crate::cli::prompt::Asker;
use crate::core::secret::Secret;
use crate::core::settings::{ChannelSection, DeployChannels};

pub fn ask_channels(
    args: &InitArgs,
    asker: &mut Asker,
    env: &dyn Fn(&str) -> Option<String>,
    sleeps: bool,
    before: &DeployChannels,
    secrets: &mut Vec<(&'static str, Secret)>,
) -> DeployChannels {
    let previous: Vec<String> =
        [("telegram", &before.telegram), ("discord", &before.discord), ("slack", &before.slack)]
            .iter()
            .filter(|(_, section)| section.is_some())
            .map(|(name, _)| (*name).to_owned())
            .collect();
    let given = args.channels.clone().or_else(|| (!previous.is_empty()).then_some(previous));
    let chosen = asker.many(
        "Channels",
        "MOLT_CHANNELS (or --channels; `none` for none)",
        given,
        &["telegram", "discord", "slack"],
    );
    if sleeps && !chosen.is_empty() && asker.is_interactive() {
        asker.note(
            "the container sleeps when idle: a bot's own outbound connection does not wake it, so a polling \
             Telegram bot or a Socket Mode Slack app goes deaf while it sleeps. Telegram webhooks and the \
             Slack Events API wake it with each message: choose `webhook` and `events`",
        );
    }
    let mut channels = DeployChannels::default();
    let recommended = |sleeping_choice: usize| if sleeps { sleeping_choice } else { 1 - sleeping_choice };
    for name in chosen {
        match name.as_str() {
            "telegram" => {
                let mode = asker.choose(
                    "Telegram mode",
                    "TELEGRAM_MODE",
                    args.telegram_mode.clone(),
                    &["webhook", "polling"],
                    recommended(0),
                );
                let dm_policy = asker.choose(
                    "Telegram DM policy",
                    "TELEGRAM_DM_POLICY",
                    args.telegram_dm_policy.clone(),
                    POLICIES,
                    0,
                );
                if let Some(token) = asker.secret("Telegram bot token", "TELEGRAM_BOT_TOKEN", env("TELEGRAM_BOT_TOKEN"))
                {
                    secrets.push(("TELEGRAM_BOT_TOKEN", token));
                }
                channels.telegram = Some(ChannelSection { mode, dm_policy });
            }
            "discord" => {
                let dm_policy =
                    asker.choose("Discord DM policy", "DISCORD_DM_POLICY", args.discord_dm_policy.clone(), POLICIES, 0);
                if let Some(token) = asker.secret("Discord bot token", "DISCORD_BOT_TOKEN", env("DISCORD_BOT_TOKEN")) {
                    secrets.push(("DISCORD_BOT_TOKEN", token));
                }
                channels.discord = Some(ChannelSection { mode: "gateway".into(), dm_policy });
            }
            "slack" => {
                let mode = asker.choose(
                    "Slack mode",
                    "SLACK_MODE",
                    args.slack_mode.clone(),
                    &["events", "socket"],
                    recommended(0),
                );
                let dm_policy =
                    asker.choose("Slack DM policy", "SLACK_DM_POLICY", args.slack_dm_policy.clone(), POLICIES, 0);
                if let Some(token) = asker.secret("Slack bot token", "SLACK_BOT_TOKEN", env("SLACK_BOT_TOKEN")) {
                    secrets.push(("SLACK_BOT_TOKEN", token));
                }
                let (name, label) = if mode == "events" {
                    ("SLACK_SIGNING_SECRET", "Slack signing secret")
                } else {
                    ("SLACK_APP_TOKEN", "Slack app-level token")
                };
                if let Some(value) = asker.secret(label, name, env(name)) {
                    secrets.push((name, value));
                }
                channels.slack = Some(ChannelSection { mode, dm_policy });
            }
            other => {
                asker.invalid(format!("unknown channel `{other}`; expected `telegram`, `discord`, `slack` or `none`"))
            }
        }
    }
    let deaf = [(&channels.telegram, "polling", "Telegram"), (&channels.slack, "socket", "Slack")]
        .into_iter()
        .filter(|(section, mode, _)| section.as_ref().is_some_and(|s| s.mode == *mode))
        .map(|(_, _, name)| name)
        .collect::<Vec<_>>();
    if sleeps && !deaf.is_empty() {
        asker.note(&format!(
            "{} will not hear messages while the container sleeps; use `--telegram-mode webhook` / \
             `--slack-mode events`, or `--sleep-after never`",
            deaf.join(" and ")
        ));
    }
    channels
}
