//! The numbering-plan table: for each country we know in detail, its calling code, trunk
//! prefixes, international (IDD) prefixes and which national significant numbers (NSN) are
//! valid, as (leading digit, length) rules; plus the bare list of every assigned calling code.
//!
//! Invariant: everything here is `const` data built by `const fn`s, so it lives in the wasm
//! data section and costs nothing at start-up (no parsing, no allocation, no lazy statics).
//! The rules are deliberately coarse (first digit and length, not full ranges): they reject
//! what is clearly not a number of that country and accept every real number, which is what
//! matching needs. Sources: the ITU-T E.164 assignments and each regulator's national plan,
//! cross-checked against libphonenumber's possible lengths.

use super::Country;

/// One rule: an NSN whose first digit is in `lead` (bit d set for digit d) may have any
/// length whose bit is set in `lens`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Rule {
    pub lead: u16,
    pub lens: u32,
}

/// A numbering plan. `regions` lists the ISO 3166 regions that share it, main region first.
#[derive(Debug)]
pub(super) struct Plan {
    pub regions: &'static [Country],
    pub calling_code: u16,
    /// National (trunk) prefixes, dialled before the NSN inside the country. NANP's "1"
    /// long-distance prefix counts; Mexico's retired "01"/"044"/"045" still appear in CRMs.
    pub trunk: &'static [&'static str],
    /// Prefixes that may sit between the calling code and the NSN in careless writing and are
    /// dropped when what follows is then valid: the trunk "(0)" of "+44 (0)20", Mexico's old
    /// mobile "1" in "+52 1 55 ...". The trunk prefixes are always tried too.
    pub after_cc: &'static [&'static str],
    /// International call prefixes dialled from this country ("00", "011", "0011", ...).
    pub idd: &'static [&'static str],
    /// Digits of a carrier-selection code that may follow the trunk prefix (Brazil: "0 21 ...").
    pub carrier_digits: u8,
    /// The North American plan, whose "1" is an optional long-distance prefix rather than a
    /// national format's trunk prefix. (The exchange code, 4th NSN digit, is not checked:
    /// softphone vendors' own examples use "+1 555 123 4567".)
    pub nanp: bool,
    pub rules: &'static [Rule],
}

impl Plan {
    /// Whether `nsn` (ASCII digits) is a valid national significant number of this plan.
    pub fn is_valid_nsn(&self, nsn: &[u8]) -> bool {
        let (Some(&first), len) = (nsn.first(), nsn.len()) else {
            return false;
        };
        if len >= 32 || !first.is_ascii_digit() {
            return false;
        }
        let lead = 1u16 << (first - b'0');
        self.rules
            .iter()
            .any(|r| r.lead & lead != 0 && r.lens & (1u32 << len) != 0)
    }

    /// The shortest and longest NSN the rules allow, for NSNs starting with `first` (all
    /// rules when `None`), to tell "too short" from "too long"; `None` if no rule applies.
    pub fn length_bounds(&self, first: Option<u8>) -> Option<(usize, usize)> {
        let lead = match first {
            Some(d @ b'0'..=b'9') => 1u16 << (d - b'0'),
            Some(_) => 0,
            None => u16::MAX,
        };
        let all = self
            .rules
            .iter()
            .filter(|r| r.lead & lead != 0)
            .fold(0u32, |acc, r| acc | r.lens);
        (all != 0).then(|| {
            (
                all.trailing_zeros() as usize,
                31 - all.leading_zeros() as usize,
            )
        })
    }

    /// The trunk prefix the national format requires: not NANP's optional "1" nor Mexico's
    /// retired prefixes.
    pub fn national_prefix(&self) -> Option<&'static str> {
        if self.nanp || self.calling_code == 52 {
            None
        } else {
            self.trunk.first().copied()
        }
    }

    pub fn main_region(&self) -> Country {
        // Every plan below lists at least one region.
        self.regions.first().copied().unwrap_or(Country::US)
    }
}

const fn r(lead: &[u8], min: u32, max: u32) -> Rule {
    let mut mask = 0u16;
    let mut i = 0;
    while i < lead.len() {
        mask |= 1 << (lead[i] - b'0');
        i += 1;
    }
    let mut lens = 0u32;
    let mut n = min;
    while n <= max {
        lens |= 1 << n;
        n += 1;
    }
    Rule { lead: mask, lens }
}

const fn c(code: &[u8; 2]) -> Country {
    Country(*code)
}

const TRUNK_0: &[&str] = &["0"];
const IDD_00: &[&str] = &["00"];
const NONE: &[&str] = &[];

const fn plan(
    regions: &'static [Country],
    calling_code: u16,
    trunk: &'static [&'static str],
    idd: &'static [&'static str],
    rules: &'static [Rule],
) -> Plan {
    Plan {
        regions,
        calling_code,
        trunk,
        after_cc: NONE,
        idd,
        carrier_digits: 0,
        nanp: false,
        rules,
    }
}

/// The plans we know in detail. Order does not matter: calling codes are prefix-free.
pub(super) static PLANS: &[Plan] = &[
    // North American Numbering Plan: one plan for the US, Canada and the Caribbean regions.
    // NSN = area code NXX + exchange NXX + 4 digits; "1" is the long-distance prefix.
    Plan {
        regions: &[
            c(b"US"),
            c(b"CA"),
            c(b"AG"),
            c(b"AI"),
            c(b"AS"),
            c(b"BB"),
            c(b"BM"),
            c(b"BS"),
            c(b"DM"),
            c(b"DO"),
            c(b"GD"),
            c(b"GU"),
            c(b"JM"),
            c(b"KN"),
            c(b"KY"),
            c(b"LC"),
            c(b"MP"),
            c(b"MS"),
            c(b"PR"),
            c(b"SX"),
            c(b"TC"),
            c(b"TT"),
            c(b"VC"),
            c(b"VG"),
            c(b"VI"),
        ],
        calling_code: 1,
        trunk: &["1"],
        after_cc: NONE,
        idd: &["011"],
        carrier_digits: 0,
        nanp: true,
        rules: &[r(b"23456789", 10, 10)],
    },
    // Russia and Kazakhstan share +7; trunk "8", international "8~10" written "810".
    plan(
        &[c(b"RU"), c(b"KZ")],
        7,
        &["8"],
        &["810"],
        &[r(b"3456789", 10, 10)],
    ),
    plan(&[c(b"ZA")], 27, TRUNK_0, IDD_00, &[r(b"12345678", 9, 9)]),
    // Greece dropped its trunk prefix in 2002: the area code's 2 is part of the NSN.
    plan(&[c(b"GR")], 30, NONE, IDD_00, &[r(b"26789", 10, 10)]),
    // Netherlands: 9-digit NSN; 0800/0900 service numbers are 7 to 10.
    plan(
        &[c(b"NL")],
        31,
        TRUNK_0,
        IDD_00,
        &[r(b"1234567", 9, 9), r(b"89", 7, 10)],
    ),
    // Belgium: 8-digit landlines and services, 9-digit mobiles (04xx).
    plan(
        &[c(b"BE")],
        32,
        TRUNK_0,
        IDD_00,
        &[r(b"1235678", 8, 8), r(b"9", 8, 8), r(b"4", 9, 9)],
    ),
    plan(&[c(b"FR")], 33, TRUNK_0, IDD_00, &[r(b"123456789", 9, 9)]),
    // Spain has no trunk prefix.
    plan(&[c(b"ES")], 34, NONE, IDD_00, &[r(b"56789", 9, 9)]),
    // Italy has no trunk prefix: the 0 of landlines is part of the NSN and dialled from abroad.
    plan(
        &[c(b"IT"), c(b"VA")],
        39,
        NONE,
        IDD_00,
        &[r(b"0", 6, 11), r(b"3", 9, 10), r(b"1458", 6, 10)],
    ),
    plan(&[c(b"CH")], 41, TRUNK_0, IDD_00, &[r(b"123456789", 9, 9)]),
    // Austria and Germany have open (variable-length) plans.
    plan(&[c(b"AT")], 43, TRUNK_0, IDD_00, &[r(b"123456789", 4, 13)]),
    // UK: 10-digit NSN, some 9-digit 01 areas and 0500/0800 numbers, 0800 1111.
    Plan {
        regions: &[c(b"GB"), c(b"GG"), c(b"IM"), c(b"JE")],
        calling_code: 44,
        trunk: TRUNK_0,
        after_cc: NONE,
        idd: IDD_00,
        carrier_digits: 0,
        nanp: false,
        rules: &[
            r(b"1", 9, 10),
            r(b"2379", 10, 10),
            r(b"58", 9, 10),
            r(b"8", 7, 7),
        ],
    },
    plan(&[c(b"DK")], 45, NONE, IDD_00, &[r(b"23456789", 8, 8)]),
    plan(&[c(b"SE")], 46, TRUNK_0, IDD_00, &[r(b"123456789", 7, 10)]),
    plan(&[c(b"NO")], 47, NONE, IDD_00, &[r(b"23456789", 8, 8)]),
    // Poland dropped its trunk prefix in 2005.
    plan(&[c(b"PL")], 48, NONE, IDD_00, &[r(b"123456789", 9, 9)]),
    plan(&[c(b"DE")], 49, TRUNK_0, IDD_00, &[r(b"123456789", 5, 13)]),
    // Mexico: 10-digit NSN since 2019; the old "01"/"044"/"045" prefixes and the "1" after
    // +52 for mobiles are still common in CRMs and are dropped.
    Plan {
        regions: &[c(b"MX")],
        calling_code: 52,
        trunk: &["01", "044", "045"],
        after_cc: &["1"],
        idd: IDD_00,
        carrier_digits: 0,
        nanp: false,
        rules: &[r(b"23456789", 10, 10)],
    },
    // Brazil: 2-digit area code + 8 (landline) or 9 (mobile) digits. Nationally "0" may be
    // followed by a 2-digit carrier code ("0 21 11 ..."); internationally "00" + carrier.
    Plan {
        regions: &[c(b"BR")],
        calling_code: 55,
        trunk: TRUNK_0,
        after_cc: NONE,
        idd: &[
            "0012", "0014", "0015", "0021", "0023", "0031", "0041", "0043", "00",
        ],
        carrier_digits: 2,
        nanp: false,
        rules: &[r(b"123456789", 10, 11)],
    },
    // Australia: 9-digit NSN; 13 xx xx (6) and 1300/1800 (10) numbers have no trunk 0.
    plan(
        &[c(b"AU"), c(b"CC"), c(b"CX")],
        61,
        TRUNK_0,
        &["0011", "0014", "0015", "0018", "0019"],
        &[r(b"234578", 9, 9), r(b"1", 6, 6), r(b"1", 10, 10)],
    ),
    // New Zealand: 8-digit landlines, 8 to 10-digit mobiles (02x) and 0800/0508 numbers.
    plan(
        &[c(b"NZ")],
        64,
        TRUNK_0,
        IDD_00,
        &[r(b"34679", 8, 8), r(b"28", 8, 10), r(b"5", 8, 9)],
    ),
    // Singapore: 8 digits (3, 6, 8, 9); 1800 numbers are 11 digits. Many IDDs by carrier.
    plan(
        &[c(b"SG")],
        65,
        NONE,
        &["001", "000", "002", "008", "012", "013", "018", "019"],
        &[r(b"3689", 8, 8), r(b"1", 11, 11)],
    ),
    // Japan: 9-digit landlines and 0120 numbers, 10-digit mobiles (070/080/090) and 050 IP.
    plan(
        &[c(b"JP")],
        81,
        TRUNK_0,
        &["010"],
        &[r(b"123456789", 9, 10)],
    ),
    // South Korea: Seoul 02 + 7/8 digits, other areas and mobiles (010) 9 or 10.
    plan(
        &[c(b"KR")],
        82,
        TRUNK_0,
        &["001", "002", "005", "006", "008", "00700"],
        &[r(b"2", 8, 9), r(b"134567", 9, 10)],
    ),
    // China: Beijing 010 + 8 digits, 3-digit areas + 7/8, mobiles 1xx + 8.
    plan(
        &[c(b"CN")],
        86,
        TRUNK_0,
        IDD_00,
        &[r(b"1", 10, 11), r(b"2", 10, 10), r(b"3456789", 10, 11)],
    ),
    plan(&[c(b"TR")], 90, TRUNK_0, IDD_00, &[r(b"234589", 10, 10)]),
    plan(&[c(b"IN")], 91, TRUNK_0, IDD_00, &[r(b"123456789", 10, 10)]),
    plan(&[c(b"PT")], 351, NONE, IDD_00, &[r(b"23456789", 9, 9)]),
    // Ireland: Dublin 01 + 7 digits, other areas 7 to 9, mobiles 08x + 7, 1800 numbers 10.
    plan(
        &[c(b"IE")],
        353,
        TRUNK_0,
        IDD_00,
        &[r(b"1", 8, 8), r(b"1", 10, 10), r(b"2456789", 7, 9)],
    ),
    plan(
        &[c(b"FI"), c(b"AX")],
        358,
        TRUNK_0,
        &["00", "990", "994", "999"],
        &[r(b"123456789", 5, 12)],
    ),
    plan(&[c(b"CZ")], 420, NONE, IDD_00, &[r(b"23456789", 9, 9)]),
    // Hong Kong: 8 digits; 800 numbers are 9.
    plan(
        &[c(b"HK")],
        852,
        NONE,
        &["001", "002", "0080", "0082", "009"],
        &[r(b"235679", 8, 8), r(b"8", 8, 9)],
    ),
    // UAE: 8-digit landlines (02 Abu Dhabi, 04 Dubai), 9-digit mobiles (05x) and 600 numbers,
    // 800 numbers of 7 to 10 digits.
    plan(
        &[c(b"AE")],
        971,
        TRUNK_0,
        IDD_00,
        &[r(b"234679", 8, 8), r(b"56", 9, 9), r(b"8", 7, 10)],
    ),
    // Israel: 8-digit landlines, 9-digit mobiles (05x) and VoIP (07x), 1-800 numbers of 10.
    plan(
        &[c(b"IL")],
        972,
        TRUNK_0,
        &["00", "012", "013", "014", "018"],
        &[r(b"23489", 8, 8), r(b"57", 9, 9), r(b"1", 8, 10)],
    ),
];

/// Every calling code assigned by the ITU (E.164 list), sorted, including those in `PLANS`.
/// Numbers under a code we have no plan for are accepted with "+" when their length is
/// plausible, so a call from Luxembourg is still a number we can log and match.
pub(super) static ASSIGNED: &[u16] = &[
    1, 7, 20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54,
    55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98, 211,
    212, 213, 216, 218, 220, 221, 222, 223, 224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234,
    235, 236, 237, 238, 239, 240, 241, 242, 243, 244, 245, 246, 247, 248, 249, 250, 251, 252, 253,
    254, 255, 256, 257, 258, 260, 261, 262, 263, 264, 265, 266, 267, 268, 269, 290, 291, 297, 298,
    299, 350, 351, 352, 353, 354, 355, 356, 357, 358, 359, 370, 371, 372, 373, 374, 375, 376, 377,
    378, 379, 380, 381, 382, 383, 385, 386, 387, 389, 420, 421, 423, 500, 501, 502, 503, 504, 505,
    506, 507, 508, 509, 590, 591, 592, 593, 594, 595, 596, 597, 598, 599, 670, 672, 673, 674, 675,
    676, 677, 678, 679, 680, 681, 682, 683, 685, 686, 687, 688, 689, 690, 691, 692, 800, 808, 850,
    852, 853, 855, 856, 870, 878, 880, 881, 882, 883, 886, 888, 960, 961, 962, 963, 964, 965, 966,
    967, 968, 970, 971, 972, 973, 974, 975, 976, 977, 979, 992, 993, 994, 995, 996, 998,
];

/// The detailed plan for a calling code, if we have one.
pub(super) fn plan_by_code(code: u16) -> Option<&'static Plan> {
    PLANS.iter().find(|p| p.calling_code == code)
}

/// The plan a region belongs to.
pub(super) fn plan_by_region(region: Country) -> Option<&'static Plan> {
    PLANS.iter().find(|p| p.regions.contains(&region))
}

pub(super) fn is_assigned(code: u16) -> bool {
    ASSIGNED.binary_search(&code).is_ok()
}

/// Digit values of the non-ASCII digits people paste: full-width (from CJK input methods),
/// Arabic-Indic and Extended Arabic-Indic (AE, IL), Devanagari (IN).
pub(super) fn digit_value(c: char) -> Option<u8> {
    let zero = match c {
        '0'..='9' => '0',
        '\u{FF10}'..='\u{FF19}' => '\u{FF10}',
        '\u{0660}'..='\u{0669}' => '\u{0660}',
        '\u{06F0}'..='\u{06F9}' => '\u{06F0}',
        '\u{0966}'..='\u{096F}' => '\u{0966}',
        _ => return None,
    };
    // The ranges above are ten code points long, so the difference is 0..=9.
    u8::try_from(c as u32 - zero as u32).ok()
}

/// The telephone keypad: vanity letters ("1-800-FLOWERS") to digits.
pub(super) fn keypad(c: u8) -> Option<u8> {
    Some(match c.to_ascii_uppercase() {
        b'A'..=b'C' => b'2',
        b'D'..=b'F' => b'3',
        b'G'..=b'I' => b'4',
        b'J'..=b'L' => b'5',
        b'M'..=b'O' => b'6',
        b'P'..=b'S' => b'7',
        b'T'..=b'V' => b'8',
        b'W'..=b'Z' => b'9',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assigned_codes_are_sorted_and_cover_every_plan() {
        assert!(ASSIGNED.windows(2).all(|w| w[0] < w[1]));
        for p in PLANS {
            assert!(
                is_assigned(p.calling_code),
                "{} missing from ASSIGNED",
                p.calling_code
            );
            assert!(!p.regions.is_empty() && !p.rules.is_empty());
        }
    }

    #[test]
    fn calling_codes_are_prefix_free_and_regions_unique() {
        let s = |n: u16| n.to_string();
        for a in ASSIGNED {
            for b in ASSIGNED {
                assert!(
                    a == b || !s(*b).starts_with(&s(*a)),
                    "{a} is a prefix of {b}"
                );
            }
        }
        let mut seen = Vec::new();
        for p in PLANS {
            for r in p.regions {
                assert!(!seen.contains(r), "{r:?} in two plans");
                seen.push(*r);
            }
        }
        assert!(seen.len() >= 40);
    }

    #[test]
    fn every_nsn_fits_in_e164() {
        for p in PLANS {
            let (min, max) = p.length_bounds(None).unwrap();
            let cc = s_len(p.calling_code);
            assert!(
                min >= 4 && cc + max <= 15,
                "{}: {min}..{max}",
                p.calling_code
            );
        }
        fn s_len(n: u16) -> usize {
            n.to_string().len()
        }
    }

    #[test]
    fn rules_and_digits() {
        let gb = plan_by_region(Country::parse("GB").unwrap()).unwrap();
        let cases: &[(&str, bool)] = &[
            ("2079460958", true),
            ("207946095", false),
            ("02079460958", false),
            ("8001111", true),
        ];
        for (nsn, ok) in cases {
            assert_eq!(gb.is_valid_nsn(nsn.as_bytes()), *ok, "{nsn}");
        }
        let us = plan_by_code(1).unwrap();
        assert!(us.is_valid_nsn(b"2125550100"));
        assert!(
            us.is_valid_nsn(b"5551234567"),
            "exchange codes are not checked"
        );
        assert!(!us.is_valid_nsn(b"1125550100"), "area code starting with 1");
        assert_eq!(us.length_bounds(None), Some((10, 10)));
        assert_eq!(us.length_bounds(Some(b'1')), None);
        assert_eq!(gb.length_bounds(Some(b'8')), Some((7, 10)));
        for (c, d) in [
            ('7', 7),
            ('\u{FF13}', 3),
            ('\u{0665}', 5),
            ('\u{06F9}', 9),
            ('\u{0966}', 0),
        ] {
            assert_eq!(digit_value(c), Some(d));
        }
        assert_eq!(digit_value('a'), None);
        assert_eq!(keypad(b'f'), Some(b'3'));
        assert_eq!(keypad(b'-'), None);
    }
}
