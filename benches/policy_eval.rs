//! Policy evaluation cost: a typical Lattice auth policy, a 100-statement policy, globs,
//! conditions and variables; with `--features peers`, the same decisions in cedar-policy.
//! Fixtures come from `tests/data/policy/bench/`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark harness"
)]

use std::borrow::Cow;
use std::hint::black_box;
use std::net::IpAddr;

use criterion::{Criterion, criterion_group, criterion_main};
use lattice_authz::policy::{
    ArnPattern, AwsIdentity, ConditionKey, Context, Glob, Outcome, ParseOptions, Policy,
    PolicyKind, Principal, Request, Value,
};

const SVC: &str = "arn:aws:vpc-lattice:us-west-2:123456789012:service/svc-0123456789abcdef0";
const TYPICAL: &str = include_str!("../tests/data/policy/bench/lattice_typical.json");

/// What the `lattice` layer's request context looks like: fields, matched by key name.
struct Ctx<'a> {
    org: &'a str,
    method: &'a str,
    path: &'a str,
    role_tag: Option<&'a str>,
    ip: IpAddr,
    port: i64,
    now: i64,
    username: Option<&'a str>,
}

impl Context for Ctx<'_> {
    fn value(&self, key: &ConditionKey) -> Value<'_> {
        match key.name() {
            "aws:principalorgid" => Value::String(Cow::Borrowed(self.org)),
            "vpc-lattice-svcs:requestmethod" => Value::String(Cow::Borrowed(self.method)),
            "vpc-lattice-svcs:requestpath" => Value::String(Cow::Borrowed(self.path)),
            "vpc-lattice-svcs:port" => Value::Number(self.port),
            "aws:sourceip" => Value::Ip(self.ip),
            "aws:currenttime" => Value::Date(self.now),
            "aws:securetransport" => Value::Bool(true),
            "aws:principaltag/role" => self
                .role_tag
                .map_or(Value::Absent, |t| Value::String(Cow::Borrowed(t))),
            "aws:username" => self
                .username
                .map_or(Value::Absent, |t| Value::String(Cow::Borrowed(t))),
            _ => Value::Absent,
        }
    }
}

fn ctx(path: &'static str) -> Ctx<'static> {
    Ctx {
        org: "o-123456example",
        method: "GET",
        path,
        role_tag: None,
        ip: "10.1.2.3".parse().unwrap(),
        port: 443,
        now: 1_719_000_000,
        username: Some("bob"),
    }
}

const SESSION: AwsIdentity<'static> = AwsIdentity {
    account: "123456789012",
    arn: "arn:aws:sts::123456789012:assumed-role/rates-client/pod-1",
    role_arn: Some("arn:aws:iam::123456789012:role/rates-client"),
    federating_user_arn: None,
};

fn compile(src: &str) -> Policy {
    let mut options = ParseOptions::new(PolicyKind::Resource);
    // The 100-statement policy is about 24 KiB, past Lattice's 10 KiB quota.
    options.max_bytes = 64 * 1024;
    Policy::compile(src, &options).unwrap().policy
}

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

    #[cfg(feature = "peers")]
    peers::bench(c, &typical, &req, &context);
}

#[cfg(feature = "peers")]
mod peers {
    use std::hint::black_box;
    use std::str::FromStr;
    use std::time::Instant;

    use cedar_policy::{
        Authorizer, Context, Decision, Entities, Entity, EntityUid, PolicySet, Request,
        RestrictedExpression,
    };
    use criterion::Criterion;

    use super::{Ctx, Policy};

    const CEDAR: &str = include_str!("../tests/data/policy/bench/lattice_typical.cedar");

    pub(super) fn bench(
        c: &mut Criterion,
        ours: &Policy,
        req: &lattice_authz::policy::Request<'_>,
        ctx: &Ctx<'_>,
    ) {
        let policies = PolicySet::from_str(CEDAR).unwrap();
        let session = EntityUid::from_str(r#"Session::"rates-client/pod-1""#).unwrap();
        let role = EntityUid::from_str(r#"Role::"rates-client""#).unwrap();
        let entities = Entities::from_entities(
            [
                Entity::new_no_attrs(session.clone(), [role.clone()].into_iter().collect()),
                Entity::new_no_attrs(role, Default::default()),
            ],
            None,
        )
        .unwrap();
        let authorizer = Authorizer::new();
        // Build the request per evaluation, as a sidecar would (the context is per request).
        let cedar = || {
            let context = Context::from_pairs([
                (
                    "org_id".to_owned(),
                    RestrictedExpression::new_string("o-123456example".to_owned()),
                ),
                (
                    "method".to_owned(),
                    RestrictedExpression::new_string("GET".to_owned()),
                ),
                (
                    "path".to_owned(),
                    RestrictedExpression::new_string("/rates/today".to_owned()),
                ),
                (
                    "role".to_owned(),
                    RestrictedExpression::new_string(String::new()),
                ),
            ])
            .unwrap();
            let request = Request::new(
                session.clone(),
                EntityUid::from_str(r#"Action::"Invoke""#).unwrap(),
                EntityUid::from_str(r#"Service::"svc-0123456789abcdef0""#).unwrap(),
                context,
                None,
            )
            .unwrap();
            authorizer
                .is_authorized(&request, &policies, &entities)
                .decision()
        };
        assert_eq!(cedar(), Decision::Allow);
        c.bench_function("peers/cedar_typical", |b| b.iter(|| black_box(cedar())));
        if std::env::args().any(|a| a == "--bench") {
            let n = 200_000u32;
            let t = Instant::now();
            for _ in 0..n {
                black_box(cedar());
            }
            let cedar_ns = t.elapsed().as_nanos() as f64 / f64::from(n);
            let t = Instant::now();
            for _ in 0..n {
                black_box(ours.evaluate(black_box(req), black_box(ctx)));
            }
            let ours_ns = t.elapsed().as_nanos() as f64 / f64::from(n);
            println!(
                "ratio: cedar {cedar_ns:.0} ns / ours {ours_ns:.0} ns = {:.1}x",
                cedar_ns / ours_ns
            );
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
