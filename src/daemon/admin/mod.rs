//! The admin surface's handlers: the JSON API under `/api/admin/`, its live event stream, and
//! the embedded admin page at `/_admin/`. Routes are in `daemon/http`; every API call is
//! authenticated by [`crate::daemon::auth::admin::Admin`].

pub(crate) mod api;
pub(crate) mod error;
pub(crate) mod exec;
pub(crate) mod skills;
pub(crate) mod web;
