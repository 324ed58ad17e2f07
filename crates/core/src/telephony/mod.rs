//! Decoding what a telephony platform tells a server about calls into engine inputs: the
//! server-side counterpart of [`crate::softphone`], for events that arrive by webhook and from the
//! platform's call log instead of from a softphone page.
//!
//! - [`ringcentral`]: RingCentral's account-level telephony-session notifications and call-log
//!   records, and [`ringcentral::settle`], the one rule that says what a user's leg of a call
//!   is once the facts gathered so far are put together.
//! - [`generic`]: Calltrail's generic softphone protocol (`docs/softphone-protocol.md`) posted
//!   to the server by any other platform, with the telephony user it is about.
//!
//! Invariants (as for softphone messages): every input decodes to a value or an error and
//! nothing panics; every string is bounded; a call gets the id the extension gives the same
//! call (`rc:<telephonySessionId>` for RingCentral, `gen:<id>` for the generic protocol), so the
//! extension and the server name a call alike; and the decoders are stateless: the server keeps
//! the facts, the rule reads them.

pub mod generic;
pub mod ringcentral;

/// Why a telephony payload was refused. Messages quote at most 64 characters of untrusted input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TelephonyError {
    #[error("the body is not the expected JSON shape: {0}")]
    Shape(String),
    #[error("missing field {0}")]
    Missing(&'static str),
    #[error("field {field} is longer than {max} bytes")]
    Oversized { field: &'static str, max: usize },
    #[error("field {field} has an unusable value {value:?}")]
    Invalid { field: &'static str, value: String },
    #[error("the event could not be read: {0}")]
    Softphone(#[from] crate::softphone::DecodeError),
}

impl TelephonyError {
    /// A stable snake_case name for counters and answers.
    pub fn kind(&self) -> &'static str {
        match self {
            TelephonyError::Shape(_) => "shape",
            TelephonyError::Missing(_) => "missing_field",
            TelephonyError::Oversized { .. } => "oversized",
            TelephonyError::Invalid { .. } => "invalid_value",
            TelephonyError::Softphone(e) => e.kind(),
        }
    }
}

/// At most this many characters of untrusted text go into an error message.
const QUOTE: usize = 64;

fn quote(s: &str) -> String {
    s.chars().take(QUOTE).collect()
}

/// `s` when it is at most `max` bytes, else [`TelephonyError::Oversized`].
fn bounded<'a>(s: &'a str, field: &'static str, max: usize) -> Result<&'a str, TelephonyError> {
    if s.len() > max {
        Err(TelephonyError::Oversized { field, max })
    } else {
        Ok(s)
    }
}
