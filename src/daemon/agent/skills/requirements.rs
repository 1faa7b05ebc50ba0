//! Whether this machine has what a skill's gates (OpenClaw's `metadata.openclaw`) ask for:
//! its system, programs on `PATH`, environment variables. A skill whose gates are not met is
//! not offered to the model, and the admin API says which gate failed.

use std::ffi::OsString;
use std::path::Path;

use crate::core::skills::manifest::Gates;

/// What the gates are checked against: the gateway's own process, or a test's stand-in.
pub struct Machine<'a> {
    pub var: &'a dyn Fn(&str) -> Option<OsString>,
    pub path: Option<OsString>,
    /// OpenClaw's names: `darwin`, `linux`, `win32`.
    pub os: &'a str,
}

fn process_var(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

impl Machine<'static> {
    /// The gateway's process: the environment and `PATH` a program it started would see.
    pub fn process() -> Self {
        let os = match std::env::consts::OS {
            "macos" => "darwin",
            "windows" => "win32",
            other => other,
        };
        Machine { var: &process_var, path: std::env::var_os("PATH"), os }
    }
}

/// Why the gates are not met (every failed one, in the gates' order), or `None`.
pub fn unmet(gates: &Gates, machine: &Machine<'_>) -> Option<String> {
    if gates.always {
        return None;
    }
    let mut reasons = Vec::new();
    if !gates.os.is_empty() && !gates.os.iter().any(|os| os == machine.os) {
        reasons.push(format!("runs on {} only; this is `{}`", quoted(&gates.os), machine.os));
    }
    let requires = &gates.requires;
    let missing: Vec<String> = requires.bins.iter().filter(|bin| !on_path(bin, machine)).cloned().collect();
    if !missing.is_empty() {
        reasons.push(format!("needs {} on `PATH`", quoted(&missing)));
    }
    if !requires.any_bins.is_empty() && !requires.any_bins.iter().any(|bin| on_path(bin, machine)) {
        reasons.push(format!("needs one of {} on `PATH`", quoted(&requires.any_bins)));
    }
    let unset: Vec<String> =
        requires.env.iter().filter(|name| (machine.var)(name).is_none_or(|value| value.is_empty())).cloned().collect();
    if !unset.is_empty() {
        reasons.push(format!("needs {} set in the gateway's environment", quoted(&unset)));
    }
    if !requires.config.is_empty() {
        reasons.push(format!("needs the OpenClaw setting {}, which molt does not have", quoted(&requires.config)));
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

fn quoted(names: &[String]) -> String {
    names.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
}

/// An executable file of that name in one of `PATH`'s folders. A name with a path separator
/// is never on `PATH`.
fn on_path(bin: &str, machine: &Machine<'_>) -> bool {
    if bin.is_empty() || bin.contains(['/', '\\', '\0']) {
        return false;
    }
    let Some(path) = &machine.path else { return false };
    std::env::split_paths(path).filter(|dir| !dir.as_os_str().is_empty()).any(|dir| executable(&dir.join(bin)))
}

fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::core::skills::manifest::Requires;

    fn gates(requires: Requires) -> Gates {
        Gates { requires, ..Gates::default() }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn programs_variables_systems_and_settings_are_checked() {
        let bin = tempfile::tempdir().unwrap();
        let tool = bin.path().join("pdftotext");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        std::fs::write(bin.path().join("notes"), "not executable").unwrap();
        let env: HashMap<&str, &str> = [("PDF_KEY", "k"), ("EMPTY", "")].into();
        let var = |name: &str| env.get(name).map(OsString::from);
        let machine = Machine { var: &var, path: Some(bin.path().as_os_str().to_owned()), os: "linux" };

        let met = gates(Requires { bins: names(&["pdftotext"]), env: names(&["PDF_KEY"]), ..Requires::default() });
        assert_eq!(unmet(&met, &machine), None);
        let any = gates(Requires { any_bins: names(&["qpdf", "pdftotext"]), ..Requires::default() });
        assert_eq!(unmet(&any, &machine), None);

        let missing = Gates {
            requires: Requires {
                bins: names(&["pdftotext", "notes", "../pdftotext"]),
                any_bins: names(&["qpdf", "mutool"]),
                env: names(&["PDF_KEY", "EMPTY", "UNSET"]),
                config: names(&["browser.enabled"]),
            },
            os: names(&["darwin"]),
            always: false,
        };
        assert_eq!(
            unmet(&missing, &machine).unwrap(),
            "runs on `darwin` only; this is `linux`; needs `notes`, `../pdftotext` on `PATH`; \
             needs one of `qpdf`, `mutool` on `PATH`; needs `EMPTY`, `UNSET` set in the gateway's environment; \
             needs the OpenClaw setting `browser.enabled`, which molt does not have"
        );
        assert_eq!(unmet(&Gates { always: true, ..missing }, &machine), None, "`always` skips the gates");
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn the_process_machine_names_its_system_as_openclaw_does() {
        let machine = Machine::process();
        assert_eq!(machine.os, "linux");
        assert_eq!(unmet(&gates(Requires { bins: names(&["sh"]), ..Requires::default() }), &machine), None);
    }
}
