//! A scripted day's complete effect trace, pinned. The engine's speed work (the hand-written
//! record writer, the tables, fewer look-ups) promises to change no effect, no byte of a
//! persisted record and no order; this test holds every such change to that promise.
//!
//! The day: 60 calls across 5 integrations, every other one rung first (call pop); search
//! replies with no match, one match or two (conflicts under the default rule, `ask`); some
//! creates fail transiently and are retried; then an alarm and a digest run. Every effect is
//! written with `{:?}` and the whole text is hashed (FNV-1a, 64 bits; the text itself is about
//! 1.4 MB, too big to keep in the repository).
//!
//! When the trace changes on purpose (a new field in a record, a new audit wording), set
//! `CALLTRAIL_TRACE_OUT=before.txt` on the commit before and `CALLTRAIL_TRACE_OUT=after.txt` on
//! the change, diff the two, and pin the new hash the failure prints.

use std::fmt::Write as _;

use calltrail_core::crm::{CrmError, CrmOp, CrmOutput};
use calltrail_core::engine::records::DigestMeta;
use calltrail_core::engine::{Effect, Engine, EngineOptions, Input, ReqId};
use calltrail_core::model::{Call, CallId, CallResult, Contact, Direction, IntegrationId, RecordId, RecordType, Timestamp};
use calltrail_core::phone::{Country, E164};
use calltrail_core::settings::Settings;
use calltrail_core::store::{Batch, Durability, MemStore, Snapshot, StoreName, Write};

use crate::support::world::{integration, INTEGRATIONS};

/// FNV-1a of the scripted day's trace. Change only with a reviewed diff (see the module doc).
const PINNED: u64 = 0x935a_8ef1_b7d3_42d4;

const NOW: Timestamp = Timestamp(1_781_107_200_000);

#[test]
fn a_scripted_days_effects_are_byte_for_byte_the_pinned_ones() {
    let trace = scripted_day();
    if let Ok(path) = std::env::var("CALLTRAIL_TRACE_OUT") {
        std::fs::write(&path, &trace).expect("write the trace");
    }
    let hash = fnv1a(trace.as_bytes());
    assert!(trace.lines().count() > 1_000, "the day must exercise the engine: {} lines", trace.lines().count());
    assert_eq!(
        hash, PINNED,
        "the scripted day's effects changed (hash {hash:#018x}, {} bytes). If on purpose, diff the traces \
         (CALLTRAIL_TRACE_OUT, see tests/native/trace.rs) and pin the new hash.",
        trace.len()
    );
}

#[test]
fn the_same_day_twice_gives_the_same_trace() {
    assert!(scripted_day() == scripted_day(), "the engine must be deterministic for the same inputs");
}

fn scripted_day() -> String {
    let mut out = String::new();
    let mut e = Engine::new(EngineOptions::default());
    e.handle(Input::Restored { snapshot: empty_snapshot(), settings: settings(), boot_id: 0xbe4c }, NOW);
    drain(&mut e, &mut out);
    for k in 0..60usize {
        let now = NOW.plus_secs(k as i64 * 7);
        let c = call(&format!("b{k}"), k, now);
        let pop = k % 2 == 1;
        let mut pending = Vec::new();
        if pop {
            let mut ringing = c.clone();
            ringing.ended_at = None;
            e.handle(Input::CallRinging(ringing), now);
        } else {
            e.handle(Input::CallEnded(c.clone()), now);
        }
        pending.extend(drain(&mut e, &mut out));
        let mut hang_up_pending = pop;
        let mut round = 0;
        while !pending.is_empty() || hang_up_pending {
            if pending.is_empty() {
                hang_up_pending = false;
                e.handle(Input::CallEnded(c.clone()), now);
                pending.extend(drain(&mut e, &mut out));
                continue;
            }
            let (req, integ, create) = pending.remove(0);
            round += 1;
            let result = if create {
                if (k + round) % 11 == 0 {
                    Err(CrmError::Transient { message: "boom".into() })
                } else {
                    Ok(CrmOutput::Created { record: RecordId::new(format!("r{req}")), url: None })
                }
            } else {
                let contacts = match (k + integ.as_str().len() + round) % 7 {
                    0 => vec![],
                    1 => vec![contact(integ.as_str(), k), contact(integ.as_str(), k + 1)],
                    _ => vec![contact(integ.as_str(), k)],
                };
                Ok(CrmOutput::Contacts { contacts })
            };
            writeln!(out, "-- reply {req} {integ:?}").unwrap();
            e.handle(Input::CrmDone { req, result }, now);
            pending.extend(drain(&mut e, &mut out));
        }
    }
    e.handle(Input::AlarmFired, NOW.plus_mins(30));
    drain(&mut e, &mut out);
    e.handle(Input::DigestRequested, NOW.plus_mins(31));
    drain(&mut e, &mut out);
    out
}

fn drain(e: &mut Engine, out: &mut String) -> Vec<(ReqId, IntegrationId, bool)> {
    let mut reqs = Vec::new();
    while let Some(x) = e.poll_effect() {
        writeln!(out, "{x:?}").unwrap();
        if let Effect::Crm(r) = &x {
            reqs.push((r.req, r.integration.clone(), matches!(r.op, CrmOp::CreateCallLog { .. } | CrmOp::CreateContact { .. })));
        }
    }
    reqs
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

fn settings() -> Settings {
    Settings { integrations: INTEGRATIONS.iter().map(|&(id, kind)| integration(id, kind)).collect(), ..Settings::default() }
}

fn number(i: usize) -> E164 {
    E164::parse(&format!("+1212555{:04}", i % 10_000), Country::US).unwrap()
}

fn call(id: &str, i: usize, end: Timestamp) -> Call {
    Call {
        id: CallId::new(id),
        direction: Direction::Inbound,
        our_number: None,
        their_number: number(i),
        started_at: end.plus_mins(-4),
        answered_at: Some(end.plus_mins(-4)),
        ended_at: Some(end),
        result: CallResult::Answered,
        recording_url: None,
        // Some notes with characters the record writer must escape.
        notes: if i % 3 == 0 { format!("note \"{i}\"\n") } else { String::new() },
    }
}

fn contact(integ: &str, i: usize) -> Contact {
    Contact {
        id: RecordId::new(format!("{integ}-p{i}")),
        name: format!("Person {i}").into(),
        record_type: RecordType::new("Contact"),
        phones: vec![number(i).as_str().to_owned()].into(),
        created_at: Some(Timestamp(1_700_000_000_000)),
        modified_at: if i % 2 == 0 { Some(Timestamp(1_700_000_000_000)) } else { None },
        url: Some(format!("https://{integ}.crm.example/contacts/{i}").into()),
    }
}

fn empty_snapshot() -> Snapshot {
    let mut store = MemStore::new();
    let meta = DigestMeta { last_started: Some(NOW.plus_mins(-10)), last_completed: Some(NOW.plus_mins(-10)) };
    store.apply(&Batch { writes: vec![Write::Put { store: StoreName::Meta, record: meta.to_record() }], durability: Durability::Relaxed });
    store.restore(&Engine::restore_query(&settings(), NOW))
}
