//! E.164 phone numbers: normalisation from whatever a person or a CRM typed, and matching.
//!
//! PLACEHOLDER: the phone module is being written (issue 3). This stub keeps the contract
//! (`E164`, `Country`, `E164::parse`, `matches`) so the rest of the crate builds.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A phone number in E.164 form: `+` then 8 to 15 digits, the country code first.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct E164(String);

/// An ISO 3166-1 alpha-2 country code, upper case: the default region for national numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Country([u8; 2]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("no digits in {0:?}")]
    NoDigits(String),
    #[error("{0:?} is not a valid phone number")]
    Invalid(String),
    #[error("unknown country code {0:?}")]
    UnknownCountry(String),
}

impl Country {
    pub const US: Country = Country(*b"US");
    pub fn parse(s: &str) -> Result<Country, PhoneError> {
        let b = s.trim().as_bytes();
        if b.len() == 2 && b.iter().all(u8::is_ascii_alphabetic) {
            Ok(Country([b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()]))
        } else {
            Err(PhoneError::UnknownCountry(s.to_owned()))
        }
    }
    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("US")
    }
}

impl TryFrom<String> for Country {
    type Error = PhoneError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Country::parse(&s)
    }
}
impl From<Country> for String {
    fn from(c: Country) -> String {
        c.as_str().to_owned()
    }
}

impl E164 {
    /// Normalises `raw` to E.164, reading national numbers as numbers of `default_country`.
    pub fn parse(raw: &str, _default_country: Country) -> Result<E164, PhoneError> {
        let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
        if digits.is_empty() {
            return Err(PhoneError::NoDigits(raw.to_owned()));
        }
        let full = if raw.trim_start().starts_with('+') { digits } else { format!("1{digits}") };
        if !(8..=15).contains(&full.len()) {
            return Err(PhoneError::Invalid(raw.to_owned()));
        }
        Ok(E164(format!("+{full}")))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for E164 {
    type Error = PhoneError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        let ok = s.starts_with('+')
            && (9..=16).contains(&s.len())
            && s[1..].bytes().all(|b| b.is_ascii_digit());
        if ok { Ok(E164(s)) } else { Err(PhoneError::Invalid(s)) }
    }
}
impl From<E164> for String {
    fn from(e: E164) -> String {
        e.0
    }
}

/// Whether a number stored in a CRM, in whatever format, is `number`.
pub fn matches(stored: &str, number: &E164, default_country: Country) -> bool {
    E164::parse(stored, default_country).map(|e| &e == number).unwrap_or(false)
}
