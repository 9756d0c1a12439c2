//! Scalar typing as go-yaml v3 does it when SOPS decodes a node into `interface{}`
//! (`resolve.go` + `decoder.scalar`): YAML 1.2 core schema plus yaml.v3's extensions (legacy
//! `0777` octal, `_` separators, timestamps).

use crate::secret::SecretString;
use crate::sops::gofmt::GoTime;
use crate::sops::tree::Value;
use base64::Engine;

/// How the scalar was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Plain,
    Quoted,
    Block,
}

/// Why a scalar cannot be typed; never contains the scalar's text.
#[derive(Debug)]
pub(crate) enum ResolveError {
    /// Between i64::MAX and u64::MAX: Go decodes it as `uint64`, which SOPS cannot walk.
    Uint64,
    /// An explicit tag the text does not fit (`!!int abc`).
    BadTag(String),
    BadBase64,
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResolveError::Uint64 => f.write_str(
                "integer is above the int64 range: go-yaml decodes it as uint64, which sops \
                 cannot handle (\"unknown type: uint64\"); quote it to make it a string",
            ),
            ResolveError::BadTag(tag) => write!(f, "the value does not fit its explicit tag {tag}"),
            ResolveError::BadBase64 => f.write_str("!!binary value contains invalid base64 data"),
        }
    }
}

/// What a plain scalar resolves to with no tag: also used by the emitter to decide quoting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Null,
    Bool,
    Int,
    Float,
    Str,
    Timestamp,
    Merge,
}

enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    Uint,
    Float(f64),
    Time(GoTime),
    Str,
    Merge,
}

impl Resolved {
    fn kind(&self) -> Kind {
        match self {
            Resolved::Null => Kind::Null,
            Resolved::Bool(_) => Kind::Bool,
            Resolved::Int(_) | Resolved::Uint => Kind::Int,
            Resolved::Float(_) => Kind::Float,
            Resolved::Time(_) => Kind::Timestamp,
            Resolved::Str => Kind::Str,
            Resolved::Merge => Kind::Merge,
        }
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)` / `ParseUint` digits after the base prefix: returns the
/// magnitude (None on syntax error or u64 overflow).
fn parse_digits(s: &str, radix: u32) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for c in s.chars() {
        let d = c.to_digit(radix)?;
        v = v.checked_mul(radix as u64)?.checked_add(d as u64)?;
    }
    Some(v)
}

/// `strconv.ParseInt(s, 0, 64)` then `ParseUint(s, 0, 64)`: base from the prefix (`0x`, `0o`,
/// `0b`, leading `0` = octal). `Ok(Some(i))` fits int64, `Err(())` fits only uint64.
fn parse_go_int_base0(s: &str) -> Option<Result<i64, ()>> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    let mag = parse_digits(digits, radix)?;
    if neg {
        if mag <= i64::MAX as u64 + 1 {
            Some(Ok((mag as i128).wrapping_neg() as i64))
        } else {
            None
        }
    } else if mag <= i64::MAX as u64 {
        Some(Ok(mag as i64))
    } else if s.starts_with('+') {
        // ParseUint rejects a sign.
        None
    } else {
        Some(Err(()))
    }
}

/// Go's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let st = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - st
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.underscoreOK`: every `_` sits between two digits (a sign may lead).
fn underscore_ok(s: &str) -> bool {
    let b = s.strip_prefix(['+', '-']).unwrap_or(s).as_bytes();
    let mut prev_digit = false;
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let next_digit = b.get(i + 1).is_some_and(u8::is_ascii_digit);
            if !prev_digit || !next_digit {
                return false;
            }
        }
        prev_digit = c.is_ascii_digit();
    }
    true
}

/// Go's `strconv.ParseFloat(s, 64)` for the inputs resolve hands it (decimal forms, `inf`,
/// `nan`, `infinity`; underscores only between digits in base-prefixed forms, which we reject).
fn go_parse_float(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if lower.len() - body.len() > 1 {
        return None;
    }
    match body {
        "inf" | "infinity" => {
            return Some(if lower.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })
        }
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if body.starts_with("0x") {
        return None;
    }
    if s.contains('_') {
        // Go accepts `_` between digits (`.0_0` is a float to go-yaml, so sops quotes it).
        if !underscore_ok(s) {
            return None;
        }
        return go_parse_float(&s.replace('_', ""));
    }
    if !body
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'+' | b'-'))
    {
        return None;
    }
    // Go accepts out-of-range values as ±Inf with an error; resolve treats the error as "not a
    // float", Rust gives inf: reject those.
    let f: f64 = s.parse().ok()?;
    f.is_finite().then_some(f)
}

fn resolve_plain(tag: &str, s: &str) -> Resolved {
    let hint = s.as_bytes().first().copied();
    let special = match s {
        "true" | "True" | "TRUE" => Some(Resolved::Bool(true)),
        "false" | "False" | "FALSE" => Some(Resolved::Bool(false)),
        "" | "~" | "null" | "Null" | "NULL" => Some(Resolved::Null),
        ".nan" | ".NaN" | ".NAN" => Some(Resolved::Float(f64::NAN)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            Some(Resolved::Float(f64::INFINITY))
        }
        "-.inf" | "-.Inf" | "-.INF" => Some(Resolved::Float(f64::NEG_INFINITY)),
        "<<" => Some(Resolved::Merge),
        _ => None,
    };
    let hinted = match hint {
        None => true,
        Some(c) => {
            c == b'+'
                || c == b'-'
                || c == b'.'
                || c.is_ascii_digit()
                || b"yYnNtTfFoO~<".contains(&c)
        }
    };
    if !hinted {
        return Resolved::Str;
    }
    // `<` is not in Go's table, but "<<" is only reachable through the map lookup.
    if let Some(r) = special {
        if hint != Some(b'<') || s == "<<" {
            return r;
        }
    }
    match hint {
        Some(b'.') => {
            if let Some(f) = go_parse_float(s) {
                return Resolved::Float(f);
            }
        }
        Some(c) if c == b'+' || c == b'-' || c.is_ascii_digit() => {
            if tag.is_empty() || tag == "!!timestamp" {
                if let Some(t) = GoTime::parse_yaml(s) {
                    return Resolved::Time(t);
                }
            }
            let plain: std::borrow::Cow<str> = if s.contains('_') {
                s.chars().filter(|c| *c != '_').collect::<String>().into()
            } else {
                s.into()
            };
            match parse_go_int_base0(&plain) {
                Some(Ok(i)) => return Resolved::Int(i),
                Some(Err(())) => return Resolved::Uint,
                None => {}
            }
            if yaml_style_float(&plain) {
                if let Some(f) = go_parse_float(&plain) {
                    return Resolved::Float(f);
                }
            }
            // `-0b…` / `-0o…` are handled by parse_go_int_base0 already (Go's extra branches
            // exist because ParseInt with base 0 did not know `0o` in old Go versions).
        }
        _ => {}
    }
    Resolved::Str
}

/// The type a plain scalar with this text gets (emitter quoting decisions).
pub(crate) fn plain_kind(s: &str) -> Kind {
    resolve_plain("", s).kind()
}

/// Short form of a tag (`!!str`), or the tag as written for local tags.
pub(crate) fn short_tag(handle: &str, suffix: &str) -> String {
    if handle == "tag:yaml.org,2002:" || handle == "!!" {
        format!("!!{suffix}")
    } else {
        format!("{handle}{suffix}")
    }
}

fn decode_base64(s: &str) -> Result<Vec<u8>, ResolveError> {
    // Go's StdEncoding skips \r and \n; padding is required; trailing bits are not checked.
    let clean: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireCanonical),
    );
    engine.decode(clean).map_err(|_| ResolveError::BadBase64)
}

fn bytes_value(bytes: Vec<u8>) -> Value {
    match String::from_utf8(bytes) {
        Ok(s) => Value::Str(SecretString::new(s)),
        Err(e) => Value::Bytes(e.into_bytes().into()),
    }
}

/// Types one scalar. `tag` is the short tag (`""` when none, `"!"` for the non-specific tag).
/// The text is moved into the value when it stays a string (no copy of large files' scalars).
pub(crate) fn resolve(tag: &str, style: Style, text: String) -> Result<Value, ResolveError> {
    // Plaintext whatever it turns into: wiped when it is not kept (a number, a bool, an error).
    let text = SecretString::new(text);
    // indicatedString(): `!!str`, or a quoted/block scalar without a specific tag.
    if tag == "!!str" || ((tag.is_empty() || tag == "!") && style != Style::Plain) {
        return Ok(Value::Str(text));
    }
    let resolvable = matches!(
        tag,
        "" | "!" | "!!bool" | "!!int" | "!!float" | "!!null" | "!!timestamp"
    );
    if tag == "!!binary" {
        return decode_base64(text.expose()).map(bytes_value);
    }
    if !resolvable {
        // Unknown tags (including !!map on a scalar, local tags) decode as the plain text.
        return Ok(Value::Str(text));
    }
    let tag = if tag == "!" { "" } else { tag };
    let r = resolve_plain(tag, text.expose());
    let want = match tag {
        "" => None,
        "!!bool" => Some(Kind::Bool),
        "!!int" => Some(Kind::Int),
        "!!float" => Some(Kind::Float),
        "!!null" => Some(Kind::Null),
        "!!timestamp" => Some(Kind::Timestamp),
        _ => None,
    };
    if let Some(want) = want {
        let got = r.kind();
        if got != want {
            // `!!float 1` turns the int into a float; every other mismatch is an error.
            return match (want, r) {
                (Kind::Float, Resolved::Int(i)) => Ok(Value::Float(i as f64)),
                _ => Err(ResolveError::BadTag(tag.to_string())),
            };
        }
    }
    Ok(match r {
        Resolved::Null => Value::Null,
        Resolved::Bool(b) => Value::Bool(b),
        Resolved::Int(i) => Value::Int(i),
        Resolved::Uint => return Err(ResolveError::Uint64),
        Resolved::Float(f) => Value::Float(f),
        Resolved::Time(t) => Value::Time(t.format(true).into()),
        Resolved::Str | Resolved::Merge => Value::Str(text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: &str) -> Value {
        resolve("", Style::Plain, s.into()).unwrap()
    }

    #[test]
    fn ints_like_go_yaml_v3() {
        assert_eq!(plain("1_000"), Value::Int(1000));
        assert_eq!(plain("0777"), Value::Int(511));
        assert_eq!(plain("0o17"), Value::Int(15));
        assert_eq!(plain("0b101"), Value::Int(5));
        assert_eq!(plain("0x1F"), Value::Int(31));
        assert_eq!(plain("+1"), Value::Int(1));
        assert_eq!(plain("-0x10"), Value::Int(-16));
        assert_eq!(plain("-9223372036854775808"), Value::Int(i64::MIN));
        assert!(matches!(
            resolve("", Style::Plain, "10000000000000000000".into()),
            Err(ResolveError::Uint64)
        ));
        assert_eq!(
            plain("18446744073709551616"),
            Value::Float(18446744073709551616.0)
        );
        assert_eq!(plain("09"), Value::Float(9.0));
        assert_eq!(plain("0x"), Value::str("0x"));
    }

    #[test]
    fn dot_floats_with_underscores_like_go() {
        assert!(matches!(plain(".0_0"), Value::Float(f) if f == 0.0));
        assert!(matches!(plain(".5_5"), Value::Float(f) if f == 0.55));
        assert!(matches!(plain("._5"), Value::Str(_)));
        assert!(matches!(plain(".5_"), Value::Str(_)));
        assert!(matches!(plain(".5__5"), Value::Str(_)));
    }

    #[test]
    fn other_scalars() {
        assert_eq!(plain("yes"), Value::str("yes"));
        assert_eq!(plain("True"), Value::Bool(true));
        assert_eq!(plain("~"), Value::Null);
        assert_eq!(plain("1e6"), Value::Float(1e6));
        assert_eq!(plain(".5"), Value::Float(0.5));
        assert_eq!(plain("1."), Value::Float(1.0));
        assert_eq!(plain("1.5e-7"), Value::Float(1.5e-7));
        assert_eq!(
            plain("2002-12-14"),
            Value::Time("2002-12-14T00:00:00Z".into())
        );
        assert_eq!(plain("<<"), Value::str("<<"));
        assert_eq!(plain("1e"), Value::str("1e"));
        assert_eq!(plain(".x"), Value::str(".x"));
        assert!(matches!(plain(".inf"), Value::Float(f) if f.is_infinite()));
        assert_eq!(
            resolve("!!str", Style::Plain, "12".into()).unwrap(),
            Value::str("12")
        );
        assert_eq!(
            resolve("", Style::Quoted, "12".into()).unwrap(),
            Value::str("12")
        );
        assert_eq!(
            resolve("!!int", Style::Quoted, "12".into()).unwrap(),
            Value::Int(12)
        );
        assert_eq!(
            resolve("!!float", Style::Plain, "12".into()).unwrap(),
            Value::Float(12.0)
        );
        assert_eq!(
            resolve("!!binary", Style::Plain, "aGVsbG8=".into()).unwrap(),
            Value::str("hello")
        );
        assert!(resolve("!!int", Style::Plain, "abc".into()).is_err());
    }
}
