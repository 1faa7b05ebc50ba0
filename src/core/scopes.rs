//! Operator scopes of the gateway protocol and what each one implies.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "operator.read")]
    Read,
    #[serde(rename = "operator.write")]
    Write,
    #[serde(rename = "operator.admin")]
    Admin,
    #[serde(rename = "operator.pairing")]
    Pairing,
    /// OpenClaw's scope for answering exec approvals (`exec.approval.*`).
    #[serde(rename = "operator.approvals")]
    Approvals,
}

impl Scope {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "operator.read" => Some(Self::Read),
            "operator.write" => Some(Self::Write),
            "operator.admin" => Some(Self::Admin),
            "operator.pairing" => Some(Self::Pairing),
            "operator.approvals" => Some(Self::Approvals),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "operator.read",
            Self::Write => "operator.write",
            Self::Admin => "operator.admin",
            Self::Pairing => "operator.pairing",
            Self::Approvals => "operator.approvals",
        }
    }
}

/// The scopes a connection holds. `read < write < admin`; admin also grants pairing and
/// approvals, as in OpenClaw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants(Vec<Scope>);

impl Grants {
    /// Keeps the scopes molt knows, in the order asked, without repeats.
    pub fn from_requested<'a>(requested: impl IntoIterator<Item = &'a str>) -> Self {
        let mut scopes = Vec::new();
        for scope in requested.into_iter().filter_map(Scope::parse) {
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        Self(scopes)
    }

    pub fn allows(&self, required: Scope) -> bool {
        self.0.iter().any(|&held| match required {
            Scope::Read => matches!(held, Scope::Read | Scope::Write | Scope::Admin),
            Scope::Write => matches!(held, Scope::Write | Scope::Admin),
            Scope::Admin => held == Scope::Admin,
            Scope::Pairing => matches!(held, Scope::Pairing | Scope::Admin),
            Scope::Approvals => matches!(held, Scope::Approvals | Scope::Admin),
        })
    }

    /// Every scope: what an operator signed in to the admin API holds.
    pub fn all() -> Self {
        Self(vec![Scope::Admin])
    }

    /// The first scope of `requested` (unknown names ignored) these grants do not cover.
    pub fn missing<'a>(&self, requested: impl IntoIterator<Item = &'a str>) -> Option<Scope> {
        requested.into_iter().filter_map(Scope::parse).find(|&scope| !self.allows(scope))
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|scope| scope.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_scopes_imply_lower_ones() {
        let admin = Grants::from_requested(["operator.admin"]);
        assert!(admin.allows(Scope::Read) && admin.allows(Scope::Write) && admin.allows(Scope::Pairing));
        let read = Grants::from_requested(["operator.read", "bogus", "operator.read"]);
        assert_eq!(read.names(), ["operator.read"]);
        assert!(!read.allows(Scope::Write));
        let pairing = Grants::from_requested(["operator.pairing"]);
        assert!(pairing.allows(Scope::Pairing) && !pairing.allows(Scope::Read));
        assert_eq!(pairing.missing(["operator.pairing", "operator.admin"]), Some(Scope::Admin));
        assert_eq!(admin.missing(["operator.write", "operator.pairing", "bogus"]), None);
        assert_eq!(Grants::all().missing(["operator.admin"]), None);
        let approvals = Grants::from_requested(["operator.approvals"]);
        assert!(approvals.allows(Scope::Approvals) && !approvals.allows(Scope::Pairing));
        assert!(admin.allows(Scope::Approvals) && !pairing.allows(Scope::Approvals));
        assert_eq!(Scope::parse("operator.approvals").map(Scope::as_str), Some("operator.approvals"));
    }
}
