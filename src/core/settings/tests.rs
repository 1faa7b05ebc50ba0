//! Tests of the settings rules: precedence, moltworker's names, provider choice, redaction.

use std::collections::HashMap;

use super::*;

fn resolve_with(flags: GatewayFlags, vars: &[(&str, &str)], toml: &str) -> Result<Settings, SettingsError> {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let env = move |name: &str| map.get(name).cloned();
    let file: FileConfig = toml::from_str(toml).unwrap();
    Settings::resolve(&flags, &env, &file)
}

#[test]
fn defaults_need_nothing() {
    let settings = resolve_with(GatewayFlags::default(), &[("HOME", "/home/ada")], "").unwrap();
    assert_eq!(settings.port, 18789);
    assert_eq!(settings.bind.to_string(), "127.0.0.1");
    assert_eq!(settings.data_dir, PathBuf::from("/home/ada/.local/share/molt"));
    assert!(settings.model.provider.is_none());
    assert!(settings.loopback_auto_approve);
    assert!(settings.describe().contains("ANTHROPIC_API_KEY"));
}

#[test]
fn flags_beat_env_beat_file_beat_defaults() {
    let toml = "[gateway]\nport = 1000\nbind = \"0.0.0.0\"\ndata_dir = \"/from/file\"\n";
    let vars = [("MOLT_PORT", "2000"), ("MOLT_DATA_DIR", "/from/env")];
    let flags = GatewayFlags { port: Some(3000), ..GatewayFlags::default() };
    let settings = resolve_with(flags, &vars, toml).unwrap();
    assert_eq!(settings.port, 3000);
    assert_eq!(settings.data_dir, PathBuf::from("/from/env"));
    assert_eq!(settings.bind.to_string(), "0.0.0.0");
    let origin = |name: &str| settings.provenance.iter().find(|p| p.name == name).unwrap().origin.clone();
    assert_eq!(origin("port"), Origin::Flag("--port"));
    assert_eq!(origin("data_dir"), Origin::Env("MOLT_DATA_DIR"));
    assert_eq!(origin("bind"), Origin::File);
    assert_eq!(origin("log_format"), Origin::Default);
}

#[test]
fn moltworker_token_names_work_and_are_redacted() {
    let settings = resolve_with(GatewayFlags::default(), &[("MOLTBOT_GATEWAY_TOKEN", "tok-123")], "").unwrap();
    assert_eq!(settings.gateway_token.as_ref().map(Secret::expose), Some("tok-123"));
    let alias = resolve_with(GatewayFlags::default(), &[("MOLT_GATEWAY_TOKEN", "tok-456")], "").unwrap();
    assert_eq!(alias.gateway_token.as_ref().map(Secret::expose), Some("tok-456"));
    let printed = settings.describe();
    assert!(printed.contains("gateway_token") && printed.contains("[redacted]"));
    assert!(!printed.contains("tok-123"));
}

#[test]
fn anthropic_key_selects_anthropic_with_its_base_url() {
    let vars = [("ANTHROPIC_API_KEY", "sk-ant"), ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9/")];
    let settings = resolve_with(GatewayFlags::default(), &vars, "").unwrap();
    let provider = settings.model.provider.clone().unwrap();
    assert_eq!(provider.api, Api::AnthropicMessages);
    assert_eq!(provider.base_url, "http://127.0.0.1:9");
    assert_eq!(settings.model.model, "claude-sonnet-4-5");
    assert!(!settings.describe().contains("sk-ant"));
}

#[test]
fn openai_base_url_alone_selects_an_openai_compatible_server() {
    let vars = [("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1"), ("MOLT_MODEL", "llama3.2")];
    let settings = resolve_with(GatewayFlags::default(), &vars, "").unwrap();
    let provider = settings.model.provider.unwrap();
    assert_eq!(provider.api, Api::OpenAiChat);
    assert_eq!(provider.api_key, None);
    assert_eq!(settings.model.model, "llama3.2");
}

#[test]
fn ai_gateway_builds_moltworkers_url_form() {
    let vars = [
        ("CF_AI_GATEWAY_ACCOUNT_ID", "acc"),
        ("CF_AI_GATEWAY_GATEWAY_ID", "gw"),
        ("CF_AI_GATEWAY_MODEL", "openai/gpt-4.1"),
        ("CLOUDFLARE_AI_GATEWAY_API_KEY", "sk-provider"),
        ("CF_AI_GATEWAY_TOKEN", "cf-aig"),
        ("ANTHROPIC_API_KEY", "ignored-here"),
    ];
    let settings = resolve_with(GatewayFlags::default(), &vars, "").unwrap();
    let provider = settings.model.provider.unwrap();
    assert_eq!(provider.base_url, "https://gateway.ai.cloudflare.com/v1/acc/gw/openai");
    assert_eq!(provider.api, Api::OpenAiChat);
    assert_eq!(provider.api_key.as_ref().map(Secret::expose), Some("sk-provider"));
    assert_eq!(provider.gateway_auth.as_ref().map(Secret::expose), Some("cf-aig"));
    assert_eq!(settings.model.model, "gpt-4.1");

    let anthropic = [
        ("CF_AI_GATEWAY_ACCOUNT_ID", "a"),
        ("CF_AI_GATEWAY_GATEWAY_ID", "g"),
        ("MOLT_AI_GATEWAY_URL", "http://127.0.0.1:5"),
    ];
    let settings = resolve_with(GatewayFlags::default(), &anthropic, "").unwrap();
    let provider = settings.model.provider.unwrap();
    assert_eq!(provider.base_url, "http://127.0.0.1:5/a/g/anthropic");
    assert_eq!(provider.api, Api::AnthropicMessages);
}

#[test]
fn bad_values_name_their_source() {
    let error = resolve_with(GatewayFlags::default(), &[("MOLT_PORT", "eighty")], "").unwrap_err();
    assert_eq!(error.to_string(), "`MOLT_PORT` has an invalid value `eighty`");
    let error = resolve_with(GatewayFlags::default(), &[], "[gateway]\nbind = \"nowhere\"\n").unwrap_err();
    assert!(error.to_string().contains("gateway.bind"));
    let error = resolve_with(GatewayFlags::default(), &[("MOLT_PROVIDER", "acme")], "").unwrap_err();
    assert!(error.to_string().contains("`anthropic`, `openai` or `ai-gateway`"));
    assert!(toml::from_str::<FileConfig>("[gateway]\nprot = 1\n").is_err());
}

#[test]
fn fallback_models_come_from_a_comma_list() {
    let vars = [("ANTHROPIC_API_KEY", "k"), ("MOLT_FALLBACK_MODELS", "claude-haiku-4-5, ,claude-opus-4-1")];
    let settings = resolve_with(GatewayFlags::default(), &vars, "").unwrap();
    assert_eq!(settings.model.fallbacks, ["claude-haiku-4-5", "claude-opus-4-1"]);
}

#[test]
fn access_needs_both_variables_and_derives_the_certs_url() {
    let vars = [("CF_ACCESS_TEAM_DOMAIN", "https://acme.cloudflareaccess.com/"), ("CF_ACCESS_AUD", "aud-1")];
    let settings = resolve_with(GatewayFlags::default(), &vars, "").unwrap();
    let access = settings.auth.access.unwrap();
    assert_eq!(access.team_domain, "acme.cloudflareaccess.com");
    assert_eq!(access.certs_url, "https://acme.cloudflareaccess.com/cdn-cgi/access/certs");
    assert_eq!(access.issuer(), "https://acme.cloudflareaccess.com");
    let error = resolve_with(GatewayFlags::default(), &[("CF_ACCESS_AUD", "a")], "").unwrap_err();
    assert!(error.to_string().contains("CF_ACCESS_TEAM_DOMAIN"));
}

#[test]
fn dev_mode_on_a_public_bind_needs_insecure() {
    let vars = [("DEV_MODE", "true"), ("MOLT_BIND", "0.0.0.0")];
    let error = resolve_with(GatewayFlags::default(), &vars, "").unwrap_err();
    assert!(error.to_string().contains("refusing to serve it on 0.0.0.0"), "{error}");
    let allowed = resolve_with(GatewayFlags { insecure: true, ..GatewayFlags::default() }, &vars, "").unwrap();
    assert!(allowed.auth.dev_mode && allowed.insecure);
    let local = resolve_with(GatewayFlags::default(), &[("DEV_MODE", "1")], "").unwrap();
    assert!(local.auth.dev_mode);
}

#[test]
fn channel_policies_are_read_for_seeding() {
    let vars = [("TELEGRAM_DM_POLICY", "allowlist"), ("TELEGRAM_DM_ALLOW_FROM", "12, 34"), ("SLACK_DM_POLICY", "open")];
    let settings = resolve_with(GatewayFlags::default(), &vars, "").unwrap();
    let seeds = &settings.auth.channel_seeds;
    assert_eq!(seeds[0].policy, Some(crate::core::pairing::DmPolicy::Allowlist));
    assert_eq!(seeds[0].allow_from, Some(vec!["12".to_owned(), "34".to_owned()]));
    assert_eq!((seeds[1].channel, seeds[1].policy), ("discord", None));
    let error = resolve_with(GatewayFlags::default(), &[("DISCORD_DM_POLICY", "everyone")], "").unwrap_err();
    assert_eq!(error.to_string(), "`DISCORD_DM_POLICY` has an invalid value `everyone`");
}

#[test]
fn r2_settings_use_moltworkers_names_and_stay_redacted() {
    let vars = [
        ("R2_ACCESS_KEY_ID", "AKIA-r2-id"),
        ("R2_SECRET_ACCESS_KEY", "r2-very-secret"),
        ("CF_ACCOUNT_ID", "acc123"),
        ("R2_BUCKET_NAME", "moltbot-data"),
    ];
    let settings = resolve_with(GatewayFlags::default(), &vars, "").unwrap();
    let replication = settings.replication.clone().unwrap();
    assert_eq!(replication.endpoint, "https://acc123.r2.cloudflarestorage.com");
    assert_eq!(replication.bucket, "moltbot-data");
    assert_eq!(replication.region, "auto");
    assert_eq!(replication.interval, std::time::Duration::from_secs(1));
    assert_eq!(replication.secret_access_key.expose(), "r2-very-secret");
    let printed = settings.describe();
    assert!(!printed.contains("r2-very-secret") && !printed.contains("AKIA-r2-id"));
    assert!(printed.contains("derived from CF_ACCOUNT_ID"));
    assert!(!format!("{replication:?}").contains("r2-very-secret"));
}

#[test]
fn any_s3_endpoint_overrides_the_r2_account() {
    let vars = [
        ("R2_ACCESS_KEY_ID", "id"),
        ("R2_SECRET_ACCESS_KEY", "secret"),
        ("R2_BUCKET_NAME", "b"),
        ("MOLT_S3_ENDPOINT", "http://127.0.0.1:8333/"),
        ("MOLT_S3_PREFIX", "/shard-1/"),
        ("MOLT_REPLICATION_INTERVAL_MS", "250"),
    ];
    let replication = resolve_with(GatewayFlags::default(), &vars, "").unwrap().replication.unwrap();
    assert_eq!(replication.endpoint, "http://127.0.0.1:8333");
    assert_eq!(replication.prefix, "shard-1");
    assert_eq!(replication.location(), "http://127.0.0.1:8333/b/shard-1");
    assert_eq!(replication.interval, std::time::Duration::from_millis(250));
}

#[test]
fn replication_is_off_without_a_bucket_and_incomplete_settings_name_the_variables() {
    let settings = resolve_with(GatewayFlags::default(), &[("CF_ACCOUNT_ID", "acc")], "").unwrap();
    assert!(settings.replication.is_none());
    let error = resolve_with(GatewayFlags::default(), &[("R2_BUCKET_NAME", "b")], "").unwrap_err();
    assert!(error.to_string().contains("R2_SECRET_ACCESS_KEY"), "{error}");
    let vars = [("R2_ACCESS_KEY_ID", "i"), ("R2_SECRET_ACCESS_KEY", "s"), ("R2_BUCKET_NAME", "b")];
    let error = resolve_with(GatewayFlags::default(), &vars, "").unwrap_err();
    assert!(error.to_string().contains("CF_ACCOUNT_ID"), "{error}");
    let with_creds = [
        ("R2_ACCESS_KEY_ID", "i"),
        ("R2_SECRET_ACCESS_KEY", "s"),
        ("R2_BUCKET_NAME", "b"),
        ("MOLT_S3_ENDPOINT", "https://user:pass@host"),
    ];
    let error = resolve_with(GatewayFlags::default(), &with_creds, "").unwrap_err();
    assert!(error.to_string().contains("without credentials"), "{error}");
}
