//! Typed, bounded reads out of untrusted JSON, shared by the RingCentral and generic decoders.
//!
//! Invariant: every string handed out has been length-checked against a limit the caller names,
//! every number is an integer that fits `i64`, and every failure names the field path it came
//! from. Nothing here indexes, slices by byte or unwraps, so no JSON value can make it panic.

use serde_json::{Map, Value};

use super::{DecodeContext, DecodeError};
use crate::model::{Direction, Timestamp};
use crate::phone::E164;

/// The longest string accepted anywhere unless a field names a smaller limit, in bytes.
pub(super) const MAX_STRING: usize = 256;
/// Ids (call ids, session ids, message ids, conversation ids), in bytes.
pub(super) const MAX_ID: usize = 128;
/// A raw phone number as the softphone spells it, in bytes.
pub(super) const MAX_NUMBER: usize = 64;
/// SMS text and notes, in bytes (RingCentral caps an SMS at 1000 characters; UTF-8 can use 4
/// bytes per character, and notes are typed by a person).
pub(super) const MAX_TEXT: usize = 16 * 1024;
/// A recording link.
pub(super) const MAX_URL: usize = 2048;
/// A call's transcript, in bytes: about two hours of speech.
pub(super) const MAX_TRANSCRIPT: usize = 128 * 1024;
/// An event `type` / `event` name.
pub(super) const MAX_TYPE: usize = 64;

/// Nothing happened before 2000-01-01T00:00:00Z as far as a softphone is concerned: smaller
/// values are seconds mistaken for milliseconds, or zero.
pub(super) const MIN_TIME: Timestamp = Timestamp(946_684_800_000);
/// How far past `now` a softphone's clock may run (its clock and ours are different machines).
pub(super) const FUTURE_SKEW_MS: i64 = 10 * 60 * 1000;
/// No call lasts longer than this; longer means broken times, not a long call.
pub(super) const MAX_CALL_MS: i64 = 24 * 60 * 60 * 1000;

/// A JSON object together with the path it was read from, for error messages.
#[derive(Clone, Copy)]
pub(super) struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: &'static str,
}

impl<'a> Obj<'a> {
    /// `value` as an object, or `WrongType` naming `path`.
    pub(super) fn new(value: &'a Value, path: &'static str) -> Result<Obj<'a>, DecodeError> {
        match value {
            Value::Object(map) => Ok(Obj { map, path }),
            _ => Err(wrong_type(path.to_owned(), "an object")),
        }
    }

    fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{}", self.path, key)
        }
    }

    /// The value under `key`; JSON `null` counts as absent, as the widgets use it that way
    /// (`startTime: null` until answered).
    pub(super) fn get(&self, key: &str) -> Option<&'a Value> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    /// A nested object, if present.
    pub(super) fn obj(
        &self,
        key: &str,
        path: &'static str,
    ) -> Result<Option<Obj<'a>>, DecodeError> {
        self.get(key).map(|v| Obj::new(v, path)).transpose()
    }

    pub(super) fn req_obj(&self, key: &str, path: &'static str) -> Result<Obj<'a>, DecodeError> {
        self.obj(key, path)?
            .ok_or_else(|| DecodeError::MissingField(self.field(key)))
    }

    /// A string of at most `max` bytes, if present.
    pub(super) fn str(&self, key: &str, max: usize) -> Result<Option<&'a str>, DecodeError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.len() > max => Err(DecodeError::Oversized {
                field: self.field(key),
                max,
            }),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(wrong_type(self.field(key), "a string")),
        }
    }

    pub(super) fn req_str(&self, key: &str, max: usize) -> Result<&'a str, DecodeError> {
        self.str(key, max)?
            .ok_or_else(|| DecodeError::MissingField(self.field(key)))
    }

    pub(super) fn bool(&self, key: &str) -> Result<Option<bool>, DecodeError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(wrong_type(self.field(key), "a boolean")),
        }
    }

    /// An integer. JavaScript has only doubles, and a shell that converts a JS object to JSON
    /// may hand us `1717430400000.0`, so integral doubles within 2^53 are accepted too.
    pub(super) fn int(&self, key: &str) -> Result<Option<i64>, DecodeError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => int_value(v)
                .map(Some)
                .ok_or_else(|| wrong_type(self.field(key), "an integer")),
        }
    }

    /// A duration in whole seconds, at most a day: what the vendors report at a call's end.
    pub(super) fn secs(&self, key: &str) -> Result<Option<i64>, DecodeError> {
        match self.int(key)? {
            Some(s) if !(0..=MAX_CALL_MS / 1000).contains(&s) => Err(DecodeError::AbsurdTime {
                field: self.field(key),
                reason: "not a duration of 0 to 24 hours",
            }),
            s => Ok(s),
        }
    }

    /// A link the pages and the CRMs may show: `https://`, or `http://` where `http` is allowed,
    /// without whitespace, at most [`MAX_URL`] bytes. Anything else (`javascript:`, a path) is
    /// refused, since a page would render it as a link.
    pub(super) fn link(&self, key: &str, http: bool) -> Result<Option<String>, DecodeError> {
        match self.str(key, MAX_URL)? {
            None => Ok(None),
            Some(u) if (u.starts_with("https://") || (http && u.starts_with("http://"))) && !u.chars().any(char::is_whitespace) => {
                Ok(Some(u.to_owned()))
            }
            Some(u) => Err(self.invalid(key, u)),
        }
    }

    /// A required id (see [`Obj::id`]).
    pub(super) fn req_id(&self, key: &str) -> Result<String, DecodeError> {
        self.id(key)?.ok_or_else(|| self.missing(key))
    }

    /// An id: a string, or a non-negative integer (RingCentral's message ids are numbers),
    /// as text; printable ASCII without spaces, 1 to [`MAX_ID`] bytes.
    pub(super) fn id(&self, key: &str) -> Result<Option<String>, DecodeError> {
        let raw = match self.get(key) {
            None => return Ok(None),
            Some(Value::String(s)) if s.len() > MAX_ID => {
                return Err(DecodeError::Oversized {
                    field: self.field(key),
                    max: MAX_ID,
                })
            }
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(u) => u.to_string(),
                None => {
                    return Err(wrong_type(
                        self.field(key),
                        "a string or a non-negative integer",
                    ))
                }
            },
            Some(_) => {
                return Err(wrong_type(
                    self.field(key),
                    "a string or a non-negative integer",
                ))
            }
        };
        if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(DecodeError::InvalidId(self.field(key)));
        }
        Ok(Some(raw))
    }

    /// An instant: epoch milliseconds (integer) or an RFC 3339 string, checked to be plausible
    /// against `ctx.now` (after 2000, not more than [`FUTURE_SKEW_MS`] ahead).
    pub(super) fn time(
        &self,
        key: &str,
        ctx: &DecodeContext<'_>,
    ) -> Result<Option<Timestamp>, DecodeError> {
        self.instant(key, ctx, true)
    }

    /// Like [`Obj::time`], but epoch milliseconds only (the generic protocol has one spelling).
    pub(super) fn millis(
        &self,
        key: &str,
        ctx: &DecodeContext<'_>,
    ) -> Result<Option<Timestamp>, DecodeError> {
        self.instant(key, ctx, false)
    }

    fn instant(
        &self,
        key: &str,
        ctx: &DecodeContext<'_>,
        strings: bool,
    ) -> Result<Option<Timestamp>, DecodeError> {
        let t = match self.get(key) {
            None => return Ok(None),
            Some(Value::String(_)) if !strings => {
                return Err(wrong_type(self.field(key), "epoch milliseconds"))
            }
            Some(Value::String(s)) if s.len() > 40 => {
                return Err(DecodeError::Oversized {
                    field: self.field(key),
                    max: 40,
                })
            }
            Some(Value::String(s)) => {
                Timestamp::parse(s).ok_or_else(|| DecodeError::InvalidValue {
                    field: self.field(key),
                    value: clip(s),
                })?
            }
            Some(v) => Timestamp(int_value(v).ok_or_else(|| {
                wrong_type(self.field(key), "epoch milliseconds or an rfc 3339 string")
            })?),
        };
        if t < MIN_TIME {
            return Err(DecodeError::AbsurdTime {
                field: self.field(key),
                reason: "before the year 2000",
            });
        }
        if t.since(ctx.now) > FUTURE_SKEW_MS {
            return Err(DecodeError::AbsurdTime {
                field: self.field(key),
                reason: "in the future",
            });
        }
        Ok(Some(t))
    }

    /// A phone number field that is either a string or a party object `{phoneNumber}` (RingCentral's
    /// webphone sessions use the first, presence and message records the second; Zoom's parties
    /// may say `number`, `didNumber` or `extensionNumber`).
    pub(super) fn number_text(&self, key: &str) -> Result<Option<&'a str>, DecodeError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(_)) => self.str(key, MAX_NUMBER),
            Some(Value::Object(map)) => Obj {
                map,
                path: self.path,
            }
            .nested_phone_number(key),
            Some(_) => Err(wrong_type(
                self.field(key),
                "a string or an object with phoneNumber",
            )),
        }
    }

    fn nested_phone_number(&self, key: &str) -> Result<Option<&'a str>, DecodeError> {
        // `self` is the inner party object; errors name `<path>.<key>.<field>`. RingCentral says
        // `phoneNumber`; Zoom's public integrations saw the others.
        for k in ["phoneNumber", "number", "didNumber", "extensionNumber"] {
            match self.get(k) {
                None => continue,
                Some(Value::String(s)) if s.len() > MAX_NUMBER => {
                    return Err(DecodeError::Oversized { field: format!("{}.{k}", self.field(key)), max: MAX_NUMBER })
                }
                Some(Value::String(s)) => return Ok(Some(s.as_str())),
                Some(_) => return Err(wrong_type(format!("{}.{k}", self.field(key)), "a string")),
            }
        }
        Ok(None)
    }

    /// The error for a field that is present but holds a value we do not know.
    pub(super) fn invalid(&self, key: &str, value: &str) -> DecodeError {
        DecodeError::InvalidValue {
            field: self.field(key),
            value: clip(value),
        }
    }

    pub(super) fn missing(&self, key: &str) -> DecodeError {
        DecodeError::MissingField(self.field(key))
    }

    pub(super) fn path_of(&self, key: &str) -> String {
        self.field(key)
    }
}

fn int_value(v: &Value) -> Option<i64> {
    let Value::Number(n) = v else { return None };
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64()?;
    // 2^53: beyond it a double no longer holds every integer, so the value is not a time.
    const LIMIT: f64 = 9_007_199_254_740_992.0;
    if f.is_finite() && f.fract() == 0.0 && f.abs() <= LIMIT {
        // In range and integral, so the cast is exact.
        Some(f as i64)
    } else {
        None
    }
}

fn wrong_type(field: String, expected: &'static str) -> DecodeError {
    DecodeError::WrongType { field, expected }
}

/// At most 64 characters of untrusted text, for error messages.
pub(super) fn clip(raw: &str) -> String {
    match raw.char_indices().nth(64) {
        Some((i, _)) => format!("{}…", raw.get(..i).unwrap_or_default()),
        None => raw.to_owned(),
    }
}

/// Parses a number the softphone gave for the other party; `field` names it in the error.
pub(super) fn their_number(
    raw: Option<&str>,
    field: String,
    ctx: &DecodeContext<'_>,
) -> Result<E164, DecodeError> {
    let raw = raw.ok_or_else(|| DecodeError::MissingField(field.clone()))?;
    E164::parse(raw, ctx.default_country).map_err(|e| DecodeError::InvalidNumber {
        field,
        reason: e.to_string(),
    })
}

/// Our own number is informative only (matching uses theirs), so one we cannot read is
/// dropped rather than failing the whole event: internal extensions ("101") are common there.
pub(super) fn our_number(raw: Option<&str>, ctx: &DecodeContext<'_>) -> Option<E164> {
    raw.and_then(|r| E164::parse(r, ctx.default_country).ok())
}

/// The other party is `from` on an inbound call or message and `to` on an outbound one.
pub(super) fn sides<T>(direction: Direction, from: T, to: T) -> (T, T) {
    match direction {
        Direction::Inbound => (from, to),
        Direction::Outbound => (to, from),
    }
}

/// Their number and ours from the `from` and `to` texts of `o`, a call or message record: theirs
/// is required, and its error names `o`'s `from` or `to`, whichever is theirs; ours is dropped
/// when unreadable ([`our_number`]).
pub(super) fn parties(
    o: Obj<'_>,
    direction: Direction,
    from: Option<&str>,
    to: Option<&str>,
    ctx: &DecodeContext<'_>,
) -> Result<(E164, Option<E164>), DecodeError> {
    let (their_raw, our_raw) = sides(direction, from, to);
    let their_field = o.path_of(if direction == Direction::Inbound {
        "from"
    } else {
        "to"
    });
    Ok((
        their_number(their_raw, their_field, ctx)?,
        our_number(our_raw, ctx),
    ))
}

/// An id checked like [`Obj::id`], for ids that come from the generic protocol's strings.
pub(super) fn check_id(raw: &str, field: String) -> Result<(), DecodeError> {
    if raw.is_empty() || raw.len() > MAX_ID || !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(DecodeError::InvalidId(field));
    }
    Ok(())
}
