//! Reading one JSON object member by member, for the web identity token and key set readers.
//!
//! Values stay raw JSON text borrowed from the input, so each reader checks each member's type
//! itself and says exactly which member is wrong. Members come back in document order (tags are
//! kept in the order issued), and [`pick`] refuses an object that names a wanted member twice,
//! so no two JSON readers can disagree about which `alg` a header has. It decides nothing else.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// The members of the JSON object `json` (and nothing after it), in document order; `None` if
/// it is not one JSON object.
pub(super) fn members(json: &[u8]) -> Option<Vec<(Cow<'_, str>, &RawValue)>> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let members = de.deserialize_map(Members).ok()?;
    de.end().ok()?;
    Some(members)
}

/// [`members`] of raw JSON text already read.
pub(super) fn members_of(raw: &RawValue) -> Option<Vec<(Cow<'_, str>, &RawValue)>> {
    members(raw.get().as_bytes())
}

/// The members of the JSON object `json` named in `names`, in the order of `names`; `None` if it
/// is not one JSON object or names one of them twice. Other members are ignored.
pub(super) fn pick<'a, const N: usize>(
    json: &'a [u8],
    names: &[&str; N],
) -> Option<[Option<&'a RawValue>; N]> {
    let mut picked = [None; N];
    for (name, value) in members(json)? {
        if let Some(slot) = names
            .iter()
            .position(|n| *n == name)
            .and_then(|i| picked.get_mut(i))
            && slot.replace(value).is_some()
        {
            return None;
        }
    }
    Some(picked)
}

/// Visits one object, collecting its members.
struct Members;

impl<'de> Visitor<'de> for Members {
    type Value = Vec<(Cow<'de, str>, &'de RawValue)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::new();
        while let Some(name) = map.next_key_seed(Name)? {
            let value: &'de RawValue = map.next_value()?;
            members.push((name, value));
        }
        Ok(members)
    }
}

/// A member name, borrowed from the input unless it has escapes.
struct Name;

impl<'de> DeserializeSeed<'de> for Name {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Name {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

/// A raw value as a string; `None` if it is not one.
pub(super) fn string(raw: &RawValue) -> Option<String> {
    serde_json::from_str(raw.get()).ok()
}

/// A raw value as an integer (`1.0`, `1e3` and strings are not); `None` if it is not one.
pub(super) fn integer(raw: &RawValue) -> Option<i64> {
    serde_json::from_str::<serde_json::Number>(raw.get())
        .ok()?
        .as_i64()
}

/// A raw value as an array of strings; `None` if it is not one.
pub(super) fn strings(raw: &RawValue) -> Option<Vec<String>> {
    serde_json::from_str(raw.get()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_keep_document_order_and_duplicates() {
        let m = members(br#" {"b": 1, "a": [2], "b": "x", "\u0063": null} "#).unwrap();
        let seen: Vec<(&str, &str)> = m.iter().map(|(k, v)| (k.as_ref(), v.get())).collect();
        assert_eq!(
            seen,
            [("b", "1"), ("a", "[2]"), ("b", "\"x\""), ("c", "null")]
        );
    }

    #[test]
    fn not_one_object_is_refused() {
        for json in [
            &b"[]"[..],
            b"1",
            b"\"s\"",
            b"{} {}",
            b"{",
            b"{\"a\":}",
            b"",
            b"\xff",
        ] {
            assert!(members(json).is_none(), "{json:?}");
        }
    }

    #[test]
    fn pick_refuses_a_wanted_member_twice_and_ignores_other_duplicates() {
        assert!(pick(br#"{"alg":"RS256","alg":"none"}"#, &["alg"]).is_none());
        assert!(pick(br#"{"alg":"RS256","\u0061lg":"none"}"#, &["alg"]).is_none());
        let [alg, kid] = pick(br#"{"x":1,"x":2,"alg":"RS256"}"#, &["alg", "kid"]).unwrap();
        assert_eq!(alg.map(RawValue::get), Some("\"RS256\""));
        assert!(kid.is_none());
    }

    #[test]
    fn typed_readers_are_exact() {
        let raw = |s: &str| serde_json::from_str::<Box<RawValue>>(s).unwrap();
        assert_eq!(integer(&raw("1700000000")), Some(1_700_000_000));
        assert_eq!(integer(&raw("-5")), Some(-5));
        assert_eq!(integer(&raw("1700000000.0")), None);
        assert_eq!(integer(&raw("1e3")), None);
        assert_eq!(integer(&raw("\"1\"")), None);
        assert_eq!(integer(&raw("18446744073709551615")), None);
        assert_eq!(string(&raw("\"a\\nb\"")), Some("a\nb".to_owned()));
        assert_eq!(string(&raw("null")), None);
        assert_eq!(
            strings(&raw("[\"a\",\"b\"]")),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(strings(&raw("[\"a\",1]")), None);
    }
}
