//! Chat-platform access: DM policies and allowlists (seeded once from the environment, then the
//! operator's), and pairing codes for unknown senders. Channels call [`Pairing::dm_decision`].

use serde::Serialize;

use super::{Actor, Pairing, PairingError};
use crate::core::pairing::{CHANNELS, DmDecision, DmPolicy, normalise_code};
use crate::core::protocol::events::{CodeResolved, Decision, PoliciesChanged};
use crate::core::scopes::Scope;
use crate::core::settings::ChannelSeed;
use crate::core::time::now_ms;
use crate::daemon::store::{CodeIssue, PairingCode};

/// A channel's policy and allowlist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyView {
    pub dm_policy: String,
    pub allow_from: Vec<String>,
}

/// Validates a channel name from outside.
pub fn channel_name(raw: &str) -> Result<&'static str, PairingError> {
    CHANNELS.iter().copied().find(|name| *name == raw).ok_or_else(|| PairingError::UnknownChannel(raw.to_owned()))
}

fn policy_key(channel: &str) -> String {
    format!("channels.{channel}.dm_policy")
}

impl Pairing {
    /// Applies the environment's policies and allowlists, each only the first time: an
    /// operator's later change is never overwritten by a restart.
    pub async fn seed(&self, seeds: &[ChannelSeed]) -> Result<(), PairingError> {
        for seed in seeds {
            if let Some(policy) = seed.policy
                && self.store.seed_setting(&policy_key(seed.channel), &policy.to_string()).await?
            {
                tracing::info!(channel = seed.channel, %policy, "DM policy seeded from the environment");
            }
            if let Some(allow_from) = &seed.allow_from
                && self.store.seed_setting(&format!("channels.{}.allow_from_seeded", seed.channel), "1").await?
            {
                let mut list = self.store.allowlist(seed.channel).await?;
                list.extend(allow_from.iter().filter(|id| !list.contains(id)).cloned().collect::<Vec<_>>());
                self.store.set_allowlist(seed.channel, list).await?;
            }
        }
        Ok(())
    }

    pub async fn policy(&self, channel: &str) -> Result<DmPolicy, PairingError> {
        let raw = self.store.setting(&policy_key(channel)).await?;
        Ok(raw.and_then(|raw| raw.parse().ok()).unwrap_or_default())
    }

    pub async fn policy_view(&self, channel: &str) -> Result<PolicyView, PairingError> {
        Ok(PolicyView {
            dm_policy: self.policy(channel).await?.to_string(),
            allow_from: self.store.allowlist(channel).await?,
        })
    }

    /// Sets a channel's policy and/or allowlist.
    pub async fn set_policy(
        &self,
        channel: &str,
        policy: Option<DmPolicy>,
        allow_from: Option<Vec<String>>,
        actor: &Actor,
    ) -> Result<PolicyView, PairingError> {
        let channel = channel_name(channel)?;
        if let Some(policy) = policy {
            self.store.set_setting(&policy_key(channel), &policy.to_string()).await?;
        }
        if let Some(list) = allow_from {
            let mut clean: Vec<String> = Vec::new();
            for id in list.into_iter().map(|id| id.trim().to_owned()).filter(|id| !id.is_empty()) {
                if id.len() > 128 || id.chars().any(char::is_control) {
                    return Err(PairingError::Invalid(format!("`{id}` is not a valid sender id")));
                }
                if !clean.contains(&id) {
                    clean.push(id);
                }
            }
            self.store.set_allowlist(channel, clean).await?;
        }
        let view = self.policy_view(channel).await?;
        let detail = format!("{} [{}]", view.dm_policy, view.allow_from.join(", "));
        self.audit(actor, "policy.set", channel, Some(&detail)).await;
        self.events.emit(&PoliciesChanged { channel: channel.to_owned() });
        Ok(view)
    }

    /// What to do with a direct message from `sender_id` on `channel`.
    pub async fn dm_decision(
        &self,
        channel: &str,
        sender_id: &str,
        sender_name: Option<&str>,
    ) -> Result<DmDecision, PairingError> {
        let channel = channel_name(channel)?;
        let policy = self.policy(channel).await?;
        if policy == DmPolicy::Open {
            return Ok(DmDecision::Allow);
        }
        if policy == DmPolicy::Disabled {
            return Ok(DmDecision::Ignore);
        }
        if self.store.is_allowed(channel, sender_id).await? {
            return Ok(DmDecision::Allow);
        }
        if policy == DmPolicy::Allowlist {
            return Ok(DmDecision::Ignore);
        }
        Ok(match self.store.issue_pairing_code(channel, sender_id, sender_name).await? {
            CodeIssue::New(code) => {
                self.events.publish("pairing.code.requested", Scope::Pairing, &code);
                DmDecision::Code(code.code)
            }
            CodeIssue::Existing(code) => DmDecision::Code(code.code),
            CodeIssue::TooManyPending => DmDecision::TooManyPending,
        })
    }

    pub async fn codes(&self) -> Result<Vec<PairingCode>, PairingError> {
        Ok(self.store.pairing_codes().await?)
    }

    /// Approves (allowlisting the sender) or rejects a pending code.
    pub async fn resolve_code(
        &self,
        channel: &str,
        code: &str,
        approve: bool,
        actor: &Actor,
    ) -> Result<PairingCode, PairingError> {
        let channel = channel_name(channel)?;
        let unknown = || PairingError::UnknownCode { channel: channel.to_owned(), code: code.to_owned() };
        let normal = normalise_code(code).ok_or_else(unknown)?;
        let resolved = self.store.resolve_pairing_code(channel, &normal, approve).await?.ok_or_else(unknown)?;
        let action = if approve { "code.approve" } else { "code.reject" };
        let detail = format!("{} ({})", resolved.sender_id, resolved.sender_name.as_deref().unwrap_or("unnamed"));
        self.audit(actor, action, &format!("{channel}/{normal}"), Some(&detail)).await;
        let decision = if approve { Decision::Approved } else { Decision::Rejected };
        self.events.emit(&CodeResolved {
            channel: channel.to_owned(),
            code: normal,
            sender_id: resolved.sender_id.clone(),
            decision,
            ts: now_ms(),
        });
        Ok(resolved)
    }
}
