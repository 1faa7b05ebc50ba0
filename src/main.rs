//! The `molt` binary: parse the command line, run it, exit with its code.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    molt::cli::main()
}
