//! A skill's front matter: the YAML between the `---` lines that open `SKILL.md`. Read are
//! `name` and `description` (required, as the Agent Skills specification has them) and
//! OpenClaw's gates under `metadata.openclaw` (or its older names `clawdbot`, `clawdis`):
//! `requires.bins`, `requires.anyBins`, `requires.env`, `requires.config`, `os` and `always`.
//! Other keys (`license`, `allowed-tools`, OpenClaw's `emoji` or `install`, …) are left alone.
//!
//! The YAML comes from outside, so it is bounded before it is parsed (16 KiB, 16 levels) and
//! anchors and aliases are refused: an alias is a copy, and nested ones multiply.

use serde::Deserialize;
use serde_json::Value;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::{Yaml, YamlLoader};

use super::{head, name_problem};

/// Bytes of front matter at most.
pub const MAX_FRONT_MATTER_BYTES: usize = 16 * 1024;
/// Nesting of mappings and lists at most.
const MAX_DEPTH: usize = 16;
/// The specification's bound on `description`, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1024;
/// Names in one gate at most, and the bytes of one.
const MAX_GATE_ENTRIES: usize = 32;
const MAX_GATE_ENTRY_BYTES: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub name: String,
    pub description: String,
    pub gates: Gates,
}

/// OpenClaw's load-time gates: what the machine must have for the skill to be offered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Gates {
    #[serde(default)]
    pub requires: Requires,
    /// `darwin`, `linux`, `win32`: the systems the skill runs on (any when empty).
    #[serde(default, deserialize_with = "one_or_many")]
    pub os: Vec<String>,
    /// Offered whatever the other gates say.
    #[serde(default)]
    pub always: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Requires {
    /// Programs that must all be on `PATH`.
    #[serde(default)]
    pub bins: Vec<String>,
    /// Programs of which one must be on `PATH`.
    #[serde(default)]
    pub any_bins: Vec<String>,
    /// Environment variables that must be set and not empty.
    #[serde(default)]
    pub env: Vec<String>,
    /// OpenClaw settings that must be on (molt has none of them).
    #[serde(default)]
    pub config: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("`SKILL.md` does not open with front matter (a `---` line, the YAML, another `---` line)")]
    NoFrontMatter,
    #[error("the front matter is not closed by a `---` line within {MAX_FRONT_MATTER_BYTES} bytes")]
    Unclosed,
    #[error("the front matter is not valid YAML: {0}")]
    Yaml(String),
    #[error("the front matter is not a mapping of keys to values")]
    NotMapping,
    #[error("the front matter has no `{0}`")]
    Missing(&'static str),
    #[error("`{0}` in the front matter must be text")]
    NotText(&'static str),
    #[error("`description` is empty")]
    EmptyDescription,
    #[error("`description` is longer than {MAX_DESCRIPTION_CHARS} characters")]
    LongDescription,
    #[error("`name`: {0}")]
    Name(String),
    #[error("`metadata.openclaw`: {0}")]
    Gates(String),
}

/// Reads the front matter of `SKILL.md`'s text.
pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
    let yaml = front_matter(text)?;
    check_events(yaml)?;
    let documents = YamlLoader::load_from_str(yaml).map_err(|error| ManifestError::Yaml(error.to_string()))?;
    let root = match documents.as_slice() {
        [] => return Err(ManifestError::NotMapping),
        [one] => to_json(one)?,
        _ => return Err(ManifestError::Yaml("more than one document".into())),
    };
    let Value::Object(root) = root else { return Err(ManifestError::NotMapping) };
    let name = text_field(&root, "name")?;
    if let Some(problem) = name_problem(&name) {
        return Err(ManifestError::Name(problem));
    }
    let description = text_field(&root, "description")?.trim().to_owned();
    if description.is_empty() {
        return Err(ManifestError::EmptyDescription);
    }
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ManifestError::LongDescription);
    }
    let gates = gates(root.get("metadata"))?;
    Ok(Manifest { name, description, gates })
}

/// The YAML between the opening `---` line and the next `---` (or `...`) line.
fn front_matter(text: &str) -> Result<&str, ManifestError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().ok_or(ManifestError::NoFrontMatter)?;
    if first.trim_end() != "---" {
        return Err(ManifestError::NoFrontMatter);
    }
    let start = first.len();
    let mut end = start;
    for line in lines {
        if matches!(line.trim_end(), "---" | "...") {
            return Ok(&text[start..end]);
        }
        end += line.len();
        if end - start > MAX_FRONT_MATTER_BYTES {
            break;
        }
    }
    Err(ManifestError::Unclosed)
}

/// Refuses aliases and deep nesting before anything is built from the YAML.
fn check_events(yaml: &str) -> Result<(), ManifestError> {
    let mut parser = Parser::new_from_str(yaml);
    let mut depth = 0usize;
    loop {
        let (event, _) = parser.next_token().map_err(|error| ManifestError::Yaml(error.to_string()))?;
        match event {
            Event::StreamEnd => return Ok(()),
            Event::Alias(_) => {
                return Err(ManifestError::Yaml("anchors and aliases (`&name`, `*name`) are not accepted".into()));
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(ManifestError::Yaml(format!("nested more than {MAX_DEPTH} levels deep")));
                }
            }
            Event::SequenceEnd | Event::MappingEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
}

/// The YAML as JSON, whose types serde reads. Depth is bounded by [`check_events`].
fn to_json(yaml: &Yaml) -> Result<Value, ManifestError> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Boolean(value) => Value::Bool(*value),
        Yaml::Integer(value) => Value::from(*value),
        Yaml::Real(text) => text.parse::<f64>().ok().map_or_else(|| Value::String(text.clone()), Value::from),
        Yaml::String(text) => Value::String(text.clone()),
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Yaml::Hash(map) => {
            let mut object = serde_json::Map::new();
            for (key, value) in map {
                let key = match key {
                    Yaml::String(text) | Yaml::Real(text) => text.clone(),
                    Yaml::Integer(number) => number.to_string(),
                    Yaml::Boolean(flag) => flag.to_string(),
                    _ => return Err(ManifestError::Yaml("a key is not plain text".into())),
                };
                object.insert(key, to_json(value)?);
            }
            Value::Object(object)
        }
        Yaml::Alias(_) | Yaml::BadValue => return Err(ManifestError::Yaml("a value cannot be read".into())),
    })
}

fn text_field(root: &serde_json::Map<String, Value>, key: &'static str) -> Result<String, ManifestError> {
    match root.get(key) {
        None | Some(Value::Null) => Err(ManifestError::Missing(key)),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(ManifestError::NotText(key)),
    }
}

/// OpenClaw's block under `metadata`, which OpenClaw writes as an object or as one line of JSON.
fn gates(metadata: Option<&Value>) -> Result<Gates, ManifestError> {
    let metadata = match metadata {
        Some(Value::String(json)) => match serde_json::from_str::<Value>(json) {
            Ok(value @ Value::Object(_)) => value,
            _ => return Ok(Gates::default()),
        },
        Some(value) => value.clone(),
        None => return Ok(Gates::default()),
    };
    let Some(block) = ["openclaw", "clawdbot", "clawdis"].iter().find_map(|key| metadata.get(key)) else {
        return Ok(Gates::default());
    };
    let gates: Gates =
        serde_json::from_value(block.clone()).map_err(|error| ManifestError::Gates(error.to_string()))?;
    let Requires { bins, any_bins, env, config } = &gates.requires;
    for (field, list) in [("bins", bins), ("anyBins", any_bins), ("env", env), ("config", config), ("os", &gates.os)] {
        if list.len() > MAX_GATE_ENTRIES {
            return Err(ManifestError::Gates(format!("`{field}` names more than {MAX_GATE_ENTRIES} entries")));
        }
        if let Some(long) = list.iter().find(|entry| entry.is_empty() || entry.len() > MAX_GATE_ENTRY_BYTES) {
            return Err(ManifestError::Gates(format!(
                "`{field}` has an entry that is empty or longer than {MAX_GATE_ENTRY_BYTES} bytes: `{}`",
                head(long, 32)
            )));
        }
    }
    Ok(gates)
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(deserializer)? {
        None => Vec::new(),
        Some(OneOrMany::One(one)) => vec![one],
        Some(OneOrMany::Many(many)) => many,
    })
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
