//! Which model provider the gateway talks to, resolved from moltworker's variable names.

use std::time::Duration;

use crate::core::secret::Secret;

use super::SettingsError;
use super::file::ModelSection;
use super::layers::{Layers, Origin};

pub const ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
pub const AI_GATEWAY_BASE_URL: &str = "https://gateway.ai.cloudflare.com/v1";
pub const DEFAULT_ANTHROPIC_MODEL: &str = "claude-sonnet-4-5";
pub const DEFAULT_OPENAI_MODEL: &str = "gpt-4o-mini";

/// The wire API a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    AnthropicMessages,
    OpenAiChat,
}

/// A resolved provider: where to send requests and with which credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSettings {
    /// Short name shown in `status` and logs: `anthropic`, `openai`, `ai-gateway/anthropic`…
    pub name: String,
    pub api: Api,
    /// Base URL; the API path (`/v1/messages`, `/chat/completions`) is appended.
    pub base_url: String,
    pub api_key: Option<Secret>,
    /// Cloudflare AI Gateway's own token, sent as `cf-aig-authorization: Bearer …`.
    pub gateway_auth: Option<Secret>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSettings {
    /// `None` when nothing is configured: the gateway runs and says which variable to set.
    pub provider: Option<ProviderSettings>,
    pub model: String,
    pub fallbacks: Vec<String>,
    pub max_tokens: u32,
    /// Bound on waiting for response headers and on silence between streamed chunks.
    pub timeout: Duration,
    /// Attempts per model for retryable failures (429, 529, 5xx, network).
    pub max_attempts: u32,
}

/// The hint given when no provider is configured.
pub const NO_PROVIDER_HINT: &str = "no model provider is configured: set `ANTHROPIC_API_KEY` (or `OPENAI_BASE_URL` / `OPENAI_API_KEY`, or `CF_AI_GATEWAY_ACCOUNT_ID` + `CF_AI_GATEWAY_GATEWAY_ID` + `CLOUDFLARE_AI_GATEWAY_API_KEY`) and restart `molt gateway`";

pub(super) fn resolve(layers: &mut Layers<'_>, file: &ModelSection) -> Result<ModelSettings, SettingsError> {
    let anthropic_key = layers.secret("anthropic_api_key", &["ANTHROPIC_API_KEY"]);
    let openai_key = layers.secret("openai_api_key", &["OPENAI_API_KEY"]);
    let gateway_key = layers.secret("ai_gateway_api_key", &["CLOUDFLARE_AI_GATEWAY_API_KEY"]);
    let gateway_auth = layers.secret("ai_gateway_auth_token", &["CF_AI_GATEWAY_TOKEN"]);
    let anthropic_base = layers.value(
        "anthropic_base_url",
        None,
        &["ANTHROPIC_BASE_URL"],
        file.anthropic_base_url.clone(),
        ANTHROPIC_BASE_URL.to_owned(),
    )?;
    let openai_base_set = layers.env(&["OPENAI_BASE_URL"]).is_some() || file.openai_base_url.is_some();
    let openai_base = layers.value(
        "openai_base_url",
        None,
        &["OPENAI_BASE_URL"],
        file.openai_base_url.clone(),
        OPENAI_BASE_URL.to_owned(),
    )?;
    let account = layers.optional::<String>("ai_gateway_account_id", None, &["CF_AI_GATEWAY_ACCOUNT_ID"], None)?;
    let gateway_id = layers.optional::<String>("ai_gateway_gateway_id", None, &["CF_AI_GATEWAY_GATEWAY_ID"], None)?;
    let gateway_model = layers.optional::<String>("ai_gateway_model", None, &["CF_AI_GATEWAY_MODEL"], None)?;
    let gateway_base = layers.value(
        "ai_gateway_base_url",
        None,
        &["MOLT_AI_GATEWAY_URL"],
        file.ai_gateway_base_url.clone(),
        AI_GATEWAY_BASE_URL.to_owned(),
    )?;
    let explicit = layers.optional::<String>("provider", None, &["MOLT_PROVIDER"], file.provider.clone())?;

    // CF_AI_GATEWAY_MODEL is `<provider>/<model>`, as in moltworker.
    let (gateway_vendor, gateway_model_id) = match gateway_model.as_deref().and_then(|m| m.split_once('/')) {
        Some((vendor, model)) => (vendor.to_owned(), Some(model.to_owned())),
        None => ("anthropic".to_owned(), gateway_model.clone()),
    };
    let choice = match explicit.as_deref() {
        Some(choice @ ("anthropic" | "openai" | "ai-gateway")) => Some(choice),
        Some(other) => {
            return Err(SettingsError::Invalid {
                name: "provider",
                value: other.to_owned(),
                expected: "`anthropic`, `openai` or `ai-gateway`",
            });
        }
        None if account.is_some() && gateway_id.is_some() => Some("ai-gateway"),
        None if anthropic_key.is_some() => Some("anthropic"),
        None if openai_key.is_some() || openai_base_set => Some("openai"),
        None => None,
    };
    let provider = match choice {
        Some("anthropic") => Some(ProviderSettings {
            name: "anthropic".into(),
            api: Api::AnthropicMessages,
            base_url: trim_slash(&anthropic_base),
            api_key: anthropic_key.clone(),
            gateway_auth: None,
        }),
        Some("openai") => Some(ProviderSettings {
            name: "openai".into(),
            api: Api::OpenAiChat,
            base_url: trim_slash(&openai_base),
            api_key: openai_key.clone(),
            gateway_auth: None,
        }),
        Some(_) => {
            let (Some(account), Some(gateway_id)) = (&account, &gateway_id) else {
                return Err(SettingsError::Missing {
                    what: "the Cloudflare AI Gateway",
                    vars: "`CF_AI_GATEWAY_ACCOUNT_ID` and `CF_AI_GATEWAY_GATEWAY_ID`",
                });
            };
            let mut base_url = format!("{}/{account}/{gateway_id}/{gateway_vendor}", trim_slash(&gateway_base));
            if gateway_vendor == "workers-ai" {
                base_url.push_str("/v1");
            }
            let (api, vendor_key) = if gateway_vendor == "anthropic" {
                (Api::AnthropicMessages, anthropic_key.clone())
            } else {
                (Api::OpenAiChat, openai_key.clone())
            };
            Some(ProviderSettings {
                name: format!("ai-gateway/{gateway_vendor}"),
                api,
                base_url,
                api_key: gateway_key.or(vendor_key),
                gateway_auth,
            })
        }
        None => None,
    };
    if let Some(provider) = &provider {
        layers.record("provider_url", provider.base_url.clone(), Origin::Derived("provider settings"));
    }

    let default_model = match provider.as_ref().map(|p| p.api) {
        Some(Api::OpenAiChat) => DEFAULT_OPENAI_MODEL,
        _ => DEFAULT_ANTHROPIC_MODEL,
    };
    let model = match layers.optional::<String>("model", None, &["MOLT_MODEL"], file.model.clone())? {
        Some(model) => model,
        None => match (choice, gateway_model_id) {
            (Some("ai-gateway"), Some(model)) => {
                layers.record("model", model.clone(), Origin::Env("CF_AI_GATEWAY_MODEL"));
                model
            }
            _ => {
                layers.record("model", default_model, Origin::Default);
                default_model.to_owned()
            }
        },
    };
    let fallbacks = match layers.env(&["MOLT_FALLBACK_MODELS"]) {
        Some((var, raw)) => {
            layers.record("fallback_models", raw.clone(), Origin::Env(var));
            raw.split(',').map(str::trim).filter(|m| !m.is_empty()).map(str::to_owned).collect()
        }
        None => file.fallbacks.clone().unwrap_or_default(),
    };
    let max_tokens = layers.value("max_tokens", None, &["MOLT_MAX_TOKENS"], file.max_tokens, 4096)?;
    let timeout_secs = layers.value("model_timeout_secs", None, &["MOLT_MODEL_TIMEOUT_SECS"], file.timeout_secs, 60)?;
    let max_attempts = layers.value("model_max_attempts", None, &["MOLT_MODEL_MAX_ATTEMPTS"], file.max_attempts, 3)?;
    Ok(ModelSettings {
        provider,
        model,
        fallbacks,
        max_tokens,
        timeout: Duration::from_secs(timeout_secs.max(1)),
        max_attempts: max_attempts.max(1),
    })
}

fn trim_slash(url: &str) -> String {
    url.trim_end_matches('/').to_owned()
}
