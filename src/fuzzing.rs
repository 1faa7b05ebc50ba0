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
