//! A scripted day's complete effect trace, pinned as a text snapshot
//! (`tests/native/trace/scripted-day.txt`), so a change that alters any effect, any byte of a
//! persisted record or any order shows as a diff.
//!
//! The day: 60 calls across 5 integrations, every other one rung first (call pop); search
//! replies with no match, one match or two (conflicts under the default rule, `ask`); some
//! creates fail transiently and are retried; then an alarm and a digest run. Each effect is one
//! line (a `Persist` one line per write), records and requests as their JSON.
//!
//! When the trace changes on purpose (a new field in a record, a new audit wording), run the
//! test with `CALLTRAIL_TRACE_UPDATE=1`, review `git diff tests/native/trace/`, and commit the
//! new snapshot with the reason. A failing run writes what it got next to the snapshot
//! (`scripted-day.actual.txt`, ignored by git) and prints the first lines that differ.

use std::fmt::Write as _;

use calltrail_core::crm::{CrmError, CrmOp, CrmOutput};
use calltrail_core::engine::records::DigestMeta;
use calltrail_core::engine::{Effect, Engine, EngineOptions, Input, ReqId};
use calltrail_core::model::{Call, CallId, CallResult, Contact, Direction, IntegrationId, RecordId, RecordType, Timestamp};
use calltrail_core::phone::{Country, E164};
use calltrail_core::settings::Settings;
use calltrail_core::store::{Batch, Durability, MemStore, Snapshot, StoreName, Write};

use crate::support::world::{integration, INTEGRATIONS};

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/native/trace/scripted-day.txt");

const NOW: Timestamp = Timestamp(1_781_107_200_000);

#[test]
fn a_scripted_days_effects_are_the_pinned_ones() {
    let trace = scripted_day();
    assert!(trace.lines().count() > 1_000, "the day must exercise the engine: {} lines", trace.lines().count());
    if std::env::var_os("CALLTRAIL_TRACE_UPDATE").is_some() {
        std::fs::write(SNAPSHOT, &trace).expect("write the snapshot");
        return;
    }
    let pinned = std::fs::read_to_string(SNAPSHOT).expect("the snapshot tests/native/trace/scripted-day.txt");
    if trace == pinned {
        return;
    }
    let actual = SNAPSHOT.replace(".txt", ".actual.txt");
    std::fs::write(&actual, &trace).expect("write the actual trace");
    let (want, got): (Vec<&str>, Vec<&str>) = (pinned.lines().collect(), trace.lines().collect());
    let first = want.iter().zip(&got).position(|(a, b)| a != b).unwrap_or(want.len().min(got.len()));
    let around = |lines: &[&str]| lines.iter().enumerate().skip(first.saturating_sub(2)).take(5).map(|(n, l)| format!("{:>6} {}", n + 1, l)).collect::<Vec<_>>().join("\n");
    panic!(
        "the scripted day's effects changed from line {} on (pinned {} lines, now {}).\npinned:\n{}\nnow:\n{}\n\
         Whole trace: {actual}. If the change is on purpose, rerun with CALLTRAIL_TRACE_UPDATE=1 and review the diff.",
        first + 1,
        want.len(),
        got.len(),
        around(&want),
        around(&got)
    );
}

#[test]
fn the_same_day_twice_gives_the_same_trace() {
    assert!(scripted_day() == scripted_day(), "the engine must be deterministic for the same inputs");
}

fn scripted_day() -> String {
    let mut out = String::new();
    let mut e = Engine::new(EngineOptions::default());
    let zones = calltrail_core::zone::Zones::for_settings(&crate::support::zones::Tzdb::default(), &settings(), NOW).expect("known zones");
    e.handle(Input::Restored { snapshot: empty_snapshot(), settings: settings(), zones, boot_id: 0xbe4c }, NOW);
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
            writeln!(out, "-- reply {req} {integ}").unwrap();
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
        write_effect(out, &x);
        if let Effect::Crm(r) = &x {
            reqs.push((r.req, r.integration.clone(), matches!(r.op, CrmOp::CreateCallLog { .. } | CrmOp::CreateContact { .. })));
        }
    }
    reqs
}

/// One effect as the snapshot writes it: a line per effect, and per write of a batch.
fn write_effect(out: &mut String, e: &Effect) {
    match e {
        Effect::Persist(b) => {
            writeln!(out, "persist {:?}", b.durability).unwrap();
            for w in &b.writes {
                match w {
                    Write::Put { store, record } => {
                        writeln!(out, "  put {} {} open={} at={} {}", store.as_str(), record.key, record.open, record.at, record.value).unwrap()
                    }
                    Write::Delete { store, key } => writeln!(out, "  delete {} {key}", store.as_str()).unwrap(),
                    Write::Prune { store, before, limit } => writeln!(out, "  prune {} before={before} limit={limit}", store.as_str()).unwrap(),
                }
            }
        }
        Effect::Crm(r) => writeln!(out, "crm {}", json(r.as_ref())).unwrap(),
        Effect::WakeAt(t) => writeln!(out, "wake {}", t.0).unwrap(),
        Effect::Notify(n) => writeln!(out, "notify {}", json(n)).unwrap(),
        Effect::Problem(p) => writeln!(out, "problem {}", json(p)).unwrap(),
    }
}

/// A value as one line of JSON.
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|e| format!("<unserialisable: {e}>"))
}

fn settings() -> Settings {
    Settings { integrations: INTEGRATIONS.iter().map(|&(id, kind)| integration(id, kind)).collect(), ..Settings::default() }
}

fn number(i: usize) -> E164 {
    E164::parse(&format!("+1212555{:04}", i % 10_000), Country::US).unwrap()
}

fn call(id: &str, i: usize, end: Timestamp) -> Call {
    Call {
        answered_at: Some(end.plus_mins(-4)),
        ended_at: Some(end),
        result: CallResult::Answered,
        // Some notes with characters the record writer must escape.
        notes: if i % 3 == 0 { format!("note \"{i}\"\n") } else { String::new() },
        ..Call::new(CallId::new(id), Direction::Inbound, number(i), None, end.plus_mins(-4))
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
