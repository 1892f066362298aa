//! A world's documents: YAML or JSON text parsed into documents, each either a piece of the
//! world or a Kubernetes resource, merged into one `WorldSpec` that remembers where each item
//! came from, so that a problem points at its file and document.
//!
//! It must not touch: the file system (the texts are read by `files`), the compilation of the
//! world, the snapshot.

use std::collections::BTreeMap;

use crate::lattice::Problem;
use crate::lattice::spec::WorldSpec;
use crate::policy::Severity;

use super::error::FileProblem;
use super::error::{LoadError, MergeError};
use super::files::MAX_WORLD_FILE_BYTES;
use super::files::Sources;
use super::kubernetes::{self, Applied, IAM_AUTH_POLICY_API, IamAuthPolicy, Override};

/// The YAML parser's resource budget. A world file is at most [`MAX_WORLD_FILE_BYTES`]; a node
/// or event takes at least two bytes of it, so these caps never refuse a file that fits, while
/// the parser's own caps on aliases and anchor copies (left at their defaults) stop inputs that
/// amplify. The parser's default of 250,000 nodes refused worlds of 30,000 principals.
fn yaml_options() -> serde_saphyr::Options {
    let size = usize::try_from(MAX_WORLD_FILE_BYTES).unwrap_or(usize::MAX);
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_nodes: size / 2,
            max_events: size,
        },
    }
}

/// One document of a world file.
#[derive(Debug)]
enum Document<'t> {
    /// The text of one JSON document, already checked to be JSON without repeated keys: it is
    /// parsed straight into its type. (A tree of the 25.7 MiB scale world took 186 MiB.)
    Json(&'t str),
    /// The tree the YAML parser gives.
    Tree(serde_json::Value),
}

/// `kind` and `apiVersion` of a document, and nothing else.
#[derive(serde::Deserialize)]
struct Head {
    kind: Option<serde_json::Value>,
    #[serde(rename = "apiVersion")]
    api_version: Option<serde_json::Value>,
}

impl Document<'_> {
    fn is_null(&self) -> bool {
        match self {
            Self::Json(text) => text.trim() == "null",
            Self::Tree(value) => value.is_null(),
        }
    }

    /// `kind` and `apiVersion` (empty when absent or not text) of an object whose `kind` is
    /// text.
    fn kind(&self) -> Option<(String, String)> {
        let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_owned);
        let (kind, api) = match self {
            Self::Json(json) => {
                // Objects only: a derived `Deserialize` would read an array as the fields too.
                if !json.trim_start().starts_with('{') {
                    return None;
                }
                let head = serde_json::from_str::<Head>(json).ok()?;
                (text(head.kind.as_ref()), text(head.api_version.as_ref()))
            }
            Self::Tree(value) => (text(value.get("kind")), text(value.get("apiVersion"))),
        };
        Some((kind?, api.unwrap_or_default()))
    }

    /// The document as a `T`.
    fn parse<T: serde::de::DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        match self {
            Self::Json(text) => serde_json::from_str(text),
            Self::Tree(value) => serde_json::from_value(value),
        }
    }
}

/// Every document of a world file (YAML, or JSON, which is YAML).
///
/// Text that is a stream of JSON values is read by the JSON parser, many times faster on large
/// generated worlds, one document at a time and straight into its types; anything else,
/// including JSON the JSON parser refuses, by the YAML parser, whose errors are the ones
/// reported.
fn read_documents(text: &str) -> Result<Vec<Document<'_>>, serde_saphyr::Error> {
    if let Some(docs) = json_documents(text) {
        return Ok(docs.into_iter().map(Document::Json).collect());
    }
    serde_saphyr::from_multiple_with_options::<serde_json::Value>(text, yaml_options())
        .map(|docs| docs.into_iter().map(Document::Tree).collect())
}

/// The texts of the JSON values `text` is a stream of, if it is one and no object in it
/// repeats a key. `serde_json::Value` keeps the last of repeated keys; the YAML parser refuses
/// them. Refusing here sends such a file to the YAML parser, so a world means the same, and
/// fails with the same error, in either syntax.
fn json_documents(text: &str) -> Option<Vec<&str>> {
    if !text.trim_start().starts_with(['{', '[']) {
        return None;
    }
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<KeysChecked>();
    let mut docs = Vec::new();
    let mut start = 0;
    while let Some(doc) = stream.next() {
        doc.ok()?;
        let end = stream.byte_offset();
        docs.push(text.get(start..end)?);
        start = end;
    }
    Some(docs)
}

/// A JSON value read only to check that no object in it repeats a key: it keeps nothing.
struct KeysChecked;

impl<'de> serde::Deserialize<'de> for KeysChecked {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KeysCheckedVisitor)
    }
}

struct KeysCheckedVisitor;

impl<'de> serde::de::Visitor<'de> for KeysCheckedVisitor {
    type Value = KeysChecked;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(KeysChecked)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(KeysChecked)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(KeysChecked)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(KeysChecked)
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if v.is_finite() {
            Ok(KeysChecked)
        } else {
            Err(E::custom("a number that is not finite"))
        }
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(KeysChecked)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<KeysChecked>()?.is_some() {}
        Ok(KeysChecked)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut keys = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value::<KeysChecked>()?;
            if !keys.insert(key) {
                return Err(serde::de::Error::custom("duplicate key"));
            }
        }
        Ok(KeysChecked)
    }
}

/// Where each list item of the merged world came from, to point problems at files.
#[derive(Debug, Default)]
pub(super) struct Origins {
    /// (collection, merged index) → (file, document index, index within the document).
    items: BTreeMap<(String, usize), (Option<String>, usize, usize)>,
    /// Pointer prefixes replaced wholesale (policies applied from `IAMAuthPolicy` resources).
    overrides: Vec<Override>,
    multi_document: bool,
}

impl Origins {
    pub(super) fn locate(&self, problem: Problem) -> FileProblem {
        for (prefix, file, replacement) in &self.overrides {
            if let Some(rest) = problem.pointer.strip_prefix(prefix.as_str()) {
                let pointer = format!("{replacement}{rest}");
                return FileProblem {
                    file: file.clone(),
                    problem: Problem { pointer, ..problem },
                };
            }
        }
        let mut parts = problem.pointer.splitn(4, '/');
        let (_, collection, index, rest) = (parts.next(), parts.next(), parts.next(), parts.next());
        if let (Some(collection), Some(index)) =
            (collection, index.and_then(|i| i.parse::<usize>().ok()))
            && let Some((file, doc, local)) = self.items.get(&(collection.to_owned(), index))
        {
            let doc = if self.multi_document {
                format!("[document {doc}] ")
            } else {
                String::new()
            };
            let rest = rest.map(|r| format!("/{r}")).unwrap_or_default();
            let pointer = format!("{doc}/{collection}/{local}{rest}");
            return FileProblem {
                file: file.clone(),
                problem: Problem { pointer, ..problem },
            };
        }
        let file = self.items.values().next().and_then(|(f, _, _)| f.clone());
        FileProblem { file, problem }
    }
}

impl Sources {
    pub(super) fn merge(&self) -> Result<(WorldSpec, Origins), LoadError> {
        let mut merged = WorldSpec::default();
        let mut origins = Origins::default();
        let mut problems = Vec::new();
        let mut policies: Vec<Applied> = Vec::new();
        let error = |file: &Option<String>, pointer: String, message: String| FileProblem {
            file: file.clone(),
            problem: Problem {
                severity: Severity::Error,
                pointer,
                message,
                hint: None,
            },
        };
        for (path, text) in &self.files {
            let file = path.as_ref().map(|p| p.display().to_string());
            let docs = match read_documents(text) {
                Ok(docs) => docs,
                Err(e) => {
                    problems.push(error(
                        &file,
                        String::new(),
                        format!("not valid YAML/JSON: {e}"),
                    ));
                    continue;
                }
            };
            origins.multi_document |= docs.len() > 1;
            for (d, doc) in docs.into_iter().enumerate() {
                if doc.is_null() {
                    continue;
                }
                if let Some((kind, api)) = doc.kind() {
                    if kind == "IAMAuthPolicy" && api == IAM_AUTH_POLICY_API {
                        match doc.parse::<IamAuthPolicy>() {
                            Ok(p) => policies.push((p, file.clone(), d)),
                            Err(e) => problems.push(error(
                                &file,
                                format!("[document {d}]"),
                                format!("IAMAuthPolicy: {e}"),
                            )),
                        }
                    } else {
                        problems.push(error(
                            &file,
                            format!("[document {d}]"),
                            format!("unsupported resource `{api}` `{kind}` (only {IAM_AUTH_POLICY_API} IAMAuthPolicy)"),
                        ));
                    }
                    continue;
                }
                let part: WorldSpec = match doc.parse() {
                    Ok(part) => part,
                    Err(e) => {
                        problems.push(error(&file, format!("[document {d}]"), e.to_string()));
                        continue;
                    }
                };
                if let Err(e) = merge_part(&mut merged, part, &file, d, &mut origins) {
                    problems.push(error(&file, format!("[document {d}]"), e.to_string()));
                }
            }
        }
        kubernetes::apply_policies(&mut merged, policies, &mut origins.overrides, &mut problems);
        if problems
            .iter()
            .any(|p| p.problem.severity == Severity::Error)
        {
            return Err(LoadError { problems });
        }
        Ok((merged, origins))
    }
}

fn merge_part(
    into: &mut WorldSpec,
    part: WorldSpec,
    file: &Option<String>,
    doc: usize,
    origins: &mut Origins,
) -> Result<(), MergeError> {
    // Every field named, so that a new one cannot be dropped by a merge unnoticed.
    let WorldSpec {
        partition,
        region,
        organizations,
        accounts,
        managed_policies,
        users,
        roles,
        vpcs,
        security_groups,
        vpc_endpoints,
        service_networks,
        services,
        open_id_connect_providers,
        session_keys,
    } = part;
    for (name, mine, theirs) in [
        ("partition", &mut into.partition, partition),
        ("region", &mut into.region, region),
    ] {
        match (mine.as_deref(), theirs) {
            (Some(a), Some(b)) if a != b => {
                return Err(MergeError::Differs {
                    field: name,
                    value: b,
                    earlier: a.to_owned(),
                });
            }
            (None, Some(b)) => *mine = Some(b),
            _ => {}
        }
    }
    macro_rules! extend {
        ($field:ident, $name:literal) => {
            for (local, item) in $field.into_iter().enumerate() {
                origins.items.insert(
                    ($name.to_owned(), into.$field.len()),
                    (file.clone(), doc, local),
                );
                into.$field.push(item);
            }
        };
    }
    extend!(organizations, "organizations");
    extend!(accounts, "accounts");
    extend!(managed_policies, "managedPolicies");
    extend!(users, "users");
    extend!(roles, "roles");
    extend!(vpcs, "vpcs");
    extend!(security_groups, "securityGroups");
    extend!(vpc_endpoints, "vpcEndpoints");
    extend!(service_networks, "serviceNetworks");
    extend!(services, "services");
    extend!(open_id_connect_providers, "openIdConnectProviders");
    extend!(session_keys, "sessionKeys");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_that_disagree_are_told_apart() {
        let mut origins = Origins::default();
        let mut merged = WorldSpec::default();
        let part = |region: &str| WorldSpec {
            region: Some(region.to_owned()),
            ..WorldSpec::default()
        };
        let file = Some("world.yaml".to_owned());
        assert_eq!(
            merge_part(&mut merged, part("ap-northeast-1"), &file, 0, &mut origins),
            Ok(())
        );
        let error = merge_part(&mut merged, part("us-east-1"), &file, 1, &mut origins).unwrap_err();
        assert_eq!(
            error,
            MergeError::Differs {
                field: "region",
                value: "us-east-1".to_owned(),
                earlier: "ap-northeast-1".to_owned(),
            }
        );
        assert_eq!(
            error.to_string(),
            "region `us-east-1` differs from `ap-northeast-1` given earlier"
        );
    }

    /// The documents as trees, to compare the two syntaxes.
    fn parse_documents(text: &str) -> Result<Vec<serde_json::Value>, serde_saphyr::Error> {
        read_documents(text).map(|docs| {
            docs.into_iter()
                .map(|doc| doc.parse::<serde_json::Value>().unwrap())
                .collect()
        })
    }

    #[test]
    fn json_documents_are_read_as_text_and_their_kind_peeked() {
        let text = r#"{"kind": "IAMAuthPolicy", "apiVersion": "v1", "spec": {}}
null
["IAMAuthPolicy", "v1"] {"kind": 5} {"region": "ap-northeast-1"}"#;
        let docs = read_documents(text).unwrap();
        assert!(docs.iter().all(|d| matches!(d, Document::Json(_))));
        let kinds: Vec<_> = docs.iter().map(Document::kind).collect();
        assert_eq!(
            kinds,
            [
                Some(("IAMAuthPolicy".to_owned(), "v1".to_owned())),
                None,
                None,
                None,
                None
            ]
        );
        let nulls: Vec<bool> = docs.iter().map(Document::is_null).collect();
        assert_eq!(nulls, [false, true, false, false, false]);
        let region = docs
            .into_iter()
            .nth(4)
            .unwrap()
            .parse::<serde_json::Value>();
        assert_eq!(region.unwrap()["region"], "ap-northeast-1");
    }

    #[test]
    fn json_and_yaml_documents_parse_alike() {
        let json = parse_documents("{\"region\": \"ap-northeast-1\", \"n\": [1, 2]}\n").unwrap();
        let yaml = parse_documents("region: ap-northeast-1\nn: [1, 2]\n").unwrap();
        assert_eq!(json, yaml);
        // Flow-style YAML is not JSON: the YAML parser reads it.
        assert_eq!(
            parse_documents("{region: ap-northeast-1, n: [1, 2]}").unwrap(),
            yaml
        );
        // A stream of JSON values is one document each.
        assert_eq!(parse_documents("{\"a\": 1} {\"b\": 2}").unwrap().len(), 2);
        // Errors are the YAML parser's.
        let error = parse_documents("{\"a\": [1, 2}").unwrap_err().to_string();
        assert!(!error.is_empty());
        // A repeated key is an error in both syntaxes, with the YAML parser's words.
        let json = parse_documents("{\"a\": 1, \"a\": 2}")
            .unwrap_err()
            .to_string();
        let yaml = parse_documents("a: 1\na: 2\n").unwrap_err().to_string();
        assert!(json.contains("duplicate mapping key"), "{json}");
        assert!(yaml.contains("duplicate mapping key"), "{yaml}");
        // Nested objects too; equal keys in different objects are fine.
        assert!(parse_documents("{\"a\": {\"b\": 1, \"b\": 1}}").is_err());
        assert_eq!(
            parse_documents("{\"a\": {\"b\": 1}, \"c\": {\"b\": 1}}")
                .unwrap()
                .len(),
            1
        );
        // More nodes than the YAML parser's default budget of 250,000 still parse.
        let big = format!("n: [{}]\n", vec!["1"; 300_000].join(", "));
        assert_eq!(parse_documents(&big).unwrap().len(), 1);
    }
}
