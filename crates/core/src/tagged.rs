//! Internally tagged enums (`{"type": "call", ...}`) read without serde's `Content` buffer.
//!
//! serde's own `#[serde(tag = "...")]` reads the whole object into its private `Content` tree
//! and then reads the variant again from that tree, so every type reachable from a variant gets
//! a second copy of its reading code, specialised for `Content` (about a third of the module's
//! serde code was those copies). Here the object is kept as raw JSON text, its tag is read
//! first, and the variant is then read from the same text by `serde_json`'s own text reader,
//! whose code for those types the module has anyway.
//!
//! Use: derive `Deserialize` with `#[serde(remote = "Self")]` instead of `tag`: the derive then
//! writes an inherent, externally tagged `deserialize`, and the `Deserialize` impl is
//!
//! ```text
//! impl<'de> Deserialize<'de> for Intent {
//!     fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
//!         crate::tagged::read(d, "Intent", "type", |t| Intent::deserialize(t))
//!     }
//! }
//! ```
//!
//! (as `crate::intents` does; the crate-private path keeps it out of doc tests).
//!
//! The JSON accepted is the same as serde's: an object whose `tag` field names the variant (by
//! name or index), the variant's fields beside it, unknown fields ignored; a missing tag is
//! "missing field `type`", an unknown one "unknown variant `x`, expected one of ...". A type
//! that is also `Serialize` cannot use this (`remote` would change how it is written too).

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, IgnoredAny, IntoDeserializer, MapAccess, SeqAccess, VariantAccess, Visitor};
use serde_json::value::RawValue;

/// Reads an internally tagged `T` from `d`: `externally` is the derive's inherent
/// (externally tagged, `remote = "Self"`) `deserialize`.
pub fn read<'de, D, T>(d: D, name: &'static str, tag: &'static str, externally: impl FnOnce(Tagged<'_>) -> Result<T, serde_json::Error>) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    let raw = <Box<RawValue>>::deserialize(d)?;
    let text = raw.get();
    let (name, seq) = TagOf { name, tag }.deserialize(&mut serde_json::Deserializer::from_str(text)).map_err(bare::<D::Error>)?;
    // The array form's fields are the array without its tag, read as serde reads them after the
    // tag: serde_json's struct reader reads an array with the variant's `visit_seq`. A visitor
    // that skipped the tag itself would bring a copy of serde_json's array reader into the
    // module for every struct variant (about 20 KB); the text is rebuilt instead, only for this
    // form, which no writer uses.
    let rest;
    let text = if seq {
        rest = without_first(text).ok_or_else(|| <D::Error as de::Error>::custom("an internally tagged enum's array lost its tag"))?;
        rest.as_str()
    } else {
        text
    };
    externally(Tagged { name, body: Body { text } }).map_err(bare::<D::Error>)
}

/// The message of an error from reading the raw text, without its "at line 1 column 9" (the
/// outer reader adds its own place, as serde's `Content` errors had it).
fn bare<E: de::Error>(e: serde_json::Error) -> E {
    let text = e.to_string();
    let place = format!(" at line {} column {}", e.line(), e.column());
    E::custom(text.strip_suffix(place.as_str()).unwrap_or(&text))
}

/// A variant named by the tag: its name, or (in the array form serde also reads, the tag first)
/// its index.
pub enum Name {
    Text(String),
    Index(u64),
}

/// Reads the tag of an object or array, skipping everything else; `true` for an array.
struct TagOf {
    name: &'static str,
    tag: &'static str,
}

impl<'de> DeserializeSeed<'de> for TagOf {
    type Value = (Name, bool);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(Name, bool), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TagOf {
    type Value = (Name, bool);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "internally tagged enum {}", self.name)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(Name, bool), A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == self.tag {
                if found.is_some() {
                    return Err(de::Error::duplicate_field(self.tag));
                }
                found = Some(map.next_value_seed(NameOf(false))?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok((found.ok_or_else(|| de::Error::missing_field(self.tag))?, false))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(Name, bool), A::Error> {
        let name = seq.next_element_seed(NameOf(true))?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok((name, true))
    }
}

/// A tag's value: a variant's name, or in the array form also its index.
struct NameOf(bool);

impl<'de> DeserializeSeed<'de> for NameOf {
    type Value = Name;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Name, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NameOf {
    type Value = Name;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("variant identifier")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Name, E> {
        if self.0 {
            Ok(Name::Index(v))
        } else {
            Err(de::Error::invalid_type(de::Unexpected::Unsigned(v), &self))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Name, E> {
        Ok(Name::Text(v.to_owned()))
    }
}

/// The object, its variant known: what the derive's externally tagged `deserialize` reads.
pub struct Tagged<'a> {
    name: Name,
    body: Body<'a>,
}

impl<'de> Deserializer<'de> for Tagged<'de> {
    type Error = serde_json::Error;
    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("an internally tagged enum is read as an enum"))
    }
    fn deserialize_enum<V: Visitor<'de>>(self, _: &'static str, _: &'static [&'static str], v: V) -> Result<V::Value, Self::Error> {
        v.visit_enum(self)
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

impl<'de> EnumAccess<'de> for Tagged<'de> {
    type Error = serde_json::Error;
    type Variant = Body<'de>;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Body<'de>), Self::Error> {
        let v = match self.name {
            Name::Text(s) => seed.deserialize(IntoDeserializer::<serde_json::Error>::into_deserializer(s))?,
            Name::Index(i) => seed.deserialize(IntoDeserializer::<serde_json::Error>::into_deserializer(i))?,
        };
        Ok((v, self.body))
    }
}

/// The variant's fields: the whole object again (the tag among them is an unknown field), or
/// the array without its first element.
pub struct Body<'a> {
    text: &'a str,
}

impl<'de> VariantAccess<'de> for Body<'de> {
    type Error = serde_json::Error;
    fn unit_variant(self) -> Result<(), Self::Error> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Self::Error> {
        let mut d = serde_json::Deserializer::from_str(self.text);
        let v = seed.deserialize(&mut d)?;
        d.end()?;
        Ok(v)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("an internally tagged enum has no tuple variants"))
    }
    fn struct_variant<V: Visitor<'de>>(self, fields: &'static [&'static str], v: V) -> Result<V::Value, Self::Error> {
        let mut d = serde_json::Deserializer::from_str(self.text);
        let value = d.deserialize_struct("", fields, v)?;
        d.end()?;
        Ok(value)
    }
}

/// `text`, a JSON array whose first element is a string or an unsigned integer (the tag, as
/// [`TagOf`] read it), without that element: `["a", 1, 2]` is `[ 1, 2]`, `["a"]` is `[]`.
/// `None` if `text` does not start that way.
fn without_first(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let ws = |mut i: usize| {
        while b.get(i).is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r')) {
            i += 1;
        }
        i
    };
    let mut i = ws(0);
    if b.get(i) != Some(&b'[') {
        return None;
    }
    i = ws(i + 1);
    match b.get(i)? {
        b'"' => {
            i += 1;
            loop {
                match b.get(i)? {
                    b'\\' => i += 2,
                    b'"' => break,
                    _ => i += 1,
                }
            }
            i += 1;
        }
        c if c.is_ascii_digit() => {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        _ => return None,
    }
    i = ws(i);
    match b.get(i)? {
        b',' => Some(format!("[{}", &text[i + 1..])),
        b']' => Some(format!("[{}", &text[i..])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::engine::Resolution;
    use crate::model::{RecordId, RecordType};
    use crate::settings::{AuthKind, ConflictRule};

    fn back<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(v: T) {
        let text = serde_json::to_string(&v).unwrap();
        assert_eq!(serde_json::from_str::<T>(&text).unwrap(), v, "{text}");
        assert_eq!(serde_json::from_value::<T>(serde_json::from_str(&text).unwrap()).unwrap(), v, "{text}");
    }

    /// Every variant of the tagged types read through here reads back as written.
    #[test]
    fn variants_read_back() {
        let rules = [
            ConflictRule::Ask,
            ConflictRule::LastModified,
            ConflictRule::EarliestCreated,
            ConflictRule::Alphabetical,
            ConflictRule::Priority { order: vec![RecordType::new("Lead"), RecordType::new("Contact")] },
        ];
        for r in rules.clone() {
            back(r);
        }
        back(AuthKind::ApiToken);
        back(AuthKind::OAuth { client_id: "id".into(), auth_url: "https://a/\"x\"".into(), token_url: "t".into(), scopes: vec!["s1".into()] });
        back(Resolution::Contacts { ids: vec![RecordId::new("r1")] });
        back(Resolution::ApplyRule { rule: rules[4].clone() });
        back(Resolution::CreatePlaceholder);
        back(Resolution::Dismiss);
    }

    /// An array without its tag, whatever the tag's spelling.
    #[test]
    fn without_the_first_element() {
        use super::without_first;
        assert_eq!(without_first(r#"["a", 1, {"b": [2]}]"#).as_deref(), Some(r#"[ 1, {"b": [2]}]"#));
        assert_eq!(without_first(" [ 12 , 3 ]").as_deref(), Some("[ 3 ]"));
        assert_eq!(without_first(r#"["a\"]\\", 3]"#).as_deref(), Some("[ 3]"));
        assert_eq!(without_first("[\"a\"]").as_deref(), Some("[]"));
        assert_eq!(without_first("[\t\"a\"\r\n]").as_deref(), Some("[]"));
        for bad in ["", "[", "[\"a", "[\"a\\\"]", "{\"a\": 1}", "[true, 1]", "[-1, 1]", "[\"a\" 1]", "[1.5, 2]"] {
            assert_eq!(without_first(bad), None, "{bad:?}");
        }
    }

    /// Where the tag is, what else is beside it, and what serde says when it is wrong.
    #[test]
    fn the_tag_anywhere_and_serdes_words() {
        let read = |v: serde_json::Value| serde_json::from_str::<Resolution>(&v.to_string()).map_err(|e| e.to_string());
        assert_eq!(read(json!({"ids": ["a"], "extra": [1, {}], "choice": "contacts"})), Ok(Resolution::Contacts { ids: vec![RecordId::new("a")] }));
        assert_eq!(read(json!(["contacts", ["a"]])), Ok(Resolution::Contacts { ids: vec![RecordId::new("a")] }));
        assert_eq!(read(json!([3])), Ok(Resolution::Dismiss));
        for (v, want) in [
            (json!({}), "missing field `choice`"),
            (json!({"choice": "maybe"}), "unknown variant `maybe`, expected one of"),
            (json!({"choice": 1}), "invalid type: integer `1`"),
            (json!({"choice": "contacts"}), "missing field `ids`"),
            (json!("dismiss"), "expected internally tagged enum Resolution"),
            (json!([]), "invalid length 0"),
        ] {
            let err = read(v.clone()).expect_err(&v.to_string());
            assert!(err.contains(want), "{v}: {err:?} should say {want:?}");
        }
        // The array form, the tag first: spaces, escapes in the tag, too few or too many fields.
        assert_eq!(read(json!(["contacts", ["a"]])), read(json!([0, ["a"]])));
        let text = |t: &str| serde_json::from_str::<Resolution>(t).map_err(|e| e.to_string());
        assert_eq!(text(" [ \"contacts\" ,\n[\"a\"] ] "), Ok(Resolution::Contacts { ids: vec![RecordId::new("a")] }));
        assert_eq!(text(r#"["apply_rule", {"rule": "ask"}]"#), Ok(Resolution::ApplyRule { rule: ConflictRule::Ask }));
        assert!(text(r#"["cont\u0061cts", ["a"]]"#).is_ok_and(|r| r == Resolution::Contacts { ids: vec![RecordId::new("a")] }));
        assert!(text(r#"["contacts"]"#).unwrap_err().contains("invalid length 0"));
        assert!(text(r#"["contacts", ["a"], 1]"#).unwrap_err().contains("trailing"));
        let twice = serde_json::from_str::<Resolution>(r#"{"choice": "dismiss", "choice": "dismiss"}"#).unwrap_err().to_string();
        assert!(twice.contains("duplicate field `choice`"), "{twice}");
    }
}
