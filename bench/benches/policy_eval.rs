//! lattice-authz and cedar-policy on the same decision: the typical Lattice auth policy of the
//! sidecar's own policy benches (`benches/policy_eval.rs` at the root, whose fixtures this
//! shares), written in Cedar as `tests/data/policy/bench/lattice_typical.cedar`, for a session of
//! the `rates-client` role asking for `/rates/today`. Both allow. With `--bench`, each is also
//! timed in a plain loop and the ratio printed.
//!
//! `cargo bench -p lattice-authz-bench --bench policy_eval` measures; `cargo test --benches`
//! runs each routine once.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark harness"
)]

#[path = "../../benches/support/policy.rs"]
mod support;

use std::hint::black_box;
use std::str::FromStr;
use std::time::Instant;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityUid, PolicySet, Request,
    RestrictedExpression,
};
use criterion::{Criterion, criterion_group, criterion_main};
use lattice_authz::policy::{Outcome, Principal};

use support::{SESSION, SVC, TYPICAL, compile, ctx};

const CEDAR: &str = include_str!("../../tests/data/policy/bench/lattice_typical.cedar");

fn bench(c: &mut Criterion) {
    let ours = compile(TYPICAL);
    let rates = format!("{SVC}/rates/today");
    let req = lattice_authz::policy::Request {
        principal: Principal::Aws(SESSION),
        action: "vpc-lattice-svcs:Invoke",
        resource: &rates,
    };
    let context = ctx("/rates/today");
    assert_eq!(ours.evaluate(&req, &context).outcome, Outcome::Allow);

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

    c.bench_function("peers/lattice_authz_typical", |b| {
        b.iter(|| black_box(&ours).evaluate(black_box(&req), black_box(&context)))
    });
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
            black_box(ours.evaluate(black_box(&req), black_box(&context)));
        }
        let ours_ns = t.elapsed().as_nanos() as f64 / f64::from(n);
        println!(
            "ratio: cedar {cedar_ns:.0} ns / ours {ours_ns:.0} ns = {:.1}x",
            cedar_ns / ours_ns
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
