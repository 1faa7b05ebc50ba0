//! Who may reach the gateway: Cloudflare Access, `DEV_MODE`, device-token lifetime, and the
//! DM policies the environment seeds on first start.

use std::time::Duration;

use crate::core::pairing::{CHANNELS, DEVICE_TOKEN_TTL_DAYS, DmPolicy};

use super::SettingsError;
use super::layers::{Flag, Layers, Origin};

/// Cloudflare Access in front of the admin surface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessSettings {
    /// `myteam.cloudflareaccess.com`, without scheme.
    pub team_domain: String,
    /// The application's AUD tag; a token's `aud` must contain it.
    pub audience: String,
    /// Where the signing keys are: `https://<team>/cdn-cgi/access/certs` unless overridden.
    pub certs_url: String,
}

impl AccessSettings {
    /// The `iss` a token must carry.
    pub fn issuer(&self) -> String {
        format!("https://{}", self.team_domain)
    }
}

/// A channel's DM policy and allowlist as the environment gives them on first start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSeed {
    pub channel: &'static str,
    pub policy: Option<DmPolicy>,
    pub allow_from: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    pub access: Option<AccessSettings>,
    /// `DEV_MODE`: every device is approved and the admin API takes the gateway token from
    /// anywhere. Refused on a non-loopback bind unless `--insecure` is also given.
    pub dev_mode: bool,
    pub device_token_ttl: Duration,
    pub channel_seeds: Vec<ChannelSeed>,
}

pub(super) fn resolve(layers: &mut Layers<'_>) -> Result<AuthSettings, SettingsError> {
    let team = layers.optional::<String>("access_team_domain", None, &["CF_ACCESS_TEAM_DOMAIN"], None)?;
    let audience = layers.optional::<String>("access_aud", None, &["CF_ACCESS_AUD"], None)?;
    let certs = layers.optional::<String>("access_certs_url", None, &["CF_ACCESS_CERTS_URL"], None)?;
    let access = match (team, audience) {
        (Some(team), Some(audience)) => {
            let team_domain =
                team.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/').to_owned();
            let certs_url = certs.unwrap_or_else(|| format!("https://{team_domain}/cdn-cgi/access/certs"));
            Some(AccessSettings { team_domain, audience, certs_url })
        }
        (None, None) => None,
        _ => {
            return Err(SettingsError::Missing {
                what: "Cloudflare Access",
                vars: "both `CF_ACCESS_TEAM_DOMAIN` and `CF_ACCESS_AUD`",
            });
        }
    };
    let dev_mode = layers.value("dev_mode", None, &["DEV_MODE"], None, Flag(false))?.0;
    let ttl_days =
        layers.value("device_token_ttl_days", None, &["MOLT_DEVICE_TOKEN_TTL_DAYS"], None, DEVICE_TOKEN_TTL_DAYS)?;
    let mut channel_seeds = Vec::new();
    for channel in CHANNELS {
        let (policy_var, allow_var) = match channel {
            "telegram" => ("TELEGRAM_DM_POLICY", "TELEGRAM_DM_ALLOW_FROM"),
            "discord" => ("DISCORD_DM_POLICY", "DISCORD_DM_ALLOW_FROM"),
            _ => ("SLACK_DM_POLICY", "SLACK_DM_ALLOW_FROM"),
        };
        let policy = match layers.env(&[policy_var]) {
            Some((var, raw)) => {
                let policy =
                    raw.parse::<DmPolicy>().map_err(|_| SettingsError::InvalidEnv { var, value: raw.clone() })?;
                layers.record("dm_policy", format!("{channel}: {policy}"), Origin::Env(var));
                Some(policy)
            }
            None => None,
        };
        let allow_from = layers.env(&[allow_var]).map(|(var, raw)| {
            layers.record("dm_allow_from", format!("{channel}: {raw}"), Origin::Env(var));
            raw.split(',').map(str::trim).filter(|id| !id.is_empty()).map(str::to_owned).collect()
        });
        channel_seeds.push(ChannelSeed { channel, policy, allow_from });
    }
    Ok(AuthSettings {
        access,
        dev_mode,
        device_token_ttl: Duration::from_secs(ttl_days.max(1) * 24 * 60 * 60),
        channel_seeds,
    })
}
