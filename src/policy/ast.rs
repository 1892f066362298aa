//! Step one: JSON → a checked syntax tree (elements, types, required and forbidden elements).
//!
//! Every element is read independently so that one mistake does not hide the next: the caller
//! gets all problems at once. Content (ARNs, CIDRs, dates, variables, principals) is checked
//! in step two, `compile`, which runs on this tree even when it has errors.

use super::error::{Diags, Site, closest, codes};
use super::json::{self, Json, pointer_token};
use super::options::{ParseOptions, PolicyKind};

/// The `Version` element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    /// `2012-10-17`: policy variables are substituted.
    V2012,
    /// `2008-10-17`: `${...}` is literal text.
    V2008,
    /// No `Version`: 2008 semantics (iam-policy §1.1).
    Absent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Allow,
    Deny,
}

/// A document after step one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Document {
    pub(crate) version: Version,
    pub(crate) id: Option<Box<str>>,
    pub(crate) statements: Vec<Statement>,
}

/// A string or array of strings as written, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct List {
    /// `NotAction` / `NotResource` / `NotPrincipal`.
    pub(crate) negated: bool,
    pub(crate) pointer: String,
    /// Written as an array (item pointers get an index).
    pub(crate) array: bool,
    pub(crate) items: Vec<Box<str>>,
}

impl List {
    pub(crate) fn item_pointer(&self, index: usize) -> String {
        if self.array {
            format!("{}/{index}", self.pointer)
        } else {
            self.pointer.clone()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PrincipalType {
    Aws,
    Service,
    Federated,
    CanonicalUser,
}

impl PrincipalType {
    pub(crate) const NAMES: [&'static str; 4] = ["AWS", "Service", "Federated", "CanonicalUser"];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Aws => "AWS",
            Self::Service => "Service",
            Self::Federated => "Federated",
            Self::CanonicalUser => "CanonicalUser",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PrincipalValue {
    /// `"*"`.
    Any,
    /// `{"AWS": [...], "Service": [...], ...}`.
    Map(Vec<(PrincipalType, List)>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PrincipalElem {
    pub(crate) negated: bool,
    pub(crate) pointer: String,
    pub(crate) value: PrincipalValue,
}

/// One `operator: { key: values, ... }` block of `Condition`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Block {
    pub(crate) operator: Box<str>,
    pub(crate) pointer: String,
    pub(crate) entries: Vec<(Box<str>, List)>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Statement {
    /// Position in the `Statement` array (kept because non-object items are skipped).
    pub(crate) index: usize,
    pub(crate) pointer: String,
    pub(crate) sid: Option<Box<str>>,
    pub(crate) effect: Option<Effect>,
    pub(crate) principal: Option<PrincipalElem>,
    pub(crate) action: Option<List>,
    pub(crate) resource: Option<List>,
    pub(crate) conditions: Vec<Block>,
    pub(crate) condition_pointer: String,
}

const TOP_ELEMENTS: [&str; 3] = ["Version", "Id", "Statement"];
const STATEMENT_ELEMENTS: [&str; 9] = [
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

pub(crate) const SYNTAX: &str = "Syntax errors in policy.";
pub(crate) const LEGACY: &str = "The policy failed legacy parsing";

fn child(base: &str, token: &str) -> String {
    let mut s = String::with_capacity(base.len() + token.len() + 1);
    s.push_str(base);
    s.push('/');
    pointer_token(&mut s, token);
    s
}

/// Reports duplicate members of an object; returns the members to use (the first of each).
fn unique<'j>(
    members: &'j [(Box<str>, Json)],
    base: &str,
    site: Site<'_>,
    diags: &mut Diags,
) -> Vec<&'j (Box<str>, Json)> {
    let mut out: Vec<&(Box<str>, Json)> = Vec::with_capacity(members.len());
    for m in members {
        if out.iter().any(|o| o.0 == m.0) {
            diags.error(
                codes::DUPLICATE_KEY,
                &child(base, &m.0),
                site,
                format!(
                    "{SYNTAX} Duplicate element `{}`: an element may appear only once.",
                    m.0
                ),
            );
        } else {
            out.push(m);
        }
    }
    out
}

/// Reads a string or an array of strings. With `scalars`, numbers and booleans are accepted
/// and normalised to their text ("Quotation marks are optional for numeric and Boolean
/// values", iam-policy §1.1).
fn list(
    value: &Json,
    pointer: String,
    negated: bool,
    scalars: bool,
    site: Site<'_>,
    diags: &mut Diags,
) -> Option<List> {
    let scalar = |v: &Json| -> Option<Box<str>> {
        match v {
            Json::String(s) => Some(s.clone()),
            Json::Number(n) if scalars => Some(n.clone()),
            Json::Bool(b) if scalars => Some(if *b { "true" } else { "false" }.into()),
            _ => None,
        }
    };
    match value {
        Json::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                match scalar(item) {
                    Some(s) => out.push(s),
                    None => {
                        ok = false;
                        diags.error(
                            codes::MALFORMED,
                            &format!("{pointer}/{i}"),
                            site,
                            format!("{SYNTAX} Expected a string here, found {}.", item.kind()),
                        );
                    }
                }
            }
            ok.then_some(List {
                negated,
                pointer,
                array: true,
                items: out,
            })
        }
        v => match scalar(v) {
            Some(s) => Some(List {
                negated,
                pointer,
                array: false,
                items: vec![s],
            }),
            None => {
                diags.error(
                    codes::MALFORMED,
                    &pointer,
                    site,
                    format!(
                        "{SYNTAX} Expected a string or an array of strings, found {}.",
                        v.kind()
                    ),
                );
                None
            }
        },
    }
}

/// Step one. `None` only when there is no statement tree to look at (not JSON, not an object).
pub(crate) fn parse(source: &str, options: &ParseOptions, diags: &mut Diags) -> Option<Document> {
    let root = match json::parse(source) {
        Ok(j) => j,
        Err(e) if e.too_deep => {
            diags.error(
                codes::TOO_DEEP,
                "",
                Site::default(),
                format!(
                    "{SYNTAX} The document nests arrays and objects deeper than the limit of {} (line {}, column {}).",
                    json::MAX_JSON_DEPTH,
                    e.line,
                    e.column
                ),
            );
            return None;
        }
        Err(e) => {
            diags.error(
                codes::MALFORMED,
                "",
                Site::default(),
                format!(
                    "{SYNTAX} The document is not valid JSON: {} at line {}, column {}.",
                    e.message, e.line, e.column
                ),
            );
            return None;
        }
    };
    let Json::Object(members) = &root else {
        diags.error(
            codes::MALFORMED,
            "",
            Site::default(),
            format!(
                "{SYNTAX} A policy document must be a JSON object, found {}.",
                root.kind()
            ),
        );
        return None;
    };
    let mut doc = Document {
        version: Version::Absent,
        id: None,
        statements: Vec::new(),
    };
    let mut saw_statement = false;
    for (name, value) in unique(members, "", Site::default(), diags) {
        let pointer = child("", name);
        match &**name {
            "Version" => match value {
                Json::String(v) if &**v == "2012-10-17" => doc.version = Version::V2012,
                Json::String(v) if &**v == "2008-10-17" => doc.version = Version::V2008,
                other => {
                    diags.error(
                        codes::INVALID_VERSION,
                        &pointer,
                        Site::default(),
                        format!(
                            "{SYNTAX} The policy version {} is not valid.",
                            match other {
                                Json::String(s) => format!("`{s}`"),
                                o => o.kind().to_owned(),
                            }
                        ),
                    );
                    diags.hint(
                        "Use \"Version\": \"2012-10-17\" (policy variables) or \"2008-10-17\".",
                    );
                }
            },
            "Id" => match value {
                Json::String(s) => {
                    doc.id = Some(s.clone());
                    if matches!(options.kind, PolicyKind::Identity) {
                        diags.warn(
                            &pointer,
                            Site::default(),
                            "The Id element must not be included in identity-based policies.",
                            Some("Remove `Id`.".into()),
                        );
                    }
                }
                other => diags.error(
                    codes::MALFORMED,
                    &pointer,
                    Site::default(),
                    format!("{SYNTAX} Id must be a string, found {}.", other.kind()),
                ),
            },
            "Statement" => {
                saw_statement = true;
                match value {
                    Json::Object(_) => {
                        doc.statements
                            .push(statement(value, 0, "/Statement", options, diags));
                    }
                    Json::Array(items) if items.is_empty() => diags.error(
                        codes::MISSING_ELEMENT,
                        &pointer,
                        Site::default(),
                        format!("{SYNTAX} The Statement list is empty; a policy needs at least one statement."),
                    ),
                    Json::Array(items) => {
                        for (i, item) in items.iter().enumerate() {
                            let p = format!("/Statement/{i}");
                            if let Json::Object(_) = item {
                                doc.statements.push(statement(item, i, &p, options, diags));
                            } else {
                                diags.error(
                                    codes::MALFORMED,
                                    &p,
                                    Site {
                                        statement: Some(i),
                                        sid: None,
                                    },
                                    format!("{SYNTAX} A statement must be a JSON object, found {}.", item.kind()),
                                );
                            }
                        }
                    }
                    other => diags.error(
                        codes::MALFORMED,
                        &pointer,
                        Site::default(),
                        format!(
                            "{SYNTAX} Statement must be an object or an array of objects, found {}.",
                            other.kind()
                        ),
                    ),
                }
            }
            _ => {
                diags.error(
                    codes::UNKNOWN_ELEMENT,
                    &pointer,
                    Site::default(),
                    format!("{SYNTAX} Unknown element `{name}` at the top level of the policy."),
                );
                if let Some(c) = closest(name, &TOP_ELEMENTS) {
                    diags.hint(format!("Did you mean `{c}`?"));
                }
            }
        }
    }
    if !saw_statement {
        diags.error(
            codes::MISSING_ELEMENT,
            "",
            Site::default(),
            format!("{SYNTAX} The policy has no Statement element."),
        );
    }
    if doc.version == Version::Absent {
        diags.warn(
            "",
            Site::default(),
            "The policy has no Version element, so it is read with 2008-10-17 rules: `${...}` policy variables are literal text.",
            Some("Add \"Version\": \"2012-10-17\".".into()),
        );
    }
    Some(doc)
}

fn statement(
    value: &Json,
    index: usize,
    pointer: &str,
    options: &ParseOptions,
    diags: &mut Diags,
) -> Statement {
    let members: &[(Box<str>, Json)] = match value {
        Json::Object(m) => m,
        _ => &[],
    };
    let sid = members.iter().find_map(|(k, v)| match (&**k, v) {
        ("Sid", Json::String(s)) => Some(s.clone()),
        _ => None,
    });
    let site = Site {
        statement: Some(index),
        sid: sid.as_deref(),
    };
    let mut st = Statement {
        index,
        condition_pointer: child(pointer, "Condition"),
        pointer: pointer.to_owned(),
        sid: None,
        effect: None,
        principal: None,
        action: None,
        resource: None,
        conditions: Vec::new(),
    };
    let conflicts = |diags: &mut Diags, a: &str, b: &str| {
        diags.error(
            codes::CONFLICTING_ELEMENTS,
            &child(pointer, b),
            site,
            format!("{SYNTAX} A statement cannot contain both `{a}` and `{b}`."),
        );
    };
    for (name, v) in unique(members, pointer, site, diags) {
        let p = child(pointer, name);
        match &**name {
            "Sid" => match v {
                Json::String(s) => st.sid = Some(s.clone()),
                other => diags.error(
                    codes::MALFORMED,
                    &p,
                    site,
                    format!("{SYNTAX} Sid must be a string, found {}.", other.kind()),
                ),
            },
            "Effect" => match v {
                Json::String(e) if &**e == "Allow" => st.effect = Some(Effect::Allow),
                Json::String(e) if &**e == "Deny" => st.effect = Some(Effect::Deny),
                Json::String(e)
                    if e.eq_ignore_ascii_case("allow") || e.eq_ignore_ascii_case("deny") =>
                {
                    diags.error(
                        codes::INVALID_EFFECT,
                        &p,
                        site,
                        format!("{LEGACY}: Effect `{e}` must be written exactly `Allow` or `Deny` (it is case-sensitive)."),
                    );
                    diags.hint(if e.eq_ignore_ascii_case("allow") {
                        "Write \"Allow\"."
                    } else {
                        "Write \"Deny\"."
                    });
                }
                other => diags.error(
                    codes::INVALID_EFFECT,
                    &p,
                    site,
                    format!(
                        "{SYNTAX} Effect must be \"Allow\" or \"Deny\", found {}.",
                        match other {
                            Json::String(s) => format!("`{s}`"),
                            o => o.kind().to_owned(),
                        }
                    ),
                ),
            },
            "Action" | "NotAction" => {
                if st.action.is_some() {
                    conflicts(diags, "Action", "NotAction");
                    continue;
                }
                st.action = list(v, p, &**name == "NotAction", false, site, diags);
            }
            "Resource" | "NotResource" => {
                if st.resource.is_some() {
                    conflicts(diags, "Resource", "NotResource");
                    continue;
                }
                st.resource = list(v, p, &**name == "NotResource", false, site, diags);
            }
            "Principal" | "NotPrincipal" => {
                if st.principal.is_some() {
                    conflicts(diags, "Principal", "NotPrincipal");
                    continue;
                }
                st.principal = principal(v, p, &**name == "NotPrincipal", options, site, diags);
            }
            "Condition" => st.conditions = conditions(v, &p, site, diags),
            _ => {
                diags.error(
                    codes::UNKNOWN_ELEMENT,
                    &p,
                    site,
                    format!("{SYNTAX} Unknown element `{name}` in a statement."),
                );
                if let Some(c) = closest(name, &STATEMENT_ELEMENTS) {
                    diags.hint(format!("Did you mean `{c}`?"));
                }
            }
        }
    }
    if st.effect.is_none() && !members.iter().any(|(k, _)| &**k == "Effect") {
        diags.error(
            codes::MISSING_ELEMENT,
            pointer,
            site,
            format!("{SYNTAX} The statement has no Effect; add \"Effect\": \"Allow\" or \"Deny\"."),
        );
    }
    let has = |n: &str| members.iter().any(|(k, _)| &**k == n);
    match &st.action {
        Some(a) if a.items.is_empty() => diags.error(
            codes::MISSING_ELEMENT,
            &a.pointer,
            site,
            "Policy statement must contain actions.",
        ),
        None if !has("Action") && !has("NotAction") => diags.error(
            codes::MISSING_ELEMENT,
            pointer,
            site,
            "Policy statement must contain actions.",
        ),
        _ => {}
    }
    match &st.resource {
        _ if options.kind == PolicyKind::Trust && (has("Resource") || has("NotResource")) => {
            diags.error(
                codes::CONFLICTING_ELEMENTS,
                pointer,
                site,
                "Has prohibited field Resource: a trust policy is about the role it belongs to.",
            );
        }
        _ if options.kind == PolicyKind::Trust => {}
        Some(r) if r.items.is_empty() => diags.error(
            codes::MISSING_ELEMENT,
            &r.pointer,
            site,
            "Policy statement must contain resources.",
        ),
        None if !has("Resource") && !has("NotResource") => diags.error(
            codes::MISSING_ELEMENT,
            pointer,
            site,
            "Policy statement must contain resources.",
        ),
        _ => {}
    }
    let has_principal = has("Principal") || has("NotPrincipal");
    match options.kind {
        PolicyKind::Resource | PolicyKind::Trust if !has_principal => diags.error(
            codes::MISSING_ELEMENT,
            pointer,
            site,
            "Missing required field Principal: a resource-based policy statement must contain Principal or NotPrincipal.",
        ),
        PolicyKind::ResourceControl if !has_principal => diags.error(
            codes::MISSING_ELEMENT,
            pointer,
            site,
            "Missing required field Principal: a resource control policy statement must contain \"Principal\": \"*\".",
        ),
        _ => {}
    }
    st
}

fn principal(
    v: &Json,
    pointer: String,
    negated: bool,
    options: &ParseOptions,
    site: Site<'_>,
    diags: &mut Diags,
) -> Option<PrincipalElem> {
    let element = if negated { "NotPrincipal" } else { "Principal" };
    match options.kind {
        PolicyKind::Identity | PolicyKind::ServiceControl => {
            diags.error(
                codes::INVALID_PRINCIPAL,
                &pointer,
                site,
                format!("Policy document should not specify a principal: `{element}` is not allowed in identity-based policies or service control policies."),
            );
            diags.hint(format!(
                "Remove `{element}`; the policy applies to the identity it is attached to."
            ));
            return None;
        }
        PolicyKind::ResourceControl if negated || !matches!(v, Json::String(s) if &**s == "*") => {
            diags.error(
                codes::INVALID_PRINCIPAL,
                &pointer,
                site,
                format!("{SYNTAX} In a resource control policy the principal must be \"Principal\": \"*\"; use conditions such as aws:PrincipalArn to narrow it."),
            );
            return None;
        }
        _ => {}
    }
    let value = match v {
        Json::String(s) if &**s == "*" => PrincipalValue::Any,
        Json::String(s) => {
            if options.bare_account_principal && super::principal::is_account_id(s) {
                diags.warn(
                    &pointer,
                    site,
                    format!("A bare account id principal `{s}` is not IAM grammar; it is read as {{\"AWS\": \"{s}\"}}."),
                    Some(format!("Write \"{element}\": {{\"AWS\": \"{s}\"}}.")),
                );
                PrincipalValue::Map(vec![(
                    PrincipalType::Aws,
                    List {
                        negated,
                        pointer: pointer.clone(),
                        array: false,
                        items: vec![s.clone()],
                    },
                )])
            } else {
                diags.error(
                    codes::INVALID_PRINCIPAL,
                    &pointer,
                    site,
                    format!("Invalid principal in policy: `{s}`. A principal is \"*\" or an object such as {{\"AWS\": \"...\"}}."),
                );
                if super::principal::is_account_id(s) {
                    diags.hint(format!("Write {{\"AWS\": \"{s}\"}}."));
                }
                return None;
            }
        }
        Json::Object(members) => {
            let mut map = Vec::new();
            for (name, value) in unique(members, &pointer, site, diags) {
                let p = child(&pointer, name);
                let kind = match &**name {
                    "AWS" => PrincipalType::Aws,
                    "Service" => PrincipalType::Service,
                    "Federated" => PrincipalType::Federated,
                    "CanonicalUser" => PrincipalType::CanonicalUser,
                    _ => {
                        diags.error(
                            codes::INVALID_PRINCIPAL,
                            &p,
                            site,
                            format!("Invalid principal key `{name}`: use AWS, Service, Federated or CanonicalUser."),
                        );
                        if let Some(c) = closest(name, &PrincipalType::NAMES) {
                            diags.hint(format!("Did you mean `{c}`?"));
                        }
                        continue;
                    }
                };
                if let Some(l) = list(value, p, negated, false, site, diags) {
                    map.push((kind, l));
                }
            }
            if map.is_empty() && members.is_empty() {
                diags.warn(
                    &pointer,
                    site,
                    format!("`{element}` is empty, so the statement matches no principal."),
                    None,
                );
            }
            PrincipalValue::Map(map)
        }
        other => {
            diags.error(
                codes::INVALID_PRINCIPAL,
                &pointer,
                site,
                format!(
                    "{SYNTAX} `{element}` must be \"*\" or an object, found {}.",
                    other.kind()
                ),
            );
            return None;
        }
    };
    Some(PrincipalElem {
        negated,
        pointer,
        value,
    })
}

fn conditions(v: &Json, pointer: &str, site: Site<'_>, diags: &mut Diags) -> Vec<Block> {
    let Json::Object(members) = v else {
        diags.error(
            codes::MALFORMED,
            pointer,
            site,
            format!(
                "{SYNTAX} Condition must be an object of operators, found {}.",
                v.kind()
            ),
        );
        return Vec::new();
    };
    if members.is_empty() {
        diags.warn(
            pointer,
            site,
            "The Condition element is empty and has no effect.",
            None,
        );
    }
    let mut out = Vec::new();
    for (op, body) in unique(members, pointer, site, diags) {
        let p = child(pointer, op);
        let Json::Object(keys) = body else {
            diags.error(
                codes::MALFORMED,
                &p,
                site,
                format!(
                    "{SYNTAX} Operator `{op}` must map condition keys to values, found {}.",
                    body.kind()
                ),
            );
            continue;
        };
        let mut entries = Vec::new();
        for (key, values) in unique(keys, &p, site, diags) {
            if let Some(l) = list(values, child(&p, key), false, true, site, diags) {
                entries.push((key.clone(), l));
            }
        }
        out.push(Block {
            operator: op.clone(),
            pointer: p,
            entries,
        });
    }
    out
}

// === writer ===

impl Document {
    /// Normalised JSON: `Version` first, every list as an array, numbers and booleans in
    /// conditions as strings, bare account principals as `{"AWS": ...}`.
    pub(crate) fn to_json(&self) -> String {
        let mut o = String::from("{");
        match self.version {
            Version::V2012 => o.push_str("\"Version\":\"2012-10-17\","),
            Version::V2008 => o.push_str("\"Version\":\"2008-10-17\","),
            Version::Absent => {}
        }
        if let Some(id) = &self.id {
            o.push_str("\"Id\":");
            json::write_str(&mut o, id);
            o.push(',');
        }
        o.push_str("\"Statement\":[");
        for (i, st) in self.statements.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            st.write(&mut o);
        }
        o.push_str("]}");
        o
    }
}

fn write_list(o: &mut String, items: &[Box<str>]) {
    o.push('[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        json::write_str(o, s);
    }
    o.push(']');
}

impl Statement {
    fn write(&self, o: &mut String) {
        o.push('{');
        if let Some(sid) = &self.sid {
            o.push_str("\"Sid\":");
            json::write_str(o, sid);
            o.push(',');
        }
        o.push_str(match self.effect {
            Some(Effect::Deny) => "\"Effect\":\"Deny\"",
            _ => "\"Effect\":\"Allow\"",
        });
        if let Some(p) = &self.principal {
            o.push_str(if p.negated {
                ",\"NotPrincipal\":"
            } else {
                ",\"Principal\":"
            });
            match &p.value {
                PrincipalValue::Any => o.push_str("\"*\""),
                PrincipalValue::Map(map) => {
                    o.push('{');
                    for (i, (kind, list)) in map.iter().enumerate() {
                        if i > 0 {
                            o.push(',');
                        }
                        json::write_str(o, kind.name());
                        o.push(':');
                        write_list(o, &list.items);
                    }
                    o.push('}');
                }
            }
        }
        if let Some(a) = &self.action {
            o.push_str(if a.negated {
                ",\"NotAction\":"
            } else {
                ",\"Action\":"
            });
            write_list(o, &a.items);
        }
        if let Some(r) = &self.resource {
            o.push_str(if r.negated {
                ",\"NotResource\":"
            } else {
                ",\"Resource\":"
            });
            write_list(o, &r.items);
        }
        if !self.conditions.is_empty() {
            o.push_str(",\"Condition\":{");
            for (i, b) in self.conditions.iter().enumerate() {
                if i > 0 {
                    o.push(',');
                }
                json::write_str(o, &b.operator);
                o.push_str(":{");
                for (j, (key, values)) in b.entries.iter().enumerate() {
                    if j > 0 {
                        o.push(',');
                    }
                    json::write_str(o, key);
                    o.push(':');
                    write_list(o, &values.items);
                }
                o.push('}');
            }
            o.push('}');
        }
        o.push('}');
    }
}
