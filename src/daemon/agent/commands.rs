//! Slash commands, the same on every channel, the web page and `molt chat`: `/new`, `/reset`,
//! `/model [name]`, `/compact`, `/status`, `/help`. A command is answered by the gateway itself
//! as a run of its own (one `final` event), so every client shows the answer where it shows
//! replies; it never reaches the model and is not stored as a message.

use crate::core::asker::{Asker, Rights};
use crate::core::ids::SessionKey;
use crate::core::models;
use crate::core::protocol::sessions::ChangeReason;

use super::Agent;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    New,
    Reset,
    Model(Option<String>),
    Compact,
    Status,
    Help,
}

const HELP: &str = "Commands: `/new` starts a fresh conversation (the earlier one stays in history and \
`memory_search`), `/reset` clears this conversation, `/model [name]` shows or switches the model, \
`/compact` condenses the older messages now, `/status` shows the model, tokens, context and cost.";

impl Command {
    /// The command `text` is, if it is one. `/status@molt_bot` (Telegram's form in groups)
    /// counts; an unknown `/word` is an ordinary message for the model.
    pub fn parse(text: &str) -> Option<Command> {
        let text = text.trim();
        let rest = text.strip_prefix('/')?;
        let (word, argument) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let word = word.split('@').next().unwrap_or(word).to_ascii_lowercase();
        let argument = argument.trim();
        let no_argument = argument.is_empty();
        match word.as_str() {
            "new" if no_argument => Some(Command::New),
            "reset" if no_argument => Some(Command::Reset),
            "model" => Some(Command::Model((!no_argument).then(|| argument.to_owned()))),
            "compact" if no_argument => Some(Command::Compact),
            "status" if no_argument => Some(Command::Status),
            "help" | "commands" if no_argument => Some(Command::Help),
            _ => None,
        }
    }
}

impl Agent {
    /// Carries out `command` in `session_key` for `asker`; the text answered.
    pub(super) async fn run_command(&self, command: Command, session_key: &SessionKey, asker: &Asker) -> String {
        let rights = asker.rights(&self.operators);
        let answer = match command {
            Command::Help => Ok(HELP.to_owned()),
            Command::New => self.store.start_fresh(session_key).await.map(|set_aside| {
                self.events.session_changed(session_key, ChangeReason::Reset);
                format!(
                    "Started a new conversation. The {set_aside} earlier messages stay in history and in `memory_search`."
                )
            }),
            Command::Reset => self.store.reset_session(session_key).await.map(|removed| {
                self.events.session_changed(session_key, ChangeReason::Reset);
                format!("This conversation was cleared ({removed} messages).")
            }),
            Command::Model(choice) => self.switch_model(session_key, choice, rights).await,
            Command::Compact => self.compact_now(session_key, asker, rights).await,
            Command::Status => self.status(session_key, asker, rights).await,
        };
        answer.unwrap_or_else(|error| {
            tracing::error!(%error, "a command failed");
            format!("The command failed: {error}")
        })
    }

    fn configured_models(&self) -> Vec<String> {
        let mut models = vec![self.model.model.clone()];
        models.extend(self.model.fallbacks.iter().filter(|model| **model != self.model.model).cloned());
        models
    }

    async fn switch_model(
        &self,
        session_key: &SessionKey,
        choice: Option<String>,
        rights: Rights,
    ) -> Result<String, crate::daemon::store::StoreError> {
        let configured = self.configured_models();
        let listed = configured.iter().map(|model| format!("`{model}`")).collect::<Vec<_>>().join(", ");
        let Some(choice) = choice else {
            let current = self.models_for(session_key).await.remove(0);
            return Ok(format!("This conversation uses `{current}`. Configured models: {listed}."));
        };
        if rights != Rights::Operator {
            return Ok("Only the operator can switch models.".to_owned());
        }
        if !configured.contains(&choice) {
            return Ok(format!("`{choice}` is not a configured model. Configured models: {listed}."));
        }
        let stored = (choice != self.model.model).then(|| choice.clone());
        self.store.set_session_model(session_key, stored).await?;
        self.events.session_changed(session_key, ChangeReason::Message);
        Ok(format!("This conversation now uses `{choice}`."))
    }

    async fn compact_now(
        &self,
        session_key: &SessionKey,
        asker: &Asker,
        rights: Rights,
    ) -> Result<String, crate::daemon::store::StoreError> {
        let Some(provider) = self.provider.clone() else {
            return Ok(crate::core::settings::NO_PROVIDER_HINT.to_owned());
        };
        let scope = asker.memory_scope(&self.operators);
        let prepared = self.prepare(provider.as_ref(), session_key, &scope, rights, true).await?;
        Ok(if prepared.compacted {
            "The older messages were condensed into a summary; they stay in history and in `memory_search`.".to_owned()
        } else {
            "Nothing to condense yet.".to_owned()
        })
    }

    async fn status(
        &self,
        session_key: &SessionKey,
        asker: &Asker,
        rights: Rights,
    ) -> Result<String, crate::daemon::store::StoreError> {
        let model = self.models_for(session_key).await.remove(0);
        let usage = self.store.session_usage(session_key).await?;
        let scope = asker.memory_scope(&self.operators);
        let (used, budget) = self.context_use(session_key, &scope, rights, &model).await?;
        let left = budget.history.saturating_sub(used);
        let cost = models::cost(&model, &usage).map_or_else(|| "unknown for this model".to_owned(), models::format_usd);
        Ok(format!(
            "Model: `{model}`\nTokens used: {} in ({} read from cache, {} written to it), {} out\n\
             Context: about {used} of {} tokens of history in use, {left} left (window {})\nCost so far: {cost}",
            usage.input_tokens,
            usage.cache_read_tokens,
            usage.cache_write_tokens,
            usage.output_tokens,
            budget.history,
            budget.context,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_a_bot_suffix_and_unknown_ones_go_to_the_model() {
        assert_eq!(Command::parse("/new"), Some(Command::New));
        assert_eq!(Command::parse("  /STATUS@molt_bot "), Some(Command::Status));
        assert_eq!(Command::parse("/model claude-haiku-4-5"), Some(Command::Model(Some("claude-haiku-4-5".into()))));
        assert_eq!(Command::parse("/model"), Some(Command::Model(None)));
        assert_eq!(Command::parse("/reset now please"), None, "a command with words after it is a message");
        assert_eq!(Command::parse("/etc/passwd is a file"), None);
        assert_eq!(Command::parse("new"), None);
        assert_eq!(Command::parse("/"), None);
    }
}
