//! `molt completions <shell>` and `molt man`: shell completions and the man page, generated from
//! the same clap definition as the parser (`completions/` holds them, checked by a test).

use clap::{Args, CommandFactory, ValueEnum};
use clap_complete::Shell;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ShellName {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
}

impl ShellName {
    fn shell(self) -> Shell {
        match self {
            Self::Bash => Shell::Bash,
            Self::Zsh => Shell::Zsh,
            Self::Fish => Shell::Fish,
            Self::Elvish => Shell::Elvish,
            Self::Powershell => Shell::PowerShell,
        }
    }

    /// The file name under `completions/` and where each shell looks for it.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Bash => "molt.bash",
            Self::Zsh => "_molt",
            Self::Fish => "molt.fish",
            Self::Elvish => "molt.elv",
            Self::Powershell => "_molt.ps1",
        }
    }

    pub const ALL: [ShellName; 5] = [Self::Bash, Self::Zsh, Self::Fish, Self::Elvish, Self::Powershell];
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// `bash`, `zsh`, `fish`, `elvish` or `powershell`
    shell: ShellName,
}

pub fn run(args: CompletionsArgs) -> anyhow::Result<()> {
    super::output::print(completion(args.shell))
}

pub fn man() -> anyhow::Result<()> {
    super::output::print(man_page()?)
}

/// The completion script for `shell`.
pub fn completion(shell: ShellName) -> String {
    let mut command = super::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell.shell(), &mut command, "molt", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// `molt.1` in roff.
pub fn man_page() -> anyhow::Result<String> {
    let mut out = Vec::new();
    clap_mangen::Man::new(super::Cli::command()).render(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}
