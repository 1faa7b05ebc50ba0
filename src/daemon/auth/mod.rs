//! Every credential the gateway checks, in one place: the gateway token (and the page's cookie
//! made from it), Cloudflare Access JWTs, the Worker's proxy secret and who counts as local
//! (`edge`), the failed-sign-in limiter, and who may use the admin API. Device signatures and
//! device tokens are checked in the WebSocket handshake, through the pairing store.

pub mod access;
pub mod admin;
pub mod edge;
pub mod gateway_token;
pub mod ratelimit;
