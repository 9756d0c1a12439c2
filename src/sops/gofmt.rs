//! Go's text conversions, as SOPS applies them to plaintext values and the MAC: `strconv`
//! float/bool formatting and parsing, and `time` RFC 3339 handling.

/// Shortest round-trip decimal digits and decimal exponent of a finite, non-zero `f`:
/// `f = 0.d1d2d3… × 10^dp`.
fn shortest_digits(f: f64) -> (String, i32) {
    // Rust's `{:e}` prints the shortest round-trip digits, like Go's precision -1.
    let s = format!("{:e}", f.abs());
    let (mant, exp) = s.split_once('e').expect("{:e} has an exponent");
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    (digits, exp + 1)
}

fn special(f: f64) -> Option<&'static str> {
    if f.is_nan() {
        Some("NaN")
    } else if f == f64::INFINITY {
        Some("+Inf")
    } else if f == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

/// `strconv.FormatFloat(f, 'f', -1, 64)`: shortest digits, never an exponent.
pub(crate) fn format_float_f(f: f64) -> String {
    if let Some(s) = special(f) {
        return s.to_owned();
    }
    // Rust's Display for f64 is exactly this: shortest round-trip, positional notation, `-0`.
    format!("{f}")
}

fn format_exp(f: f64, digits: &str, dp: i32, min_exp_digits: usize) -> String {
    let mut out = String::new();
    if f.is_sign_negative() {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    let exp = dp - 1;
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    let e = exp.unsigned_abs().to_string();
    for _ in e.len()..min_exp_digits {
        out.push('0');
    }
    out.push_str(&e);
    out
}

/// `strconv.FormatFloat(f, 'g', -1, 64)`: `%e` when the decimal exponent is < -4 or ≥ 6.
pub(crate) fn format_float_g(f: f64) -> String {
    if let Some(s) = special(f) {
        return s.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    let (digits, dp) = shortest_digits(f);
    // Go decides with `eprec = 6` whenever the precision is "shortest".
    let eprec = 6;
    let exp = dp - 1;
    if exp < -4 || exp >= eprec {
        format_exp(f, &digits, dp, 2)
    } else {
        format_float_f(f)
    }
}

/// encoding/json's float format: `'f'` unless the magnitude is < 1e-6 or ≥ 1e21, then `'e'`
/// with a trimmed exponent (`1e-07` → `1e-7`).
pub(crate) fn format_float_json(f: f64) -> String {
    if let Some(s) = special(f) {
        return s.to_owned();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let (digits, dp) = shortest_digits(f);
        let s = format_exp(f, &digits, dp, 1);
        return s;
    }
    format_float_f(f)
}

/// `strconv.ParseBool`.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// `strconv.ParseFloat(s, 64)` for the forms SOPS writes (decimal, exponent, ±Inf, NaN).
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    match lower.trim_start_matches(['+', '-']) {
        "inf" | "infinity" => {
            return Some(if s.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })
        }
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if s.contains('_') || s.starts_with("0x") || s.starts_with("0X") {
        return None;
    }
    s.parse::<f64>().ok()
}

/// A parsed Go `time.Time`: civil date and time, nanoseconds, and the zone offset in seconds
/// (`None` for UTC written as `Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GoTime {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub nanos: u32,
    /// `None` means UTC (`Z`); Go prints a zero offset as `Z` too.
    pub offset: Option<i32>,
}

fn take_digits(s: &str, min: usize, max: usize) -> Option<(u32, &str)> {
    let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    if n < min {
        return None;
    }
    Some((s[..n].parse().ok()?, &s[n..]))
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 {
                29
            } else {
                28
            }
        }
    }
}

impl GoTime {
    /// `time.Parse(time.RFC3339, s)`, with Go's leniency: fractional seconds allowed.
    pub(crate) fn parse_rfc3339(s: &str) -> Option<GoTime> {
        Self::parse_layout(s, 2, 'T', true)
    }

    /// The go-yaml v3 timestamp layouts: `2006-1-2T15:4:5.999999999Z07:00` (also `t` and a space
    /// without zone) and a bare date `2006-1-2`.
    pub(crate) fn parse_yaml(s: &str) -> Option<GoTime> {
        let lead = s.bytes().take_while(u8::is_ascii_digit).count();
        if lead != 4 || s.as_bytes().get(4) != Some(&b'-') {
            return None;
        }
        Self::parse_layout(s, 1, 'T', true)
            .or_else(|| Self::parse_layout(s, 1, 't', true))
            .or_else(|| Self::parse_layout(s, 1, ' ', false))
            .or_else(|| Self::parse_date(s))
    }

    fn parse_date(s: &str) -> Option<GoTime> {
        let (year, rest) = take_digits(s, 4, 4)?;
        let rest = rest.strip_prefix('-')?;
        let (month, rest) = take_digits(rest, 1, 2)?;
        let rest = rest.strip_prefix('-')?;
        let (day, rest) = take_digits(rest, 1, 2)?;
        if !rest.is_empty() {
            return None;
        }
        let t = GoTime {
            year: year as i32,
            month,
            day,
            hour: 0,
            minute: 0,
            second: 0,
            nanos: 0,
            offset: None,
        };
        t.valid().then_some(t)
    }

    fn parse_layout(s: &str, min_digits: usize, sep: char, zone: bool) -> Option<GoTime> {
        let (year, rest) = take_digits(s, 4, 4)?;
        let rest = rest.strip_prefix('-')?;
        let (month, rest) = take_digits(rest, min_digits, 2)?;
        let rest = rest.strip_prefix('-')?;
        let (day, rest) = take_digits(rest, min_digits, 2)?;
        let rest = rest.strip_prefix(sep)?;
        let (hour, rest) = take_digits(rest, min_digits, 2)?;
        let rest = rest.strip_prefix(':')?;
        let (minute, rest) = take_digits(rest, min_digits, 2)?;
        let rest = rest.strip_prefix(':')?;
        let (second, mut rest) = take_digits(rest, min_digits, 2)?;
        let mut nanos = 0u32;
        if let Some(frac) = rest.strip_prefix('.').or_else(|| rest.strip_prefix(',')) {
            let n = frac.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 || n > 9 {
                return None;
            }
            let mut digits = frac[..n].to_owned();
            while digits.len() < 9 {
                digits.push('0');
            }
            nanos = digits.parse().ok()?;
            rest = &frac[n..];
        }
        let offset = if !zone {
            if !rest.is_empty() {
                return None;
            }
            None
        } else if rest == "Z" || rest == "z" && sep == 't' {
            None
        } else {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, r) = take_digits(&rest[1..], 2, 2)?;
            let r = r.strip_prefix(':')?;
            let (om, r) = take_digits(r, 2, 2)?;
            if !r.is_empty() || oh > 24 || om > 59 {
                return None;
            }
            let off = sign * (oh as i32 * 3600 + om as i32 * 60);
            if off == 0 {
                // Go keeps a numeric zero offset as a fixed zone printed `Z` by MarshalText.
                None
            } else {
                Some(off)
            }
        };
        let t = GoTime {
            year: year as i32,
            month,
            day,
            hour,
            minute,
            second,
            nanos,
            offset,
        };
        t.valid().then_some(t)
    }

    fn valid(&self) -> bool {
        (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60
    }

    /// `t.Format(time.RFC3339)` (no fraction) or `time.RFC3339Nano` (fraction, trailing zeros
    /// trimmed) — the latter is `MarshalText`.
    pub(crate) fn format(&self, nanos: bool) -> String {
        let mut s = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        );
        if nanos && self.nanos != 0 {
            let frac = format!("{:09}", self.nanos);
            s.push('.');
            s.push_str(frac.trim_end_matches('0'));
        }
        match self.offset {
            None => s.push('Z'),
            Some(off) => {
                let sign = if off < 0 { '-' } else { '+' };
                let off = off.unsigned_abs();
                s.push_str(&format!("{sign}{:02}:{:02}", off / 3600, (off % 3600) / 60));
            }
        }
        s
    }
}

impl GoTime {
    /// The UTC civil time of a Unix timestamp (days-from-civil inverse, proleptic Gregorian).
    pub(crate) fn from_unix(secs: i64) -> GoTime {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400) as u32;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        GoTime {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem % 3600 / 60,
            second: rem % 60,
            nanos: 0,
            offset: None,
        }
    }
}

/// `time.Now().UTC().Format(time.RFC3339)`.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    GoTime::from_unix(secs).format(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_go() {
        assert_eq!(format_float_f(1.0), "1");
        assert_eq!(format_float_f(1e-7), "0.0000001");
        assert_eq!(format_float_f(-0.0), "-0");
        assert_eq!(format_float_f(f64::INFINITY), "+Inf");
        assert_eq!(format_float_f(1e21), "1000000000000000000000");
        assert_eq!(format_float_g(1e6), "1e+06");
        assert_eq!(format_float_g(123456.0), "123456");
        assert_eq!(format_float_g(1234567.0), "1.234567e+06");
        assert_eq!(format_float_g(0.0001), "0.0001");
        assert_eq!(format_float_g(0.00001), "1e-05");
        assert_eq!(format_float_g(3.25), "3.25");
        assert_eq!(format_float_json(1e-7), "1e-7");
        assert_eq!(format_float_json(1e21), "1e+21");
        assert_eq!(format_float_json(42.0), "42");
        assert_eq!(format_float_json(0.5), "0.5");
    }

    #[test]
    fn unix_to_civil() {
        assert_eq!(GoTime::from_unix(0).format(false), "1970-01-01T00:00:00Z");
        assert_eq!(
            GoTime::from_unix(951_782_400).format(false),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            GoTime::from_unix(1_795_000_000).format(false),
            "2026-11-18T11:06:40Z"
        );
    }

    #[test]
    fn times_like_go() {
        let t = GoTime::parse_rfc3339("2024-01-02T03:04:05.120+00:00").unwrap();
        assert_eq!(t.format(false), "2024-01-02T03:04:05Z");
        let t = GoTime::parse_rfc3339("2024-01-02T03:04:05+02:00").unwrap();
        assert_eq!(t.format(false), "2024-01-02T03:04:05+02:00");
        assert!(GoTime::parse_rfc3339("2024-13-02T03:04:05Z").is_none());
        assert!(GoTime::parse_rfc3339("yesterday").is_none());
        let t = GoTime::parse_yaml("2001-12-14t21:59:43.10-05:00").unwrap();
        assert_eq!(t.format(true), "2001-12-14T21:59:43.1-05:00");
        assert_eq!(
            GoTime::parse_yaml("2002-12-14").unwrap().format(true),
            "2002-12-14T00:00:00Z"
        );
        assert_eq!(
            GoTime::parse_yaml("2001-12-14 21:59:43.10")
                .unwrap()
                .format(true),
            "2001-12-14T21:59:43.1Z"
        );
    }
}
