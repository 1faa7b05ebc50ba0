//! The deploy folder: `wrangler.toml`, `worker.js`, `package.json` with its `package-lock.json`
//! and the image's `Dockerfile`, rendered from `templates/` (compiled in) with values from
//! `molt.toml`. Placeholders are `{{name}}`; every value is quoted for its file's syntax, and an
//! unfilled placeholder is an error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::core::settings::FileConfig;

const WRANGLER: &str = include_str!("../../templates/wrangler.toml.tmpl");
const WORKER: &str = include_str!("../../templates/worker.js");
const PACKAGE: &str = include_str!("../../templates/package.json.tmpl");
/// `npm install --package-lock-only` of `package.json.tmpl`, its name made a placeholder:
/// `npm ci` installs exactly these versions and checksums.
const PACKAGE_LOCK: &str = include_str!("../../templates/package-lock.json.tmpl");
const DOCKERFILE: &str = include_str!("../../templates/Dockerfile.tmpl");

/// What `image` in `wrangler.toml` is when no registry image was chosen.
pub const LOCAL_DOCKERFILE: &str = "./Dockerfile";

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("`molt.toml` has no `[deploy]` section")]
    NoDeploySection,
    #[error("template `{template}` has a placeholder no value fills: `{placeholder}`")]
    Unfilled { template: &'static str, placeholder: String },
    #[error("cannot write `{path}`: {reason}")]
    Write { path: PathBuf, reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    pub name: &'static str,
    pub text: String,
}

/// The non-secret environment the Worker passes to the gateway (`[vars]`).
pub fn worker_vars(config: &FileConfig) -> Result<BTreeMap<String, String>, TemplateError> {
    let deploy = config.deploy.as_ref().ok_or(TemplateError::NoDeploySection)?;
    let mut vars = BTreeMap::new();
    let mut set = |name: &str, value: &str| {
        vars.insert(name.to_owned(), value.to_owned());
    };
    set("SANDBOX_SLEEP_AFTER", &deploy.sleep_after);
    set("CF_ACCOUNT_ID", &deploy.account_id);
    set("R2_BUCKET_NAME", &deploy.bucket);
    if let Some(provider) = &config.model.provider {
        set("MOLT_PROVIDER", provider);
    }
    if let Some(model) = &config.model.model {
        set("MOLT_MODEL", model);
    }
    if let Some(url) = &config.model.openai_base_url {
        set("OPENAI_BASE_URL", url);
    }
    if let Some(gateway) = &deploy.ai_gateway_id {
        set("CF_AI_GATEWAY_ACCOUNT_ID", &deploy.account_id);
        set("CF_AI_GATEWAY_GATEWAY_ID", gateway);
    }
    if let Some(access) = &deploy.access {
        set("CF_ACCESS_TEAM_DOMAIN", &access.team_domain);
    }
    let channels = &deploy.channels;
    for (prefix, channel) in
        [("TELEGRAM", &channels.telegram), ("DISCORD", &channels.discord), ("SLACK", &channels.slack)]
    {
        if let Some(channel) = channel {
            set(&format!("{prefix}_DM_POLICY"), &channel.dm_policy);
            set(&format!("{prefix}_MODE"), &channel.mode);
        }
    }
    Ok(vars)
}

/// Every file of the deploy folder, rendered.
pub fn render(config: &FileConfig) -> Result<Vec<RenderedFile>, TemplateError> {
    let deploy = config.deploy.as_ref().ok_or(TemplateError::NoDeploySection)?;
    let vars = worker_vars(config)?;
    let vars_block: String =
        vars.iter().map(|(name, value)| format!("{name} = {}\n", toml_string(value))).collect::<String>();
    let image = deploy.image.clone().unwrap_or_else(|| LOCAL_DOCKERFILE.to_owned());
    let wrangler = fill(
        "wrangler.toml.tmpl",
        WRANGLER,
        &[
            ("worker_name", toml_string(&deploy.worker_name)),
            ("account_id", toml_string(&deploy.account_id)),
            ("image", toml_string(&image)),
            ("instance_type", toml_string(&deploy.instance_type)),
            ("vars", vars_block.trim_end().to_owned()),
        ],
    )?;
    let name = [("package_name", json_string(&deploy.worker_name))];
    let package = fill("package.json.tmpl", PACKAGE, &name)?;
    let lock = fill("package-lock.json.tmpl", PACKAGE_LOCK, &name)?;
    let mut files = vec![
        RenderedFile { name: "wrangler.toml", text: wrangler },
        RenderedFile { name: "worker.js", text: WORKER.to_owned() },
        RenderedFile { name: "package.json", text: package },
        RenderedFile { name: "package-lock.json", text: lock },
    ];
    if deploy.image.is_none() {
        files.push(RenderedFile { name: "Dockerfile", text: DOCKERFILE.to_owned() });
    }
    Ok(files)
}

/// Writes the files into `dir` (created when missing).
pub fn write(dir: &Path, files: &[RenderedFile]) -> Result<(), TemplateError> {
    let failed =
        |path: &Path, error: std::io::Error| TemplateError::Write { path: path.to_owned(), reason: error.to_string() };
    std::fs::create_dir_all(dir).map_err(|error| failed(dir, error))?;
    for file in files {
        let path = dir.join(file.name);
        std::fs::write(&path, &file.text).map_err(|error| failed(&path, error))?;
    }
    Ok(())
}

fn fill(template: &'static str, text: &str, values: &[(&str, String)]) -> Result<String, TemplateError> {
    let mut out = text.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{{{name}}}}}"), value);
    }
    if let Some(start) = out.find("{{") {
        let rest = &out[start..];
        let placeholder = rest.split("}}").next().unwrap_or(rest).to_owned() + "}}";
        return Err(TemplateError::Unfilled { template, placeholder });
    }
    Ok(out)
}

fn toml_string(value: &str) -> String {
    toml::Value::String(value.to_owned()).to_string()
}

fn json_string(value: &str) -> String {
    serde_json::Value::String(value.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::settings::DeploySection;

    fn config(image: Option<&str>) -> FileConfig {
        let mut config = FileConfig::default();
        config.model.provider = Some("anthropic".into());
        config.deploy = Some(DeploySection {
            worker_name: "molt-\"quoted\"".into(),
            account_id: "acct".into(),
            bucket: "molt-data".into(),
            image: image.map(str::to_owned),
            instance_type: "lite".into(),
            sleep_after: "10m".into(),
            ..DeploySection::default()
        });
        config
    }

    #[test]
    fn values_are_quoted_and_every_placeholder_filled() {
        let files = render(&config(None)).unwrap();
        let wrangler = &files[0].text;
        let parsed: toml::Value = toml::from_str(wrangler).unwrap();
        assert_eq!(parsed["name"].as_str(), Some("molt-\"quoted\""));
        assert_eq!(parsed["containers"][0]["image"].as_str(), Some("./Dockerfile"));
        assert_eq!(parsed["vars"]["MOLT_PROVIDER"].as_str(), Some("anthropic"));
        let package: serde_json::Value = serde_json::from_str(&files[2].text).unwrap();
        assert_eq!(package["name"], "molt-\"quoted\"");
        assert!(files.iter().any(|file| file.name == "Dockerfile"));
    }

    #[test]
    fn the_lockfile_matches_the_package_json_it_locks() {
        let files = render(&config(None)).unwrap();
        let read = |name: &str| -> serde_json::Value {
            serde_json::from_str(&files.iter().find(|file| file.name == name).unwrap().text).unwrap()
        };
        let (package, lock) = (read("package.json"), read("package-lock.json"));
        let root = &lock["packages"][""];
        assert_eq!((&lock["name"], &root["name"]), (&package["name"], &package["name"]));
        assert_eq!(root["dependencies"], package["dependencies"], "npm ci refuses a lockfile out of sync");
        assert_eq!(root["devDependencies"], package["devDependencies"]);
        for (name, version) in package["devDependencies"].as_object().unwrap() {
            assert_eq!(&lock["packages"][format!("node_modules/{name}")]["version"], version, "{name}");
        }
    }

    #[test]
    fn a_registry_image_needs_no_dockerfile() {
        let files = render(&config(Some("registry.example.com/molt:1"))).unwrap();
        assert!(files.iter().all(|file| file.name != "Dockerfile"));
        assert!(files[0].text.contains("image = \"registry.example.com/molt:1\""));
    }

    #[test]
    fn an_unfilled_placeholder_is_an_error() {
        let error = fill("t", "a {{b}} c", &[]).unwrap_err();
        assert_eq!(error.to_string(), "template `t` has a placeholder no value fills: `{{b}}`");
    }
}
