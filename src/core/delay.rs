//! Delays that come from outside (`Retry-After`, Discord's `retry_after` and
//! `heartbeat_interval`, Telegram's `retry_after`, a server's `retryAfterMs`): the one place
//! that turns a number someone else sent into a [`Duration`], clamped so it never panics and
//! never stalls a loop for years.

use std::time::{Duration, SystemTime};

use http::HeaderMap;

/// How a delay from outside is bounded: values below `min` become `min`, above `max` become
/// `max`, and values that are not a delay at all (NaN, negative, infinite, unreadable) become
/// `default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub min: Duration,
    pub max: Duration,
    pub default: Duration,
}

impl Limits {
    /// `Retry-After`-style waits: zero to one day, one second when unreadable.
    pub const RETRY: Self = Self::new(Duration::ZERO, Duration::from_secs(24 * 60 * 60), Duration::from_secs(1));

    pub const fn new(min: Duration, max: Duration, default: Duration) -> Self {
        Self { min, max, default }
    }

    /// A delay given in (possibly fractional) seconds.
    pub fn seconds(self, value: f64) -> Duration {
        self.scaled(value, 1.0)
    }

    /// A delay given in (possibly fractional) milliseconds.
    pub fn millis(self, value: f64) -> Duration {
        self.scaled(value, 1e-3)
    }

    /// A header value: seconds (integer or fractional), or an HTTP date counted from `now`
    /// (a date in the past is no wait at all).
    pub fn header_value(self, raw: &str, now: SystemTime) -> Duration {
        let raw = raw.trim();
        if let Ok(seconds) = raw.parse::<f64>() {
            return self.seconds(seconds);
        }
        match httpdate::parse_http_date(raw) {
            Ok(when) => self.clamp(when.duration_since(now).unwrap_or_default()),
            Err(_) => self.default,
        }
    }

    fn scaled(self, value: f64, to_seconds: f64) -> Duration {
        let seconds = value * to_seconds;
        if !seconds.is_finite() || seconds < 0.0 {
            return self.default;
        }
        // Clamped in f64 first: only a finite value inside `[min, max]` reaches the conversion,
        // which therefore cannot panic.
        let seconds = seconds.clamp(self.min.as_secs_f64(), self.upper().as_secs_f64());
        #[expect(clippy::disallowed_methods, reason = "the one bounded conversion: the value is finite and clamped")]
        let delay = Duration::from_secs_f64(seconds);
        self.clamp(delay)
    }

    fn clamp(self, delay: Duration) -> Duration {
        delay.clamp(self.min, self.upper())
    }

    /// `max`, or `min` when a caller set them the wrong way round (`clamp` would panic).
    fn upper(self) -> Duration {
        self.max.max(self.min)
    }
}

/// The `Retry-After` header, when present, as seconds or an HTTP date, bounded by `limits`.
pub fn retry_after(headers: &HeaderMap, limits: Limits) -> Option<Duration> {
    let raw = headers.get(http::header::RETRY_AFTER)?;
    Some(raw.to_str().map_or(limits.default, |raw| limits.header_value(raw, SystemTime::now())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits::new(Duration::from_millis(100), Duration::from_secs(60), Duration::from_secs(2));

    #[test]
    fn plain_values_pass() {
        assert_eq!(LIMITS.seconds(1.5), Duration::from_millis(1500));
        assert_eq!(LIMITS.millis(41_250.0), Duration::from_millis(41_250));
    }

    #[test]
    fn huge_values_are_clamped_to_the_max() {
        assert_eq!(LIMITS.seconds(1e20), Duration::from_secs(60));
        assert_eq!(LIMITS.seconds(f64::MAX), Duration::from_secs(60));
        assert_eq!(LIMITS.millis(1e300), Duration::from_secs(60));
        assert_eq!(Limits::RETRY.seconds(1e20), Duration::from_secs(86_400));
    }

    #[test]
    fn tiny_values_are_raised_to_the_min() {
        assert_eq!(LIMITS.seconds(0.0), Duration::from_millis(100));
        assert_eq!(LIMITS.millis(1.0), Duration::from_millis(100));
        assert_eq!(Limits::RETRY.seconds(0.0), Duration::ZERO);
    }

    #[test]
    fn values_that_are_not_delays_get_the_default() {
        for value in [-1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(LIMITS.seconds(value), Duration::from_secs(2), "{value}");
            assert_eq!(LIMITS.millis(value), Duration::from_secs(2), "{value}");
        }
    }

    #[test]
    fn header_values_in_seconds() {
        let now = SystemTime::now();
        assert_eq!(LIMITS.header_value(" 3 ", now), Duration::from_secs(3));
        assert_eq!(LIMITS.header_value("1e20", now), Duration::from_secs(60));
        assert_eq!(LIMITS.header_value("-1", now), Duration::from_secs(2));
        assert_eq!(LIMITS.header_value("NaN", now), Duration::from_secs(2));
        assert_eq!(LIMITS.header_value("inf", now), Duration::from_secs(2));
        assert_eq!(LIMITS.header_value("soon", now), Duration::from_secs(2));
    }

    #[test]
    fn header_values_as_http_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(LIMITS.header_value("Sun, 06 Nov 1994 08:49:47 GMT", now), Duration::from_secs(10));
        assert_eq!(LIMITS.header_value("Sun, 06 Nov 1994 08:49:00 GMT", now), Duration::from_millis(100));
        assert_eq!(LIMITS.header_value("Fri, 31 Dec 9999 23:59:59 GMT", now), Duration::from_secs(60));
    }

    #[test]
    fn the_header_is_read_when_present() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers, LIMITS), None);
        headers.insert(http::header::RETRY_AFTER, http::HeaderValue::from_static("1e20"));
        assert_eq!(retry_after(&headers, LIMITS), Some(Duration::from_secs(60)));
    }
}
