//! Properties: the decision does not depend on statement order, and a policy re-serialised by
//! `Policy::to_json` compiles to one with the same normal form and the same decisions.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "generated policies are valid by construction"
)]

use std::borrow::Cow;
use std::collections::HashMap;

use lattice_authz::policy::{
    AwsIdentity, ParseOptions, Policy, PolicyKind, Principal, Request, Value,
};
use proptest::prelude::*;
use serde_json::{Value as J, json};

use super::policy_vectors::MapContext;

const SVC: &str = "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-1";

fn statement() -> impl Strategy<Value = J> {
    let effect = prop::sample::select(vec!["Allow", "Deny"]);
    let principal = prop::sample::select(vec![
        json!({"Principal": "*"}),
        json!({"Principal": {"AWS": "*"}}),
        json!({"Principal": {"AWS": "111122223333"}}),
        json!({"Principal": {"AWS": ["arn:aws:iam::111122223333:role/R", "444455556666"]}}),
        json!({"Principal": {"AWS": "arn:aws:iam::111122223333:user/u"}}),
        json!({"NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}}),
    ]);
    let action = prop::sample::select(vec![
        json!({"Action": "*"}),
        json!({"Action": "vpc-lattice-svcs:Invoke"}),
        json!({"Action": ["VPC-Lattice-Svcs:*", "s3:Get*"]}),
        json!({"NotAction": "vpc-lattice-svcs:Connect"}),
    ]);
    let resource = prop::sample::select(vec![
        json!({"Resource": "*"}),
        json!({"Resource": format!("{SVC}/*")}),
        json!({"Resource": [format!("{SVC}/api/*"), "*/health"]}),
        json!({"NotResource": format!("{SVC}/admin/*")}),
        json!({"Resource": format!("{SVC}/${{aws:PrincipalTag/team}}/*")}),
    ]);
    let condition = prop::sample::select(vec![
        json!(null),
        json!({"StringEquals": {"vpc-lattice-svcs:RequestMethod": ["GET", "HEAD"]}}),
        json!({"NumericLessThan": {"vpc-lattice-svcs:Port": 1000}}),
        json!({"StringNotLike": {"vpc-lattice-svcs:RequestPath": "/admin*"}}),
        json!({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}}),
        json!({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-1/*"}, "Bool": {"aws:SecureTransport": true}}),
        json!({"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "${aws:PrincipalTag/owner}"}}),
        json!({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["x"]}}),
    ]);
    (effect, principal, action, resource, condition).prop_map(|(e, p, a, r, c)| {
        let mut s = json!({"Effect": e});
        for part in [p, a, r] {
            for (k, v) in part.as_object().unwrap() {
                s[k] = v.clone();
            }
        }
        if let J::Object(mut c) = c {
            c.retain(|_, v| !v.is_null());
            s["Condition"] = J::Object(c);
        }
        s
    })
}

fn policy() -> impl Strategy<Value = (J, Vec<J>)> {
    (
        prop::sample::select(vec![Some("2012-10-17"), Some("2008-10-17"), None]),
        prop::collection::vec(statement(), 1..8),
    )
        .prop_map(|(v, stmts)| (v.map_or(J::Null, |v| J::String(v.into())), stmts))
}

fn text(version: &J, stmts: &[J]) -> String {
    let mut d = json!({"Statement": stmts});
    if !version.is_null() {
        d["Version"] = version.clone();
    }
    d.to_string()
}

#[derive(Debug, Clone)]
struct Req {
    who: usize,
    action: &'static str,
    path: &'static str,
    method: &'static str,
    port: i64,
    ip: &'static str,
    team: Option<&'static str>,
}

fn request() -> impl Strategy<Value = Req> {
    (
        0..4usize,
        prop::sample::select(vec![
            "vpc-lattice-svcs:Invoke",
            "vpc-lattice-svcs:Connect",
            "s3:GetObject",
        ]),
        prop::sample::select(vec!["/", "/api/x", "/health", "/admin/y", "/blue/z"]),
        prop::sample::select(vec!["GET", "POST"]),
        prop::sample::select(vec![443i64, 8080]),
        prop::sample::select(vec!["10.1.2.3", "192.0.2.1", "2001:db8::1"]),
        prop::option::of(prop::sample::select(vec!["blue", "Blue"])),
    )
        .prop_map(|(who, action, path, method, port, ip, team)| Req {
            who,
            action,
            path,
            method,
            port,
            ip,
            team,
        })
}

fn decide(policy: &Policy, r: &Req) -> (String, Option<String>) {
    let principal = match r.who {
        0 => Principal::Anonymous,
        1 => Principal::Aws(AwsIdentity {
            account: "111122223333",
            arn: "arn:aws:iam::111122223333:user/u",
            role_arn: None,
            federating_user_arn: None,
        }),
        2 => Principal::Aws(AwsIdentity {
            account: "111122223333",
            arn: "arn:aws:sts::111122223333:assumed-role/R/s",
            role_arn: Some("arn:aws:iam::111122223333:role/R"),
            federating_user_arn: None,
        }),
        _ => Principal::Aws(AwsIdentity {
            account: "444455556666",
            arn: "arn:aws:iam::444455556666:user/x",
            role_arn: None,
            federating_user_arn: None,
        }),
    };
    let resource = format!("{SVC}{}", r.path);
    let mut m: HashMap<String, Value<'static>> = HashMap::from([
        (
            "vpc-lattice-svcs:requestmethod".into(),
            Value::String(Cow::Borrowed(r.method)),
        ),
        (
            "vpc-lattice-svcs:requestpath".into(),
            Value::String(Cow::Borrowed(r.path)),
        ),
        ("vpc-lattice-svcs:port".into(), Value::Number(r.port)),
        ("aws:sourceip".into(), Value::Ip(r.ip.parse().unwrap())),
        ("aws:securetransport".into(), Value::Bool(true)),
        (
            "aws:principalorgpaths".into(),
            Value::Strings(vec![Cow::Borrowed("o-1/r/")]),
        ),
        (
            "aws:principaltag/owner".into(),
            Value::String(Cow::Borrowed("blue")),
        ),
    ]);
    if let Some(t) = r.team {
        m.insert(
            "aws:principaltag/team".into(),
            Value::String(Cow::Borrowed(t)),
        );
    }
    let e = policy.evaluate(
        &Request {
            principal,
            action: r.action,
            resource: &resource,
        },
        &MapContext(m),
    );
    (
        format!("{:?}", e.outcome),
        e.principal_match.map(|p| format!("{p:?}")),
    )
}

fn compile(text: &str) -> Policy {
    Policy::compile(text, &ParseOptions::new(PolicyKind::Resource))
        .unwrap()
        .policy
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decision_does_not_depend_on_statement_order(
        (version, stmts) in policy(),
        seed in any::<u64>(),
        reqs in prop::collection::vec(request(), 1..6),
    ) {
        let mut shuffled = stmts.clone();
        // Deterministic Fisher-Yates from the seed.
        let mut s = seed;
        for i in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let j = usize::try_from(s >> 33).unwrap() % (i + 1);
            shuffled.swap(i, j);
        }
        let a = compile(&text(&version, &stmts));
        let b = compile(&text(&version, &shuffled));
        for r in &reqs {
            prop_assert_eq!(decide(&a, r), decide(&b, r), "request {:?}", r);
        }
    }

    #[test]
    fn to_json_round_trips(
        (version, stmts) in policy(),
        reqs in prop::collection::vec(request(), 1..6),
    ) {
        let a = compile(&text(&version, &stmts));
        let json = a.to_json();
        let b = compile(&json);
        prop_assert_eq!(&b.to_json(), &json);
        prop_assert_eq!(b.statement_count(), a.statement_count());
        prop_assert_eq!(b.variables_enabled(), a.variables_enabled());
        for r in &reqs {
            prop_assert_eq!(decide(&a, r), decide(&b, r), "request {:?}", r);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// A cheap stand-in for the cargo-fuzz target: arbitrary edits of a real policy never make
    /// `compile` panic, and whatever compiles also evaluates and re-serialises.
    #[test]
    fn compile_never_panics_on_edited_documents(
        (version, stmts) in policy(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), prop::option::of(any::<char>())), 1..6),
        reqs in prop::collection::vec(request(), 1..2),
    ) {
        let mut chars: Vec<char> = text(&version, &stmts).chars().collect();
        for (at, c) in edits {
            let i = at.index(chars.len() + 1);
            match c {
                Some(c) => chars.insert(i, c),
                None if i < chars.len() => { chars.remove(i); }
                None => {}
            }
        }
        let s: String = chars.into_iter().collect();
        if let Ok(c) = Policy::compile(&s, &ParseOptions::new(PolicyKind::Resource)) {
            let _ = c.policy.to_json();
            for r in &reqs {
                let _ = decide(&c.policy, r);
            }
        }
    }

    #[test]
    fn compile_never_panics_on_any_text(s in "\\PC{0,300}") {
        let _ = Policy::compile(&s, &ParseOptions::new(PolicyKind::Identity));
    }
}
