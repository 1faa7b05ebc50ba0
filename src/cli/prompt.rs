//! Asking for values: a given value (flag or environment) wins; otherwise a `dialoguer` prompt
//! on a terminal, or — without one, or with `--non-interactive` — the value is recorded as missing
//! so that one error can name everything missing at once.

use std::collections::BTreeSet;

use dialoguer::theme::SimpleTheme;
use dialoguer::{Confirm, Input, MultiSelect, Password, Select};

use super::error::{Hint, UserError};
use crate::core::secret::Secret;

pub struct Asker {
    interactive: bool,
    missing: Vec<String>,
    invalid: Vec<String>,
    failure: Option<String>,
    /// Secrets already in the local store: not asked again.
    pub stored: BTreeSet<String>,
}

impl Asker {
    pub fn new(interactive: bool) -> Self {
        Self { interactive, missing: Vec::new(), invalid: Vec::new(), failure: None, stored: BTreeSet::new() }
    }

    pub fn is_interactive(&self) -> bool {
        self.interactive
    }

    fn live(&self) -> bool {
        self.interactive && self.failure.is_none()
    }

    fn failed(&mut self, error: dialoguer::Error) {
        self.failure.get_or_insert_with(|| error.to_string());
    }

    pub fn text(&mut self, label: &str, source: &str, given: Option<String>, default: Option<&str>) -> String {
        if let Some(value) = given.filter(|value| !value.is_empty()) {
            return value;
        }
        if self.live() {
            let mut input = Input::<String>::with_theme(&SimpleTheme).with_prompt(label);
            if let Some(default) = default {
                input = input.default(default.to_owned());
            }
            match input.interact_text() {
                Ok(value) => return value.trim().to_owned(),
                Err(error) => self.failed(error),
            }
        }
        match default {
            Some(default) => default.to_owned(),
            None => {
                self.missing.push(format!("`{source}`"));
                String::new()
            }
        }
    }

    /// A secret from the environment or a hidden prompt; `None` when it is already stored.
    pub fn secret(&mut self, label: &str, var: &str, given: Option<String>) -> Option<Secret> {
        if let Some(value) = given.filter(|value| !value.is_empty()) {
            return Some(Secret::new(value));
        }
        if self.stored.contains(var) {
            return None;
        }
        if self.live() {
            match Password::with_theme(&SimpleTheme).with_prompt(format!("{label} (`{var}`)")).interact() {
                Ok(value) if !value.trim().is_empty() => return Some(Secret::new(value.trim())),
                Ok(_) => {}
                Err(error) => self.failed(error),
            }
        }
        self.missing.push(format!("`{var}`"));
        None
    }

    pub fn choose(
        &mut self,
        label: &str,
        source: &str,
        given: Option<String>,
        options: &[&str],
        default: usize,
    ) -> String {
        let labels: Vec<String> = options.iter().map(|option| (*option).to_owned()).collect();
        let chosen = self.choose_labelled(label, given, options, &labels, default);
        if chosen.is_empty() {
            self.missing.push(format!("`{source}`"));
        }
        chosen
    }

    /// Like [`Asker::choose`], showing `labels` in the menu.
    pub fn choose_labelled(
        &mut self,
        label: &str,
        given: Option<String>,
        names: &[&str],
        labels: &[String],
        default: usize,
    ) -> String {
        if let Some(value) = given.filter(|value| !value.is_empty()) {
            if !names.contains(&value.as_str()) {
                self.invalid(format!("`{value}` is not one of {}", names.join(", ")));
            }
            return value;
        }
        if self.live() {
            match Select::with_theme(&SimpleTheme).with_prompt(label).items(labels).default(default).interact() {
                Ok(index) => return names.get(index).map(|name| (*name).to_owned()).unwrap_or_default(),
                Err(error) => self.failed(error),
            }
        }
        names.get(default).map(|name| (*name).to_owned()).unwrap_or_default()
    }

    /// Several of `options`; none by default.
    pub fn many(&mut self, label: &str, _source: &str, given: Option<Vec<String>>, options: &[&str]) -> Vec<String> {
        if let Some(values) = given {
            return values
                .into_iter()
                .map(|value| value.trim().to_owned())
                .filter(|v| !v.is_empty() && v != "none")
                .collect();
        }
        if self.live() {
            match MultiSelect::with_theme(&SimpleTheme)
                .with_prompt(format!("{label} (space to pick, enter to go on)"))
                .items(options)
                .interact()
            {
                Ok(indices) => {
                    return indices
                        .iter()
                        .filter_map(|index| options.get(*index))
                        .map(|name| (*name).to_owned())
                        .collect();
                }
                Err(error) => self.failed(error),
            }
        }
        Vec::new()
    }

    /// A value that may be left empty.
    pub fn optional(&mut self, label: &str, given: Option<String>) -> Option<String> {
        if let Some(value) = given {
            return Some(value).filter(|value| !value.is_empty());
        }
        if self.live() {
            match Input::<String>::with_theme(&SimpleTheme).with_prompt(label).allow_empty(true).interact_text() {
                Ok(value) => return Some(value.trim().to_owned()).filter(|value| !value.is_empty()),
                Err(error) => self.failed(error),
            }
        }
        None
    }

    /// A comma-separated list that must not be empty.
    pub fn list(&mut self, label: &str, source: &str, given: Option<Vec<String>>) -> Vec<String> {
        let split = |values: Vec<String>| -> Vec<String> {
            values
                .iter()
                .flat_map(|value| value.split(','))
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .collect()
        };
        let values = match given {
            Some(values) => split(values),
            None if self.live() => match Input::<String>::with_theme(&SimpleTheme).with_prompt(label).interact_text() {
                Ok(value) => split(vec![value]),
                Err(error) => {
                    self.failed(error);
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        if values.is_empty() {
            self.missing.push(format!("`{source}`"));
        }
        values
    }

    /// Yes or no; `default` without a terminal.
    pub fn confirm(&mut self, label: &str, given: Option<bool>, default: bool) -> bool {
        if let Some(value) = given {
            return value;
        }
        if self.live() {
            match Confirm::with_theme(&SimpleTheme).with_prompt(label).default(default).interact() {
                Ok(value) => return value,
                Err(error) => self.failed(error),
            }
        }
        default
    }

    pub fn note(&mut self, text: &str) {
        super::output::note(text);
    }

    pub fn invalid(&mut self, message: String) {
        self.invalid.push(message);
    }

    /// One error naming every invalid and missing value.
    pub fn finish(self) -> Result<(), UserError> {
        if let Some(failure) = self.failure {
            return Err(PromptError::Stopped(failure).into());
        }
        let mut problems = self.invalid;
        if !self.missing.is_empty() {
            let mode = if self.interactive { "" } else { " (not asked: no terminal, or `--non-interactive`)" };
            problems.push(format!("missing: {}{mode}", self.missing.join(", ")));
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(PromptError::Incomplete(problems.join("\n")).into())
    }
}

#[derive(Debug, thiserror::Error)]
enum PromptError {
    #[error("the prompt stopped: {0}")]
    Stopped(String),
    /// Every invalid and missing value, one a line.
    #[error("{0}")]
    Incomplete(String),
}

impl Hint for PromptError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::Stopped(_) => "run `molt init` again".into(),
            Self::Incomplete(_) => "set secrets in the environment and the rest as flags (`molt init --help` lists \
                                    them), then run `molt init --non-interactive` again, or run `molt init` in a \
                                    terminal to be asked"
                .into(),
        })
    }
}
