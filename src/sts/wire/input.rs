//! The typed inputs of `AssumeRoleWithWebIdentity` and `AssumeRole`, read from [`Params`] and
//! checked against every constraint of STS's model (sts §2.1, §3.1): required members, lengths,
//! patterns, the duration range, list sizes. Every violation is reported at once, in one
//! `ValidationError` with AWS's grammar, members in the model's order and, within a member,
//! length before pattern (our choice: AWS's own order is not documented).
//!
//! Lengths are counted as AWS counts them, in UTF-16 code units. The patterns are the model's,
//! quoted verbatim in the messages and matched by hand: `\w` and `\d` are ASCII as in Java;
//! `\p{L}` is approximated by Unicode's Alphabetic property (which also admits the few
//! combining marks that are alphabetic), `\p{N}` is exactly Rust's `char::is_numeric`, and
//! `\p{Z}` is the list of space separators.
//!
//! It must not: decide anything a role or a trust policy decides (the role's maximum session
//! duration, tag semantics, chaining), or show a sensitive member's value in a message or in
//! `Debug`.

use std::borrow::Cow;
use std::fmt;

use super::Params;
use crate::sts::error::{Constraint, FieldError, FieldValue, StsError};

/// The validated parameters of `AssumeRoleWithWebIdentity`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebIdentityInput {
    /// `RoleArn`.
    pub role_arn: String,
    /// `RoleSessionName`.
    pub role_session_name: String,
    /// `WebIdentityToken`, with surrounding white space removed (botocore sends the token
    /// file as read, newline included).
    pub web_identity_token: String,
    /// `DurationSeconds`, within 900–43200.
    pub duration_seconds: Option<u32>,
    /// `ProviderId` (OAuth 2.0 providers only).
    pub provider_id: Option<String>,
    /// `Policy`, the inline session policy text.
    pub policy: Option<String>,
    /// `PolicyArns.member.N.arn`, in order.
    pub policy_arns: Vec<String>,
}

impl fmt::Debug for WebIdentityInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebIdentityInput")
            .field("role_arn", &self.role_arn)
            .field("role_session_name", &self.role_session_name)
            .field("web_identity_token", &"** redacted **")
            .field("duration_seconds", &self.duration_seconds)
            .field("provider_id", &self.provider_id)
            .field("policy", &self.policy.as_ref().map(|_| "** redacted **"))
            .field("policy_arns", &self.policy_arns)
            .finish()
    }
}

impl WebIdentityInput {
    /// Reads and checks the parameters (sts §2.1).
    pub fn from_params(params: &Params) -> Result<Self, StsError> {
        let mut c = Checker::new(params);
        let role_arn = c.required("RoleArn", "roleArn", &ROLE_ARN);
        let role_session_name = c.required("RoleSessionName", "roleSessionName", &SESSION_NAME);
        let web_identity_token = c.required("WebIdentityToken", "webIdentityToken", &WEB_TOKEN);
        let provider_id = c.optional("ProviderId", "providerId", &PROVIDER_ID);
        let policy_arns = c.policy_arns();
        let policy = c.optional("Policy", "policy", &POLICY_LIMITED);
        let duration_seconds = c.duration();
        c.finish()?;
        Ok(Self {
            role_arn: role_arn.unwrap_or_default(),
            role_session_name: role_session_name.unwrap_or_default(),
            web_identity_token: web_identity_token.unwrap_or_default(),
            duration_seconds,
            provider_id,
            policy,
            policy_arns,
        })
    }
}

/// The validated parameters of `AssumeRole`.
#[derive(Clone, PartialEq, Eq)]
pub struct AssumeRoleInput {
    /// `RoleArn`.
    pub role_arn: String,
    /// `RoleSessionName`.
    pub role_session_name: String,
    /// `DurationSeconds`, within 900–43200.
    pub duration_seconds: Option<u32>,
    /// `ExternalId`.
    pub external_id: Option<String>,
    /// `Policy`, the inline session policy text.
    pub policy: Option<String>,
    /// `PolicyArns.member.N.arn`, in order.
    pub policy_arns: Vec<String>,
    /// `Tags.member.N.Key` / `.Value`, in order.
    pub tags: Vec<(String, String)>,
    /// `TransitiveTagKeys.member.N`, in order.
    pub transitive_tag_keys: Vec<String>,
    /// `SourceIdentity`.
    pub source_identity: Option<String>,
    /// `SerialNumber` (MFA device).
    pub serial_number: Option<String>,
    /// `TokenCode` (MFA code).
    pub token_code: Option<String>,
}

impl fmt::Debug for AssumeRoleInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumeRoleInput")
            .field("role_arn", &self.role_arn)
            .field("role_session_name", &self.role_session_name)
            .field("duration_seconds", &self.duration_seconds)
            .field("external_id", &self.external_id)
            .field("policy", &self.policy.as_ref().map(|_| "** redacted **"))
            .field("policy_arns", &self.policy_arns)
            .field("tags", &self.tags)
            .field("transitive_tag_keys", &self.transitive_tag_keys)
            .field("source_identity", &self.source_identity)
            .field("serial_number", &self.serial_number)
            .field(
                "token_code",
                &self.token_code.as_ref().map(|_| "** redacted **"),
            )
            .finish()
    }
}

impl AssumeRoleInput {
    /// Reads and checks the parameters (sts §3.1).
    pub fn from_params(params: &Params) -> Result<Self, StsError> {
        let mut c = Checker::new(params);
        let role_arn = c.required("RoleArn", "roleArn", &ROLE_ARN);
        let role_session_name = c.required("RoleSessionName", "roleSessionName", &SESSION_NAME);
        let policy_arns = c.policy_arns();
        let policy = c.optional("Policy", "policy", &POLICY_UNLIMITED);
        let duration_seconds = c.duration();
        let tags = c.tags();
        let transitive_tag_keys = c.transitive_tag_keys();
        let external_id = c.optional("ExternalId", "externalId", &EXTERNAL_ID);
        let serial_number = c.optional("SerialNumber", "serialNumber", &SERIAL_NUMBER);
        let token_code = c.optional("TokenCode", "tokenCode", &TOKEN_CODE);
        let source_identity = c.optional("SourceIdentity", "sourceIdentity", &SOURCE_IDENTITY);
        c.finish()?;
        Ok(Self {
            role_arn: role_arn.unwrap_or_default(),
            role_session_name: role_session_name.unwrap_or_default(),
            duration_seconds,
            external_id,
            policy,
            policy_arns,
            tags,
            transitive_tag_keys,
            source_identity,
            serial_number,
            token_code,
        })
    }
}

// === The model's constraints ===

/// A string member's constraints.
struct Rule {
    /// Minimum length (UTF-16 units); 0 for none.
    min: usize,
    /// Maximum length, if any.
    max: Option<usize>,
    pattern: Option<Pattern>,
    /// Whether messages leave the value out.
    sensitive: bool,
    /// Whether surrounding white space is removed before anything else.
    trim: bool,
}

/// A model pattern: a character class, repeated `*` or `+`.
struct Pattern {
    /// The pattern as the model writes it (and AWS quotes it).
    text: &'static str,
    allowed: fn(char) -> bool,
    /// `+`: the empty string does not match.
    non_empty: bool,
}

impl Pattern {
    fn matches(&self, value: &str) -> bool {
        !(self.non_empty && value.is_empty()) && value.chars().all(self.allowed)
    }
}

/// `arnType`.
const ROLE_ARN: Rule = Rule {
    min: 20,
    max: Some(2048),
    pattern: Some(Pattern {
        text: r"[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+",
        allowed: arn_char,
        non_empty: true,
    }),
    sensitive: false,
    trim: false,
};

/// `roleSessionNameType`.
const SESSION_NAME: Rule = Rule {
    min: 2,
    max: Some(64),
    pattern: Some(Pattern {
        text: r"[\w+=,.@-]*",
        allowed: session_name_char,
        non_empty: false,
    }),
    sensitive: false,
    trim: false,
};

/// `sourceIdentityType`: the same class as a session name.
const SOURCE_IDENTITY: Rule = SESSION_NAME;

/// `clientTokenType`: sensitive.
const WEB_TOKEN: Rule = Rule {
    min: 4,
    max: Some(20_000),
    pattern: None,
    sensitive: true,
    trim: true,
};

/// `urlType`.
const PROVIDER_ID: Rule = Rule {
    min: 4,
    max: Some(2048),
    pattern: None,
    sensitive: false,
    trim: false,
};

const POLICY_PATTERN: Pattern = Pattern {
    text: r"[\u0009\u000A\u000D\u0020-\u00FF]+",
    allowed: policy_char,
    non_empty: true,
};

/// `sessionPolicyDocumentType` (`AssumeRoleWithWebIdentity`).
const POLICY_LIMITED: Rule = Rule {
    min: 1,
    max: Some(2048),
    pattern: Some(POLICY_PATTERN),
    sensitive: true,
    trim: false,
};

/// `unrestrictedSessionPolicyDocumentType` (`AssumeRole`, no maximum since 2023-10).
const POLICY_UNLIMITED: Rule = Rule {
    min: 1,
    max: None,
    pattern: Some(POLICY_PATTERN),
    sensitive: true,
    trim: false,
};

/// `tagKeyType`.
const TAG_KEY: Rule = Rule {
    min: 1,
    max: Some(128),
    pattern: Some(Pattern {
        text: r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+",
        allowed: tag_char,
        non_empty: true,
    }),
    sensitive: false,
    trim: false,
};

/// `tagValueType`.
const TAG_VALUE: Rule = Rule {
    min: 0,
    max: Some(256),
    pattern: Some(Pattern {
        text: r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*",
        allowed: tag_char,
        non_empty: false,
    }),
    sensitive: false,
    trim: false,
};

/// `externalIdType`.
const EXTERNAL_ID: Rule = Rule {
    min: 2,
    max: Some(1224),
    pattern: Some(Pattern {
        text: r"[\w+=,.@:\/-]*",
        allowed: external_id_char,
        non_empty: false,
    }),
    sensitive: false,
    trim: false,
};

/// `serialNumberType`.
const SERIAL_NUMBER: Rule = Rule {
    min: 9,
    max: Some(256),
    pattern: Some(Pattern {
        text: r"[\w+=/:,.@-]*",
        allowed: external_id_char,
        non_empty: false,
    }),
    sensitive: false,
    trim: false,
};

/// `tokenCodeType`: an MFA code, never shown.
const TOKEN_CODE: Rule = Rule {
    min: 6,
    max: Some(6),
    pattern: Some(Pattern {
        text: r"[\d]*",
        allowed: |c| c.is_ascii_digit(),
        non_empty: false,
    }),
    sensitive: true,
    trim: false,
};

/// `roleDurationSecondsType`.
const MIN_DURATION: i64 = 900;
/// `roleDurationSecondsType`.
const MAX_DURATION: i64 = 43_200;
/// `policyDescriptorListType`.
const MAX_POLICY_ARNS: usize = 10;
/// `tagListType`.
const MAX_TAGS: usize = 50;
/// `tagKeyListType`.
const MAX_TRANSITIVE_KEYS: usize = 50;

/// Java's `\w`: ASCII letters, digits and `_`.
fn word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn session_name_char(c: char) -> bool {
    word_char(c) || matches!(c, '+' | '=' | ',' | '.' | '@' | '-')
}

fn external_id_char(c: char) -> bool {
    session_name_char(c) || matches!(c, ':' | '/')
}

fn arn_char(c: char) -> bool {
    matches!(c,
        '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{7E}' | '\u{85}' | '\u{A0}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

fn policy_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{FF}')
}

/// `\p{Z}`: the space, line and paragraph separators.
fn separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

fn tag_char(c: char) -> bool {
    c.is_alphabetic()
        || separator(c)
        || c.is_numeric()
        || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

// === The checks ===

/// Reads members and collects every violation.
struct Checker<'p> {
    params: &'p Params,
    errors: Vec<FieldError>,
}

impl<'p> Checker<'p> {
    fn new(params: &'p Params) -> Self {
        Self {
            params,
            errors: Vec::new(),
        }
    }

    /// A required string member: `Value null` when absent.
    fn required(&mut self, name: &str, member: &'static str, rule: &Rule) -> Option<String> {
        let value = self.optional(name, member, rule);
        if value.is_none() {
            self.errors.push(FieldError::null(member));
        }
        value
    }

    /// An optional string member.
    fn optional(&mut self, name: &str, member: &'static str, rule: &Rule) -> Option<String> {
        let value = self.params.get(name)?;
        Some(self.check(member, value, rule))
    }

    /// Checks `value` (trimmed first if the rule says so) and returns it.
    fn check(&mut self, member: &str, value: &str, rule: &Rule) -> String {
        let value = if rule.trim { value.trim() } else { value };
        let shown = || {
            if rule.sensitive {
                FieldValue::Hidden
            } else {
                FieldValue::Shown(value.to_owned())
            }
        };
        let length = value.encode_utf16().count();
        let mut violated = Vec::new();
        if length < rule.min {
            violated.push(Constraint::MinLength(rule.min));
        }
        if let Some(max) = rule.max.filter(|&max| length > max) {
            violated.push(Constraint::MaxLength(max));
        }
        if let Some(pattern) = rule.pattern.as_ref().filter(|p| !p.matches(value)) {
            violated.push(Constraint::Pattern(pattern.text));
        }
        for constraint in violated {
            self.errors.push(FieldError {
                member: Cow::Owned(member.to_owned()),
                value: shown(),
                constraint,
            });
        }
        value.to_owned()
    }

    /// `DurationSeconds`: an integer within 900–43200.
    fn duration(&mut self) -> Option<u32> {
        let text = self.params.get("DurationSeconds")?;
        let shown = || FieldValue::Shown(text.to_owned());
        let constraint = match parse_integer(text) {
            None => Constraint::Integer,
            Some(n) if n < MIN_DURATION => Constraint::MinValue(MIN_DURATION),
            Some(n) if n > MAX_DURATION => Constraint::MaxValue(MAX_DURATION),
            Some(n) => return u32::try_from(n).ok(),
        };
        self.errors.push(FieldError {
            member: "durationSeconds".into(),
            value: shown(),
            constraint,
        });
        None
    }

    /// A list's size: at most `max` members (the list itself is not shown).
    fn list_size(&mut self, member: &'static str, len: usize, max: usize) {
        if len > max {
            self.errors.push(FieldError {
                member: member.into(),
                value: FieldValue::Hidden,
                constraint: Constraint::MaxLength(max),
            });
        }
    }

    /// `PolicyArns.member.N.arn`.
    fn policy_arns(&mut self) -> Vec<String> {
        let members = self.params.list("PolicyArns");
        self.list_size("policyArns", members.len(), MAX_POLICY_ARNS);
        let mut arns = Vec::with_capacity(members.len());
        for (position, m) in (1usize..).zip(&members) {
            let member = format!("policyArns.{position}.member.arn");
            match m.field("arn") {
                Some(arn) => arns.push(self.check(&member, arn, &ROLE_ARN)),
                None => self.errors.push(FieldError::null(member)),
            }
        }
        arns
    }

    /// `Tags.member.N.Key` and `.Value`, both required.
    fn tags(&mut self) -> Vec<(String, String)> {
        let members = self.params.list("Tags");
        self.list_size("tags", members.len(), MAX_TAGS);
        let mut tags = Vec::with_capacity(members.len());
        for (position, m) in (1usize..).zip(&members) {
            let mut part = |field: &str, member: &str, rule: &Rule| {
                let member = format!("tags.{position}.member.{member}");
                match m.field(field) {
                    Some(v) => Some(self.check(&member, v, rule)),
                    None => {
                        self.errors.push(FieldError::null(member));
                        None
                    }
                }
            };
            let key = part("Key", "key", &TAG_KEY);
            let value = part("Value", "value", &TAG_VALUE);
            if let (Some(key), Some(value)) = (key, value) {
                tags.push((key, value));
            }
        }
        tags
    }

    /// `TransitiveTagKeys.member.N`.
    fn transitive_tag_keys(&mut self) -> Vec<String> {
        let members = self.params.list("TransitiveTagKeys");
        self.list_size("transitiveTagKeys", members.len(), MAX_TRANSITIVE_KEYS);
        let mut keys = Vec::with_capacity(members.len());
        for (position, m) in (1usize..).zip(&members) {
            let member = format!("transitiveTagKeys.{position}.member");
            match m.value() {
                Some(key) => keys.push(self.check(&member, key, &TAG_KEY)),
                None => self.errors.push(FieldError::null(member)),
            }
        }
        keys
    }

    /// Every violation at once, or none.
    fn finish(self) -> Result<(), StsError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(StsError::validation(&self.errors))
        }
    }
}

/// An optionally signed run of ASCII digits. A run too long for `i64` saturates: it is out of
/// range either way.
fn parse_integer(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, text.get(1..)?),
        Some(b'+') => (false, text.get(1..)?),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude = digits.parse::<i64>().unwrap_or(i64::MAX);
    Some(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests;
