//! `rate_limit`: a token bucket in front of every request, and the Go durations its
//! `interval` is written in.

use std::time::Duration;

use parking_lot::Mutex;
use serde::Deserialize;
use tokio::time::Instant;

use super::KeyError;

/// `rate_limit` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRateLimit {
    #[serde(default)]
    interval: Option<serde_norway::Value>,
    #[serde(default)]
    burst: Option<i64>,
}

/// A token bucket: `burst` tokens, one more every `interval`.
pub(super) struct RateLimiter {
    interval: Duration,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    /// The limiter `raw` asks for; `None` when the interval is zero or not set.
    pub(super) fn from_raw(raw: &RawRateLimit) -> Result<Option<RateLimiter>, KeyError> {
        let interval = match &raw.interval {
            None | Some(serde_norway::Value::Null) => Duration::ZERO,
            Some(serde_norway::Value::String(s)) => {
                parse_go_duration(s).map_err(|m| ("rate_limit.interval".to_string(), m))?
            }
            // A bare integer is nanoseconds, as Go's YAML decoder reads a time.Duration.
            Some(serde_norway::Value::Number(n)) => match n.as_u64() {
                Some(ns) => Duration::from_nanos(ns),
                None => {
                    return Err((
                        "rate_limit.interval".into(),
                        "must be a duration such as `1s` or `100ms`".into(),
                    ))
                }
            },
            Some(_) => {
                return Err((
                    "rate_limit.interval".into(),
                    "must be a duration such as `1s` or `100ms`".into(),
                ))
            }
        };
        if interval.is_zero() {
            return Ok(None);
        }
        let burst = raw.burst.unwrap_or(0);
        if burst < 1 {
            return Err((
                "rate_limit.burst".into(),
                "must be at least 1 when rate_limit.interval is set (0 would refuse every request)"
                    .into(),
            ));
        }
        let burst = burst as f64;
        Ok(Some(RateLimiter {
            interval,
            burst,
            state: Mutex::new((burst, Instant::now())),
        }))
    }

    /// Takes a token when one is left.
    pub(super) fn allow(&self) -> bool {
        let mut st = self.state.lock();
        let now = Instant::now();
        let refill = now.duration_since(st.1).as_secs_f64() / self.interval.as_secs_f64();
        st.0 = (st.0 + refill).min(self.burst);
        st.1 = now;
        if st.0 >= 1.0 {
            st.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Parses a Go duration (`300ms`, `1.5h`, `2h45m`, `0`); units ns, us, µs, ms, s, m, h.
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration `{s}` (expected e.g. `1s`, `100ms`, `1m30s`)");
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.is_empty() || t.starts_with('-') {
        return Err(bad());
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if num_len == 0 {
            return Err(bad());
        }
        let value: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += value * seconds_per_unit;
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webconfig::tests::parse;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse_go_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_go_duration("1.5h").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_go_duration("250ms").unwrap(),
            Duration::from_millis(250)
        );
        assert_eq!(parse_go_duration("0").unwrap(), Duration::ZERO);
        for bad in ["", "1", "s", "-1s", "1x", "1..2s", "1e400h"] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rate_limit_burst_must_be_positive() {
        assert!(parse("rate_limit:\n  interval: 1s\n  burst: 0\n").is_err());
        assert!(parse("rate_limit:\n  interval: 0\n")
            .unwrap()
            .limiter
            .is_none());
        let w = parse("rate_limit:\n  interval: 1h\n  burst: 2\n").unwrap();
        let l = w.limiter.as_ref().unwrap();
        assert!(l.allow() && l.allow() && !l.allow());
    }
}
