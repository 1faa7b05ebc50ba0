//! What every subcommand shares, settled once in `main` before it runs: the async runtime. There
//! is one, multi-thread (the gateway needs it; the short commands run on it too), built here and
//! nowhere else in `src/` (a test below reads the sources: clippy's `disallowed-methods` would
//! also flag the runtime every `#[tokio::test]` builds).

use std::future::Future;

use anyhow::Context as _;

pub struct Context {
    runtime: tokio::runtime::Runtime,
}

impl Context {
    pub fn new() -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        Ok(Self { runtime })
    }

    /// Runs `future` to completion on the runtime, from the command's own thread.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                found.push(path);
            }
        }
    }

    #[test]
    fn the_runtime_is_built_here_only() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&root, &mut files);
        let builders = ["runtime::Builder::new_", "Runtime::new("];
        let elsewhere: Vec<String> = files
            .iter()
            .filter(|path| !path.ends_with("cli/context.rs"))
            .filter(|path| {
                let text = std::fs::read_to_string(path).unwrap();
                builders.iter().any(|builder| text.contains(builder))
            })
            .map(|path| path.display().to_string())
            .collect();
        assert!(files.len() > 50, "the sources were found: {}", files.len());
        assert!(elsewhere.is_empty(), "build no runtime outside `cli::context::Context`: {elsewhere:?}");
    }
}
