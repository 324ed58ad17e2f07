//! One CRM operation as the shell runs it: a connector's conversation of HTTP exchanges, with
//! the token it needs, refreshed at most once per 401.
//!
//! The shell loops on [`super::Driver::step`]: it sends each [`Next::Fetch`] and reports the
//! reply with [`Conversation::replied`], sends a [`Next::Refresh`] and reports it with
//! [`super::Driver::refreshed`], waits on [`Next::Wait`] until another conversation's refresh
//! settles, and stops at [`Next::Done`], whose result goes to the engine.
//!
//! Invariants:
//! - At most [`MAX_EXCHANGES`] requests per operation. A connector that wants more is stopped,
//!   and what the CRM holds afterwards is unknown for a write (the engine then looks for its
//!   marker before creating again) and a transient failure for a read.
//! - A 401 on a refreshable token gets one refresh and one more try, never more: Salesforce
//!   gives no expiry, so a 401 is how its sessions say they ended; a second 401 is the engine's
//!   `Unauthorized` (it parks the integration until the rep reconnects).
//! - A create is sent only once the connection knows who it acts as: the first create of a
//!   connection first asks the CRM who is connected ([`crate::crm::identify`]), so every record
//!   carries the rep as its owner; the answer is kept with the credentials.

use crate::crm::oauth::OAuthClient;
use crate::crm::{Connection, CrmError, CrmOp, CrmOutput, Exchange, HttpRequest, Reply, Secret};
use crate::model::IntegrationId;

use super::credentials::{Identity, StoredSecret};

/// At most this many requests for one logical operation (paging, search then fetch).
pub const MAX_EXCHANGES: usize = 24;

/// What the shell does next for a conversation.
#[derive(Clone, Debug, PartialEq)]
pub enum Next {
    /// Send this request and report its reply with [`Conversation::replied`].
    Fetch(HttpRequest),
    /// Send this token request and report its reply with [`super::Driver::refreshed`].
    Refresh(HttpRequest),
    /// Another conversation is refreshing this integration's token: step again once it settled.
    Wait,
    /// The operation's result, for the engine (or the page that asked).
    Done(Result<CrmOutput, CrmError>),
}

#[derive(Clone, Debug)]
pub(super) enum Phase {
    /// Needs a token.
    Start,
    /// Asking the CRM who the connection acts as, before talking.
    Identifying(Connection),
    /// Talking to the CRM with this connection.
    Talking(Connection),
    /// Waiting for the reply to a token refresh this conversation sent.
    Refreshing { stored: StoredSecret, client: Box<OAuthClient> },
    Done(Result<CrmOutput, CrmError>),
}

/// One CRM operation in progress.
#[derive(Clone, Debug)]
pub struct Conversation {
    pub integration: IntegrationId,
    pub op: CrmOp,
    pub(super) history: Vec<Exchange>,
    pub(super) phase: Phase,
    /// The request whose reply is awaited.
    pub(super) sent: Option<HttpRequest>,
    /// Whether the one retry after a refresh has been used.
    pub(super) retried: bool,
    /// Ask who is connected even when it is known ("Test connection").
    pub(super) identify: bool,
    /// Who the connection acted as, once known.
    pub who: Option<Identity>,
}

impl Conversation {
    pub fn new(integration: IntegrationId, op: CrmOp) -> Conversation {
        Conversation { integration, op, history: Vec::new(), phase: Phase::Start, sent: None, retried: false, identify: false, who: None }
    }

    /// The reply to the last [`Next::Fetch`].
    pub fn replied(&mut self, reply: Reply) {
        if let Some(request) = self.sent.take() {
            self.history.push(Exchange { request, reply });
        }
    }

    /// How many requests the conversation has sent to the CRM so far (refreshes not counted).
    pub fn exchanges(&self) -> usize {
        self.history.len()
    }

    pub(super) fn finish(&mut self, result: Result<CrmOutput, CrmError>) {
        self.phase = Phase::Done(result);
    }

    /// The token the connection in use carries, if it is talking.
    pub(super) fn token(&self) -> Option<&Secret> {
        match &self.phase {
            Phase::Talking(conn) | Phase::Identifying(conn) => Some(&conn.token),
            _ => None,
        }
    }
}

/// How a connector that wants more than [`MAX_EXCHANGES`] requests is classed.
pub(super) fn over_long(op: &CrmOp) -> CrmError {
    let message = format!("more than {MAX_EXCHANGES} requests for one operation");
    if op.is_write() {
        CrmError::Unknown { message }
    } else {
        CrmError::Transient { message }
    }
}
