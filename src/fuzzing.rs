//! The parsers of outside input, re-exported for the fuzz targets in `fuzz/`: not an API.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};

pub use crate::core::device::{DeviceProof, SignedFields, verify as verify_device};
pub use crate::core::frames::Request;
pub use crate::core::protocol::connect::parse as connect_params;
pub use crate::daemon::auth::access::{AccessIdentity, rs256_kid as access_kid, token_from as access_token_from};
pub use crate::daemon::channels::discord::gateway::hello_interval as discord_hello_interval;
pub use crate::daemon::channels::discord::{inbound as discord_inbound, snowflake as discord_snowflake};
pub use crate::daemon::channels::slack::event::inbound as slack_inbound;
pub use crate::daemon::channels::slack::events::verify as slack_signature;
pub use crate::daemon::channels::split::split;
pub use crate::daemon::channels::telegram::update::{BotIdentity, html as telegram_html, inbound as telegram_inbound};
pub use crate::daemon::channels::{ChatKind, Inbound};
pub use crate::daemon::providers::anthropic::fold_events as anthropic_events;
pub use crate::daemon::providers::openai::fold_events as openai_events;
pub use crate::daemon::providers::sse::{SseDecoder, SseEvent};
pub use crate::daemon::replication::format::{
    FORMAT, Manifest, ObjectEntry, Segment, ShippedChange, gunzip, gzip, sha256_hex,
};

/// The identity an Access token's claims name, decoded the way `AccessVerifier::verify`
/// decodes them but without a signature check (which needs the team's keys).
pub fn access_claims(token: &str) -> Option<AccessIdentity> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.insecure_disable_signature_validation();
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.set_required_spec_claims::<&str>(&[]);
    let data =
        jsonwebtoken::decode::<crate::daemon::auth::access::Claims>(token, &DecodingKey::from_secret(&[]), &validation);
    data.ok().map(|data| data.claims.identity())
}

/// The handshake's decision on a gateway with a real store (`authorize`), for the fuzz target:
/// built once, then asked about one `connect` after another.
pub struct Handshakes {
    gateway: std::sync::Arc<crate::daemon::state::Gateway>,
}

/// The gateway token of [`Handshakes`]' gateway.
pub const FUZZ_TOKEN: &str = "fuzz-gateway-token";

impl Handshakes {
    /// A gateway whose data directory is `data_dir` (made if missing), token [`FUZZ_TOKEN`].
    pub async fn new(data_dir: &std::path::Path) -> Result<Self, String> {
        let env = |name: &str| match name {
            "MOLT_DATA_DIR" => Some(data_dir.display().to_string()),
            "MOLT_GATEWAY_TOKEN" => Some(FUZZ_TOKEN.to_owned()),
            _ => None,
        };
        let flags = crate::core::settings::GatewayFlags::default();
        let settings = crate::core::settings::Settings::resolve(&flags, &env, &Default::default())
            .map_err(|error| error.to_string())?;
        let gateway = crate::daemon::unserved(settings).await.map_err(|error| error.to_string())?;
        Ok(Self { gateway })
    }

    /// Decides the connect whose params are `params`, from a remote address (`loopback`
    /// false) or a direct loopback one, with or without the page's cookie. `true` when it was
    /// let in (or held for an operator).
    pub async fn decide(&self, params: &serde_json::Value, loopback: bool, cookie: bool) -> bool {
        let Ok(params) = crate::core::protocol::connect::parse(params) else { return false };
        let address = if loopback { [127, 0, 0, 1] } else { [192, 0, 2, 1] };
        let peer = crate::daemon::auth::edge::Peer {
            address: std::net::IpAddr::from(address),
            direct_loopback: loopback,
            via_edge: false,
        };
        crate::daemon::ws::handshake::authorize(&self.gateway, peer, cookie, "fuzz-nonce", params).await.is_ok()
    }
}
