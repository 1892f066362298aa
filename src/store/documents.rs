//! A world's documents: YAML or JSON text parsed into documents, each either a piece of the
//! world or a Kubernetes resource, merged into one `WorldSpec` that remembers where each item
//! came from, so that a problem points at its file and document. Every node read is counted
//! against the load's `max_world_nodes` as it is read, so a world past it is refused before it
//! is built.
//!
//! It must not touch: the file system (the texts are read by `files`), the compilation of the
//! world, the snapshot.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::lattice::Problem;
use crate::lattice::spec::WorldSpec;
use crate::policy::Severity;

use super::error::{DocumentError, DocumentsError, FileProblem, LoadError, MergeError};
use super::kubernetes::{self, Applied, IamAuthPolicy, Override, Resource};
use super::tree::Node;

/// The YAML parser's options for a file, with `left` nodes of the load's budget left.
///
/// The parser counts the nodes it reads and stops at once past `left`; copies made by aliases
/// are counted afterwards ([`Node::nodes`]), and the parser's own caps on aliases and anchor
/// copies (left at their defaults, but never above twice the nodes left) stop inputs that
/// amplify before they are built. Events are not kept: at most two a node, plus those of
/// documents and aliases, which the parser caps.
///
/// Errors carry their line and column but no snippet: to quote the lines around an error the
/// parser indexes every line of the file, 8 to 16 bytes a line, which took 100 MiB for a 32 MiB
/// file of short lines that stopped at the node limit.
fn yaml_options(left: u64) -> serde_saphyr::Options {
    let nodes = usize::try_from(left).unwrap_or(usize::MAX);
    let replays = serde_saphyr::options::AliasLimits::default()
        .max_total_replayed_events
        .min(nodes.saturating_mul(2));
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_nodes: nodes,
            max_events: nodes.saturating_mul(2).saturating_add(200_000),
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: replays,
        },
        with_snippet: false,
    }
}

/// The nodes a load may still parse: every mapping, sequence and scalar of every document of
/// every file, keys included (what YAML calls nodes; in JSON, every value and every key).
#[derive(Debug)]
struct NodeBudget {
    limit: u64,
    left: Cell<u64>,
    /// Set when a count ran past the limit.
    exceeded: Cell<bool>,
}

impl NodeBudget {
    fn new(limit: u64) -> Self {
        Self {
            limit,
            left: Cell::new(limit),
            exceeded: Cell::new(false),
        }
    }

    /// Takes `n` nodes, or refuses if fewer are left.
    fn take(&self, n: u64) -> Result<(), DocumentsError> {
        match self.left.get().checked_sub(n) {
            Some(left) => {
                self.left.set(left);
                Ok(())
            }
            None => {
                self.exceeded.set(true);
                Err(DocumentsError::TooManyNodes { limit: self.limit })
            }
        }
    }
}

/// One document of a world file.
#[derive(Debug)]
enum Document<'t> {
    /// The text of one JSON document, already checked to be JSON without repeated keys: it is
    /// parsed straight into its type. (A tree of the 25.7 MiB scale world took 186 MiB.)
    Json(&'t str),
    /// The tree the YAML parser gives.
    Tree(Node),
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
            Self::Tree(node) => *node == Node::Null,
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
            Self::Tree(node) => {
                let text = |v: Option<&Node>| v.and_then(Node::as_str).map(str::to_owned);
                (text(node.get("kind")), text(node.get("apiVersion")))
            }
        };
        Some((kind?, api.unwrap_or_default()))
    }

    /// The document as a `T`.
    fn parse<T: serde::de::DeserializeOwned>(self) -> Result<T, DocumentError> {
        match self {
            Self::Json(text) => serde_json::from_str(text).map_err(DocumentError::Json),
            Self::Tree(node) => T::deserialize(node).map_err(DocumentError::Tree),
        }
    }
}

/// Every document of a world file (YAML, or JSON, which is YAML), its nodes taken from
/// `budget` as they are read.
///
/// Text that is a stream of JSON values is read by the JSON parser, many times faster on large
/// generated worlds, one document at a time and straight into its types; anything else,
/// including JSON the JSON parser refuses, by the YAML parser, whose errors are the ones
/// reported.
fn read_documents<'t>(
    text: &'t str,
    budget: &NodeBudget,
) -> Result<Vec<Document<'t>>, DocumentsError> {
    if let Some(docs) = json_documents(text, budget)? {
        return Ok(docs.into_iter().map(Document::Json).collect());
    }
    let options = yaml_options(budget.left.get());
    let trees = serde_saphyr::from_multiple_with_options::<Node>(text, options).map_err(|e| {
        if is_node_breach(&e) {
            DocumentsError::TooManyNodes {
                limit: budget.limit,
            }
        } else {
            DocumentsError::Syntax(e)
        }
    })?;
    // The parser counted the nodes it read; the trees also hold the copies aliases made.
    for tree in &trees {
        budget.take(tree.nodes())?;
    }
    Ok(trees.into_iter().map(Document::Tree).collect())
}

/// Whether the YAML parser stopped at its node budget.
fn is_node_breach(mut error: &serde_saphyr::Error) -> bool {
    use serde_saphyr::Error;
    use serde_saphyr::budget::BudgetBreach;
    loop {
        match error {
            Error::WithSnippet { error: inner, .. } | Error::AliasError { error: inner, .. } => {
                error = inner;
            }
            Error::Budget {
                breach: BudgetBreach::Nodes { .. },
                ..
            } => return true,
            _ => return false,
        }
    }
}

/// The texts of the JSON values `text` is a stream of, if it is one and no object in it
/// repeats a key, their nodes taken from `budget`. `serde_json::Value` keeps the last of
/// repeated keys; the YAML parser refuses them. Refusing here sends such a file to the YAML
/// parser, so a world means the same, and fails with the same error, in either syntax.
///
/// Each document is counted before the next is looked at, and the count stops at the budget,
/// so a file of more nodes than the budget costs no more than reading up to it.
fn json_documents<'t>(
    text: &'t str,
    budget: &NodeBudget,
) -> Result<Option<Vec<&'t str>>, DocumentsError> {
    if !text.trim_start().starts_with(['{', '[']) {
        return Ok(None);
    }
    let before = budget.left.get();
    let mut docs = Vec::new();
    for raw in serde_json::Deserializer::from_str(text).into_iter::<&serde_json::value::RawValue>()
    {
        let Ok(raw) = raw else {
            budget.left.set(before);
            return Ok(None);
        };
        let mut de = serde_json::Deserializer::from_str(raw.get());
        if serde::de::DeserializeSeed::deserialize(Checked(budget), &mut de).is_err() {
            if budget.exceeded.get() {
                return Err(DocumentsError::TooManyNodes {
                    limit: budget.limit,
                });
            }
            // Not for the JSON parser: the YAML parser reads the whole text again.
            budget.left.set(before);
            return Ok(None);
        }
        docs.push(raw.get());
    }
    Ok(Some(docs))
}

/// Reads a JSON value only to count its nodes against the budget and to check that no object
/// in it repeats a key: it keeps nothing.
#[derive(Clone, Copy)]
struct Checked<'b>(&'b NodeBudget);

impl Checked<'_> {
    fn node<E: serde::de::Error>(self) -> Result<(), E> {
        self.0
            .take(1)
            .map_err(|_| E::custom("more nodes than the budget"))
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Checked<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Checked<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.node()
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        self.node()
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        self.node()
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        self.node()
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<(), E> {
        if !v.is_finite() {
            return Err(E::custom("a number that is not finite"));
        }
        self.node()
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<(), E> {
        self.node()
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.node()?;
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.node()?;
        let mut keys = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            self.node()?;
            map.next_value_seed(self)?;
            if !keys.insert(key) {
                return Err(serde::de::Error::custom("duplicate key"));
            }
        }
        Ok(())
    }
}

/// Where each list item of the merged world came from, to point problems at files.
///
/// It takes memory by document, not by item: the items a document adds to a collection are one
/// run of the merged list, so a run and a file's name, kept once, locate all of them.
#[derive(Debug, Default)]
pub(super) struct Origins {
    /// The world's files, each named once (`None`: the built-in world).
    files: Vec<Option<String>>,
    /// Per collection, the runs of its merged list in order.
    runs: BTreeMap<&'static str, Vec<Run>>,
    /// Pointer prefixes replaced wholesale (policies applied from `IAMAuthPolicy` resources).
    overrides: Vec<Override>,
    multi_document: bool,
}

/// The items one document added to one collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    /// The merged index of the run's first item.
    start: usize,
    /// The file, an index of [`Origins::files`].
    file: usize,
    /// The document's index in its file.
    doc: usize,
}

/// Most problems a load lists; the others are counted in one more problem. A world of invalid
/// items has a problem for each, and each problem, with its pointer, message and hint, takes
/// hundreds of bytes: listed whole, they took more memory than anything else in such a load.
pub(super) const MAX_LISTED_PROBLEMS: usize = 1000;

impl Origins {
    /// The problems located in their files, the first [`MAX_LISTED_PROBLEMS`] of them, then one
    /// that counts the others (an error if any of them is).
    pub(super) fn locate_all(
        &self,
        problems: impl ExactSizeIterator<Item = Problem>,
    ) -> Vec<FileProblem> {
        let total = problems.len();
        let mut more_errors = false;
        let mut listed = Vec::with_capacity(total.min(MAX_LISTED_PROBLEMS + 1));
        for (i, problem) in problems.enumerate() {
            if i < MAX_LISTED_PROBLEMS {
                listed.push(self.locate(problem));
            } else {
                more_errors |= problem.severity == Severity::Error;
            }
        }
        if total > MAX_LISTED_PROBLEMS {
            listed.push(FileProblem {
                file: None,
                problem: Problem {
                    severity: if more_errors {
                        Severity::Error
                    } else {
                        Severity::Warning
                    },
                    pointer: String::new(),
                    message: format!(
                        "{} more problems, not listed (only the first {MAX_LISTED_PROBLEMS} are)",
                        total - MAX_LISTED_PROBLEMS
                    ),
                    hint: None,
                },
            });
        }
        listed
    }

    /// Records that `count` items of `collection`, from merged index `start` on, are the items
    /// of document `doc` of the last file added.
    fn add_run(&mut self, collection: &'static str, start: usize, count: usize, doc: usize) {
        if count == 0 {
            return;
        }
        let file = self.files.len().saturating_sub(1);
        self.runs
            .entry(collection)
            .or_default()
            .push(Run { start, file, doc });
    }

    /// The file, document and index within it of item `index` of `collection`.
    fn item(&self, collection: &str, index: usize) -> Option<(Option<&String>, usize, usize)> {
        let runs = self.runs.get(collection)?;
        let run = runs.get(runs.partition_point(|r| r.start <= index).checked_sub(1)?)?;
        let file = self.files.get(run.file)?.as_ref();
        Some((file, run.doc, index - run.start))
    }

    pub(super) fn locate(&self, problem: Problem) -> FileProblem {
        for (prefix, file, replacement, resource) in &self.overrides {
            if let Some(rest) = problem.pointer.strip_prefix(prefix.as_str()) {
                let pointer = format!("{replacement}{rest}");
                let message = format!("{resource}: {}", problem.message);
                return FileProblem {
                    file: file.clone(),
                    problem: Problem {
                        pointer,
                        message,
                        ..problem
                    },
                };
            }
        }
        let mut parts = problem.pointer.splitn(4, '/');
        let (_, collection, index, rest) = (parts.next(), parts.next(), parts.next(), parts.next());
        if let (Some(collection), Some(index)) =
            (collection, index.and_then(|i| i.parse::<usize>().ok()))
            && let Some((file, doc, local)) = self.item(collection, index)
        {
            let doc = if self.multi_document {
                format!("[document {doc}] ")
            } else {
                String::new()
            };
            let rest = rest.map(|r| format!("/{r}")).unwrap_or_default();
            let pointer = format!("{doc}/{collection}/{local}{rest}");
            return FileProblem {
                file: file.cloned(),
                problem: Problem { pointer, ..problem },
            };
        }
        // Not in a list: the file of the first item, as good a guess as any.
        let file = self
            .runs
            .values()
            .find_map(|runs| runs.first())
            .and_then(|run| self.files.get(run.file).cloned().flatten());
        FileProblem { file, problem }
    }
}

/// Parses and merges the world's files, consuming them: each file's text is dropped once its
/// documents are read, so the compiled world is built without the texts beside it. More than
/// `max_nodes` nodes in all refuse the whole world at once, with that one problem.
pub(super) fn merge(
    files: Vec<(Option<PathBuf>, String)>,
    max_nodes: u64,
) -> Result<(WorldSpec, Origins), LoadError> {
    let mut merged = WorldSpec::default();
    let mut origins = Origins::default();
    let mut problems = Vec::new();
    let mut policies: Vec<Applied> = Vec::new();
    let budget = NodeBudget::new(max_nodes);
    let error = |file: &Option<String>, pointer: String, message: String| FileProblem {
        file: file.clone(),
        problem: Problem {
            severity: Severity::Error,
            pointer,
            message,
            hint: None,
        },
    };
    for (path, text) in files {
        let file = path.as_ref().map(|p| p.display().to_string());
        origins.files.push(file.clone());
        let docs = match read_documents(&text, &budget) {
            Ok(docs) => docs,
            Err(e @ DocumentsError::TooManyNodes { .. }) => {
                return Err(LoadError {
                    problems: vec![error(&file, String::new(), e.to_string())],
                });
            }
            Err(DocumentsError::Syntax(e)) => {
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
                let at = format!("[document {d}]");
                let mut object = KubernetesObject {
                    file: &file,
                    policies: &mut policies,
                    problems: &mut problems,
                };
                match kubernetes::classify(&kind, &api) {
                    Resource::IamAuthPolicy => object.policy(doc.parse(), at),
                    Resource::List => match doc.parse::<kubernetes::List>() {
                        Ok(list) => object.list(&kind, list, &at),
                        Err(e) => object.problem(at, format!("{kind}: {e}")),
                    },
                    resource => object.other(&resource, &kind, &api, at),
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
            if let Err(e) = merge_part(&mut merged, part, d, &mut origins) {
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

/// Reads one Kubernetes object (a document or a `List` item) into the policies to apply or the
/// problems of the load.
struct KubernetesObject<'a> {
    file: &'a Option<String>,
    policies: &'a mut Vec<Applied>,
    problems: &'a mut Vec<FileProblem>,
}

impl KubernetesObject<'_> {
    fn problem(&mut self, pointer: String, message: String) {
        self.problems.push(FileProblem {
            file: self.file.clone(),
            problem: Problem {
                severity: Severity::Error,
                pointer,
                message,
                hint: None,
            },
        });
    }

    /// An `IAMAuthPolicy` of a served version, parsed.
    fn policy<E: std::fmt::Display>(&mut self, parsed: Result<IamAuthPolicy, E>, at: String) {
        match parsed {
            Ok(p) => self.policies.push((p, self.file.clone(), at)),
            Err(e) => self.problem(at, format!("IAMAuthPolicy: {e}")),
        }
    }

    /// Every item of a `List`, as if it were a document of its own.
    fn list(&mut self, kind: &str, list: kubernetes::List, at: &str) {
        for (i, item) in list.items.into_iter().enumerate() {
            let at = format!("{at}/items/{i}");
            let text = |key: &str| item.get(key).and_then(serde_json::Value::as_str);
            let Some(item_kind) = text("kind").map(str::to_owned) else {
                self.problem(at, format!("an item of a {kind} without a `kind`"));
                continue;
            };
            let api = text("apiVersion").unwrap_or_default().to_owned();
            match kubernetes::classify(&item_kind, &api) {
                Resource::IamAuthPolicy => self.policy(serde_json::from_value(item), at),
                // Kubernetes lists hold objects, never lists.
                Resource::List => self.problem(at, format!("a {item_kind} inside a {kind}")),
                resource => self.other(&resource, &item_kind, &api, at),
            }
        }
    }

    /// An object that is not read: skipped, or a problem.
    fn other(&mut self, resource: &Resource, kind: &str, api: &str, at: String) {
        match resource {
            Resource::Other => tracing::debug!(
                message = "Kubernetes object skipped: only IAMAuthPolicy is read.",
                file = self.file.as_deref().unwrap_or(""),
                at,
                kind,
                api_version = api,
            ),
            Resource::UnservedVersion => self.problem(
                at,
                format!(
                    "IAMAuthPolicy of `{api}`, which the AWS Gateway API Controller does not serve (it serves {})",
                    kubernetes::served_versions()
                ),
            ),
            Resource::NotKubernetes => self.problem(
                at,
                format!("`kind: {kind}` without an `apiVersion`: neither a Kubernetes object nor a part of a world"),
            ),
            Resource::IamAuthPolicy | Resource::List => {}
        }
    }
}

fn merge_part(
    into: &mut WorldSpec,
    part: WorldSpec,
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
            origins.add_run($name, into.$field.len(), $field.len(), doc);
            // The first document's list is taken as it is, not copied.
            if into.$field.is_empty() {
                into.$field = $field;
            } else {
                into.$field.extend($field);
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
        assert_eq!(
            merge_part(&mut merged, part("ap-northeast-1"), 0, &mut origins),
            Ok(())
        );
        let error = merge_part(&mut merged, part("us-east-1"), 1, &mut origins).unwrap_err();
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
        match read_documents(text, &NodeBudget::new(u64::MAX)) {
            Ok(docs) => Ok(docs
                .into_iter()
                .map(|doc| doc.parse::<serde_json::Value>().unwrap())
                .collect()),
            Err(DocumentsError::Syntax(e)) => Err(e),
            Err(e @ DocumentsError::TooManyNodes { .. }) => unreachable!("{e}"),
        }
    }

    #[test]
    fn json_documents_are_read_as_text_and_their_kind_peeked() {
        let text = r#"{"kind": "IAMAuthPolicy", "apiVersion": "v1", "spec": {}}
null
["IAMAuthPolicy", "v1"] {"kind": 5} {"region": "ap-northeast-1"}"#;
        let docs = read_documents(text, &NodeBudget::new(u64::MAX)).unwrap();
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
