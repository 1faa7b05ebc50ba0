//! Everything `molt init` and `molt deploy` do outside this machine, and the local state they
//! keep: the Cloudflare API client, the wrangler runner, the deploy folder's templates, the
//! local secret store (OS keyring or a 0600 file), deploy state, and the Telegram webhook. Knows
//! neither the daemon nor the terminal UI.

pub mod cloudflare;
pub mod deploy;
pub mod doctor;
mod doctor_mcp;
pub mod instances;
pub mod secrets;
pub mod state;
pub mod telegram;
pub mod templates;
pub mod wrangler;
