//! The request context: every condition key of lattice-auth §3, read lazily by the policy
//! evaluator through [`policy::Context`]. No map is built per request.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

use crate::policy::{self, ConditionKey, Value};

use super::decision::{Caller, Request};
use super::world::{Principal, PrincipalKind, Service, ServiceNetwork, Vpc, VpcEndpoint, World};

/// Condition keys (lower-case, without parameter) this context can set. `validate` warns about
/// any other key: it is always absent in a Lattice request.
pub const KNOWN_KEYS: &[&str] = &[
    "vpc-lattice-svcs:port",
    "vpc-lattice-svcs:requestmethod",
    "vpc-lattice-svcs:requestpath",
    "vpc-lattice-svcs:requestheader",
    "vpc-lattice-svcs:requestquerystring",
    "vpc-lattice-svcs:servicenetworkarn",
    "vpc-lattice-svcs:servicearn",
    "vpc-lattice-svcs:sourcevpc",
    "vpc-lattice-svcs:sourcevpcowneraccount",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principaltag",
    "aws:principalarn",
    "aws:principalaccount",
    "aws:principaltype",
    "aws:principalisawsservice",
    "aws:userid",
    "aws:username",
    "aws:tokenissuetime",
    "aws:federatedprovider",
    "aws:sourceidentity",
    "aws:sourceip",
    "aws:currenttime",
    "aws:epochtime",
    "aws:securetransport",
    "aws:resourcetag",
    "aws:resourceaccount",
    "aws:resourceorgid",
    "aws:resourceorgpaths",
    "aws:requestedregion",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:sourceaccount",
    "aws:sourcevpce",
    "aws:sourcevpc",
    "aws:vpcsourceip",
];

/// Everything one request's condition keys are read from.
#[derive(Debug)]
pub(crate) struct RequestContext<'a> {
    pub(crate) world: &'a World,
    pub(crate) request: &'a Request<'a>,
    pub(crate) caller: Caller<'a>,
    pub(crate) service: &'a Service,
    pub(crate) network: &'a ServiceNetwork,
    pub(crate) vpc: &'a Vpc,
    pub(crate) endpoint: Option<&'a VpcEndpoint>,
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) grpc: bool,
    pub(crate) port: u16,
    pub(crate) now_secs: i64,
}

fn s(v: &str) -> Value<'_> {
    Value::String(Cow::Borrowed(v))
}

impl RequestContext<'_> {
    fn header(&self, name: &str) -> Value<'_> {
        let mut matching = self
            .request
            .headers
            .iter()
            .filter(|h| !h.name.starts_with(':') && h.name.eq_ignore_ascii_case(name));
        let Some(first) = matching.next() else {
            return Value::Absent;
        };
        let mut value = String::from_utf8_lossy(first.value);
        // lattice-auth §11 q8: repeated headers are comma-joined in arrival order.
        for more in matching {
            let joined = value.to_mut();
            joined.push(',');
            joined.push_str(&String::from_utf8_lossy(more.value));
        }
        Value::String(value)
    }

    fn query(&self, key: &str) -> Value<'_> {
        // lattice-auth §3.1: not available for gRPC.
        let Some(query) = self.query.filter(|_| !self.grpc) else {
            return Value::Absent;
        };
        let mut values: Vec<Cow<'_, str>> = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .filter_map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (form_decode(k) == key).then(|| form_decode(v))
            })
            .collect();
        match values.len() {
            0 => Value::Absent,
            1 => values.pop().map_or(Value::Absent, Value::String),
            _ => Value::Strings(values),
        }
    }
}

/// Decodes a query component: `+` is a space, `%XX` is a byte; invalid UTF-8 is replaced.
fn form_decode(raw: &str) -> Cow<'_, str> {
    if !raw.contains(['%', '+']) {
        return Cow::Borrowed(raw);
    }
    let spaced = raw.replace('+', " ");
    Cow::Owned(percent_decode_str(&spaced).decode_utf8_lossy().into_owned())
}

fn tag<'t>(tags: &'t [(std::sync::Arc<str>, std::sync::Arc<str>)], key: &str) -> Value<'t> {
    // Tag keys in condition keys compare case-insensitively (iam-policy §1.5).
    tags.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map_or(Value::Absent, |(_, v)| s(v))
}

impl policy::Context for RequestContext<'_> {
    fn value(&self, key: &ConditionKey) -> Value<'_> {
        let param = key.param().unwrap_or("");
        let signed = self.caller.principal();
        match key.base() {
            "vpc-lattice-svcs:port" => Value::Number(i64::from(self.port)),
            // lattice-auth §3.1: gRPC requests are always POST.
            "vpc-lattice-svcs:requestmethod" => s(if self.grpc {
                "POST"
            } else {
                self.request.method
            }),
            "vpc-lattice-svcs:requestpath" => s(self.path),
            "vpc-lattice-svcs:requestheader" if key.param().is_some() => self.header(param),
            "vpc-lattice-svcs:requestquerystring" if key.param().is_some() => self.query(param),
            "vpc-lattice-svcs:servicenetworkarn" => s(&self.network.arn),
            "vpc-lattice-svcs:servicearn" => s(&self.service.arn),
            "vpc-lattice-svcs:sourcevpc" => s(&self.vpc.id),
            "vpc-lattice-svcs:sourcevpcowneraccount" => s(&self.vpc.owner),
            "aws:principalorgid" => signed
                .and_then(|p| self.world.org_of(p.account_index))
                .map_or(Value::Absent, |(org, _)| s(org)),
            "aws:principalorgpaths" => signed
                .and_then(|p| self.world.org_of(p.account_index))
                .map_or(Value::Absent, |(_, path)| {
                    Value::Strings(vec![Cow::Borrowed(path)])
                }),
            "aws:principaltag" if key.param().is_some() => {
                signed.map_or(Value::Absent, |p| tag(&p.tags, param))
            }
            "aws:principalarn" => signed.map_or(Value::Absent, |p| match &p.kind {
                PrincipalKind::User => s(&p.arn),
                PrincipalKind::AssumedRole { role_arn, .. } => s(role_arn),
            }),
            "aws:principalaccount" => signed.map_or(s("anonymous"), |p| s(&p.account)),
            "aws:principaltype" => s(match signed.map(|p| &p.kind) {
                None => "Anonymous",
                Some(PrincipalKind::User) => "User",
                Some(PrincipalKind::AssumedRole { .. }) => "AssumedRole",
            }),
            "aws:principalisawsservice" => signed.map_or(Value::Absent, |_| Value::Bool(false)),
            "aws:userid" => match signed {
                None => s("anonymous"),
                Some(p) => p.user_id.as_deref().map_or(Value::Absent, s),
            },
            "aws:username" => signed
                .and_then(Principal::user_name)
                .map_or(Value::Absent, s),
            // Only temporary credentials issued by `lattice-authz sts` carry these: a listed
            // session's issue time is unknown, and a user's keys are not temporary.
            "aws:tokenissuetime" => signed
                .and_then(|p| p.token.as_ref())
                .map_or(Value::Absent, |t| Value::Date(t.issued_at)),
            "aws:federatedprovider" => signed
                .and_then(|p| p.token.as_ref()?.federated_provider.as_deref())
                .map_or(Value::Absent, s),
            "aws:sourceidentity" => signed
                .and_then(|p| p.token.as_ref()?.source_identity.as_deref())
                .map_or(Value::Absent, s),
            "aws:sourceip" => Value::Ip(self.request.source),
            "aws:currenttime" => Value::Date(self.now_secs),
            "aws:epochtime" => Value::Number(self.now_secs),
            "aws:securetransport" => Value::Bool(self.request.scheme.eq_ignore_ascii_case("https")),
            "aws:resourcetag" if key.param().is_some() => tag(&self.service.tags, param),
            "aws:resourceaccount" => s(&self.service.owner),
            "aws:resourceorgid" => self
                .world
                .org_of(self.service.owner_index)
                .map_or(Value::Absent, |(org, _)| s(org)),
            "aws:resourceorgpaths" => self
                .world
                .org_of(self.service.owner_index)
                .map_or(Value::Absent, |(_, path)| {
                    Value::Strings(vec![Cow::Borrowed(path)])
                }),
            "aws:requestedregion" => s(&self.world.region),
            // example-world.md: the Source* keys describe the owner of the caller's source VPC.
            "aws:sourceaccount" => s(&self.vpc.owner),
            "aws:sourceorgid" => self
                .world
                .org_of(self.vpc.owner_index)
                .map_or(Value::Absent, |(org, _)| s(org)),
            "aws:sourceorgpaths" => self
                .world
                .org_of(self.vpc.owner_index)
                .map_or(Value::Absent, |(_, path)| {
                    Value::Strings(vec![Cow::Borrowed(path)])
                }),
            "aws:sourcevpce" => self.endpoint.map_or(Value::Absent, |e| s(&e.id)),
            "aws:sourcevpc" => self.endpoint.map_or(Value::Absent, |_| s(&self.vpc.id)),
            "aws:vpcsourceip" => self
                .endpoint
                .map_or(Value::Absent, |_| Value::Ip(self.request.source)),
            _ => Value::Absent,
        }
    }
}
