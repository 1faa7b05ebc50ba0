//! Pure domain types shared by the daemon and the clients: settings, secrets, ids, wire frames,
//! device identity and scopes. Nothing here does network IO or knows axum, clap or reqwest.

pub mod asker;
pub mod delay;
pub mod device;
pub mod frames;
pub mod ids;
pub mod models;
pub mod pairing;
pub mod protocol;
pub mod scopes;
pub mod secret;
pub mod settings;
pub mod skills;
pub mod sync;
pub mod time;
pub mod url;
