//! Decision vectors: `tests/data/policy/vectors/*.json`, each an array of groups
//! `{doc, policy, kind?, defaults?, cases: [{name, principal?, action?, resource?, context?,
//! expect, statement?, principal_match?, miss?}]}`. Context values: a string, an array of
//! strings (multi-valued), `{"bool"|"number"|"date"|"ip": ...}`, or `null` (absent).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "fixture loader: a malformed fixture must fail the test loudly"
)]

use std::borrow::Cow;
use std::collections::HashMap;

use lattice_authz::policy::{
    AwsIdentity, ConditionKey, Context, MissReason, Outcome, ParseOptions, Policy, PolicyKind,
    Principal, PrincipalMatch, Request, Value,
};
use serde_json::{Map, Value as J};

/// A context backed by a map of lower-cased keys.
pub(crate) struct MapContext(pub(crate) HashMap<String, Value<'static>>);

impl Context for MapContext {
    fn value(&self, key: &ConditionKey) -> Value<'_> {
        self.0.get(key.name()).cloned().unwrap_or(Value::Absent)
    }
}

pub(crate) fn context(obj: &Map<String, J>) -> MapContext {
    let mut m = HashMap::new();
    for (k, v) in obj {
        let value = match v {
            J::Null => continue,
            J::String(s) => Value::String(Cow::Owned(s.clone())),
            J::Array(a) => Value::Strings(
                a.iter()
                    .map(|s| Cow::Owned(s.as_str().unwrap().to_owned()))
                    .collect(),
            ),
            J::Object(o) => match o.iter().next().unwrap() {
                (t, J::Bool(b)) if t == "bool" => Value::Bool(*b),
                (t, n) if t == "number" => Value::Number(n.as_i64().unwrap()),
                (t, n) if t == "date" => Value::Date(n.as_i64().unwrap()),
                (t, J::String(ip)) if t == "ip" => Value::Ip(ip.parse().unwrap()),
                other => panic!("bad typed value {other:?}"),
            },
            other => panic!("bad context value {other:?}"),
        };
        m.insert(k.to_ascii_lowercase(), value);
    }
    MapContext(m)
}

pub(crate) fn kind(v: Option<&J>) -> PolicyKind {
    match v.and_then(J::as_str).unwrap_or("Resource") {
        "Resource" => PolicyKind::Resource,
        "Identity" => PolicyKind::Identity,
        "ServiceControl" => PolicyKind::ServiceControl,
        "ResourceControl" => PolicyKind::ResourceControl,
        other => panic!("bad kind {other}"),
    }
}

/// `"anonymous"`, `{"aws": arn, "account"?, "role_arn"?, "federating_user_arn"?}`,
/// `{"service": name}` or `{"federated": provider}`.
pub(crate) fn principal(v: &J) -> Principal<'_> {
    if v.as_str() == Some("anonymous") {
        return Principal::Anonymous;
    }
    let s = |k: &str| v.get(k).and_then(J::as_str);
    if let Some(svc) = s("service") {
        return Principal::Service(svc);
    }
    if let Some(f) = s("federated") {
        return Principal::Federated(f);
    }
    let arn = s("aws").expect("principal needs aws, service, federated or \"anonymous\"");
    Principal::Aws(AwsIdentity {
        account: s("account").unwrap_or_else(|| arn.split(':').nth(4).unwrap()),
        arn,
        role_arn: s("role_arn"),
        federating_user_arn: s("federating_user_arn"),
    })
}

fn pm(s: &str) -> PrincipalMatch {
    match s {
        "Wildcard" => PrincipalMatch::Wildcard,
        "Exact" => PrincipalMatch::Exact,
        "Role" => PrincipalMatch::Role,
        "Account" => PrincipalMatch::Account,
        "Other" => PrincipalMatch::Other,
        other => panic!("bad principal_match {other}"),
    }
}

fn run_file(path: &std::path::Path) -> usize {
    let groups: Vec<J> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut n = 0;
    let anonymous = J::String("anonymous".into());
    for g in &groups {
        let doc = g["doc"].as_str().unwrap_or("?");
        let text = match &g["policy"] {
            J::String(s) => s.clone(),
            other => other.to_string(),
        };
        let policy = Policy::compile(&text, &ParseOptions::new(kind(g.get("kind"))))
            .unwrap_or_else(|e| panic!("{doc}: policy does not compile: {e:#?}"))
            .policy;
        let empty = J::Object(Map::new());
        let defaults = g.get("defaults").unwrap_or(&empty);
        for case in g["cases"].as_array().unwrap() {
            let name = format!(
                "{} / {doc} / {}",
                path.display(),
                case["name"].as_str().unwrap()
            );
            let field = |k: &str| case.get(k).or_else(|| defaults.get(k));
            let mut ctx = defaults
                .get("context")
                .and_then(J::as_object)
                .cloned()
                .unwrap_or_default();
            for (k, v) in case
                .get("context")
                .and_then(J::as_object)
                .into_iter()
                .flatten()
            {
                ctx.insert(k.clone(), v.clone());
            }
            let request = Request {
                principal: principal(field("principal").unwrap_or(&anonymous)),
                action: field("action")
                    .and_then(J::as_str)
                    .unwrap_or("vpc-lattice-svcs:Invoke"),
                resource: field("resource").and_then(J::as_str).unwrap_or(
                    "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0/",
                ),
            };
            let e = policy.evaluate(&request, &context(&ctx));
            let want = match case["expect"].as_str().unwrap() {
                "Allow" => Outcome::Allow,
                "ExplicitDeny" => Outcome::ExplicitDeny,
                "NoMatch" => Outcome::NoMatch,
                other => panic!("{name}: bad expect {other}"),
            };
            assert_eq!(e.outcome, want, "{name}: {e:#?}");
            match case.get("statement") {
                Some(J::Number(i)) => {
                    assert_eq!(e.statement.map(|s| s.index as u64), i.as_u64(), "{name}")
                }
                Some(J::String(sid)) => assert_eq!(
                    e.statement.and_then(|s| s.sid),
                    Some(sid.as_str()),
                    "{name}"
                ),
                _ => {}
            }
            if let Some(m) = case.get("principal_match").and_then(J::as_str) {
                assert_eq!(e.principal_match, Some(pm(m)), "{name}");
            }
            if let Some(miss) = case.get("miss") {
                let got = e
                    .miss
                    .unwrap_or_else(|| panic!("{name}: no miss in {e:#?}"));
                assert_eq!(
                    got.statement.index as u64,
                    miss["statement"].as_u64().unwrap(),
                    "{name}"
                );
                let reason = match got.reason {
                    MissReason::Action => "Action".to_owned(),
                    MissReason::Resource => "Resource".to_owned(),
                    MissReason::Principal => "Principal".to_owned(),
                    MissReason::Condition { operator, key } => {
                        format!("Condition {operator} {key}")
                    }
                };
                assert_eq!(reason, miss["reason"].as_str().unwrap(), "{name}");
            }
            n += 1;
        }
    }
    n
}

#[test]
fn decision_vectors() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/policy/vectors");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let total: usize = files.iter().map(|f| run_file(f)).sum();
    assert!(total >= 150, "only {total} vectors ran");
}
