//! Policy evaluation cost: a typical Lattice auth policy, a 100-statement policy, globs,
//! conditions and variables. Fixtures come from `tests/data/policy/bench/` and
//! `support/policy.rs`; the bench tools crate times cedar-policy on the typical decision
//! (`cargo bench -p lattice-authz-bench --bench policy_eval`).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark harness"
)]

#[path = "support/policy.rs"]
mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use lattice_authz::policy::{ArnPattern, AwsIdentity, Glob, Outcome, Principal, Request};

use support::{Ctx, SESSION, SVC, TYPICAL, compile, ctx};

/// 100 statements, each for another role and path; the request matches only the last one.
fn hundred() -> String {
    let mut stmts = Vec::new();
    for i in 0..100 {
        stmts.push(format!(
            r#"{{"Sid":"S{i}","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::123456789012:role/app-{i}"}},"Action":["vpc-lattice-svcs:Invoke"],"Resource":"{SVC}/api/v{i}/*","Condition":{{"StringEquals":{{"vpc-lattice-svcs:RequestMethod":["GET","POST"]}}}}}}"#
        ));
    }
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        stmts.join(",")
    )
}

fn bench(c: &mut Criterion) {
    let typical = compile(TYPICAL);
    let rates = format!("{SVC}/rates/today");
    let req = Request {
        principal: Principal::Aws(SESSION),
        action: "vpc-lattice-svcs:Invoke",
        resource: &rates,
    };
    let context = ctx("/rates/today");
    assert_eq!(typical.evaluate(&req, &context).outcome, Outcome::Allow);
    c.bench_function("typical/allow", |b| {
        b.iter(|| black_box(&typical).evaluate(black_box(&req), black_box(&context)))
    });

    let admin = format!("{SVC}/admin/users");
    let deny_req = Request {
        resource: &admin,
        ..req
    };
    let deny_ctx = ctx("/admin/users");
    assert_eq!(
        typical.evaluate(&deny_req, &deny_ctx).outcome,
        Outcome::ExplicitDeny
    );
    c.bench_function("typical/explicit_deny", |b| {
        b.iter(|| black_box(&typical).evaluate(black_box(&deny_req), black_box(&deny_ctx)))
    });

    let anon_req = Request {
        principal: Principal::Anonymous,
        ..req
    };
    let anon_ctx = Ctx {
        org: "",
        method: "POST",
        ..ctx("/rates/today")
    };
    assert_eq!(
        typical.evaluate(&anon_req, &anon_ctx).outcome,
        Outcome::NoMatch
    );
    c.bench_function("typical/no_match", |b| {
        b.iter(|| black_box(&typical).evaluate(black_box(&anon_req), black_box(&anon_ctx)))
    });

    c.bench_function("typical/compile", |b| {
        b.iter(|| compile(black_box(TYPICAL)))
    });

    let big = compile(&hundred());
    let last = format!("{SVC}/api/v99/items");
    let last_session = AwsIdentity {
        arn: "arn:aws:sts::123456789012:assumed-role/app-99/s",
        role_arn: Some("arn:aws:iam::123456789012:role/app-99"),
        ..SESSION
    };
    let big_req = Request {
        principal: Principal::Aws(last_session),
        action: "vpc-lattice-svcs:Invoke",
        resource: &last,
    };
    assert_eq!(big.evaluate(&big_req, &context).outcome, Outcome::Allow);
    c.bench_function("statements_100/last_matches", |b| {
        b.iter(|| black_box(&big).evaluate(black_box(&big_req), black_box(&context)))
    });
    let miss_req = Request {
        action: "vpc-lattice-svcs:Connect",
        ..big_req
    };
    c.bench_function("statements_100/action_miss", |b| {
        b.iter(|| black_box(&big).evaluate(black_box(&miss_req), black_box(&context)))
    });

    let g = Glob::new("*a*a*a*a*a*b", false);
    let text = "a".repeat(200);
    c.bench_function("glob/adversarial_200", |b| {
        b.iter(|| black_box(&g).matches(black_box(&text)))
    });
    let arn = ArnPattern::new("arn:aws:vpc-lattice:*:*:service/svc-*/api/*/items").unwrap();
    c.bench_function("glob/arn_components", |b| {
        b.iter(|| black_box(&arn).matches(black_box(&last)))
    });

    let conds = compile(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*","Condition":{
            "IpAddress":{"aws:SourceIp":["192.0.2.0/24","10.0.0.0/8","2001:db8::/32"]},
            "DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"},
            "NumericEquals":{"vpc-lattice-svcs:Port":["443","8443"]},
            "StringLike":{"vpc-lattice-svcs:RequestPath":["/public/*","/rates*"]},
            "Bool":{"aws:SecureTransport":"true"},
            "StringNotEqualsIgnoreCase":{"aws:PrincipalType":"anonymous"}}}]}"#,
    );
    assert_eq!(conds.evaluate(&req, &context).outcome, Outcome::Allow);
    c.bench_function("conditions/six_operators", |b| {
        b.iter(|| black_box(&conds).evaluate(black_box(&req), black_box(&context)))
    });

    let vars = compile(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"{SVC}/users/${{aws:username}}/*"}}]}}"#
    ));
    let home = format!("{SVC}/users/bob/profile");
    let home_req = Request {
        resource: &home,
        ..req
    };
    assert_eq!(vars.evaluate(&home_req, &context).outcome, Outcome::Allow);
    c.bench_function("variables/resource", |b| {
        b.iter(|| black_box(&vars).evaluate(black_box(&home_req), black_box(&context)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
