//! Chat-platform settings: bot tokens (environment only), modes, vendor base URLs and group
//! policies. A platform is on when its token is set.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use super::SettingsError;
use super::layers::{Layers, Origin};
use crate::core::secret::Secret;

pub const TELEGRAM_API_URL: &str = "https://api.telegram.org";
pub const DISCORD_API_URL: &str = "https://discord.com/api/v10";
pub const SLACK_API_URL: &str = "https://slack.com/api";

/// `[channels]` in `molt.toml`: everything but secrets.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelsSection {
    pub telegram_api_url: Option<String>,
    pub telegram_mode: Option<String>,
    pub telegram_group_policy: Option<String>,
    pub discord_api_url: Option<String>,
    pub discord_group_policy: Option<String>,
    pub slack_api_url: Option<String>,
    pub slack_group_policy: Option<String>,
    pub deaf_after_secs: Option<u64>,
}

/// Whether the assistant answers in groups and channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupPolicy {
    /// Only when mentioned or replied to (the default).
    #[default]
    Mention,
    /// Every message.
    Open,
    /// Never.
    Disabled,
}

impl FromStr for GroupPolicy {
    type Err = ();
    fn from_str(raw: &str) -> Result<Self, ()> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "mention" => Ok(Self::Mention),
            "open" => Ok(Self::Open),
            "disabled" => Ok(Self::Disabled),
            _ => Err(()),
        }
    }
}

impl fmt::Display for GroupPolicy {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Mention => "mention",
            Self::Open => "open",
            Self::Disabled => "disabled",
        })
    }
}

/// How Telegram delivers updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TelegramMode {
    /// `getUpdates` long polling: works anywhere, needs the process awake.
    #[default]
    Polling,
    /// Telegram posts to `/channels/telegram/webhook`: wakes a sleeping container.
    Webhook,
}

impl FromStr for TelegramMode {
    type Err = ();
    fn from_str(raw: &str) -> Result<Self, ()> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "polling" | "poll" => Ok(Self::Polling),
            "webhook" => Ok(Self::Webhook),
            _ => Err(()),
        }
    }
}

impl fmt::Display for TelegramMode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Polling => "polling",
            Self::Webhook => "webhook",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelegramSettings {
    pub token: Secret,
    pub api_url: String,
    pub mode: TelegramMode,
    /// Checked against `X-Telegram-Bot-Api-Secret-Token` in webhook mode.
    pub webhook_secret: Option<Secret>,
    pub group_policy: GroupPolicy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscordSettings {
    pub token: Secret,
    pub api_url: String,
    pub group_policy: GroupPolicy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackSettings {
    pub bot_token: Secret,
    /// `xapp-…`: Socket Mode. Without it, the Events API over HTTP (needs the signing secret).
    pub app_token: Option<Secret>,
    pub signing_secret: Option<Secret>,
    pub api_url: String,
    pub group_policy: GroupPolicy,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChannelSettings {
    pub telegram: Option<TelegramSettings>,
    pub discord: Option<DiscordSettings>,
    pub slack: Option<SlackSettings>,
    /// A connected channel with no sign of life (poll, heartbeat ACK, pong) for this long is
    /// treated as dead and reconnected.
    pub deaf_after: Duration,
}

fn url(
    layers: &mut Layers<'_>,
    name: &'static str,
    env: &'static str,
    file: Option<String>,
    default: &str,
) -> Result<String, SettingsError> {
    let value = layers.value(name, None, &[env], file, default.to_owned())?;
    Ok(value.trim_end_matches('/').to_owned())
}

fn group_policy(
    layers: &mut Layers<'_>,
    name: &'static str,
    env: &'static str,
    file: Option<&String>,
) -> Result<GroupPolicy, SettingsError> {
    let file = match file {
        Some(raw) => Some(raw.parse::<GroupPolicy>().map_err(|()| SettingsError::Invalid {
            name,
            value: raw.clone(),
            expected: "`mention`, `open` or `disabled`",
        })?),
        None => None,
    };
    layers.value(name, None, &[env], file, GroupPolicy::Mention)
}

pub(super) fn resolve(layers: &mut Layers<'_>, file: &ChannelsSection) -> Result<ChannelSettings, SettingsError> {
    let deaf_secs =
        layers.value("channel_deaf_after_secs", None, &["MOLT_CHANNEL_DEAF_AFTER_SECS"], file.deaf_after_secs, 90)?;
    let telegram = match layers.secret("telegram_bot_token", &["TELEGRAM_BOT_TOKEN"]) {
        Some(token) => {
            let api_url = url(
                layers,
                "telegram_api_url",
                "MOLT_TELEGRAM_API_URL",
                file.telegram_api_url.clone(),
                TELEGRAM_API_URL,
            )?;
            let file_mode = match &file.telegram_mode {
                Some(raw) => Some(raw.parse::<TelegramMode>().map_err(|()| SettingsError::Invalid {
                    name: "channels.telegram_mode",
                    value: raw.clone(),
                    expected: "`polling` or `webhook`",
                })?),
                None => None,
            };
            let mode = layers.value("telegram_mode", None, &["TELEGRAM_MODE"], file_mode, TelegramMode::Polling)?;
            let webhook_secret = layers.secret("telegram_webhook_secret", &["TELEGRAM_WEBHOOK_SECRET"]);
            if mode == TelegramMode::Webhook && webhook_secret.is_none() {
                return Err(SettingsError::Missing {
                    what: "Telegram webhook mode",
                    vars: "`TELEGRAM_WEBHOOK_SECRET` (the `secret_token` given to `setWebhook`)",
                });
            }
            let group_policy = group_policy(
                layers,
                "telegram_group_policy",
                "TELEGRAM_GROUP_POLICY",
                file.telegram_group_policy.as_ref(),
            )?;
            Some(TelegramSettings { token, api_url, mode, webhook_secret, group_policy })
        }
        None => None,
    };
    let discord = match layers.secret("discord_bot_token", &["DISCORD_BOT_TOKEN"]) {
        Some(token) => {
            let api_url =
                url(layers, "discord_api_url", "MOLT_DISCORD_API_URL", file.discord_api_url.clone(), DISCORD_API_URL)?;
            let group_policy = group_policy(
                layers,
                "discord_group_policy",
                "DISCORD_GROUP_POLICY",
                file.discord_group_policy.as_ref(),
            )?;
            Some(DiscordSettings { token, api_url, group_policy })
        }
        None => None,
    };
    let slack = match layers.secret("slack_bot_token", &["SLACK_BOT_TOKEN"]) {
        Some(bot_token) => {
            let app_token = layers.secret("slack_app_token", &["SLACK_APP_TOKEN"]);
            let signing_secret = layers.secret("slack_signing_secret", &["SLACK_SIGNING_SECRET"]);
            if app_token.is_none() && signing_secret.is_none() {
                return Err(SettingsError::Missing {
                    what: "Slack",
                    vars: "`SLACK_APP_TOKEN` (Socket Mode) or `SLACK_SIGNING_SECRET` (Events API) beside `SLACK_BOT_TOKEN`",
                });
            }
            let mode = if app_token.is_some() { "socket" } else { "events-api" };
            layers.record("slack_mode", mode, Origin::Derived("SLACK_APP_TOKEN"));
            let api_url =
                url(layers, "slack_api_url", "MOLT_SLACK_API_URL", file.slack_api_url.clone(), SLACK_API_URL)?;
            let group_policy =
                group_policy(layers, "slack_group_policy", "SLACK_GROUP_POLICY", file.slack_group_policy.as_ref())?;
            Some(SlackSettings { bot_token, app_token, signing_secret, api_url, group_policy })
        }
        None => None,
    };
    Ok(ChannelSettings { telegram, discord, slack, deaf_after: Duration::from_secs(deaf_secs.max(1)) })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::super::{FileConfig, GatewayFlags, Settings, SettingsError};
    use super::*;

    fn resolve(vars: &[(&str, &str)], toml: &str) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let env = move |name: &str| map.get(name).cloned();
        let file: FileConfig = toml::from_str(toml).unwrap();
        Settings::resolve(&GatewayFlags::default(), &env, &file)
    }

    #[test]
    fn a_platform_is_on_when_its_token_is_set_and_urls_come_from_env_or_file() {
        let settings = resolve(&[], "").unwrap();
        assert_eq!(settings.channels.telegram, None);
        let toml = "[channels]\ntelegram_api_url = \"http://127.0.0.1:9/\"\ntelegram_group_policy = \"open\"\n";
        let vars = [
            ("TELEGRAM_BOT_TOKEN", "1:abc"),
            ("MOLT_DISCORD_API_URL", "http://127.0.0.1:8"),
            ("DISCORD_BOT_TOKEN", "d"),
        ];
        let settings = resolve(&vars, toml).unwrap();
        let telegram = settings.channels.telegram.clone().unwrap();
        assert_eq!(telegram.api_url, "http://127.0.0.1:9");
        assert_eq!(telegram.mode, TelegramMode::Polling);
        assert_eq!(telegram.group_policy, GroupPolicy::Open);
        assert_eq!(settings.channels.discord.as_ref().unwrap().api_url, "http://127.0.0.1:8");
        assert!(!settings.describe().contains("1:abc"), "tokens are redacted");
    }

    #[test]
    fn webhook_mode_needs_its_secret_and_slack_needs_a_mode() {
        let error = resolve(&[("TELEGRAM_BOT_TOKEN", "1:abc"), ("TELEGRAM_MODE", "webhook")], "").unwrap_err();
        assert!(error.to_string().contains("TELEGRAM_WEBHOOK_SECRET"));
        let error = resolve(&[("SLACK_BOT_TOKEN", "xoxb")], "").unwrap_err();
        assert!(error.to_string().contains("SLACK_APP_TOKEN"));
        let settings = resolve(&[("SLACK_BOT_TOKEN", "xoxb"), ("SLACK_SIGNING_SECRET", "s")], "").unwrap();
        let slack = settings.channels.slack.unwrap();
        assert_eq!(slack.api_url, SLACK_API_URL);
        assert!(slack.app_token.is_none());
        assert!(resolve(&[("TELEGRAM_BOT_TOKEN", "1"), ("TELEGRAM_GROUP_POLICY", "sometimes")], "").is_err());
    }
}
