//! JSON that keeps the order of object keys, for editing people's configuration files.
//!
//! `serde_json::Value` sorts object keys (the crate is built without `preserve_order`, and
//! turning that feature on would change every JSON answer of the daemon), so a file read and
//! written back through it would come out reordered. [`Json`] reads and writes the same
//! documents with every object in its original order; only the entry `connect` sets changes.

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap as _, SerializeSeq as _, Serializer};

/// A JSON value whose objects keep their key order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number, as serde_json reads it.
    Number(serde_json::Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, in its keys' order.
    Object(IndexMap<String, Json>),
}

impl Json {
    /// An object of `entries`, in that order.
    pub fn object<'a>(entries: impl IntoIterator<Item = (&'a str, Json)>) -> Self {
        Json::Object(
            entries
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value))
                .collect(),
        )
    }

    /// A string value.
    pub fn string(text: impl Into<String>) -> Self {
        Json::String(text.into())
    }

    /// The members of the JSON object in `existing`, a configuration file's text (none, or only
    /// white space, counts as `{}`); anything else is an error that says what it is.
    pub fn object_file(existing: Option<&str>) -> anyhow::Result<IndexMap<String, Json>> {
        let root = match existing {
            Some(text) if !text.trim().is_empty() => serde_json::from_str::<Json>(text)
                .map_err(|err| anyhow::anyhow!("the file is not valid JSON: {err}"))?,
            _ => return Ok(IndexMap::new()),
        };
        match root {
            Json::Object(entries) => Ok(entries),
            _ => anyhow::bail!("the file is JSON but not an object"),
        }
    }

    /// The document pretty-printed (two-space indent) with a final newline.
    pub fn to_pretty(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("JSON values always serialize");
        text.push('\n');
        text
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => serializer.serialize_unit(),
            Json::Bool(b) => serializer.serialize_bool(*b),
            Json::Number(n) => n.serialize(serializer),
            Json::String(s) => serializer.serialize_str(s),
            Json::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
        Json::deserialize(deserializer)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        serde_json::Number::from_f64(v)
            .map(Json::Number)
            .ok_or_else(|| E::custom("a number that JSON cannot hold"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut entries = IndexMap::new();
        while let Some((key, value)) = map.next_entry::<String, Json>()? {
            entries.insert(key, value);
        }
        Ok(Json::Object(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_order_and_values_their_form() {
        let text = r#"{"zeta": 1, "alpha": {"y": [true, null, -2, 1.5], "b": "s"}, "mid": 18446744073709551615}"#;
        let json: Json = serde_json::from_str(text).unwrap();
        let compact = serde_json::to_string(&json).unwrap();
        assert_eq!(
            compact,
            r#"{"zeta":1,"alpha":{"y":[true,null,-2,1.5],"b":"s"},"mid":18446744073709551615}"#
        );
        let again: Json = serde_json::from_str(&json.to_pretty()).unwrap();
        assert_eq!(again, json);
    }
}
