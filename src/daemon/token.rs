//! The gateway token: from the environment, or generated once and kept in the data directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::core::secret::Secret;

pub const TOKEN_FILE: &str = "gateway-token";

/// Where the token came from; decides whether it may be shown once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    Environment,
    Stored,
    Generated,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read the gateway token at `{path}`: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write the gateway token to `{path}`: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("the gateway token file `{path}` is empty")]
    Empty { path: PathBuf },
}

/// The configured token, else the stored one, else a new one written with mode 0600.
pub fn load_or_generate(configured: Option<&Secret>, data_dir: &Path) -> Result<(Secret, TokenSource), TokenError> {
    if let Some(token) = configured {
        return Ok((token.clone(), TokenSource::Environment));
    }
    let path = data_dir.join(TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if text.trim().is_empty() => Err(TokenError::Empty { path }),
        Ok(text) => Ok((Secret::new(text.trim()), TokenSource::Stored)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let token = Secret::generate();
            write_private(&path, token.expose()).map_err(|source| TokenError::Write { path: path.clone(), source })?;
            Ok((token, TokenSource::Generated))
        }
        Err(source) => Err(TokenError::Read { path, source }),
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let (first, source) = load_or_generate(None, dir.path()).unwrap();
        assert_eq!(source, TokenSource::Generated);
        let (second, source) = load_or_generate(None, dir.path()).unwrap();
        assert_eq!(source, TokenSource::Stored);
        assert_eq!(first, second);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(TOKEN_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let configured = Secret::new("from-env");
        assert_eq!(load_or_generate(Some(&configured), dir.path()).unwrap(), (configured, TokenSource::Environment));
    }
}
