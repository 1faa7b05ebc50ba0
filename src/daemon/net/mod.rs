//! Connections the gateway makes on the model's behalf (`web_fetch` today; later a browser and
//! attachment downloads) and the one guard that decides which addresses they may reach. Nothing
//! here knows about tools or the model: callers hand it a URL and get back a client that can
//! reach only the addresses it checked.

mod guard;
mod resolve;

pub use guard::{AddressGuard, Refused, Rule, Verdict, classify};
pub use resolve::{GuardError, GuardedResolver, guard_error};
