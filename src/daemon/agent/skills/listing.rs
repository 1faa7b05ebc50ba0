//! The skills section of the system prompt: one line per usable, enabled skill (name, path,
//! description cut to a bound), in name order so the cached prefix only changes when a skill
//! does. The model reads a skill's `SKILL.md` with `read_file` when it uses it. At most
//! [`MAX_LISTED`] skills and [`MAX_LISTING_BYTES`] bytes of lines are listed; the rest, in
//! name order, are named as a count with the way to find them.

use crate::core::skills::{SKILL_FILE, head};

/// Skills listed in the prompt at most.
pub const MAX_LISTED: usize = 100;
/// Bytes the skills' lines take in the prompt at most (about 11,000 tokens by molt's estimate).
pub const MAX_LISTING_BYTES: usize = 32 * 1024;
/// Bytes of one description in the prompt at most; longer ones are cut with `…`.
pub const MAX_DESCRIPTION_BYTES: usize = 300;

const INTRODUCTION: &str = "\n\n## Skills\n\nSkills are instructions for particular tasks, kept in the \
workspace. When a request matches a skill's description, read its file with `read_file` first and follow \
it; paths it names are relative to its folder.\n";

/// The section's text (empty when nothing is listed) and which skills did not fit.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Listing {
    pub text: String,
    pub left_out: Vec<String>,
}

/// The workspace path of a skill's file.
pub fn skill_path(name: &str) -> String {
    format!("skills/{name}/{SKILL_FILE}")
}

/// The section for `skills` (`(name, description)`, already in name order).
pub fn listing<'a>(skills: impl IntoIterator<Item = (&'a str, &'a str)>) -> Listing {
    let mut lines = String::new();
    let mut left_out = Vec::new();
    let mut listed = 0;
    for (name, description) in skills {
        let line = format!("\n- {name} ({}): {}", skill_path(name), prompt_description(description));
        if left_out.is_empty() && listed < MAX_LISTED && lines.len() + line.len() <= MAX_LISTING_BYTES {
            lines.push_str(&line);
            listed += 1;
        } else {
            left_out.push(name.to_owned());
        }
    }
    if listed == 0 && left_out.is_empty() {
        return Listing::default();
    }
    let mut text = format!("{INTRODUCTION}{lines}");
    if !left_out.is_empty() {
        text.push_str(&format!(
            "\n- … and {} more, not listed here: the list is full (`list_files` on `skills` shows every skill)",
            left_out.len()
        ));
    }
    Listing { text, left_out }
}

/// One line, cut to [`MAX_DESCRIPTION_BYTES`].
fn prompt_description(description: &str) -> String {
    let flat = description.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.len() <= MAX_DESCRIPTION_BYTES {
        return flat;
    }
    format!("{}…", head(&flat, MAX_DESCRIPTION_BYTES - '…'.len_utf8()).trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_skill_with_its_path_and_a_bounded_description() {
        let long = format!("Plans trips.\n\n{}", "word ".repeat(100));
        let listing = listing([("pdf-tools", "Extract text\n  and tables."), ("travel", long.as_str())]);
        assert!(listing.left_out.is_empty());
        let lines: Vec<&str> = listing.text.lines().filter(|line| line.starts_with("- ")).collect();
        assert_eq!(lines[0], "- pdf-tools (skills/pdf-tools/SKILL.md): Extract text and tables.");
        assert!(lines[1].starts_with("- travel (skills/travel/SKILL.md): Plans trips. word word"));
        assert!(lines[1].ends_with('…'));
        let description = lines[1].split_once("): ").unwrap().1;
        assert!(description.len() <= MAX_DESCRIPTION_BYTES, "{}", description.len());
        assert!(listing.text.starts_with("\n\n## Skills\n\n"));
        assert_eq!(super::listing([]), Listing::default(), "no skills, no section");
    }

    #[test]
    fn past_the_bounds_the_rest_is_counted_not_listed() {
        let names: Vec<String> = (0..150).map(|index| format!("skill-{index:03}")).collect();
        let listing = listing(names.iter().map(|name| (name.as_str(), "Short.")));
        assert_eq!(listing.left_out.len(), 50);
        assert_eq!(listing.left_out[0], "skill-100", "the first 100 by name are listed");
        assert!(listing.text.contains("- skill-099 "));
        assert!(!listing.text.contains("- skill-100 "));
        assert!(listing.text.ends_with(
            "- … and 50 more, not listed here: the list is full (`list_files` on `skills` shows every skill)"
        ));

        let wide = "d".repeat(MAX_DESCRIPTION_BYTES);
        let listing = super::listing(names.iter().map(|name| (name.as_str(), wide.as_str())));
        let listed = listing.text.lines().filter(|line| line.starts_with("- skill-")).count();
        assert!(listed < MAX_LISTED, "the byte bound comes first here: {listed}");
        let lines_bytes: usize =
            listing.text.lines().filter(|line| line.starts_with("- skill-")).map(|line| line.len() + 1).sum();
        assert!(lines_bytes <= MAX_LISTING_BYTES, "{lines_bytes}");
        assert_eq!(listing.left_out.len(), 150 - listed);
    }
}
