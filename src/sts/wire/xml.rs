//! The XML STS answers with (sts §1.3, §1.4, §2.2, §4): `<Op>Response` wrapping `<Op>Result`
//! and `ResponseMetadata/RequestId`, or `ErrorResponse` with `Error/{Type,Code,Message}` and a
//! top-level `RequestId`; laid out as AWS lays them out (two-space indent, a final newline).
//! Every text is escaped, and characters XML 1.0 cannot carry become U+FFFD, so no value can
//! break a parser.
//!
//! It must not: decide what an answer holds, or print credentials anywhere but in the answer
//! body (their `Debug` is redacted).

use std::fmt;

use zeroize::Zeroizing;

use super::Action;
use crate::civil;
use crate::sts::error::StsError;

/// STS's XML namespace, on every answer and on errors of an operation.
pub const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// AWS's generic fault namespace, on errors decided before an operation is chosen (seen on
/// `InvalidAction`; see [`crate::sts::ErrorCode::is_dispatch`]).
pub const FAULT_NAMESPACE: &str = "http://webservices.amazon.com/AWSFault/2005-15-09";

/// The temporary credentials of an answer.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedCredentials {
    /// `AccessKeyId` (`ASIA…`).
    pub access_key_id: String,
    /// `SecretAccessKey`.
    pub secret_access_key: Zeroizing<String>,
    /// `SessionToken`.
    pub session_token: String,
    /// `Expiration`, in Unix seconds.
    pub expiration: i64,
}

impl fmt::Debug for IssuedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field("session_token", &"** redacted **")
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// The result of `AssumeRole` and `AssumeRoleWithWebIdentity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumedRole {
    /// `Credentials`.
    pub credentials: IssuedCredentials,
    /// `AssumedRoleUser/Arn`: `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub arn: String,
    /// `AssumedRoleUser/AssumedRoleId`: `<role id>:<session>`.
    pub assumed_role_id: String,
    /// `PackedPolicySize`, a percentage, when a session policy or tags were given.
    pub packed_policy_size: Option<u32>,
    /// `SourceIdentity`, when set.
    pub source_identity: Option<String>,
    /// `SubjectFromWebIdentityToken` (web identity only).
    pub subject_from_web_identity_token: Option<String>,
    /// `Audience` (web identity only).
    pub audience: Option<String>,
    /// `Provider` (web identity only): the OIDC provider's ARN.
    pub provider: Option<String>,
}

/// The result of `GetCallerIdentity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    /// `Arn`.
    pub arn: String,
    /// `UserId`.
    pub user_id: String,
    /// `Account`.
    pub account: String,
}

/// What an action answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `AssumeRole` or `AssumeRoleWithWebIdentity`.
    AssumedRole(AssumedRole),
    /// `GetCallerIdentity`.
    CallerIdentity(CallerIdentity),
}

/// The XML body of a successful `action`. An answer of the wrong kind for the action (a caller
/// identity for `AssumeRole`, …) is a bug of the handler and comes back as `InternalFailure`.
/// The `SourceIdentity`, `PackedPolicySize` and the web-identity-only members are written only
/// when set, and the latter only for `AssumeRoleWithWebIdentity`.
pub fn render_answer(
    action: Action,
    answer: &Answer,
    request_id: &str,
) -> Result<String, StsError> {
    let op = action.as_str();
    let mut x = Xml::default();
    x.open(0, &format!("{op}Response xmlns=\"{NAMESPACE}\""));
    x.open(1, &format!("{op}Result"));
    match (action, answer) {
        (Action::AssumeRole | Action::AssumeRoleWithWebIdentity, Answer::AssumedRole(a)) => {
            let web = action == Action::AssumeRoleWithWebIdentity;
            if web {
                x.optional(
                    2,
                    "SubjectFromWebIdentityToken",
                    a.subject_from_web_identity_token.as_deref(),
                );
                x.optional(2, "Audience", a.audience.as_deref());
            }
            x.open(2, "AssumedRoleUser");
            x.leaf(3, "Arn", &a.arn);
            x.leaf(3, "AssumedRoleId", &a.assumed_role_id);
            x.close(2, "AssumedRoleUser");
            let c = &a.credentials;
            x.open(2, "Credentials");
            x.leaf(3, "AccessKeyId", &c.access_key_id);
            x.leaf(3, "SecretAccessKey", &c.secret_access_key);
            x.leaf(3, "SessionToken", &c.session_token);
            x.leaf(3, "Expiration", &timestamp(c.expiration));
            x.close(2, "Credentials");
            let packed = a.packed_policy_size.map(|n| n.to_string());
            x.optional(2, "PackedPolicySize", packed.as_deref());
            x.optional(2, "SourceIdentity", a.source_identity.as_deref());
            if web {
                x.optional(2, "Provider", a.provider.as_deref());
            }
        }
        (Action::GetCallerIdentity, Answer::CallerIdentity(c)) => {
            x.leaf(2, "Arn", &c.arn);
            x.leaf(2, "UserId", &c.user_id);
            x.leaf(2, "Account", &c.account);
        }
        (Action::AssumeRole | Action::AssumeRoleWithWebIdentity, Answer::CallerIdentity(_))
        | (Action::GetCallerIdentity, Answer::AssumedRole(_)) => {
            return Err(StsError::internal_failure());
        }
    }
    x.close(1, &format!("{op}Result"));
    x.open(1, "ResponseMetadata");
    x.leaf(2, "RequestId", request_id);
    x.close(1, "ResponseMetadata");
    x.close(0, &format!("{op}Response"));
    Ok(x.0)
}

/// The XML body of an error (sts §1.4).
pub fn render_error(error: &StsError, request_id: &str) -> String {
    let namespace = if error.code().is_dispatch() {
        FAULT_NAMESPACE
    } else {
        NAMESPACE
    };
    let mut x = Xml::default();
    x.open(0, &format!("ErrorResponse xmlns=\"{namespace}\""));
    x.open(1, "Error");
    x.leaf(2, "Type", error.fault());
    x.leaf(2, "Code", error.code().as_str());
    x.leaf(2, "Message", error.message());
    x.close(1, "Error");
    x.leaf(1, "RequestId", request_id);
    x.close(0, "ErrorResponse");
    x.0
}

/// `YYYY-MM-DDTHH:MM:SSZ`, the form of AWS's examples.
fn timestamp(unix_secs: i64) -> String {
    let (y, mo, d, h, mi, s) = civil::civil(unix_secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// An XML document under construction, one element per line.
#[derive(Default)]
struct Xml(String);

impl Xml {
    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.0.push_str("  ");
        }
    }

    /// `<tag>` on a line of its own (`tag` may carry attributes: it is ours, not escaped).
    fn open(&mut self, depth: usize, tag: &str) {
        self.indent(depth);
        self.0.push('<');
        self.0.push_str(tag);
        self.0.push_str(">\n");
    }

    fn close(&mut self, depth: usize, name: &str) {
        self.indent(depth);
        self.0.push_str("</");
        self.0.push_str(name);
        self.0.push_str(">\n");
    }

    /// `<name>text</name>`, the text escaped.
    fn leaf(&mut self, depth: usize, name: &str, text: &str) {
        self.indent(depth);
        self.0.push('<');
        self.0.push_str(name);
        self.0.push('>');
        escape(&mut self.0, text);
        self.0.push_str("</");
        self.0.push_str(name);
        self.0.push_str(">\n");
    }

    fn optional(&mut self, depth: usize, name: &str, text: Option<&str>) {
        if let Some(text) = text {
            self.leaf(depth, name, text);
        }
    }
}

/// Appends `text` as XML character data: `&`, `<` and `>` as entities (quotes need none
/// outside attributes), a carriage return as `&#13;` (a parser would turn a literal one into a
/// line feed), and every character XML 1.0 cannot carry at all (the other C0 controls, U+FFFE,
/// U+FFFF) as U+FFFD.
fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests;
