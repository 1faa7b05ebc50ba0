//! The `[deploy]` part of `molt.toml`: what `molt init` chose for `molt deploy` (Worker, account,
//! bucket, container, Cloudflare Access, channel modes). No secrets; the gateway never reads it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeploySection {
    pub worker_name: String,
    pub account_id: String,
    pub bucket: String,
    /// A registry image reference; `None` builds the deploy folder's `Dockerfile`.
    pub image: Option<String>,
    pub instance_type: String,
    /// `SANDBOX_SLEEP_AFTER`: `10m`, `1h`, … or `never`.
    pub sleep_after: String,
    /// Cloudflare AI Gateway id, when the model goes through AI Gateway on this account.
    pub ai_gateway_id: Option<String>,
    pub access: Option<AccessSection>,
    #[serde(default)]
    pub channels: DeployChannels,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AccessSection {
    /// `<team>.cloudflareaccess.com`
    pub team_domain: String,
    pub emails: Vec<String>,
    /// Put the whole host behind Access (the channel webhooks stay outside).
    #[serde(default)]
    pub whole_host: bool,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeployChannels {
    pub telegram: Option<ChannelSection>,
    pub discord: Option<ChannelSection>,
    pub slack: Option<ChannelSection>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSection {
    /// Telegram: `webhook` or `polling`; Slack: `events` or `socket`; Discord: `gateway`.
    pub mode: String,
    /// `pairing`, `allowlist`, `open` or `disabled`.
    pub dm_policy: String,
}

#[cfg(test)]
mod tests {
    use super::super::FileConfig;

    const WITH_DEPLOY: &str = r#"
[gateway]
port = 18789

[deploy]
worker_name = "molt"
account_id = "0123"
bucket = "molt-data"
instance_type = "lite"
sleep_after = "10m"

[deploy.access]
team_domain = "team.cloudflareaccess.com"
emails = ["ada@example.com"]

[deploy.channels.telegram]
mode = "webhook"
dm_policy = "pairing"
"#;

    #[test]
    fn the_gateway_accepts_a_file_with_a_deploy_section() {
        let file: FileConfig = toml::from_str(WITH_DEPLOY).unwrap();
        let deploy = file.deploy.unwrap();
        assert_eq!(deploy.worker_name, "molt");
        assert_eq!(deploy.access.unwrap().emails, ["ada@example.com"]);
        assert_eq!(deploy.channels.telegram.unwrap().mode, "webhook");
        assert!(deploy.channels.slack.is_none());
        assert_eq!(file.gateway.port, Some(18789));
    }

    #[test]
    fn unknown_keys_inside_deploy_are_still_rejected() {
        let typo = WITH_DEPLOY.replace("bucket =", "bukket =");
        assert!(toml::from_str::<FileConfig>(&typo).is_err());
    }

    #[test]
    fn a_written_file_reads_back_the_same() {
        let file: FileConfig = toml::from_str(WITH_DEPLOY).unwrap();
        let text = toml::to_string(&file).unwrap();
        let again: FileConfig = toml::from_str(&text).unwrap();
        assert_eq!(again.deploy, file.deploy);
        assert!(!text.contains("image"), "absent values are not written: {text}");
    }
}
