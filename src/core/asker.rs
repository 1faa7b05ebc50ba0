//! Who asked for a turn: the operator (a paired device: the web page, `molt chat`, an OpenClaw
//! client) or a chat-platform sender. What the assistant may write on their behalf follows from
//! it; the operator's own chat IDs (the allowlists seeded from the environment) count as the
//! operator.

use crate::core::settings::ChannelSeed;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asker {
    Operator,
    Sender { channel: String, sender_id: String },
}

/// Where a fact the assistant is asked to remember goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemoryScope {
    /// `MEMORY.md`: in every session's prompt, the operator's included.
    Shared,
    /// `memory/<channel>/<sender>.md`: in that sender's own sessions only.
    Sender { channel: String, sender_id: String },
}

/// What the tools may do for who asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rights {
    /// The operator (a paired device, or one of the operator's own chat IDs): every enabled tool.
    Operator,
    /// Another paired or allowed chat user: the read-only tools, and those the operator granted.
    Guest,
}

/// The chat IDs the operator named in the environment (`TELEGRAM_DM_ALLOW_FROM` and the
/// others): messages from them act with the operator's rights.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperatorIds(Vec<(String, String)>);

impl OperatorIds {
    pub fn from_seeds(seeds: &[ChannelSeed]) -> Self {
        let ids = seeds
            .iter()
            .flat_map(|seed| seed.allow_from.iter().flatten().map(|id| (seed.channel.to_owned(), id.trim().to_owned())))
            .filter(|(_, id)| !id.is_empty())
            .collect();
        Self(ids)
    }

    pub fn contains(&self, channel: &str, sender_id: &str) -> bool {
        self.0.iter().any(|(known_channel, id)| known_channel == channel && id == sender_id)
    }

    /// The first ID named for `channel`: the operator's own chat there.
    pub fn first(&self, channel: &str) -> Option<&str> {
        self.0.iter().find(|(known_channel, _)| known_channel == channel).map(|(_, id)| id.as_str())
    }
}

impl Asker {
    /// The operator writes shared memory; any other sender writes only notes of their own.
    pub fn memory_scope(&self, operators: &OperatorIds) -> MemoryScope {
        match self {
            Self::Operator => MemoryScope::Shared,
            Self::Sender { channel, sender_id } if operators.contains(channel, sender_id) => MemoryScope::Shared,
            Self::Sender { channel, sender_id } => {
                MemoryScope::Sender { channel: channel.clone(), sender_id: sender_id.clone() }
            }
        }
    }
}

impl Asker {
    /// The operator and their own chat IDs get every tool; any other sender is a guest.
    pub fn rights(&self, operators: &OperatorIds) -> Rights {
        match self.memory_scope(operators) {
            MemoryScope::Shared => Rights::Operator,
            MemoryScope::Sender { .. } => Rights::Guest,
        }
    }
}

impl MemoryScope {
    /// The file under the workspace, `/`-separated. Sender ids are reduced to a safe file name
    /// (platform ids are digits and letters; anything else is hex-encoded, so two ids never
    /// share a file and none can leave the folder).
    pub fn relative_path(&self) -> String {
        match self {
            Self::Shared => "MEMORY.md".to_owned(),
            Self::Sender { channel, sender_id } => {
                format!("memory/{}/{}.md", safe_name(channel), safe_name(sender_id))
            }
        }
    }
}

fn safe_name(raw: &str) -> String {
    let plain = !raw.is_empty() && raw.len() <= 64 && raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if plain { raw.to_owned() } else { format!("x{}", hex::encode(raw.as_bytes())) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::pairing::DmPolicy;

    fn operators() -> OperatorIds {
        OperatorIds::from_seeds(&[ChannelSeed {
            channel: "telegram",
            policy: Some(DmPolicy::Allowlist),
            allow_from: Some(vec!["4242".into(), " ".into()]),
        }])
    }

    #[test]
    fn the_operator_and_their_own_chat_ids_write_shared_memory_others_their_own_notes() {
        let operators = operators();
        assert_eq!(Asker::Operator.memory_scope(&operators), MemoryScope::Shared);
        let own = Asker::Sender { channel: "telegram".into(), sender_id: "4242".into() };
        assert_eq!(own.memory_scope(&operators), MemoryScope::Shared);
        let same_id_elsewhere = Asker::Sender { channel: "discord".into(), sender_id: "4242".into() };
        assert_eq!(same_id_elsewhere.memory_scope(&operators).relative_path(), "memory/discord/4242.md");
        assert!(!operators.contains("telegram", ""));
        assert_eq!((operators.first("telegram"), operators.first("slack")), (Some("4242"), None));
        assert_eq!(Asker::Operator.rights(&operators), Rights::Operator);
        assert_eq!(own.rights(&operators), Rights::Operator);
        assert_eq!(same_id_elsewhere.rights(&operators), Rights::Guest);
    }

    #[test]
    fn sender_ids_never_leave_the_memory_folder() {
        let scope = |id: &str| MemoryScope::Sender { channel: "slack".into(), sender_id: id.into() }.relative_path();
        assert_eq!(scope("U123ABC"), "memory/slack/U123ABC.md");
        assert_eq!(scope("../../MEMORY"), format!("memory/slack/x{}.md", hex::encode("../../MEMORY")));
        assert_ne!(scope("a/b"), scope("a_b"));
    }
}
