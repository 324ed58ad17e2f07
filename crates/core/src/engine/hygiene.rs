//! What may leave the engine in words: CRM error text is cleaned before it reaches a slot's
//! `last_error`, the audit trail, a notice or a problem (reliability.md §4.6, I19).
//!
//! Invariant: text the engine got from outside (a CRM's error message) never carries a token
//! or a whole phone number into anything the engine writes. Connectors already leave tokens out
//! of their errors ([`crate::crm`]); this is the second line, for a CRM that echoes a header or
//! a query back in its error body.

use crate::crm::CrmError;

/// Anything after these (up to a delimiter) is a credential.
const SECRET_PREFIXES: [&str; 9] = [
    "Bearer ",
    "bearer ",
    "Zoho-oauthtoken ",
    "token=",
    "token:",
    "access_token\":\"",
    "refresh_token\":\"",
    "api_token=",
    "Authorization: ",
];

/// `text` with credentials after the usual prefixes replaced by `<redacted>`, and every run of
/// seven or more digits (a phone number, with or without `+`, spaces, dots, dashes or brackets
/// inside) cut to its last four digits.
pub fn scrub(text: &str) -> String {
    mask_numbers(&crate::crm::common::redact_after(text, &SECRET_PREFIXES, &[';']))
}

fn mask_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() || (c == '+' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            // A number-ish run: digits and the separators people write inside phone numbers.
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_digit() || matches!(chars[j], '+' | ' ' | '.' | '-' | '(' | ')')) {
                j += 1;
            }
            // Trailing separators belong to the text around the number.
            while j > i && !chars[j - 1].is_ascii_digit() {
                j -= 1;
            }
            let digits: String = chars[i..j].iter().filter(|c| c.is_ascii_digit()).collect();
            if digits.len() >= 7 {
                out.push('…');
                out.push_str(&digits[digits.len() - 4..]);
            } else {
                out.extend(&chars[i..j]);
            }
            i = j.max(i + 1);
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The error with its message scrubbed, class kept.
pub fn clean(e: CrmError) -> CrmError {
    match e {
        CrmError::RateLimited { retry_after_ms, message } => CrmError::RateLimited { retry_after_ms, message: scrub(&message) },
        CrmError::Unauthorized { message } => CrmError::Unauthorized { message: scrub(&message) },
        CrmError::Transient { message } => CrmError::Transient { message: scrub(&message) },
        CrmError::Permanent { message } => CrmError::Permanent { message: scrub(&message) },
        CrmError::Unknown { message } => CrmError::Unknown { message: scrub(&message) },
    }
}

/// The error in words, scrubbed.
pub fn error(e: &CrmError) -> String {
    scrub(&e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_numbers_are_cut_out() {
        for (raw, want) in [
            ("401: Bearer abc.def-123 rejected", "401: Bearer <redacted> rejected"),
            ("{\"access_token\":\"s3cr3t\",\"x\":1}", "{\"access_token\":\"<redacted>\",\"x\":1}"),
            ("no contact with phone +1 (212) 555-0100.", "no contact with phone …0100."),
            ("phone=12125550100&x", "phone=…0100&x"),
            ("429 after 30 s, id 12345", "429 after 30 s, id 12345"),
            ("", ""),
        ] {
            assert_eq!(scrub(raw), want, "{raw}");
        }
    }
}
