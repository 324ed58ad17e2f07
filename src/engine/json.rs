//! A small JSON writer for the records the engine writes on every transition (slots, audit
//! entries, contacts inside them).
//!
//! Why by hand: a hang-up writes a dozen records, and with serde_json's derive most of the time
//! went into writing field names through the escaping path and growing the output buffer a few
//! bytes at a time. Here names are literals, strings are checked for characters that need
//! escaping in one branch-free pass, and the buffer is sized once.
//!
//! Invariant: the text is exactly what `serde_json::to_string` makes of the same value (the
//! tests in `records`, `slot` and `audit` compare the two on every shape), so records written
//! either way read back with the derived `Deserialize`, and the JS side sees one format.

use crate::model::{Call, CallResult, Contact, Direction, Timestamp};

/// The text being written: bytes, because every piece is either a `&str` or ASCII, so the
/// text is valid UTF-8 by construction and is checked once, at the end, rather than per piece.
pub struct Out(Vec<u8>);

impl Out {
    pub fn with_capacity(n: usize) -> Out {
        Out(Vec::with_capacity(n))
    }

    /// Appends text as it is (field names, punctuation, words that need no escaping).
    pub fn raw(&mut self, s: &str) {
        self.0.extend_from_slice(s.as_bytes());
    }

    /// Appends one ASCII character.
    pub fn byte(&mut self, b: u8) {
        debug_assert!(b.is_ascii());
        self.0.push(b);
    }

    pub fn finish(self) -> String {
        // Only `&str`s and ASCII bytes were appended, so this is valid UTF-8; a lossy copy
        // would only ever replace bytes nobody wrote.
        String::from_utf8(self.0).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

/// Appends `s` as a JSON string, escaped as serde_json does (`\"`, `\\`, `\b\f\n\r\t`, other
/// control characters as `\u00XX`; everything else, non-ASCII included, as it is).
pub fn str(out: &mut Out, s: &str) {
    out.byte(b'"');
    // Branch-free over the bytes, so the common case (nothing to escape) is one pass and a copy.
    let plain = s.bytes().fold(true, |ok, b| ok & (b >= 0x20) & (b != b'"') & (b != b'\\'));
    if plain {
        out.raw(s);
    } else {
        escape(out, s);
    }
    out.byte(b'"');
}

fn escape(out: &mut Out, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.raw(&s[start..i]);
        if short.is_empty() {
            out.raw("\\u00");
            out.byte(HEX[usize::from(b >> 4)]);
            out.byte(HEX[usize::from(b & 0xf)]);
        } else {
            out.raw(short);
        }
        start = i + 1;
    }
    out.raw(&s[start..]);
}

/// Appends an integer in decimal.
pub fn int(out: &mut Out, n: i64) {
    if n < 0 {
        out.byte(b'-');
    }
    uint(out, n.unsigned_abs());
}

/// Appends an unsigned integer in decimal, two digits at a time (timestamps have thirteen).
pub fn uint(out: &mut Out, mut n: u64) {
    const PAIRS: &[u8; 200] = b"00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while n >= 100 {
        let d = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        buf[i] = PAIRS[d];
        buf[i + 1] = PAIRS[d + 1];
    }
    if n >= 10 {
        let d = n as usize * 2;
        i -= 2;
        buf[i] = PAIRS[d];
        buf[i + 1] = PAIRS[d + 1];
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    out.0.extend_from_slice(&buf[i..]);
}

/// Appends `n` in decimal, zero-padded to `width` digits (keys that sort as text).
pub fn uint_padded(out: &mut Out, n: u64, width: usize) {
    let digits = if n == 0 { 1 } else { n.ilog10() as usize + 1 };
    for _ in digits..width {
        out.byte(b'0');
    }
    uint(out, n);
}

/// Appends `n` in lower-case hex, zero-padded to 16 digits.
pub fn hex16(out: &mut Out, n: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..16).rev() {
        out.byte(HEX[((n >> (shift * 4)) & 0xf) as usize]);
    }
}

pub fn opt_str(out: &mut Out, s: Option<&str>) {
    match s {
        Some(s) => str(out, s),
        None => out.raw("null"),
    }
}

pub fn opt_time(out: &mut Out, t: Option<Timestamp>) {
    match t {
        Some(t) => int(out, t.0),
        None => out.raw("null"),
    }
}

/// A [`Contact`] as its derived `Serialize` writes it.
pub fn contact(out: &mut Out, c: &Contact) {
    out.raw("{\"id\":");
    str(out, c.id.as_str());
    out.raw(",\"name\":");
    str(out, &c.name);
    out.raw(",\"record_type\":");
    str(out, &c.record_type.0);
    out.raw(",\"phones\":[");
    for (i, p) in c.phones.iter().enumerate() {
        if i > 0 {
            out.byte(b',');
        }
        str(out, p);
    }
    out.raw("],\"created_at\":");
    opt_time(out, c.created_at);
    out.raw(",\"modified_at\":");
    opt_time(out, c.modified_at);
    out.raw(",\"url\":");
    opt_str(out, c.url.as_deref());
    out.byte(b'}');
}

/// A [`Call`] as its derived `Serialize` writes it.
pub fn call(out: &mut Out, c: &Call) {
    out.raw("{\"id\":");
    str(out, c.id.as_str());
    out.raw(match c.direction {
        Direction::Inbound => ",\"direction\":\"inbound\",\"our_number\":",
        Direction::Outbound => ",\"direction\":\"outbound\",\"our_number\":",
    });
    // E.164 numbers are "+" and digits.
    opt_str(out, c.our_number.as_ref().map(|n| n.as_str()));
    out.raw(",\"their_number\":");
    str(out, c.their_number.as_str());
    out.raw(",\"started_at\":");
    int(out, c.started_at.0);
    out.raw(",\"answered_at\":");
    opt_time(out, c.answered_at);
    out.raw(",\"ended_at\":");
    opt_time(out, c.ended_at);
    out.raw(",\"result\":\"");
    out.raw(match c.result {
        CallResult::Answered => "answered",
        CallResult::Missed => "missed",
        CallResult::Voicemail => "voicemail",
        CallResult::Busy => "busy",
        CallResult::Rejected => "rejected",
        CallResult::Failed => "failed",
        CallResult::Unknown => "unknown",
    });
    out.raw("\",\"recording_url\":");
    opt_str(out, c.recording_url.as_deref());
    out.raw(",\"notes\":");
    str(out, &c.notes);
    out.byte(b'}');
}

/// Appends `value` through serde_json (the shapes too rare to be worth writing by hand).
pub fn serde<T: serde::Serialize + ?Sized>(out: &mut Out, value: &T) {
    match serde_json::to_string(value) {
        Ok(s) => out.raw(&s),
        Err(_) => out.raw("null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RecordId, RecordType};

    #[test]
    fn strings_and_numbers_match_serde_json() {
        let strings = ["", "plain", "quote \" and \\ back", "tab\tnew\nline\r", "\u{0}\u{1f}\u{8}\u{c}\u{7f}", "é 日本 🎉", "a\"", "\\"];
        for s in strings {
            let mut out = Out::with_capacity(0);
            str(&mut out, s);
            assert_eq!(out.finish(), serde_json::to_string(s).unwrap(), "{s:?}");
        }
        for n in [0i64, 7, -7, 10, 99, 100, 101, 999, 1000, 1_781_107_200_000, i64::MAX, i64::MIN] {
            let mut out = Out::with_capacity(0);
            int(&mut out, n);
            assert_eq!(out.finish(), n.to_string());
        }
        for (n, w) in [(0u64, 13usize), (5, 10), (1_781_107_200_000, 13), (12_345_678_901, 10)] {
            let mut out = Out::with_capacity(0);
            uint_padded(&mut out, n, w);
            assert_eq!(out.finish(), format!("{n:0w$}"));
        }
        for n in [0u64, 0xbe4c, u64::MAX] {
            let mut out = Out::with_capacity(0);
            hex16(&mut out, n);
            assert_eq!(out.finish(), format!("{n:016x}"));
        }
    }

    #[test]
    fn contacts_match_serde_json() {
        let full = Contact {
            id: RecordId::new("0031\"x"),
            name: "Ann \"Nan\" O'Neil".into(),
            record_type: RecordType::new("Lead"),
            phones: vec!["+1 (212) 555-0100".into(), "020\t7946".into()],
            created_at: Some(Timestamp(-5)),
            modified_at: None,
            url: Some("https://crm.example/c/1?a=b&c=\\d".into()),
        };
        let bare = Contact { phones: Vec::new(), created_at: None, url: None, ..full.clone() };
        for c in [full, bare] {
            let mut out = Out::with_capacity(0);
            contact(&mut out, &c);
            assert_eq!(out.finish(), serde_json::to_string(&c).unwrap());
        }
    }
}
