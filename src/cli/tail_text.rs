//! What both tails print besides their own events: readable UTC times, and lines with every
//! `token=` value redacted.

/// `token=<value>` (an old sign-in link's query, a header dump) → `token=[redacted]`, so what
/// `molt tail` prints never carries a gateway token.
pub fn redact_tokens(text: &str) -> String {
    const KEY: &str = "token=";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(KEY) {
        let (before, after) = rest.split_at(at + KEY.len());
        out.push_str(before);
        let end = after
            .find(|c: char| matches!(c, '&' | '#' | '"' | '\'' | ' ' | ';' | ',') || c.is_whitespace() || c == '\\')
            .unwrap_or(after.len());
        if end > 0 {
            out.push_str("[redacted]");
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Milliseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_ms(ms: i64) -> String {
    let seconds = ms.div_euclid(1000);
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        ms.rem_euclid(1000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_iso_8601() {
        assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_ms(1_795_953_600_123), "2026-11-29T12:00:00.123Z");
    }

    #[test]
    fn token_values_are_redacted() {
        assert_eq!(
            redact_tokens("GET https://molt.ada.workers.dev/?session=s&token=abc123&x=1 200"),
            "GET https://molt.ada.workers.dev/?session=s&token=[redacted]&x=1 200"
        );
        assert_eq!(
            redact_tokens(r#"{"url":"https://m.dev/?token=s3cret"}"#),
            r#"{"url":"https://m.dev/?token=[redacted]"}"#
        );
        assert_eq!(redact_tokens("/#token=abc"), "/#token=[redacted]");
        assert_eq!(redact_tokens("no secrets, token= empty"), "no secrets, token= empty");
    }
}
