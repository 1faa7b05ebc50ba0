//! The CLI's failures and how `main` reports them. An error the user can act on implements
//! [`Hint`] and travels as a [`UserError`] (exit code 1); `main` prints `error:` with its message
//! and `hint:` with what its type says to do next. Anything else is unexpected (exit code 2).
//! Hints for the library's error types live here too: they name commands, which only the CLI
//! knows.

use std::fmt;

use super::output;
use crate::core::settings::SettingsError;
use crate::daemon::ServeError;
use crate::daemon::token::TokenError;
use crate::provision::secrets::SecretStoreError;

/// What to do about an error: the exact next command where there is one.
pub trait Hint: std::error::Error + Send + Sync + 'static {
    fn hint(&self) -> Option<String>;
}

/// A failure the user can act on: exit code 1, its message, and its type's hint.
///
/// Its message is the error's own `Display`, which by this code base's convention already names
/// its cause, so the printer does not walk the error's sources (they would print twice).
#[derive(Debug)]
pub struct UserError(Box<dyn Hint>);

impl UserError {
    pub fn hint(&self) -> Option<String> {
        self.0.hint()
    }
}

impl<E: Hint> From<E> for UserError {
    fn from(error: E) -> Self {
        Self(Box::new(error))
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, formatter)
    }
}

impl std::error::Error for UserError {}

/// Prints `error: …` and, for a user error, its `hint: …`; returns the exit code: 1 for user
/// errors, 2 for anything else.
pub fn report(error: &anyhow::Error) -> std::process::ExitCode {
    output::error(format_args!("{error:#}"));
    match error.chain().find_map(|cause| cause.downcast_ref::<UserError>()) {
        Some(user) => {
            if let Some(hint) = user.hint() {
                output::hint(hint);
            }
            std::process::ExitCode::from(1)
        }
        None => std::process::ExitCode::from(2),
    }
}

impl Hint for SettingsError {
    fn hint(&self) -> Option<String> {
        Some("fix the value, or run `molt gateway --print-config` to see every setting and its source".into())
    }
}

impl Hint for SecretStoreError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::Choice { .. } => "unset it, or set `MOLT_SECRET_STORE=file`".into(),
            _ => "unlock the OS keyring, or keep secrets in a 0600 file with `MOLT_SECRET_STORE=file`".into(),
        })
    }
}

impl Hint for TokenError {
    fn hint(&self) -> Option<String> {
        Some("check the data directory's permissions, or set `MOLT_GATEWAY_TOKEN`".into())
    }
}

impl Hint for ServeError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::Fenced(_) => "another gateway started on the same bucket and serves now; stop one of them, or give \
                                each its own `MOLT_S3_PREFIX`"
                .into(),
            _ => "check that the data directory is writable and has free space".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open `{path}`: {source}")]
    struct Opening {
        path: String,
        source: std::io::Error,
    }

    impl Hint for Opening {
        fn hint(&self) -> Option<String> {
            Some(format!("check `{}`", self.path))
        }
    }

    #[test]
    fn a_user_error_prints_its_cause_once_and_its_hint() {
        let error = Opening { path: "a".into(), source: std::io::Error::other("denied") };
        let error = anyhow::Error::new(UserError::from(error)).context("reading the settings");
        assert_eq!(format!("{error:#}"), "reading the settings: cannot open `a`: denied");
        let user = error.chain().find_map(|cause| cause.downcast_ref::<UserError>()).unwrap();
        assert_eq!(user.hint().as_deref(), Some("check `a`"));
    }
}
