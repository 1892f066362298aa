//! Step two: the checked tree → compiled statements. Every string becomes a matcher once:
//! actions lower-cased and indexed, globs pre-split, ARNs split into components, condition
//! keys folded, numbers/dates/CIDRs/base-64 parsed, variables compiled into templates. Content
//! problems (bad ARNs, CIDRs, dates, principals, operators, variables) are reported here.

use std::collections::HashMap;

use super::arn::{self, ArnPattern};
use super::ast::{self, Document, Effect, List, PrincipalType, PrincipalValue, SYNTAX, Version};
use super::condition::{
    ArnVal, BoolVal, Condition, Family, LikeVal, Operator, OperatorError, SetOp, StrVal, Values,
};
use super::error::{Diags, Site, codes};
use super::glob::Glob;
use super::options::ParseOptions;
use super::principal::{self, Principals};
use super::request::ConditionKey;
use super::values::{Cidr, Decimal, Timestamp, base64_decode, parse_bool};
use super::variable::{Template, has_variables};

/// A compiled `Action` / `NotAction`.
#[derive(Debug, Clone)]
pub(crate) struct Actions {
    pub(crate) negated: bool,
    pub(crate) any: bool,
    /// Lower-cased literal actions (also indexed policy-wide).
    pub(crate) exact: Box<[Box<str>]>,
    pub(crate) globs: Box<[Glob]>,
}

/// One `Resource` / `NotResource` entry.
#[derive(Debug, Clone)]
pub(crate) enum ResourcePattern {
    /// An ARN pattern, matched component by component.
    Arn(ArnPattern),
    /// A pattern that starts with `*` and is not an ARN (Lattice's documented `*/rates`):
    /// one glob over the whole resource string.
    Glob(Glob),
    /// An ARN with policy variables in its resource part.
    Template(Template),
}

#[derive(Debug, Clone)]
pub(crate) struct Resources {
    pub(crate) negated: bool,
    pub(crate) any: bool,
    pub(crate) patterns: Box<[ResourcePattern]>,
}

#[derive(Debug, Clone)]
pub(crate) struct PrincipalRule {
    pub(crate) negated: bool,
    pub(crate) principals: Principals,
}

/// A compiled statement.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub(crate) sid: Option<Box<str>>,
    pub(crate) deny: bool,
    pub(crate) actions: Actions,
    pub(crate) resources: Resources,
    /// `None` for policies without principals (identity policies, SCPs).
    pub(crate) principal: Option<PrincipalRule>,
    pub(crate) conditions: Box<[Condition]>,
}

/// Lower-cased literal action → the statements that list it, ascending; sorted by action for a
/// binary search. Most policies name one or two actions: a sorted list finds them with a
/// comparison or two, hashes nothing, and holds no hasher state or spare table slots.
pub(crate) type ActionIndex = Box<[(Box<str>, Box<[u32]>)]>;

const PARTITIONS: [&str; 8] = [
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

const VENDOR_MESSAGE: &str =
    "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.";

/// Step two. The output is meaningful only when `diags` has no errors afterwards.
pub(crate) fn compile(
    doc: &Document,
    options: &ParseOptions,
    diags: &mut Diags,
) -> (Vec<Statement>, ActionIndex) {
    let vars = doc.version == Version::V2012;
    let mut out = Vec::with_capacity(doc.statements.len());
    let mut index: HashMap<Box<str>, Vec<u32>> = HashMap::new();
    let mut sids: Vec<&str> = Vec::new();
    for st in &doc.statements {
        let i = st.index;
        let site = Site {
            statement: Some(i),
            sid: st.sid.as_deref(),
        };
        if let Some(sid) = st.sid.as_deref().filter(|s| !s.is_empty()) {
            if sids.contains(&sid) {
                diags.error(
                    codes::DUPLICATE_SID,
                    &format!("{}/Sid", st.pointer),
                    site,
                    format!("Statement IDs (SID) in a single policy must be unique. `{sid}` is used more than once."),
                );
            }
            sids.push(sid);
        }
        if !vars && doc_uses_variables(st) {
            diags.warn(
                &st.pointer,
                site,
                "This statement contains `${...}`, but policy variables are literal text unless \"Version\" is \"2012-10-17\".",
                Some("Set \"Version\": \"2012-10-17\" to use policy variables.".into()),
            );
        }
        let deny = st.effect == Some(Effect::Deny);
        let actions = st
            .action
            .as_ref()
            .map(|a| actions(a, vars, site, diags))
            .unwrap_or_else(|| Actions {
                negated: false,
                any: false,
                exact: Box::default(),
                globs: Box::default(),
            });
        // Position in the compiled list (the evaluator's index), not the document index.
        let idx = u32::try_from(out.len()).unwrap_or(u32::MAX);
        for a in actions.exact.iter() {
            let list = index.entry(a.clone()).or_default();
            if list.last() != Some(&idx) {
                list.push(idx);
            }
        }
        let resources = st
            .resource
            .as_ref()
            .map(|r| resources(r, vars, site, diags))
            .unwrap_or_else(|| Resources {
                negated: false,
                // A trust policy has no `Resource`: its statements are about the role itself.
                any: options.kind == super::PolicyKind::Trust,
                patterns: Box::default(),
            });
        let principal = st.principal.as_ref().map(|p| {
            if p.negated && !deny {
                diags.warn(
                    &p.pointer,
                    site,
                    "NotPrincipal must be used with \"Effect\": \"Deny\"; using it with Allow is not supported by AWS.",
                    Some("Use \"Principal\" with a condition on aws:PrincipalArn instead.".into()),
                );
            }
            PrincipalRule {
                negated: p.negated,
                principals: principals(p, site, diags),
            }
        });
        let conditions = conditions(st, deny, vars, site, diags);
        out.push(Statement {
            sid: st.sid.clone(),
            deny,
            actions,
            resources,
            principal,
            conditions,
        });
    }
    let _ = options;
    let mut index: Vec<(Box<str>, Box<[u32]>)> = index
        .into_iter()
        .map(|(k, v)| (k, v.into_boxed_slice()))
        .collect();
    index.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
    (out, index.into_boxed_slice())
}

fn doc_uses_variables(st: &ast::Statement) -> bool {
    let lists = st.action.iter().chain(st.resource.iter());
    lists
        .flat_map(|l| l.items.iter())
        .chain(
            st.conditions
                .iter()
                .flat_map(|b| b.entries.iter())
                .flat_map(|(_, l)| l.items.iter()),
        )
        .any(|s| has_variables(s))
}

/// Whether the statement contains `${` anywhere a variable could be.
pub(crate) fn statement_uses_variables(st: &ast::Statement) -> bool {
    doc_uses_variables(st)
}

fn actions(list: &List, vars: bool, site: Site<'_>, diags: &mut Diags) -> Actions {
    let mut out = Actions {
        negated: list.negated,
        any: false,
        exact: Box::default(),
        globs: Box::default(),
    };
    let mut exact = Vec::new();
    let mut globs = Vec::new();
    for (j, a) in list.items.iter().enumerate() {
        let p = list.item_pointer(j);
        if &**a == "*" {
            out.any = true;
            continue;
        }
        if vars && has_variables(a) {
            diags.error(
                codes::INVALID_VARIABLE,
                &p,
                site,
                "Variable unsupported in element: policy variables are allowed only in Resource, NotResource and Condition values.",
            );
            continue;
        }
        let Some((vendor, name)) = a.split_once(':') else {
            diags.error(
                codes::INVALID_ACTION,
                &p,
                site,
                format!("{VENDOR_MESSAGE} Found `{a}`."),
            );
            diags.hint("Write actions as `service:Action`, e.g. `vpc-lattice-svcs:Invoke`.");
            continue;
        };
        if name.contains(':') {
            diags.error(
                codes::INVALID_ACTION,
                &p,
                site,
                format!("Actions/Condition can contain only one colon. Found `{a}`."),
            );
            continue;
        }
        if vendor.is_empty() {
            diags.error(
                codes::INVALID_ACTION,
                &p,
                site,
                format!("{VENDOR_MESSAGE} Found `{a}`."),
            );
            continue;
        }
        if !vendor
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'*' | b'?'))
        {
            diags.error(
                codes::INVALID_ACTION,
                &p,
                site,
                format!("Vendor {vendor} is not valid"),
            );
            continue;
        }
        let g = Glob::new(a, true);
        if g.has_wildcards() {
            globs.push(g);
        } else {
            exact.push(a.to_ascii_lowercase().into_boxed_str());
        }
    }
    exact.sort();
    exact.dedup();
    out.exact = exact.into_boxed_slice();
    out.globs = globs.into_boxed_slice();
    out
}

fn resources(list: &List, vars: bool, site: Site<'_>, diags: &mut Diags) -> Resources {
    let mut out = Resources {
        negated: list.negated,
        any: false,
        patterns: Box::default(),
    };
    let mut pats = Vec::new();
    for (j, r) in list.items.iter().enumerate() {
        let p = list.item_pointer(j);
        if &**r == "*" {
            out.any = true;
            continue;
        }
        if !r.starts_with("arn:") {
            if r.starts_with('*') && !(vars && has_variables(r)) {
                pats.push(ResourcePattern::Glob(Glob::new(r, false)));
            } else {
                diags.error(
                    codes::INVALID_RESOURCE,
                    &p,
                    site,
                    format!("Resource {r} must be in ARN format or \"*\"."),
                );
            }
            continue;
        }
        let components: Vec<&str> = r.splitn(6, ':').collect();
        if components.len() < 6 && !arn::ends_early(&components) {
            if components.len() < 3 || components.get(2).is_none_or(|s| s.is_empty()) {
                diags.error(
                    codes::INVALID_RESOURCE,
                    &p,
                    site,
                    format!("Resource vendor must be fully qualified and cannot contain regexes. Found `{r}`."),
                );
            } else {
                diags.error(
                    codes::INVALID_RESOURCE,
                    &p,
                    site,
                    format!("{}: resource `{r}` has fewer than six colon-separated components (arn:partition:service:region:account:resource).", ast::LEGACY),
                );
            }
            continue;
        }
        // A pattern that ends early (`arn:aws:vpc-lattice:us-west-2:*`) has no resource part;
        // its missing components read as empty here.
        let component = |i: usize| components.get(i).copied().unwrap_or_default();
        let (partition, service, region, account) =
            (component(1), component(2), component(3), component(4));
        if service.is_empty() || service.contains(['*', '?']) {
            diags.error(
                codes::INVALID_RESOURCE,
                &p,
                site,
                format!("Resource vendor must be fully qualified and cannot contain regexes. Found `{r}`."),
            );
            continue;
        }
        if !PARTITIONS.contains(&partition) && !partition.contains(['*', '?']) {
            diags.error(
                codes::INVALID_RESOURCE,
                &p,
                site,
                format!("Partition \"{partition}\" is not valid for resource \"{r}\"."),
            );
            continue;
        }
        // IAM is global; S3 bucket and object ARNs (no account) carry no region, while S3
        // access points (`arn:aws:s3:us-west-2:123456789012:accesspoint/x`) do.
        let regional = !region.is_empty() && region != "*";
        if regional && (service == "iam" || (service == "s3" && account.is_empty())) {
            diags.error(
                codes::INVALID_RESOURCE,
                &p,
                site,
                format!("Resource {r} can not contain region information."),
            );
            continue;
        }
        if vars && has_variables(r) {
            // Variables may stand only in the resource part, which a pattern that ends early
            // does not have.
            let head_has_var =
                components.len() < 6 || components.iter().take(5).any(|c| c.contains("${"));
            if head_has_var {
                diags.error(
                    codes::INVALID_VARIABLE,
                    &p,
                    site,
                    "Variable unsupported in element: in a Resource, policy variables are allowed only in the resource part of the ARN (after the fifth colon).",
                );
                continue;
            }
            match Template::parse(r, true) {
                Ok(t) => pats.push(ResourcePattern::Template(t)),
                Err(e) => diags.error(codes::INVALID_VARIABLE, &p, site, e.message()),
            }
            continue;
        }
        match ArnPattern::resource(r) {
            Ok(a) => pats.push(ResourcePattern::Arn(a)),
            Err(_) => diags.error(
                codes::INVALID_RESOURCE,
                &p,
                site,
                format!("Resource {r} must be in ARN format or \"*\"."),
            ),
        }
    }
    out.patterns = pats.into_boxed_slice();
    out
}

fn is_unique_id(s: &str) -> bool {
    ["AIDA", "AROA", "AGPA", "AIPA", "ANPA", "ANVA", "ASIA"]
        .iter()
        .any(|p| s.starts_with(p))
        && s.len() >= 16
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn principals(elem: &ast::PrincipalElem, site: Site<'_>, diags: &mut Diags) -> Principals {
    let mut out = Principals::default();
    let map = match &elem.value {
        PrincipalValue::Any => {
            out.any = true;
            if elem.negated {
                diags.warn(
                    &elem.pointer,
                    site,
                    "\"NotPrincipal\": \"*\" excludes every principal, so the statement never applies.",
                    None,
                );
            }
            return out;
        }
        PrincipalValue::Map(map) => map,
    };
    for (kind, list) in map {
        if list.items.is_empty() {
            diags.warn(
                &list.pointer,
                site,
                format!(
                    "The {} principal list is empty and matches nothing.",
                    kind.name()
                ),
                None,
            );
        }
        for (j, v) in list.items.iter().enumerate() {
            let p = list.item_pointer(j);
            let name = kind.name();
            if &**v == "*" && *kind == PrincipalType::Aws {
                out.aws_any = true;
                continue;
            }
            if v.contains(['*', '?']) {
                diags.error(
                    codes::INVALID_PRINCIPAL,
                    &p,
                    site,
                    format!("Invalid principal in policy: \"{name}\":\"{v}\". Unsupported wildcard in principal: wildcards (*, ?) can be used only as the whole principal \"*\"."),
                );
                diags.hint("Use \"Principal\": \"*\" with a condition such as ArnLike on aws:PrincipalArn.");
                continue;
            }
            if v.is_empty() {
                diags.error(
                    codes::INVALID_PRINCIPAL,
                    &p,
                    site,
                    format!("Invalid principal in policy: \"{name}\":\"\"."),
                );
                continue;
            }
            match kind {
                PrincipalType::Aws => {
                    if principal::is_account_id(v) {
                        out.accounts.push(v.clone());
                    } else if let Some(k) = principal::classify(v) {
                        out.arns.push((v.clone(), k));
                    } else if is_unique_id(v) {
                        diags.warn(
                            &p,
                            site,
                            format!("`{v}` looks like an IAM unique id; it never matches a caller here, because callers are matched by ARN."),
                            Some("Write the user or role ARN.".into()),
                        );
                    } else {
                        diags.error(
                            codes::INVALID_PRINCIPAL,
                            &p,
                            site,
                            format!("Invalid principal in policy: \"AWS\":\"{v}\". Use an account id, or an ARN of the account root, a user, a role, an assumed-role session or a federated user."),
                        );
                    }
                }
                PrincipalType::Service => out.services.push(v.clone()),
                PrincipalType::Federated => out.federated.push(v.clone()),
                PrincipalType::CanonicalUser => out.canonical.push(v.clone()),
            }
        }
    }
    out
}

fn conditions(
    st: &ast::Statement,
    deny: bool,
    vars: bool,
    site: Site<'_>,
    diags: &mut Diags,
) -> Box<[Condition]> {
    let mut out = Vec::new();
    for block in &st.conditions {
        let op = match Operator::parse(&block.operator) {
            Ok(op) => op,
            Err(OperatorError::Unknown) => {
                diags.error(
                    codes::UNKNOWN_OPERATOR,
                    &block.pointer,
                    site,
                    format!("{SYNTAX} Invalid condition operator `{}`; unknown operators are never ignored.", block.operator),
                );
                if let Some(s) = Operator::suggest(&block.operator) {
                    diags.hint(format!(
                        "Did you mean `{s}`? Operator names are case-sensitive."
                    ));
                }
                continue;
            }
            Err(OperatorError::NullWithIfExists) => {
                diags.error(
                    codes::NULL_WITH_IF_EXISTS,
                    &block.pointer,
                    site,
                    format!("{SYNTAX} Null with if exists: `{}` is not an operator; Null already tests whether the key exists.", block.operator),
                );
                diags.hint("Use `Null`.");
                continue;
            }
        };
        if op.family == Family::Null && op.set.is_some() {
            diags.warn(
                &block.pointer,
                site,
                "Null with qualifier: ForAnyValue/ForAllValues have no effect on Null.",
                Some("Use `Null`.".into()),
            );
        }
        if op.set == Some(SetOp::ForAllValues) && !deny && !op.negated {
            diags.warn(
                &block.pointer,
                site,
                "ForAllValues with Allow is overly permissive: it is also true when the key is absent or has no values.",
                Some("Add a Null condition requiring the key, or use ForAnyValue.".into()),
            );
        }
        let mut seen: Vec<String> = Vec::new();
        for (key, list) in &block.entries {
            let lower = key.to_ascii_lowercase();
            if seen.contains(&lower) {
                diags.error(
                    codes::INVALID_CONDITION_KEY,
                    &list.pointer,
                    site,
                    format!(
                        "Duplicate keys with different case: `{key}` appears twice under `{}`.",
                        block.operator
                    ),
                );
                continue;
            }
            seen.push(lower);
            if !key.contains(':') || key.starts_with(':') {
                diags.error(
                    codes::INVALID_CONDITION_KEY,
                    &list.pointer,
                    site,
                    format!("{VENDOR_MESSAGE} Found condition key `{key}`."),
                );
                continue;
            }
            if list.items.is_empty() {
                diags.warn(
                    &list.pointer,
                    site,
                    format!("`{key}` has no values: {}.", empty_meaning(op)),
                    None,
                );
            }
            if let Some(values) = values(op, &block.operator, list, vars, site, diags) {
                out.push(Condition {
                    op,
                    operator: block.operator.clone(),
                    key: ConditionKey::new(key),
                    values,
                });
            }
        }
    }
    out.into_boxed_slice()
}

fn empty_meaning(op: Operator) -> &'static str {
    match (op.set, op.if_exists, op.negated) {
        (Some(SetOp::ForAllValues), ..) => "ForAllValues then matches only when the key is absent",
        (Some(SetOp::ForAnyValue), ..) => "ForAnyValue then never matches",
        (None, true, false) => "IfExists then matches only when the key is absent",
        (None, _, true) => "a negated operator then always matches",
        (None, false, false) => "the condition then never matches",
    }
}

fn values(
    op: Operator,
    written: &str,
    list: &List,
    vars: bool,
    site: Site<'_>,
    diags: &mut Diags,
) -> Option<Values> {
    let templated = |v: &str| vars && has_variables(v);
    let template = |diags: &mut Diags, j: usize, v: &str, wildcards: bool| -> Option<Template> {
        match Template::parse(v, wildcards) {
            Ok(t) => Some(t),
            Err(e) => {
                diags.error(
                    codes::INVALID_VARIABLE,
                    &list.item_pointer(j),
                    site,
                    e.message(),
                );
                None
            }
        }
    };
    if matches!(
        op.family,
        Family::Numeric | Family::Date | Family::Binary | Family::Ip | Family::Null
    ) {
        let mut ok = true;
        for (j, v) in list.items.iter().enumerate() {
            if templated(v) {
                ok = false;
                diags.error(
                    codes::INVALID_VARIABLE,
                    &list.item_pointer(j),
                    site,
                    format!("Invalid variable for operator: `{written}` does not accept policy variables (only String, ARN and Bool operators do)."),
                );
            }
        }
        if !ok {
            return None;
        }
    }
    let items = list.items.iter().enumerate();
    let out = match op.family {
        Family::String | Family::StringIgnoreCase => {
            let ic = op.family == Family::StringIgnoreCase;
            let mut vals = Vec::new();
            for (j, v) in items {
                if v.contains('*') {
                    diags.warn(
                        &list.item_pointer(j),
                        site,
                        format!("Wildcard without like operator: `*` is literal in `{written}`."),
                        Some("Use StringLike if `*` should be a wildcard.".into()),
                    );
                }
                if templated(v) {
                    vals.extend(template(diags, j, v, false).map(StrVal::Tmpl));
                } else if ic {
                    vals.push(StrVal::Lit(
                        v.chars()
                            .flat_map(char::to_lowercase)
                            .collect::<String>()
                            .into(),
                    ));
                } else {
                    vals.push(StrVal::Lit(v.clone()));
                }
            }
            Values::Str(vals.into_boxed_slice())
        }
        Family::StringLike => Values::Like(
            items
                .filter_map(|(j, v)| {
                    if templated(v) {
                        template(diags, j, v, true).map(LikeVal::Tmpl)
                    } else {
                        Some(LikeVal::Glob(Glob::new(v, false)))
                    }
                })
                .collect(),
        ),
        Family::Arn => Values::Arn(
            items
                .filter_map(|(j, v)| {
                    if templated(v) {
                        return template(diags, j, v, true).map(ArnVal::Tmpl);
                    }
                    Some(match ArnPattern::new(v) {
                        Ok(p) => ArnVal::Pattern(p),
                        Err(_) => {
                            diags.warn(
                                &list.item_pointer(j),
                                site,
                                format!("`{v}` is not an ARN (arn:partition:service:region:account:resource), so `{written}` never matches it."),
                                Some("Use StringLike for patterns that are not ARNs.".into()),
                            );
                            ArnVal::Invalid
                        }
                    })
                })
                .collect(),
        ),
        Family::Bool => {
            let mut vals = Vec::new();
            for (j, v) in items {
                if templated(v) {
                    vals.extend(template(diags, j, v, false).map(BoolVal::Tmpl));
                    continue;
                }
                let b = parse_bool(v);
                if b.is_none() {
                    diags.warn(
                        &list.item_pointer(j),
                        site,
                        format!("`{v}` is not `true` or `false`, so `{written}` never matches it."),
                        None,
                    );
                }
                vals.push(BoolVal::Lit(b));
            }
            Values::Bool(vals.into_boxed_slice())
        }
        Family::Null => {
            let mut vals = Vec::new();
            for (j, v) in items {
                let b = parse_bool(v);
                if b.is_none() {
                    diags.warn(
                        &list.item_pointer(j),
                        site,
                        format!("`{v}` is not `true` (key absent) or `false` (key present), so Null never matches it."),
                        None,
                    );
                }
                vals.push(b);
            }
            Values::Null(vals.into_boxed_slice())
        }
        Family::Numeric => Values::Num(parse_all(
            list,
            written,
            "number (at most 20 digits before and 18 after the decimal point, no exponent)",
            Decimal::parse,
            site,
            diags,
        )?),
        Family::Date => Values::Date(parse_all(list, written, "date", Timestamp::parse, site, diags)?),
        Family::Binary => Values::Binary(parse_all(
            list,
            written,
            "base-64 value",
            |v| base64_decode(v).map(Vec::into_boxed_slice),
            site,
            diags,
        )?),
        Family::Ip => Values::Ip(parse_all(list, written, "IP address or CIDR block", Cidr::parse, site, diags)?),
    };
    Some(out)
}

/// Parses every value with `parse`, reporting each one it refuses.
fn parse_all<T>(
    list: &List,
    written: &str,
    what: &str,
    parse: impl Fn(&str) -> Option<T>,
    site: Site<'_>,
    diags: &mut Diags,
) -> Option<Box<[T]>> {
    let mut ok = true;
    let mut out = Vec::with_capacity(list.items.len());
    for (j, v) in list.items.iter().enumerate() {
        match parse(v) {
            Some(x) => out.push(x),
            None => {
                ok = false;
                diags.error(
                    codes::INVALID_CONDITION_VALUE,
                    &list.item_pointer(j),
                    site,
                    format!("{SYNTAX} Invalid {what} `{v}` for condition operator `{written}`."),
                );
            }
        }
    }
    ok.then_some(out.into_boxed_slice())
}
