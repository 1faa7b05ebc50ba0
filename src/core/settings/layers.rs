//! Layered lookup of one setting: flag over environment over `molt.toml` over default, with the
//! origin of the winning value kept for `--print-config`.

use std::fmt;
use std::str::FromStr;

use crate::core::secret::Secret;

use super::SettingsError;

/// Where a resolved value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flag(&'static str),
    Env(&'static str),
    File,
    Default,
    Derived(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flag(flag) => write!(formatter, "flag {flag}"),
            Self::Env(name) => write!(formatter, "env {name}"),
            Self::File => formatter.write_str("molt.toml"),
            Self::Default => formatter.write_str("default"),
            Self::Derived(from) => write!(formatter, "derived from {from}"),
        }
    }
}

/// One line of `--print-config`: name, shown value (secrets redacted), origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub name: &'static str,
    pub shown: String,
    pub origin: Origin,
}

/// Reads environment variables through a closure, so tests resolve settings from a map.
pub struct Layers<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    pub provenance: Vec<Provenance>,
}

impl<'a> Layers<'a> {
    pub fn new(env: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self { env, provenance: Vec::new() }
    }

    /// The first non-empty variable among `names`, with its name.
    pub fn env(&self, names: &[&'static str]) -> Option<(&'static str, String)> {
        names.iter().find_map(|&name| {
            let value = (self.env)(name)?;
            let value = value.trim().to_owned();
            (!value.is_empty()).then_some((name, value))
        })
    }

    /// Resolves a parsed value and records where it came from.
    pub fn value<T: FromStr + fmt::Display>(
        &mut self,
        name: &'static str,
        flag: Option<(&'static str, T)>,
        env: &[&'static str],
        file: Option<T>,
        default: T,
    ) -> Result<T, SettingsError> {
        let (value, origin) = self.pick(flag, env, file, default)?;
        self.provenance.push(Provenance { name, shown: value.to_string(), origin });
        Ok(value)
    }

    /// Like [`Layers::value`] for an optional value without a default.
    pub fn optional<T: FromStr + fmt::Display>(
        &mut self,
        name: &'static str,
        flag: Option<(&'static str, T)>,
        env: &[&'static str],
        file: Option<T>,
    ) -> Result<Option<T>, SettingsError> {
        let picked = match (flag, self.env(env), file) {
            (Some((flag, value)), _, _) => Some((value, Origin::Flag(flag))),
            (None, Some((var, raw)), _) => Some((parse(var, &raw)?, Origin::Env(var))),
            (None, None, Some(value)) => Some((value, Origin::File)),
            (None, None, None) => None,
        };
        Ok(picked.map(|(value, origin)| {
            self.provenance.push(Provenance { name, shown: value.to_string(), origin });
            value
        }))
    }

    /// A secret: only ever from the environment (never flags, never `molt.toml`).
    pub fn secret(&mut self, name: &'static str, env: &[&'static str]) -> Option<Secret> {
        let (var, raw) = self.env(env)?;
        self.provenance.push(Provenance { name, shown: "[redacted]".into(), origin: Origin::Env(var) });
        Some(Secret::new(raw))
    }

    /// Records a value decided elsewhere (derived or defaulted by a rule).
    pub fn record(&mut self, name: &'static str, shown: impl Into<String>, origin: Origin) {
        self.provenance.push(Provenance { name, shown: shown.into(), origin });
    }

    fn pick<T: FromStr>(
        &self,
        flag: Option<(&'static str, T)>,
        env: &[&'static str],
        file: Option<T>,
        default: T,
    ) -> Result<(T, Origin), SettingsError> {
        if let Some((flag, value)) = flag {
            return Ok((value, Origin::Flag(flag)));
        }
        if let Some((var, raw)) = self.env(env) {
            return Ok((parse(var, &raw)?, Origin::Env(var)));
        }
        Ok(match file {
            Some(value) => (value, Origin::File),
            None => (default, Origin::Default),
        })
    }
}

fn parse<T: FromStr>(var: &'static str, raw: &str) -> Result<T, SettingsError> {
    raw.parse().map_err(|_| SettingsError::InvalidEnv { var, value: raw.to_owned() })
}

/// A boolean that reads `1/true/yes/on` and `0/false/no/off` from the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl FromStr for Flag {
    type Err = ();
    fn from_str(raw: &str) -> Result<Self, ()> {
        match raw.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(Self(true)),
            "0" | "false" | "no" | "off" => Ok(Self(false)),
            _ => Err(()),
        }
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)
    }
}
