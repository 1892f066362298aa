//! The policy, request and context of the policy-evaluation benches: `policy_eval.rs` times
//! lattice-authz on them, and the bench tools crate (`bench/benches/policy_eval.rs`) times
//! cedar-policy on the same decision beside it. Fixtures only: no timing here.

use std::borrow::Cow;
use std::net::IpAddr;

use lattice_authz::policy::{
    AwsIdentity, ConditionKey, Context, ParseOptions, Policy, PolicyKind, Value,
};

pub(crate) const SVC: &str =
    "arn:aws:vpc-lattice:us-west-2:123456789012:service/svc-0123456789abcdef0";
pub(crate) const TYPICAL: &str = include_str!("../../tests/data/policy/bench/lattice_typical.json");

/// What the `lattice` layer's request context looks like: fields, matched by key name.
pub(crate) struct Ctx<'a> {
    pub(crate) org: &'a str,
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) role_tag: Option<&'a str>,
    pub(crate) ip: IpAddr,
    pub(crate) port: i64,
    pub(crate) now: i64,
    pub(crate) username: Option<&'a str>,
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

pub(crate) fn ctx(path: &'static str) -> Ctx<'static> {
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

pub(crate) const SESSION: AwsIdentity<'static> = AwsIdentity {
    account: "123456789012",
    arn: "arn:aws:sts::123456789012:assumed-role/rates-client/pod-1",
    role_arn: Some("arn:aws:iam::123456789012:role/rates-client"),
    federating_user_arn: None,
};

pub(crate) fn compile(src: &str) -> Policy {
    let mut options = ParseOptions::new(PolicyKind::Resource);
    // The 100-statement policy is about 24 KiB, past Lattice's 10 KiB quota.
    options.max_bytes = 64 * 1024;
    Policy::compile(src, &options).unwrap().policy
}
