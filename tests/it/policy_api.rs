//! The public surface the `lattice` layer relies on: options, introspection, rendering.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test")]

use std::collections::HashMap;

use lattice_authz::policy::{
    ArnPattern, DEFAULT_MAX_POLICY_BYTES, Glob, MissReason, Outcome, ParseOptions, Policy,
    PolicyKind, Principal, PrincipalMatch, Request, codes,
};

use super::policy_vectors::MapContext;

const RES: &str = "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-1/x";

fn anon(policy: &Policy) -> Outcome {
    let r = Request {
        principal: Principal::Anonymous,
        action: "vpc-lattice-svcs:Invoke",
        resource: RES,
    };
    policy.evaluate(&r, &MapContext(HashMap::new())).outcome
}

#[test]
fn aws_wildcard_and_anonymous_is_an_option() {
    let src = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"*","Resource":"*"}]}"#;
    let mut o = ParseOptions::new(PolicyKind::Resource);
    assert_eq!(o.max_bytes, DEFAULT_MAX_POLICY_BYTES);
    assert_eq!(
        anon(&Policy::compile(src, &o).unwrap().policy),
        Outcome::Allow
    );
    o.aws_wildcard_matches_anonymous = false;
    assert_eq!(
        anon(&Policy::compile(src, &o).unwrap().policy),
        Outcome::NoMatch
    );
    let star = src.replace(r#"{"AWS":"*"}"#, r#""*""#);
    assert_eq!(
        anon(&Policy::compile(&star, &o).unwrap().policy),
        Outcome::Allow
    );
}

#[test]
fn introspection() {
    let src = r#"{"Statement":[
        {"Sid":"A","Effect":"Allow","NotPrincipal":{"AWS":"111122223333"},"Action":"*","Resource":["arn:aws:s3:::b/${aws:username}","*/x"],
         "Condition":{"StringEquals":{"aws:PrincipalTag/Team":"a"},"ForAnyValue:StringLike":{"aws:TagKeys":"k*"}}},
        {"Effect":"Deny","Principal":"*","Action":"*","NotResource":"arn:aws:s3:::c"}]}"#;
    let c = Policy::compile(src, &ParseOptions::new(PolicyKind::Resource)).unwrap();
    let p = &c.policy;
    assert_eq!(p.statement_count(), 2);
    assert!(!p.variables_enabled());
    assert_eq!(p.literal_variables(), vec![0]);
    assert_eq!(p.allow_not_principal(), vec![0]);
    assert_eq!(
        p.resource_patterns(),
        vec![
            (0, "arn:aws:s3:::b/${aws:username}"),
            (0, "*/x"),
            (1, "arn:aws:s3:::c")
        ]
    );
    let keys: Vec<_> = p
        .condition_keys()
        .iter()
        .map(|k| (k.statement, k.operator, k.key))
        .collect();
    assert_eq!(
        keys,
        vec![
            (0, "StringEquals", "aws:PrincipalTag/Team"),
            (0, "ForAnyValue:StringLike", "aws:TagKeys")
        ]
    );
    // Warnings: no Version, literal variables, NotPrincipal with Allow.
    let codes_found: Vec<_> = c
        .warnings
        .iter()
        .map(|w| (w.pointer.as_str(), w.code))
        .collect();
    assert!(
        codes_found.contains(&("/Statement/0/NotPrincipal", codes::SUSPICIOUS)),
        "{codes_found:?}"
    );
    assert!(codes_found.contains(&("", codes::SUSPICIOUS)));
}

#[test]
fn miss_names_the_failed_condition_as_written() {
    let src = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"Read","Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*",
         "Condition":{"StringEquals":{"VPC-Lattice-Svcs:RequestMethod":"GET"}}},
        {"Sid":"Other","Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#;
    let p = Policy::compile(src, &ParseOptions::new(PolicyKind::Resource))
        .unwrap()
        .policy;
    let r = Request {
        principal: Principal::Anonymous,
        action: "vpc-lattice-svcs:Invoke",
        resource: RES,
    };
    let e = p.evaluate(&r, &MapContext(HashMap::new()));
    assert_eq!(e.outcome, Outcome::NoMatch);
    let miss = e.miss.unwrap();
    assert_eq!(
        (miss.statement.index, miss.statement.sid),
        (0, Some("Read"))
    );
    assert_eq!(
        miss.reason,
        MissReason::Condition {
            operator: "StringEquals",
            key: "VPC-Lattice-Svcs:RequestMethod"
        }
    );
    assert_eq!(e.principal_match, None);
    let allow = p.evaluate(
        &Request {
            action: "s3:GetObject",
            ..r
        },
        &MapContext(HashMap::new()),
    );
    assert_eq!(
        (allow.outcome, allow.principal_match),
        (Outcome::Allow, Some(PrincipalMatch::Wildcard))
    );
}

#[test]
fn diagnostics_render_pointer_message_and_statement() {
    let src = r#"{"Version":"2012-10-17","Statement":[{"Sid":"S","Effect":"allow","Principal":"*","Action":"*","Resource":"*"}]}"#;
    let errs = Policy::compile(src, &ParseOptions::new(PolicyKind::Resource)).unwrap_err();
    assert_eq!(
        errs[0].to_string(),
        "/Statement/0/Effect: The policy failed legacy parsing: Effect `allow` must be written exactly `Allow` or `Deny` (it is case-sensitive). (statement 0, Sid `S`)"
    );
    let errs = Policy::compile("nope", &ParseOptions::new(PolicyKind::Resource)).unwrap_err();
    assert_eq!(
        errs[0].to_string(),
        "(document): Syntax errors in policy. The document is not valid JSON: expected a value at line 1, column 1."
    );
}

#[test]
fn shared_types_are_thread_safe_and_public_matchers_work() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Policy>();
    assert!(Glob::new("vpc-lattice-svcs:*", true).matches("VPC-LATTICE-SVCS:Invoke"));
    assert!(
        ArnPattern::new("arn:aws:vpc-lattice:*:*:service/svc-1/*")
            .unwrap()
            .matches(RES)
    );
}
