//! The Query protocol STS speaks (sts §1.2–1.4): a request's name/value pairs, from a
//! form-encoded `POST` body and the query string, decoded once into [`Params`], with the action
//! and the API version checked; the typed, validated inputs of each action (`input`); the XML
//! answers and error bodies (`xml`).
//!
//! It must not: decide anything about credentials, trust or signatures (the actions do, after
//! they authenticated the caller), read the clock, or let a sensitive value (a web identity
//! token, a session policy, an MFA code, a presigned signature) into an error, a log or a
//! `Debug` output.

mod input;
mod xml;

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;

pub use input::{AssumeRoleInput, WebIdentityInput};
pub use xml::{
    Answer, AssumedRole, CallerIdentity, FAULT_NAMESPACE, IssuedCredentials, NAMESPACE,
    render_answer, render_error,
};

use super::error::{ErrorCode, StsError};

/// The one API version STS has: every request carries `Version=2011-06-15`.
pub const VERSION: &str = "2011-06-15";

/// The most name/value pairs one request may carry (query and body together). The largest
/// legitimate request, an `AssumeRole` with 50 tags, 50 transitive keys and 10 policy ARNs,
/// has under 200.
pub const MAX_PARAMS: usize = 512;

/// What `InvalidAction` names as the version when the request has none (AWS's word).
const NO_VERSION: &str = "NO_VERSION_SPECIFIED";

/// The operations this endpoint serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `AssumeRoleWithWebIdentity`: unsigned, authenticated by an OIDC token.
    AssumeRoleWithWebIdentity,
    /// `AssumeRole`: signed by a principal of the world.
    AssumeRole,
    /// `GetCallerIdentity`: signed; says who signed.
    GetCallerIdentity,
}

impl Action {
    /// Every action: the closed set of the metrics' `action` label.
    pub const ALL: [Action; 3] = [
        Self::AssumeRoleWithWebIdentity,
        Self::AssumeRole,
        Self::GetCallerIdentity,
    ];

    /// The operation's name, as in `Action=` and the XML element names.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AssumeRoleWithWebIdentity => "AssumeRoleWithWebIdentity",
            Self::AssumeRole => "AssumeRole",
            Self::GetCallerIdentity => "GetCallerIdentity",
        }
    }

    /// The action named `name` (exact, case-sensitive, as AWS matches it).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request's parameters: every name/value pair of the query string and (for a form `POST`)
/// the body, decoded, each name at most once.
#[derive(Clone, Default)]
pub struct Params {
    pairs: BTreeMap<String, String>,
}

impl fmt::Debug for Params {
    /// Names only: values include tokens, policies and presigned signatures.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.pairs.keys()).finish()
    }
}

impl Params {
    /// Reads a request: the query string of `target` (for any method) and, for a `POST` whose
    /// `content_type` is `application/x-www-form-urlencoded` (any parameters, any case), the
    /// form in `body`. A `POST` body of another type is not read, as AWS does not read it.
    ///
    /// Then checks, in AWS's order: an `Action` is present (else `MissingAction`); `Version`
    /// is `2011-06-15` (else `InvalidAction` naming the version, `NO_VERSION_SPECIFIED` when
    /// absent); the action is one of [`Action::ALL`] (else `InvalidAction`).
    ///
    /// Refused with `ValidationError`: a bad `%` escape, a name or value that is not UTF-8, a
    /// name given twice (in either part or across both: AWS keeps the first, which lets a
    /// proxy and this server read different values), more than [`MAX_PARAMS`] pairs.
    /// Refused with `MethodNotAllowed`: a method other than `GET` and `POST`.
    pub fn parse(
        method: &str,
        target: &str,
        content_type: Option<&[u8]>,
        body: &[u8],
    ) -> Result<(Action, Params), StsError> {
        let is_post = match method {
            "GET" => false,
            "POST" => true,
            _ => return Err(StsError::method_not_allowed()),
        };
        let mut params = Params::default();
        if let Some((_, query)) = target.split_once('?') {
            params.decode(query.as_bytes())?;
        }
        if is_post && content_type.is_some_and(is_form) {
            params.decode(body)?;
        }
        let Some(name) = params.get("Action") else {
            return Err(StsError::missing_action());
        };
        match params.get("Version") {
            Some(VERSION) => {}
            Some(other) => return Err(StsError::invalid_action(name, other)),
            None => return Err(StsError::invalid_action(name, NO_VERSION)),
        }
        let action =
            Action::from_name(name).ok_or_else(|| StsError::invalid_action(name, VERSION))?;
        Ok((action, params))
    }

    /// The value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.get(name).map(String::as_str)
    }

    /// How many pairs the request carried.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether the request carried no pair.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The members of the Query-protocol list `name`, in index order: `<name>.member.<N>` (a
    /// list of strings) and `<name>.member.<N>.<field>` (a list of structures). `N` counts
    /// from 1 without leading zeros; pairs with another index are not members (and, like any
    /// unknown parameter, ignored). `<name>=` alone is how botocore sends an empty list.
    pub fn list(&self, name: &str) -> Vec<ListMember<'_>> {
        let prefix = format!("{name}.member.");
        let mut members: BTreeMap<u32, ListMember<'_>> = BTreeMap::new();
        let entries = self
            .pairs
            .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(&prefix));
        for (key, value) in entries {
            let Some(rest) = key.strip_prefix(&prefix) else {
                continue;
            };
            let (index, field) = match rest.split_once('.') {
                Some((index, field)) => (index, Some(field)),
                None => (rest, None),
            };
            let Some(index) = parse_index(index) else {
                continue;
            };
            let member = members.entry(index).or_insert_with(|| ListMember {
                index,
                value: None,
                fields: Vec::new(),
            });
            match field {
                None => member.value = Some(value),
                Some(field) => member.fields.push((field, value)),
            }
        }
        members.into_values().collect()
    }

    /// Adds the pairs of one `application/x-www-form-urlencoded` text.
    fn decode(&mut self, text: &[u8]) -> Result<(), StsError> {
        for pair in text.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(at) => (pair.get(..at), pair.get(at.saturating_add(1)..)),
                None => (Some(pair), Some(&b""[..])),
            };
            let (Some(name), Some(value)) = (name, value) else {
                continue;
            };
            let name = percent_decode(name)?;
            if name.is_empty() {
                continue;
            }
            let value = percent_decode(value)?;
            if self.pairs.len() >= MAX_PARAMS {
                return Err(StsError::new(
                    ErrorCode::ValidationError,
                    format!("The request has more than {MAX_PARAMS} parameters"),
                ));
            }
            if self.pairs.contains_key(&name) {
                return Err(StsError::new(
                    ErrorCode::ValidationError,
                    format!("The parameter {name} appears more than once in the request"),
                ));
            }
            self.pairs.insert(name, value);
        }
        Ok(())
    }
}

/// One member of a Query-protocol list (see [`Params::list`]).
#[derive(Clone, PartialEq, Eq)]
pub struct ListMember<'a> {
    /// `N` of `.member.N`.
    pub index: u32,
    value: Option<&'a str>,
    fields: Vec<(&'a str, &'a str)>,
}

impl fmt::Debug for ListMember<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: Vec<&str> = self.fields.iter().map(|(name, _)| *name).collect();
        f.debug_struct("ListMember")
            .field("index", &self.index)
            .field("value", &self.value.map(|_| ".."))
            .field("fields", &fields)
            .finish()
    }
}

impl<'a> ListMember<'a> {
    /// The member's own value (`.member.N=value`), for a list of strings.
    pub fn value(&self) -> Option<&'a str> {
        self.value
    }

    /// The value of `field` (`.member.N.field=value`), for a list of structures.
    pub fn field(&self, field: &str) -> Option<&'a str> {
        self.fields
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, value)| *value)
    }
}

/// A list index: decimal, from 1, no leading zero, within `u32`.
fn parse_index(text: &str) -> Option<u32> {
    if text.starts_with('0') || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|&n| n >= 1)
}

/// Whether a `Content-Type` value names a form (`application/x-www-form-urlencoded`, any case,
/// any parameters such as `; charset=utf-8`).
fn is_form(content_type: &[u8]) -> bool {
    let media = content_type
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    media.eq_ignore_ascii_case(b"application/x-www-form-urlencoded")
}

/// Decodes one name or value: `+` is a space, `%XX` a byte; the bytes must be UTF-8.
fn percent_decode(text: &[u8]) -> Result<String, StsError> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.next().and_then(|&h| hex(h));
                let lo = bytes.next().and_then(|&l| hex(l));
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(StsError::new(
                        ErrorCode::ValidationError,
                        "The request parameters are not valid form encoding: a % is not \
                         followed by two hexadecimal digits",
                    ));
                };
                out.push((hi << 4) | lo);
            }
            _ => out.push(b),
        }
    }
    String::from_utf8(out).map_err(|_| {
        StsError::new(
            ErrorCode::ValidationError,
            "The request parameters are not valid form encoding: a name or value is not UTF-8",
        )
    })
}

fn hex(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
