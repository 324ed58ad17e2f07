//! The phone table: every row of `tests/data/phone_numbers.tsv` (what people and CRMs type, by
//! country, with the E.164 number, the error or the match it must give), then properties:
//! generated valid numbers survive every common spelling, parsing is idempotent, and no input
//! makes parsing or matching panic.

use calltrail_core::phone::{matches, Country, PhoneError, E164};
use proptest::prelude::*;
use std::collections::BTreeSet;

const TABLE: &str = "tests/data/phone_numbers.tsv";

struct Row {
    line: usize,
    raw: String,
    country: Country,
    expected: Expected,
}

enum Expected {
    Number(E164),
    Error(String),
    Matches(E164, bool),
}

/// Turns "\u{a0}" escapes into characters, so invisible spaces are visible in the file.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("\\u{") {
        out.push_str(&rest[..i]);
        let end = rest[i..]
            .find('}')
            .map(|j| i + j)
            .expect("unterminated \\u{ escape");
        let code = u32::from_str_radix(&rest[i + 3..end], 16).expect("bad hex in \\u{ escape");
        out.push(char::from_u32(code).expect("not a char"));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn load() -> Vec<Row> {
    let path = format!("{}/{TABLE}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let number = |s: &str, line| {
        E164::try_from(s.to_owned())
            .unwrap_or_else(|e| panic!("line {line}: bad expected {s}: {e}"))
    };
    let mut rows = Vec::new();
    for (i, text) in text.lines().enumerate() {
        let line = i + 1;
        if text.starts_with('#') || text.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = text.split('\t').collect();
        assert_eq!(
            cols.len(),
            3,
            "line {line}: want 3 tab-separated columns: {text:?}"
        );
        let country = Country::parse(cols[1]).unwrap_or_else(|e| panic!("line {line}: {e}"));
        let expected = match cols[2] {
            e if e.starts_with('+') => Expected::Number(number(e, line)),
            e if e.starts_with("err:") => Expected::Error(e[4..].to_owned()),
            e if e.starts_with("match:") => Expected::Matches(number(&e[6..], line), true),
            e if e.starts_with("nomatch:") => Expected::Matches(number(&e[8..], line), false),
            e => panic!("line {line}: unknown expectation {e:?}"),
        };
        rows.push(Row {
            line,
            raw: unescape(cols[0]),
            country,
            expected,
        });
    }
    rows
}

#[test]
fn phone_table_rows_all_hold() {
    let rows = load();
    let mut failures = Vec::new();
    for row in &rows {
        let Row {
            line,
            raw,
            country,
            expected,
        } = row;
        let got = E164::parse(raw, *country);
        let ok = match (expected, &got) {
            (Expected::Number(want), Ok(n)) => n == want,
            (Expected::Error(kind), Err(e)) => e.kind() == kind,
            (Expected::Matches(number, want), _) => matches(raw, number, *country) == *want,
            _ => false,
        };
        if !ok {
            let what = match expected {
                Expected::Number(n) => n.to_string(),
                Expected::Error(k) => format!("err:{k}"),
                Expected::Matches(n, m) => format!("{}{n}", if *m { "match:" } else { "nomatch:" }),
            };
            failures.push(format!(
                "line {line}: {raw:?} in {country}: want {what}, parse gave {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn phone_table_is_broad_enough() {
    let rows = load();
    let countries: BTreeSet<&str> = rows.iter().map(|r| r.country.as_str()).collect();
    let numbers = rows
        .iter()
        .filter(|r| matches!(r.expected, Expected::Number(_)))
        .count();
    let errors: BTreeSet<&str> = rows
        .iter()
        .filter_map(|r| match &r.expected {
            Expected::Error(k) => Some(k.as_str()),
            _ => None,
        })
        .collect();
    let match_rows = rows
        .iter()
        .filter(|r| matches!(r.expected, Expected::Matches(..)))
        .count();
    assert!(rows.len() >= 200, "{} rows", rows.len());
    assert!(countries.len() >= 25, "{countries:?}");
    assert!(
        numbers >= 150 && match_rows >= 25,
        "{numbers} numbers, {match_rows} match rows"
    );
    let kinds = [
        "no_digits",
        "too_short",
        "too_long",
        "invalid",
        "unknown_calling_code",
    ];
    assert_eq!(errors, kinds.into_iter().collect());
}

#[test]
fn phone_table_parse_results_are_fixed_points() {
    // Whatever a row parses to reads back as itself, from any default country.
    for row in load() {
        if let Expected::Number(n) = row.expected {
            for country in [
                Country::US,
                Country::GB,
                Country::DE,
                Country::AU,
                row.country,
            ] {
                assert_eq!(
                    E164::parse(n.as_str(), country).as_ref(),
                    Ok(&n),
                    "line {}",
                    row.line
                );
                assert!(
                    matches(&row.raw, &n, row.country),
                    "line {}: own match",
                    row.line
                );
            }
        }
    }
}

/// A country to generate numbers for: region, calling code, the trunk prefix its national
/// format requires (if any), and a regex of valid NSNs.
const PLANS: &[(&str, &str, Option<&str>, &str)] = &[
    ("US", "1", None, "[2-9][0-9]{2}[2-9][0-9]{6}"),
    ("CA", "1", None, "[2-9][0-9]{2}[2-9][0-9]{6}"),
    (
        "GB",
        "44",
        Some("0"),
        "(20[0-9]{8}|7[0-9]{9}|1[1-9][0-9]{8})",
    ),
    ("IE", "353", Some("0"), "(1[0-9]{7}|8[3-9][0-9]{7})"),
    ("DE", "49", Some("0"), "(30|40|89|15[0-9])[1-9][0-9]{5,7}"),
    ("FR", "33", Some("0"), "[1-9][0-9]{8}"),
    ("ES", "34", None, "[6-9][0-9]{8}"),
    ("IT", "39", None, "(0[1-9][0-9]{6,8}|3[0-9]{8,9})"),
    ("NL", "31", Some("0"), "[1-7][0-9]{8}"),
    ("BE", "32", Some("0"), "([1-35-9][0-9]{7}|4[0-9]{8})"),
    ("CH", "41", Some("0"), "[1-9][0-9]{8}"),
    ("AT", "43", Some("0"), "[1-9][0-9]{5,10}"),
    ("SE", "46", Some("0"), "[1-9][0-9]{6,9}"),
    ("NO", "47", None, "[2-9][0-9]{7}"),
    ("DK", "45", None, "[2-9][0-9]{7}"),
    ("FI", "358", Some("0"), "[1-9][0-9]{5,9}"),
    ("PL", "48", None, "[1-9][0-9]{8}"),
    ("PT", "351", None, "[29][0-9]{8}"),
    ("AU", "61", Some("0"), "[2-478][0-9]{8}"),
    ("NZ", "64", Some("0"), "([3-79][0-9]{7}|2[0-9]{7,9})"),
    // No NSN starts with 10: dialled at home, "010" is Japan's international prefix.
    ("JP", "81", Some("0"), "([2-9][0-9]{8}|1[1-9][0-9]{7}|[789]0[0-9]{8})"),
    ("IN", "91", Some("0"), "[6-9][0-9]{9}"),
    ("BR", "55", Some("0"), "[1-9][1-9](9[0-9]{8}|[2-5][0-9]{7})"),
    ("MX", "52", None, "[2-9][0-9]{9}"),
    ("ZA", "27", Some("0"), "[1-8][0-9]{8}"),
    ("SG", "65", None, "[689][0-9]{7}"),
    ("HK", "852", None, "[2356][0-9]{7}"),
    ("IL", "972", Some("0"), "([2-489][0-9]{7}|5[0-9]{8})"),
    ("AE", "971", Some("0"), "([2-4][0-9]{7}|5[0-9]{8})"),
];

/// A generated valid number: its region, the E.164 string, calling code, NSN, national form.
#[derive(Debug, Clone)]
struct Generated {
    country: Country,
    e164: String,
    cc: &'static str,
    nsn: String,
    national: String,
}

fn generated() -> impl Strategy<Value = Generated> {
    (0..PLANS.len()).prop_flat_map(|i| {
        let (region, cc, trunk, nsn) = PLANS[i];
        proptest::string::string_regex(nsn)
            .expect("valid regex")
            .prop_map(move |nsn| Generated {
                country: Country::parse(region).expect("region in the table"),
                e164: format!("+{cc}{nsn}"),
                cc,
                national: format!("{}{nsn}", trunk.unwrap_or("")),
                nsn,
            })
    })
}

/// Splits digits into groups of 3 or 4 joined by `sep`, as people write them.
fn grouped(digits: &str, sep: &str) -> String {
    let mut out = String::new();
    let mut rest = digits;
    while rest.len() > 4 {
        let (head, tail) = rest.split_at(3);
        out.push_str(head);
        out.push_str(sep);
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// The spellings of `g` we must read back, each with the default country to read it in.
fn spellings(g: &Generated) -> Vec<(String, Country)> {
    let Generated {
        country,
        cc,
        nsn,
        national,
        ..
    } = g;
    let us = Country::US;
    let gb = Country::GB;
    let mut v = vec![
        (format!("+{cc}{nsn}"), us),
        (format!("+{cc} {}", grouped(nsn, " ")), gb),
        (format!("+{cc}-{}", grouped(nsn, "-")), *country),
        (format!("00{cc} {}", grouped(nsn, " ")), gb),
        (format!("011 {cc} {}", grouped(nsn, ".")), us),
        (format!("tel:+{cc}-{nsn};ext=123"), us),
        (
            format!("+{cc}\u{a0}{}\u{a0}x\u{a0}45", grouped(nsn, "\u{a0}")),
            us,
        ),
        (format!("+{cc} {nsn} ext. 9"), *country),
        (grouped(national, " "), *country),
        (format!("{} #12", grouped(national, ".")), *country),
    ];
    if national.starts_with('0') && !nsn.starts_with('0') {
        v.push((format!("+{cc} (0){}", grouped(nsn, " ")), us));
    }
    if *cc == "1" {
        v.push((format!("({}) {}-{}", &nsn[..3], &nsn[3..6], &nsn[6..]), us));
        v.push((format!("1-{}", grouped(nsn, "-")), *country));
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn phone_every_spelling_of_a_valid_number_reads_back(g in generated()) {
        let want = E164::try_from(g.e164.clone()).expect("generated numbers are valid");
        prop_assert_eq!(want.national_number(), g.nsn.as_str());
        for (raw, country) in spellings(&g) {
            prop_assert_eq!(E164::parse(&raw, country), Ok(want), "{:?} in {}", raw, country);
            prop_assert!(matches(&raw, &want, country), "{:?} in {} should match", raw, country);
        }
        // Stored nationally in its own country, it matches whatever the rep's default is
        // when the national form has a trunk prefix.
        if g.national != g.nsn {
            for country in [Country::US, Country::GB, Country::DE, Country::AU] {
                prop_assert!(matches(&g.national, &want, country), "{} in {}", g.national, country);
            }
        }
    }

    #[test]
    fn phone_parse_is_idempotent(raw in "[+]?[0-9 ().x-]{0,24}", region in 0..PLANS.len()) {
        let country = Country::parse(PLANS[region].0).expect("region in the table");
        if let Ok(n) = E164::parse(&raw, country) {
            for c in [country, Country::US, Country::GB] {
                prop_assert_eq!(E164::parse(n.as_str(), c), Ok(n));
            }
            prop_assert_eq!(E164::try_from(n.to_string()), Ok(n));
            prop_assert!(matches(&raw, &n, country));
            prop_assert!(n.as_str().len() <= 16);
        }
    }

    #[test]
    fn phone_arbitrary_strings_never_panic(raw in any::<String>(), region in 0..PLANS.len()) {
        let country = Country::parse(PLANS[region].0).expect("region in the table");
        let parsed = E164::parse(&raw, country);
        if let Err(e) = &parsed {
            prop_assert!(!e.to_string().is_empty());
        }
        let n = E164::try_from("+12125550100".to_owned()).expect("valid");
        let _ = matches(&raw, &n, country);
        let _ = E164::try_from(raw.clone());
        let _ = Country::parse(&raw);
    }

    #[test]
    fn phone_phone_like_strings_never_panic(
        raw in "[+\u{ff0b}]?[0-9\u{ff10}-\u{ff19}\u{660}-\u{669} ()\\[\\].#,;:=xXeEtTnN\u{a0}a-zA-Z-]{0,40}",
        region in 0..PLANS.len(),
    ) {
        let country = Country::parse(PLANS[region].0).expect("region in the table");
        match E164::parse(&raw, country) {
            Ok(n) => prop_assert!(matches(&raw, &n, country)),
            Err(PhoneError::UnknownCountry(_)) => prop_assert!(false, "parse never says unknown country"),
            Err(_) => {}
        }
    }
}
