//! A compact tree of one YAML document: what the YAML parser gives before the document's kind
//! is known, deserialized afterwards into that kind's types.
//!
//! It takes a few words per node, where `serde_json::Value` takes a B-tree node of eleven
//! entries for every mapping, however small (about 640 bytes: a list of one-key mappings cost
//! 220 bytes a node). Values read the way `serde_json::Value` reads them (a non-finite number
//! is null), and deserialize with the same messages.
//!
//! It must not touch: the file system, the parsing of JSON, the merging of documents.

use serde::de::value::{Error, MapAccessDeserializer, MapDeserializer, SeqDeserializer};
use serde::de::{self, IntoDeserializer as _, Visitor};

/// One node of a YAML document.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    Null,
    Bool(bool),
    /// A negative integer.
    I64(i64),
    U64(u64),
    F64(f64),
    Str(Box<str>),
    Seq(Box<[Node]>),
    Map(Box<[(Box<str>, Node)]>),
}

impl Node {
    /// The value of `key`, if this is a mapping that has it.
    pub(super) fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Self::Map(entries) => entries.iter().find(|(k, _)| &**k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text, if this is a string.
    pub(super) fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Its nodes: every value and every key.
    pub(super) fn nodes(&self) -> u64 {
        let mut nodes = 0_u64;
        let mut stack = vec![self];
        while let Some(node) = stack.pop() {
            nodes = nodes.saturating_add(1);
            match node {
                Self::Seq(items) => stack.extend(items.iter()),
                Self::Map(entries) => {
                    nodes = nodes.saturating_add(u64::try_from(entries.len()).unwrap_or(u64::MAX));
                    stack.extend(entries.iter().map(|(_, v)| v));
                }
                Self::Null | Self::Bool(_) | Self::I64(_) | Self::U64(_) | Self::F64(_) => {}
                Self::Str(_) => {}
            }
        }
        nodes
    }
}

impl<'de> de::Deserialize<'de> for Node {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(u64::try_from(v).map_or(Node::I64(v), Node::U64))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::U64(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(if v.is_finite() {
            Node::F64(v)
        } else {
            Node::Null
        })
    }

    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.into()))
    }

    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v.into_boxed_str()))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items.into_boxed_slice()))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Node>()? {
            entries.push((key.into_boxed_str(), value));
        }
        Ok(Node::Map(entries.into_boxed_slice()))
    }
}

impl<'de> de::IntoDeserializer<'de, Error> for Node {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

/// The entries of a mapping, to deserialize.
fn entries(entries: Box<[(Box<str>, Node)]>) -> MapDeserializer<'static, EntryIter, Error> {
    MapDeserializer::new(entries.into_vec().into_iter().map(to_entry))
}

type EntryIter =
    std::iter::Map<std::vec::IntoIter<(Box<str>, Node)>, fn((Box<str>, Node)) -> (String, Node)>;

fn to_entry((key, value): (Box<str>, Node)) -> (String, Node) {
    (key.into_string(), value)
}

impl<'de> de::Deserializer<'de> for Node {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Self::Null => visitor.visit_unit(),
            Self::Bool(v) => visitor.visit_bool(v),
            Self::I64(v) => visitor.visit_i64(v),
            Self::U64(v) => visitor.visit_u64(v),
            Self::F64(v) => visitor.visit_f64(v),
            Self::Str(v) => visitor.visit_string(v.into_string()),
            Self::Seq(items) => {
                let mut seq = SeqDeserializer::new(items.into_vec().into_iter());
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            Self::Map(map) => {
                let mut map = entries(map);
                let value = visitor.visit_map(&mut map)?;
                map.end()?;
                Ok(value)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Self::Null => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self {
            Self::Str(variant) => visitor.visit_enum(variant.into_string().into_deserializer()),
            Self::Map(map) => {
                MapAccessDeserializer::new(entries(map)).deserialize_enum(name, variants, visitor)
            }
            other => other.deserialize_any(visitor),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Node {
        serde_saphyr::from_str(text).unwrap()
    }

    /// The tree reads and deserializes like `serde_json::Value` does, errors included.
    #[test]
    fn reads_like_a_json_value() {
        let text = "a: [1, -2, 2.5, true, ~, x]\nb: {c: d}\n";
        let node = yaml(text);
        let value: serde_json::Value = serde_saphyr::from_str(text).unwrap();
        assert_eq!(serde_json::Value::deserialize(node.clone()).unwrap(), value);
        assert_eq!(node.nodes(), 13);
        assert_eq!(
            node.get("b")
                .and_then(|b| b.get("c"))
                .and_then(Node::as_str),
            Some("d")
        );

        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[expect(dead_code, reason = "read only for its errors")]
        struct Port {
            port: u16,
        }
        for text in [
            "port: -1",
            "port: 70000",
            "port: x",
            "{}",
            "port: 1\nother: 2",
            "[]",
        ] {
            let from_node = Port::deserialize(yaml(text)).unwrap_err().to_string();
            let value: serde_json::Value = serde_saphyr::from_str(text).unwrap();
            let from_value = serde_json::from_value::<Port>(value)
                .unwrap_err()
                .to_string();
            assert_eq!(from_node, from_value, "{text}");
        }
    }

    use serde::Deserialize as _;
}
