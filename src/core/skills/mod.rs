//! Agent Skills (the format OpenClaw and Claude share): a folder `skills/<name>/` holding a
//! `SKILL.md` (YAML front matter, then Markdown instructions) and the files it needs. This
//! module owns what a skill is, apart from where it runs: the name rule, the front matter
//! (`manifest`), the bounds on a skill's size, and the `.zip` form a skill travels in
//! (`archive` to read one, `pack` to make one from a folder). The gateway installs and lists
//! skills (`daemon::agent::skills`); `molt skills` packs and sends them.

pub mod archive;
pub mod manifest;
pub mod pack;

/// The file every skill has, at the top of its folder.
pub const SKILL_FILE: &str = "SKILL.md";

/// The longest name (the Agent Skills specification's bound).
pub const MAX_NAME_CHARS: usize = 64;

/// What one skill may hold: enough for instructions, scripts and small assets, small enough to
/// sit in the workspace and its bucket without thought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of every file together, unpacked.
    pub total_bytes: u64,
    /// Files (folders not counted).
    pub files: usize,
    /// `SKILL.md` itself.
    pub skill_file_bytes: u64,
    /// Folders deep below the skill's own.
    pub depth: usize,
    /// Bytes of one path inside the skill.
    pub path_bytes: usize,
    /// Bytes of the `.zip` it arrives in.
    pub archive_bytes: u64,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        total_bytes: 8 * 1024 * 1024,
        files: 256,
        skill_file_bytes: 256 * 1024,
        depth: 8,
        path_bytes: 255,
        archive_bytes: 8 * 1024 * 1024,
    };
}

/// Why a name cannot be a skill's: `None` when it can. A name is also a folder, so the rule is
/// strict: 1 to 64 of `a-z`, `0-9` and `-`, no `-` at either end, no `--`.
pub fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("a skill's name cannot be empty".into());
    }
    if name.len() > MAX_NAME_CHARS {
        return Some(format!("`{}…` is longer than {MAX_NAME_CHARS} characters", head(name, 24)));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
        return Some(format!(
            "`{name}` has `{}`: a skill's name has only lowercase letters, digits and `-`",
            bad.escape_default()
        ));
    }
    if name.starts_with('-') || name.ends_with('-') || name.contains("--") {
        return Some(format!("`{name}` starts or ends with `-`, or has `--`"));
    }
    None
}

pub fn is_valid_name(name: &str) -> bool {
    name_problem(name).is_none()
}

/// The first `limit` bytes of `text`, cut on a character boundary.
pub fn head(text: &str, limit: usize) -> &str {
    let mut cut = limit.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_folder_names() {
        for good in ["pdf", "pdf-tools", "a", "1password", &"x".repeat(64)] {
            assert!(is_valid_name(good), "{good}");
        }
        for bad in ["", "PDF", "pdf_tools", "pdf tools", "-pdf", "pdf-", "pdf--x", "..", "a/b", "é", &"x".repeat(65)] {
            assert!(!is_valid_name(bad), "{bad}");
        }
        assert_eq!(
            name_problem("My_Skill").as_deref(),
            Some("`My_Skill` has `M`: a skill's name has only lowercase letters, digits and `-`")
        );
    }
}
