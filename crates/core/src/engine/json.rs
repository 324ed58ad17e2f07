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

use std::borrow::Cow;
use std::rc::Rc;

use crate::model::{Call, CallId, CallResult, Contact, Direction, RecordId, RecordType, Timestamp};
use crate::phone::E164;

/// The text being written: bytes, because every piece is either a `&str` or ASCII, so the
/// text is valid UTF-8 by construction and is checked once, at the end (about one instruction
/// per byte), rather than per piece.
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

/// The pieces joined, allocated once at the right size: for keys, markers and audit outcomes
/// built on every transition, where `format!` spent more time parsing its template and padding
/// than copying.
pub fn concat(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

/// The start of every attempt id of a boot: `<boot in hex>-`.
pub fn attempt_prefix(boot: u64) -> String {
    format!("{boot:x}-")
}

/// The pieces joined as shared text (a slot key): assembled on the stack when short, so the
/// only allocation is the shared one.
pub fn shared(parts: &[&str]) -> std::rc::Rc<str> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut buf = [0u8; 96];
    if len > buf.len() {
        return concat(parts).into();
    }
    let mut at = 0;
    for p in parts {
        buf[at..at + p.len()].copy_from_slice(p.as_bytes());
        at += p.len();
    }
    // Whole `&str`s end to end: valid UTF-8, so the check passes (and is a few words long).
    std::str::from_utf8(&buf[..len]).map_or_else(|_| concat(parts).into(), std::rc::Rc::from)
}

/// An attempt id, `<boot in hex>-<n>` (`format!("{boot:x}-{n}")`), from [`attempt_prefix`].
/// Written as text, digit by digit: a few digits need no check of the whole id as UTF-8.
pub fn attempt_id(prefix: &str, n: u64) -> String {
    let mut buf = [0u8; 20];
    let i = digits(&mut buf, n);
    let mut id = String::with_capacity(prefix.len() + 20);
    id.push_str(prefix);
    for &d in &buf[i..] {
        id.push(char::from(d));
    }
    id
}

/// Appends `s` as a JSON string, escaped as serde_json does (`\"`, `\\`, `\b\f\n\r\t`, other
/// control characters as `\u00XX`; everything else, non-ASCII included, as it is).
pub fn str(out: &mut Out, s: &str) {
    let bytes = s.as_bytes();
    if needs_escape(bytes) {
        out.byte(b'"');
        escape(out, s);
        out.byte(b'"');
        return;
    }
    let v = &mut out.0;
    let n = bytes.len();
    if (4..=16).contains(&n) && v.capacity() - v.len() >= 18 {
        // Most ids, keys and names: the quotes and the text assembled as a piece of fixed
        // size (the text as two overlapping words), appended whole and cut to length. A copy of
        // known size is a few moves; the text appended alone was a call to memcpy.
        let mut piece = [b'"'; 18];
        if n >= 8 {
            piece[1..9].copy_from_slice(&bytes[..8]);
            piece[n - 7..n + 1].copy_from_slice(&bytes[n - 8..]);
        } else {
            piece[1..5].copy_from_slice(&bytes[..4]);
            piece[n - 3..n + 1].copy_from_slice(&bytes[n - 4..]);
        }
        let len = v.len();
        v.extend_from_slice(&piece);
        v.truncate(len + n + 2);
        return;
    }
    // No `reserve` first: the writers size their buffers for the record, and each of the
    // three appends checks the room anyway.
    v.push(b'"');
    v.extend_from_slice(bytes);
    v.push(b'"');
}

/// Whether any byte is a control character, `"` or `\`: eight bytes per step (the "has a byte
/// less than n" and "has a zero byte" word tricks, exact for "any"; bytes of multi-byte UTF-8
/// characters are >= 0x80 and never match).
///
/// The bytes after the last whole word are checked as one more word, the last eight bytes
/// (overlapping the one before), and a string of four to seven bytes as its first and last four:
/// most strings here are ids and names of a dozen bytes, and checking their tail a byte at a
/// time cost as much as the rest of writing them.
fn needs_escape(s: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x;
    let word = |x: u64| {
        let control = x.wrapping_sub(ONES * 0x20) & !x;
        (control | has_zero(x ^ (ONES * u64::from(b'"'))) | has_zero(x ^ (ONES * u64::from(b'\\')))) & HIGH
    };
    let n = s.len();
    if n < 4 {
        return s.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
    }
    if n < 8 {
        // Lanes are bytes, so two halves in one word are checked as eight bytes.
        let x = u64::from(load4(s)) | u64::from(load4(&s[n - 4..])) << 32;
        return word(x) != 0;
    }
    if n <= 16 {
        // Most ids, keys and names: the first and the last eight bytes, without a loop.
        return (word(load8(s)) | word(load8(&s[n - 8..]))) != 0;
    }
    if n <= 32 {
        // Markers, links, short outcomes: the first and the last sixteen.
        return (word(load8(s)) | word(load8(&s[8..])) | word(load8(&s[n - 16..])) | word(load8(&s[n - 8..]))) != 0;
    }
    let mut chunks = s.chunks_exact(8);
    let mut hits = 0u64;
    for c in &mut chunks {
        hits |= word(load8(c));
    }
    if !chunks.remainder().is_empty() {
        hits |= word(load8(&s[n - 8..]));
    }
    hits != 0
}

/// The first four bytes of `s` (at least four long) as a number.
fn load4(s: &[u8]) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&s[..4]);
    u32::from_ne_bytes(b)
}

/// The first eight bytes of `s` (at least eight long) as a number.
fn load8(s: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&s[..8]);
    u64::from_ne_bytes(b)
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
    if (1_000_000_000_000..10_000_000_000_000).contains(&n) {
        // A time in milliseconds (2001 to 2286), most of the integers a record holds: its
        // thirteen digits written without a loop and appended as a piece of fixed size.
        let n = n.unsigned_abs();
        let (hi, lo) = ((n / 100_000_000) as u32, (n % 100_000_000) as u32);
        let mut buf = [0u8; 13];
        buf[0] = b'0' + (hi / 10_000) as u8;
        four(&mut buf[1..], hi % 10_000);
        four(&mut buf[5..], lo / 10_000);
        four(&mut buf[9..], lo % 10_000);
        out.0.extend_from_slice(&buf);
        return;
    }
    if n < 0 {
        out.byte(b'-');
    }
    uint(out, n.unsigned_abs());
}

const PAIRS: &[u8; 200] = b"00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";

/// `v` (< 10,000) as four digits, zero-padded.
fn four(out: &mut [u8], v: u32) {
    let (hi, lo) = ((v / 100) as usize * 2, (v % 100) as usize * 2);
    out[..4].copy_from_slice(&[PAIRS[hi], PAIRS[hi + 1], PAIRS[lo], PAIRS[lo + 1]]);
}

/// `n` in decimal at the end of `buf`; returns where the digits start. Eight digits at a time
/// while the number is large (a timestamp in milliseconds has thirteen), in 32-bit arithmetic,
/// which divides by a constant faster than 64-bit.
fn digits(buf: &mut [u8; 20], mut n: u64) -> usize {
    let mut i = buf.len();
    while n >= 100_000_000 {
        let low = (n % 100_000_000) as u32;
        n /= 100_000_000;
        i -= 8;
        four(&mut buf[i..], low / 10_000);
        four(&mut buf[i + 4..], low % 10_000);
    }
    let mut m = n as u32;
    while m >= 100 {
        let d = (m % 100) as usize * 2;
        m /= 100;
        i -= 2;
        buf[i] = PAIRS[d];
        buf[i + 1] = PAIRS[d + 1];
    }
    if m >= 10 {
        let d = m as usize * 2;
        i -= 2;
        buf[i] = PAIRS[d];
        buf[i + 1] = PAIRS[d + 1];
    } else {
        i -= 1;
        buf[i] = b'0' + m as u8;
    }
    i
}

/// Appends an unsigned integer in decimal.
pub fn uint(out: &mut Out, n: u64) {
    if n < 10 {
        // A slot's target, attempts, a count: mostly one digit.
        out.byte(b'0' + n as u8);
        return;
    }
    let mut buf = [0u8; 20];
    let i = digits(&mut buf, n);
    out.0.extend_from_slice(&buf[i..]);
}

/// The middle of every audit key of a boot: `|<boot in 16 hex digits>|`.
pub fn audit_boot(boot: u64) -> String {
    format!("|{boot:016x}|")
}

/// An audit record's key, `<time>|<boot>|<seq>`: time zero-padded to 13 digits, boot as
/// [`audit_boot`] wrote it, sequence zero-padded to 10 digits (longer numbers are written whole).
pub fn audit_key(at: u64, boot: &str, seq: u64) -> String {
    let mut out = Out::with_capacity(23 + boot.len());
    padded(&mut out, at, 13);
    out.raw(boot);
    padded(&mut out, seq, 10);
    out.finish()
}

/// Counts the sequence at the end of an audit key ([`audit_key`]) up by one, in place: the
/// engine's entries are numbered one after another, so the next key of the same time is the
/// last one with its last digits carried, not a fresh conversion (nor a check of the text as
/// UTF-8: only ASCII digits are written). False, with `key` unchanged, when every digit is a
/// nine (the number needs one more digit: the caller writes the key afresh).
pub fn count_up(key: &mut String) -> bool {
    let b = key.as_bytes();
    let nines = b.iter().rev().take_while(|&&c| c == b'9').count();
    let Some(at) = b.len().checked_sub(nines + 1) else { return false };
    let d = b[at];
    if !d.is_ascii_digit() {
        return false;
    }
    key.truncate(at);
    key.push(char::from(d + 1));
    for _ in 0..nines {
        key.push('0');
    }
    true
}

/// Appends `n` in decimal, zero-padded to `width` digits (longer numbers are written whole).
fn padded(out: &mut Out, n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let i = digits(&mut buf, n).min(20 - width);
    out.0.extend_from_slice(&buf[i..]);
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
    str(out, c.record_type.as_str());
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

/// The reader for every record the engine reads back at restore (slots, calls, meta, cached
/// placeholders), without serde's generic machinery.
///
/// Why not serde: the engine crate is compiled for speed (see ARCHITECTURE.md, "Crates and
/// optimisation levels"), and serde_json's generic reader, instantiated for the engine's types,
/// was 45 KB of the gzipped module at that level; at "z" it ran restore several times slower in
/// wasm than natively.
///
/// Invariant: it reads what serde_json would read into the same value, and refuses (`None`)
/// what serde_json would refuse: unknown fields are skipped and missing `Option` or defaulted
/// fields take their defaults, as the derived `Deserialize` does; a repeated field, a float in
/// an integer field or a malformed escape is refused. The tests compare the two on every shape
/// and on odd spellings of them.
pub struct Reader<'a> {
    text: &'a str,
    s: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    pub fn new(text: &'a str) -> Reader<'a> {
        Reader { text, s: text.as_bytes(), i: 0 }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    // `peek` and `eat` run several times per field. The engine writes no whitespace, so they
    // look at the next byte first, inline, and only then skip whitespace out of line: at
    // opt-level "z" the calls themselves were a fifth of a wasm restore.
    #[inline(always)]
    fn peek(&mut self) -> Option<u8> {
        match self.s.get(self.i) {
            Some(b' ' | b'\n' | b'\r' | b'\t') => self.peek_after_ws(),
            b => b.copied(),
        }
    }

    #[inline(never)]
    fn peek_after_ws(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    #[inline(always)]
    fn eat(&mut self, b: u8) -> Option<()> {
        if matches!(self.s.get(self.i), Some(&c) if c == b) {
            self.i += 1;
            return Some(());
        }
        (self.peek_after_ws()? == b).then(|| self.i += 1)
    }

    /// Whether the text goes on with `w` (a field name or a word: a few bytes, compared here
    /// rather than through a call to `memcmp`, which in wasm is a byte loop behind a call).
    #[inline(always)]
    fn at(&self, w: &[u8]) -> bool {
        let Some(t) = self.s.get(self.i..self.i + w.len()) else { return false };
        let mut k = 0;
        while k < w.len() {
            if t[k] != w[k] {
                return false;
            }
            k += 1;
        }
        true
    }

    #[inline(always)]
    fn word(&mut self, w: &[u8]) -> bool {
        if matches!(self.s.get(self.i), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.ws();
        }
        let hit = self.at(w);
        if hit {
            self.i += w.len();
        }
        hit
    }

    /// Whole input read (trailing whitespace allowed, as serde_json allows).
    pub fn end(&mut self) -> Option<()> {
        self.ws();
        (self.i == self.s.len()).then_some(())
    }

    pub fn null(&mut self) -> bool {
        self.word(b"null")
    }

    pub fn bool(&mut self) -> Option<bool> {
        if self.word(b"true") {
            Some(true)
        } else if self.word(b"false") {
            Some(false)
        } else {
            None
        }
    }

    /// An integer as serde_json reads one into an `i64` (no fraction, exponent or leading zero).
    /// Up to 18 digits cannot overflow, so no checked arithmetic (in wasm32 a checked 64-bit
    /// multiply is a call to a 128-bit multiply); longer numbers take the checked path.
    pub fn int(&mut self) -> Option<i64> {
        self.ws();
        let neg = matches!(self.s.get(self.i), Some(b'-'));
        if neg {
            self.i += 1;
        }
        let (s, start) = (self.s, self.i);
        let (mut i, mut n) = (start, 0i64);
        while let Some(&d @ b'0'..=b'9') = s.get(i) {
            n = n.wrapping_mul(10).wrapping_add(i64::from(d - b'0'));
            i += 1;
        }
        self.i = i;
        let len = i - start;
        // serde_json reads `-0` as the float -0.0, which no integer field accepts.
        if len == 0 || (len > 1 && s[start] == b'0') || (neg && n == 0) || matches!(s.get(i), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        if len > 18 {
            return self.text.get(start - usize::from(neg)..i)?.parse().ok();
        }
        Some(if neg { -n } else { n })
    }

    pub fn uint(&mut self) -> Option<u64> {
        u64::try_from(self.int()?).ok()
    }

    pub fn string(&mut self) -> Option<String> {
        self.text().map(Cow::into_owned)
    }

    /// A string, borrowed from the text when it has no escape: for the shared (`Rc<str>`)
    /// ids and names, which copy it once into their own allocation, not through a `String`.
    pub fn text(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.i;
        // The common case: no escape, so a slice of the text (it ends at an ASCII quote, so on
        // a character boundary).
        let stop = self.s[start..].iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        self.i = start + stop;
        match self.s[self.i] {
            b'"' => {
                let text = self.text.get(start..self.i)?;
                self.i += 1;
                return Some(Cow::Borrowed(text));
            }
            b'\\' => {}
            _ => return None,
        }
        let mut out = self.text.get(start..self.i)?.to_owned();
        loop {
            let b = *self.s.get(self.i)?;
            self.i += 1;
            match b {
                b'"' => return Some(Cow::Owned(out)),
                b'\\' => {
                    let e = *self.s.get(self.i)?;
                    self.i += 1;
                    out.push(match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            match hi {
                                // A character beyond the BMP: a surrogate pair, high then low.
                                0xd800..=0xdbff => {
                                    (self.s.get(self.i..self.i + 2)? == b"\\u").then_some(())?;
                                    self.i += 2;
                                    let lo = self.hex4()?;
                                    (0xdc00..=0xdfff).contains(&lo).then_some(())?;
                                    char::from_u32(0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00))?
                                }
                                // A lone surrogate is not a character: serde_json refuses it too.
                                _ => char::from_u32(hi)?,
                            }
                        }
                        _ => return None,
                    });
                }
                0x00..=0x1f => return None,
                _ => {
                    // Copy the run up to the next quote or escape as it is.
                    let run = self.i - 1;
                    while let Some(&c) = self.s.get(self.i) {
                        if c == b'"' || c == b'\\' || c < 0x20 {
                            break;
                        }
                        self.i += 1;
                    }
                    out.push_str(self.text.get(run..self.i)?);
                }
            }
        }
    }

    /// Four hex digits of a `\u` escape.
    fn hex4(&mut self) -> Option<u32> {
        let hex = std::str::from_utf8(self.s.get(self.i..self.i + 4)?).ok()?;
        self.i += 4;
        u32::from_str_radix(hex, 16).ok()
    }

    /// Skips one value of any kind (a field this version does not know). Nesting deeper than
    /// 64 is refused rather than recursed into.
    pub fn skip(&mut self) -> Option<()> {
        self.skip_nested(64)
    }

    fn skip_nested(&mut self, depth: u32) -> Option<()> {
        let depth = depth.checked_sub(1)?;
        match self.peek()? {
            b'"' => self.text().map(drop),
            b'{' => self.map(|r, _| r.skip_nested(depth)),
            b'[' => self.array(|r| r.skip_nested(depth)),
            b't' => self.word(b"true").then_some(()),
            b'f' => self.word(b"false").then_some(()),
            b'n' => self.null().then_some(()),
            _ => {
                // A number: the characters JSON allows in one, then a check that it is one.
                let start = self.i;
                while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.s.get(self.i) {
                    self.i += 1;
                }
                valid_number(&self.s[start..self.i]).then_some(())
            }
        }
    }

    pub fn opt_string(&mut self) -> Option<Option<String>> {
        if self.null() {
            Some(None)
        } else {
            self.string().map(Some)
        }
    }

    pub fn opt_time(&mut self) -> Option<Option<Timestamp>> {
        if self.null() {
            Some(None)
        } else {
            self.int().map(|t| Some(Timestamp(t)))
        }
    }

    /// Reads an object whose field names are among `names`, calling `field` with each one's
    /// index; a field not in `names` is skipped, one seen twice ends the read (`None`). Returns
    /// which fields were seen, as bits.
    pub fn object(&mut self, names: &[&str], mut field: impl FnMut(&mut Self, usize) -> Option<()>) -> Option<u64> {
        self.eat(b'{')?;
        let mut seen = 0u64;
        if self.eat(b'}').is_some() {
            return Some(seen);
        }
        // Fields usually come in the order the writer puts them: try the next one first.
        let mut next = 0;
        loop {
            self.eat(b'"')?;
            let k = match names.get(next) {
                // The name expected next, then its closing quote: the whole name.
                Some(n) if self.at(n.as_bytes()) && matches!(self.s.get(self.i + n.len()), Some(b'"')) => {
                    self.i += n.len() + 1;
                    next
                }
                _ => {
                    // Any other name, escapes and all: back to its opening quote.
                    self.i -= 1;
                    let name = self.text()?;
                    match names.iter().position(|n| *n == name) {
                        Some(k) => k,
                        None => {
                            self.eat(b':')?;
                            self.skip()?;
                            match self.peek()? {
                                b',' => self.i += 1,
                                b'}' => {
                                    self.i += 1;
                                    return Some(seen);
                                }
                                _ => return None,
                            }
                            continue;
                        }
                    }
                }
            };
            self.eat(b':')?;
            next = k + 1;
            if seen & (1 << k) != 0 {
                return None;
            }
            seen |= 1 << k;
            field(self, k)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(seen);
                }
                _ => return None,
            }
        }
    }

    /// Reads an object with any keys (a map), calling `entry` with each key.
    pub fn map(&mut self, mut entry: impl FnMut(&mut Self, String) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.eat(b':')?;
            entry(self, key)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Reads an array, calling `item` for each element.
    pub fn array(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            item(self)?;
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An array of contacts as [`contact`] writes them.
    pub fn contacts(&mut self) -> Option<Vec<Contact>> {
        let mut v = Vec::new();
        self.array(|r| {
            v.push(r.contact()?);
            Some(())
        })?;
        Some(v)
    }

    /// A [`Contact`] as [`contact`] writes it.
    pub fn contact(&mut self) -> Option<Contact> {
        let (mut id, mut name, mut record_type, mut phones) = (None, None, None, None);
        let (mut created_at, mut modified_at, mut url) = (None, None, None);
        const NAMES: &[&str] = &["id", "name", "record_type", "phones", "created_at", "modified_at", "url"];
        self.object(NAMES, |r, k| {
            match k {
                0 => id = Some(RecordId::new(r.text()?)),
                1 => name = Some(Rc::<str>::from(r.text()?)),
                2 => record_type = Some(RecordType::new(r.text()?)),
                3 => {
                    let mut v = Vec::new();
                    r.array(|r| {
                        v.push(r.string()?);
                        Some(())
                    })?;
                    phones = Some(v);
                }
                4 => created_at = r.opt_time()?,
                5 => modified_at = r.opt_time()?,
                _ => url = if r.null() { None } else { Some(Rc::<str>::from(r.text()?)) },
            }
            Some(())
        })?;
        Some(Contact { id: id?, name: name?, record_type: record_type?, phones: phones?.into(), created_at, modified_at, url })
    }

    /// A [`Call`] as [`call`] writes it.
    pub fn call(&mut self) -> Option<Call> {
        let (mut id, mut direction, mut our_number, mut their_number, mut started_at) = (None, None, None, None, None);
        let (mut answered_at, mut ended_at, mut result, mut recording_url, mut notes) = (None, None, None, None, None);
        const NAMES: &[&str] =
            &["id", "direction", "our_number", "their_number", "started_at", "answered_at", "ended_at", "result", "recording_url", "notes"];
        self.object(NAMES, |r, k| {
            match k {
                0 => id = Some(CallId::new(r.text()?)),
                1 => {
                    direction = Some(match &*r.text()? {
                        "inbound" => Direction::Inbound,
                        "outbound" => Direction::Outbound,
                        _ => return None,
                    })
                }
                2 => our_number = if r.null() { None } else { Some(E164::try_from(r.string()?).ok()?) },
                3 => their_number = Some(E164::try_from(r.string()?).ok()?),
                4 => started_at = Some(Timestamp(r.int()?)),
                5 => answered_at = r.opt_time()?,
                6 => ended_at = r.opt_time()?,
                7 => {
                    result = Some(match &*r.text()? {
                        "answered" => CallResult::Answered,
                        "missed" => CallResult::Missed,
                        "voicemail" => CallResult::Voicemail,
                        "busy" => CallResult::Busy,
                        "rejected" => CallResult::Rejected,
                        "failed" => CallResult::Failed,
                        "unknown" => CallResult::Unknown,
                        _ => return None,
                    })
                }
                8 => recording_url = r.opt_string()?,
                _ => notes = Some(r.string()?),
            }
            Some(())
        })?;
        Some(Call {
            id: id?,
            direction: direction?,
            our_number,
            their_number: their_number?,
            started_at: started_at?,
            answered_at,
            ended_at,
            result: result?,
            recording_url,
            notes: notes?,
        })
    }
}

/// Whether `n` is a JSON number: `-`? (`0` | [1-9][0-9]*) (`.` [0-9]+)? ([eE] [+-]? [0-9]+)?
fn valid_number(n: &[u8]) -> bool {
    let digits = |i: usize| n[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    let mut i = usize::from(n.first() == Some(&b'-'));
    match digits(i) {
        0 => return false,
        d if d > 1 && n[i] == b'0' => return false,
        d => i += d,
    }
    if n.get(i) == Some(&b'.') {
        match digits(i + 1) {
            0 => return false,
            d => i += 1 + d,
        }
    }
    if let Some(b'e' | b'E') = n.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = n.get(i) {
            i += 1;
        }
        match digits(i) {
            0 => return false,
            d => i += d,
        }
    }
    i == n.len()
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
        for n in [0i64, 7, -7, 10, 99, 100, 101, 999, 1000, 99_999_999, 100_000_000, 100_000_001, 999_999_999_999, 1_000_000_000_000, 1_000_000_000_001, 1_781_107_200_000, 1_099_999_999_999, 9_999_999_999_999, 10_000_000_000_000, -1_781_107_200_000, 10_000_000_000_000_000, i64::MAX, i64::MIN] {
            let mut out = Out::with_capacity(0);
            int(&mut out, n);
            assert_eq!(out.finish(), n.to_string());
        }
        let long = "x".repeat(100);
        for parts in [&["call|", "c1", "|", "hs"][..], &[], &["é", "|", &long]] {
            assert_eq!(&*shared(parts), parts.concat());
        }
        for (boot, n) in [(0u64, 0u64), (0xbe4c, 9), (u64::MAX, u64::MAX)] {
            assert_eq!(attempt_id(&attempt_prefix(boot), n), format!("{boot:x}-{n}"));
        }
        for (at, boot, seq) in [(0u64, 0u64, 0u64), (1_781_107_200_000, 0xbe4c, 5), (12_345_678_901_234, u64::MAX, 12_345_678_901)] {
            assert_eq!(audit_key(at, &audit_boot(boot), seq), format!("{at:013}|{boot:016x}|{seq:010}"));
        }
        // Counting up gives the key written afresh, or says the key must be written afresh.
        for (boot, start) in [(0xbe4cu64, 0u64), (0, 9_999_999_990), (u64::MAX, 99_999_999_995)] {
            let mut key = audit_key(1_781_107_200_000, &audit_boot(boot), start);
            for seq in start + 1..start + 1_200 {
                if !count_up(&mut key) {
                    assert_eq!(key, audit_key(1_781_107_200_000, &audit_boot(boot), seq - 1), "{seq}");
                    assert!(format!("{}", seq - 1).bytes().all(|b| b == b'9'), "{seq}");
                    key = audit_key(1_781_107_200_000, &audit_boot(boot), seq);
                }
                assert_eq!(key, audit_key(1_781_107_200_000, &audit_boot(boot), seq), "{seq}");
            }
        }
    }

    #[test]
    fn the_word_at_a_time_escape_check_finds_every_character_at_every_position() {
        // Each character that needs escaping, and its neighbours that do not, at every offset of
        // a string long enough for two words and a remainder.
        let specials = ['"', '\\', '\u{0}', '\u{1f}', '\n'];
        let harmless = [' ', '!', '#', '[', ']', '\u{7f}', 'é', '日'];
        for len in 0..40 {
            let base: String = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH".chars().take(len).collect();
            assert!(!needs_escape(base.as_bytes()));
            let mut out = Out::with_capacity(96);
            str(&mut out, &base);
            assert_eq!(out.finish(), serde_json::to_string(&base).unwrap());
            for i in 0..len {
                for c in specials.iter().chain(&harmless) {
                    let mut t: Vec<char> = base.chars().collect();
                    t[i] = *c;
                    let t: String = t.into_iter().collect();
                    assert_eq!(needs_escape(t.as_bytes()), specials.contains(c), "{t:?}");
                    // Without room and with room for the fixed-size piece of a short string.
                    for room in [0, 96] {
                        let mut out = Out::with_capacity(room);
                        out.raw("x");
                        str(&mut out, &t);
                        assert_eq!(out.finish(), format!("x{}", serde_json::to_string(&t).unwrap()));
                    }
                }
            }
        }
    }

    /// The reader's integers are serde's: the same value, or refused where serde refuses.
    #[test]
    fn reader_numbers_agree_with_serde() {
        let texts = [
            "0", "7", "-7", " 42", "1781107200000", "-1781107200000", "123456789012345678", "-123456789012345678",
            "1234567890123456789", "9223372036854775807", "-9223372036854775808", "9223372036854775808", "99999999999999999999",
            "-0", "01", "1.5", "1e3", "-", "", "+1", "0x10",
        ];
        for text in texts {
            let mut r = Reader::new(text);
            let read = r.int().filter(|_| r.end().is_some());
            assert_eq!(read, serde_json::from_str::<i64>(text).ok(), "{text:?}");
        }
        assert_eq!(Reader::new("\"inbound\"").text().as_deref(), Some("inbound"));
        assert_eq!(Reader::new(" \"\"").text().as_deref(), Some(""));
        assert_eq!(Reader::new("\"in\\u0062ound\"").text().as_deref(), Some("inbound"));
        for text in ["\"a\nb\"", "\"open", "inbound", "null"] {
            assert_eq!(Reader::new(text).text(), None, "{text:?}");
        }
    }

    /// A field this version does not know is skipped whatever its value, and a malformed value
    /// is refused, as serde_json refuses it.
    #[test]
    fn unknown_values_are_skipped_and_malformed_ones_refused() {
        let values = [
            "1", "-1.5e-3", "0.0", "1E+9", "true", "false", "null", "\"x\\\"y\"", "\"\\ud83d\\ude00\"", "[]", "{}", "[1,[2,[3]],{\"a\":{}}]",
            "{\"a\":[true,null,-0.5],\"b\":\"c\"}", " [ 1 , 2 ] ",
            "01", "1.", ".5", "-", "1e", "+1", "tru", "nul", "[1,]", "{\"a\"}", "{\"a\":1,}", "\"\\ud83d\"", "\"\\q\"", "[", "\"open",
        ];
        for v in values {
            let text = format!("{{\"known\":1,\"unknown\":{v}}}");
            let mut r = Reader::new(&text);
            let mut known = None;
            let read = r.object(&["known"], |r, _| {
                known = r.int();
                known.map(drop)
            });
            let ours = read.filter(|_| r.end().is_some()).map(|_| known);
            let serde = serde_json::from_str::<serde_json::Value>(&text).ok().map(|v| v["known"].as_i64());
            assert_eq!(ours, serde, "{text}");
        }
        // Nesting beyond 64 is refused rather than recursed into.
        let deep = format!("{{\"unknown\":{}{}}}", "[".repeat(100), "]".repeat(100));
        assert_eq!(Reader::new(&deep).object(&[], |_, _| Some(())), None);
    }

    #[test]
    fn contacts_match_serde_json() {
        let full = Contact {
            id: RecordId::new("0031\"x"),
            name: "Ann \"Nan\" O'Neil".into(),
            record_type: RecordType::new("Lead"),
            phones: vec!["+1 (212) 555-0100".into(), "020\t7946".into()].into(),
            created_at: Some(Timestamp(-5)),
            modified_at: None,
            url: Some("https://crm.example/c/1?a=b&c=\\d".into()),
        };
        let bare = Contact { phones: Vec::new().into(), created_at: None, url: None, ..full.clone() };
        for c in [full, bare] {
            let mut out = Out::with_capacity(0);
            contact(&mut out, &c);
            assert_eq!(out.finish(), serde_json::to_string(&c).unwrap());
        }
    }
}
