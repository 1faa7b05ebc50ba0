//! Text rendering of `molt pair` lists: plain columns that read well without colour.

use serde_json::Value;

/// The first block of a request id (a UUID) or the first 12 characters of a device id: enough
/// to tell them apart, and accepted back as a prefix.
pub fn short(id: &str) -> &str {
    let end = id.find('-').unwrap_or(12).min(12);
    id.get(..end).unwrap_or(id)
}

/// `3 min ago`, `in 4 min`.
pub fn relative(ms: i64, now: i64) -> String {
    let delta = (now - ms) / 1000;
    let (amount, future) = if delta < 0 { (-delta, true) } else { (delta, false) };
    let text = match amount {
        0..=59 => format!("{amount} s"),
        60..=3599 => format!("{} min", amount / 60),
        3600..=86_399 => format!("{} h", amount / 3600),
        _ => format!("{} d", amount / 86_400),
    };
    if future { format!("in {text}") } else { format!("{text} ago") }
}

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field].as_str().unwrap_or("-")
}

fn scopes(value: &Value) -> String {
    value["scopes"]
        .as_array()
        .map(|list| list.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}

pub fn devices(devices: &Value, now: i64) -> String {
    let mut out = String::new();
    let pending = devices["pending"].as_array().cloned().unwrap_or_default();
    let paired = devices["paired"].as_array().cloned().unwrap_or_default();
    out.push_str(&format!("Waiting for approval ({})\n", pending.len()));
    for request in &pending {
        out.push_str(&format!(
            "  {}  {}  {} {}  from {}  asked {}  expires {}  [{}]\n",
            short(text(request, "requestId")),
            request["displayName"].as_str().unwrap_or(text(request, "clientId")),
            text(request, "platform"),
            text(request, "deviceFamily"),
            text(request, "address"),
            relative(request["createdAtMs"].as_i64().unwrap_or(now), now),
            relative(request["expiresAtMs"].as_i64().unwrap_or(now), now),
            scopes(request),
        ));
    }
    if !pending.is_empty() {
        out.push_str("  approve with `molt pair approve <request id>`\n");
    }
    out.push_str(&format!("Paired ({})\n", paired.len()));
    for device in &paired {
        let seen = device["lastSeenAtMs"].as_i64().map_or_else(|| "never".to_owned(), |ms| relative(ms, now));
        let state = if device["connected"].as_bool() == Some(true) { "connected" } else { "offline" };
        out.push_str(&format!(
            "  {}  {}  {} {}  via {}  {}  last seen {}  [{}]\n",
            short(text(device, "deviceId")),
            device["displayName"].as_str().unwrap_or(text(device, "clientId")),
            text(device, "platform"),
            text(device, "deviceFamily"),
            text(device, "approvedVia"),
            state,
            seen,
            scopes(device),
        ));
    }
    out
}

pub fn codes(codes: &Value, now: i64) -> String {
    let list = codes["codes"].as_array().cloned().unwrap_or_default();
    let mut out = format!("Pairing codes waiting ({})\n", list.len());
    for code in &list {
        out.push_str(&format!(
            "  {:<8}  {}  sender {}{}  expires {}\n",
            text(code, "channel"),
            text(code, "code"),
            text(code, "senderId"),
            code["senderName"].as_str().map(|name| format!(" ({name})")).unwrap_or_default(),
            relative(code["expiresAtMs"].as_i64().unwrap_or(now), now),
        ));
    }
    if !list.is_empty() {
        out.push_str("  approve with `molt pair code approve <channel> <code>`\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_read_naturally() {
        assert_eq!(relative(0, 42_000), "42 s ago");
        assert_eq!(relative(0, 150_000), "2 min ago");
        assert_eq!(relative(300_000, 0), "in 5 min");
        assert_eq!(relative(0, 3 * 86_400_000), "3 d ago");
    }
}
