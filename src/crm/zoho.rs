//! zoho connector. Being written (issue 4).

use super::*;

pub fn step(conn: &Connection, op: &CrmOp, history: &[Exchange]) -> Step {
    let _ = (conn, op, history);
    Step::Done(Err(CrmError::Permanent { message: "connector not implemented yet".into() }))
}
