//! The STS actions: who may have a session of which role, and the session itself.
//!
//! `AssumeRoleWithWebIdentity` checks the web identity token against the world's OIDC providers
//! and the role's trust policy, in the order of sts §2.3; `AssumeRole` verifies the caller's
//! signature and combines the role's trust policy with the caller's identity policies as IAM does
//! (sts §3.3); `GetCallerIdentity` names whoever signed. A session is minted as fresh credentials
//! sealed, with everything it carries, into its own token under the world's first session key.
//!
//! It must not read sockets or bodies (the listener hands it a parsed [`Call`]) nor log: it says
//! what decided in [`LogDetail`], and the listener writes the one line.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::lattice::{Caller, Layer, NamedPolicy, Principal, PrincipalKind, Role, Signer, World};
use crate::policy::{self, ConditionKey, Evaluation, MissReason, Outcome, PrincipalMatch, Value};
use crate::sigv4::{self, SigV4Error, SigV4ErrorKind, Verified, Verifier};
use crate::store::Store;
use crate::tokens::{self, JwtError, SessionClaims, UnverifiedJwt};

use super::error::{ErrorCode, StsError};
use super::server::{Call, Handled, Handler, LogDetail};
use super::wire::{
    Action, Answer, AssumeRoleInput, AssumedRole, CallerIdentity, IssuedCredentials,
    WebIdentityInput,
};

/// IAM accepts a web identity token up to five minutes past its `exp` (sts §2.3), and we take
/// `nbf` and `iat` up to five minutes ahead (sts §9 row 2).
const JWT_SKEW_SECS: i64 = 300;

/// A session's length when the call does not say.
const DEFAULT_DURATION_SECS: u32 = 3600;

/// The longest session role chaining gives (sts §3.4).
const CHAINED_MAX_SECS: u32 = 3600;

/// The claim and the condition-key suffixes of a provider a trust policy may test (sts §2.4).
const AUDIENCE: &str = "aud";

/// The STS: the world's roles and providers, from the store's current snapshot.
#[derive(Debug)]
pub struct Issuer {
    store: Arc<Store>,
    verifier: Verifier,
}

impl Issuer {
    /// The STS over `store`'s worlds; signed calls are verified with `settings` (service `sts`,
    /// any region).
    pub fn new(store: Arc<Store>, settings: sigv4::Settings) -> Self {
        Self {
            store,
            verifier: Verifier::new(settings),
        }
    }
}

impl Handler for Issuer {
    fn handle(&self, call: &Call<'_>, now: SystemTime) -> Handled {
        let mut log = LogDetail::default();
        let Some(snapshot) = self.store.current() else {
            log.detail = Some("no world is loaded".to_owned());
            return Handled {
                result: Err(StsError::service_unavailable()),
                log,
            };
        };
        let world = &snapshot.world;
        let now_secs = unix_secs(now);
        let result = match call.action {
            Action::AssumeRoleWithWebIdentity => web_identity(world, call, now_secs, &mut log),
            Action::AssumeRole => self.assume_role(world, call, now, now_secs, &mut log),
            Action::GetCallerIdentity => self.caller_identity(world, call, now, &mut log),
        };
        Handled { result, log }
    }
}

// === AssumeRoleWithWebIdentity ===

/// sts §2.3, "Procedure we implement", step by step.
fn web_identity(
    world: &World,
    call: &Call<'_>,
    now: i64,
    log: &mut LogDetail,
) -> Result<Answer, StsError> {
    let input = WebIdentityInput::from_params(call.params)?;
    log.role_arn = Some(input.role_arn.clone());
    log.session_name = Some(input.role_session_name.clone());
    if input.provider_id.is_some() {
        log.detail = Some("ProviderId given: OAuth 2.0 access tokens are not accepted".to_owned());
        return Err(invalid_token(
            "ProviderId is only for OAuth 2.0 access tokens, which this service does not accept; send an OpenID Connect ID token without ProviderId.",
        ));
    }
    refuse_session_policies(input.policy.as_deref(), &input.policy_arns, log)?;
    let jwt = UnverifiedJwt::parse(&input.web_identity_token).map_err(|e| {
        log.detail = Some(format!("web identity token refused: {e}"));
        jwt_refusal(&e)
    })?;
    let claims = jwt.claims();
    let denied = StsError::web_identity_not_authorized;
    let (role, trust) = trusting_role(world, &input.role_arn, log).ok_or_else(denied)?;
    let Some(issuer) = claims.iss.as_deref() else {
        log.detail = Some("the token has no `iss`".to_owned());
        return Err(StsError::missing_claim("iss"));
    };
    let Some(provider) = world.oidc_provider(&role.account, issuer) else {
        log.detail = Some(format!(
            "no provider for issuer {issuer} in account {}",
            role.account
        ));
        return Err(StsError::no_oidc_provider(issuer));
    };
    if claims.aud.is_empty() {
        log.detail = Some("the token has no `aud`".to_owned());
        return Err(StsError::missing_claim("aud"));
    }
    let Some(audience) = claims
        .aud
        .iter()
        .find(|a| provider.client_ids.iter().any(|c| **c == ***a))
    else {
        log.detail = Some(format!(
            "no audience of the token is in the client id list of {}",
            provider.arn
        ));
        return Err(StsError::incorrect_audience());
    };
    jwt.verify(&provider.jwks).map_err(|e| {
        log.detail = Some(format!("web identity token refused: {e}"));
        jwt_refusal(&e)
    })?;
    let Some(exp) = claims.exp else {
        log.detail = Some("the token has no `exp`".to_owned());
        return Err(StsError::missing_claim("exp"));
    };
    if now > exp.saturating_add(JWT_SKEW_SECS) {
        log.detail = Some(format!("the token expired at {exp}"));
        return Err(StsError::web_identity_token_expired(now, exp));
    }
    for (name, value) in [("nbf", claims.nbf), ("iat", claims.iat)] {
        if value.is_some_and(|t| t > now.saturating_add(JWT_SKEW_SECS)) {
            log.detail = Some(format!("the token's `{name}` is in the future"));
            return Err(invalid_token(&format!(
                "The token is not valid yet: its {name} is more than {JWT_SKEW_SECS} seconds after the current date/time {now}"
            )));
        }
    }
    let Some(subject) = claims.sub.as_deref() else {
        log.detail = Some("the token has no `sub`".to_owned());
        return Err(StsError::missing_claim("sub"));
    };
    log.caller = Some(format!("{}:sub={subject}", provider.arn));

    let prefix = &*provider.key_prefix;
    let mut context = TrustContext::new(now, call.source);
    context.set(
        &format!("{prefix}:sub"),
        Value::String(Cow::Borrowed(subject)),
    );
    context.set(
        &format!("{prefix}:{AUDIENCE}"),
        Value::String(Cow::Borrowed(audience)),
    );
    if let Some(azp) = claims.azp.as_deref() {
        context.set(&format!("{prefix}:azp"), Value::String(Cow::Borrowed(azp)));
    }
    if !claims.amr.is_empty() {
        context.set(
            &format!("{prefix}:amr"),
            Value::Strings(
                claims
                    .amr
                    .iter()
                    .map(|a| Cow::Borrowed(a.as_str()))
                    .collect(),
            ),
        );
    }
    context.set_session(
        &input.role_session_name,
        claims.source_identity.as_deref(),
        &claims.principal_tags,
        &claims.transitive_tag_keys,
    );
    let principal = policy::Principal::Federated(&provider.arn);
    for action in needed_actions(
        "sts:AssumeRoleWithWebIdentity",
        !claims.principal_tags.is_empty(),
        claims.source_identity.is_some(),
    ) {
        let request = policy::Request {
            principal,
            action,
            resource: &role.arn,
        };
        let evaluation = trust.policy.evaluate(&request, &context);
        if evaluation.outcome != Outcome::Allow {
            log.detail = Some(describe("trust policy", action, &evaluation));
            return Err(denied());
        }
        // A web identity is no principal of an account: only the role's account's RCPs apply.
        guardrails(world, None, role, &request, &context, log).map_err(|()| denied())?;
    }
    let duration = input.duration_seconds.unwrap_or(DEFAULT_DURATION_SECS);
    check_duration(role, duration, false, log)?;
    let mut answer = mint(
        world,
        role,
        &input.role_session_name,
        now,
        duration,
        Minted {
            tags: claims.principal_tags.clone(),
            transitive_tag_keys: claims.transitive_tag_keys.clone(),
            source_identity: claims.source_identity.clone(),
            federated_provider: Some(provider.arn.to_string()),
            chained: false,
        },
        log,
    )?;
    answer.subject_from_web_identity_token = Some(subject.to_owned());
    answer.audience = Some((*audience).clone());
    answer.provider = Some(provider.arn.to_string());
    log.detail = Some(format!(
        "issued: trust policy allows {} for {}",
        "sts:AssumeRoleWithWebIdentity", provider.arn
    ));
    Ok(Answer::AssumedRole(answer))
}

/// The STS text for a web identity token that cannot be read or verified.
fn jwt_refusal(error: &JwtError) -> StsError {
    match error {
        JwtError::UnknownKeyId | JwtError::AmbiguousKey => StsError::no_verification_key(),
        JwtError::BadSignature | JwtError::KeyAlgorithmMismatch(_) => invalid_token(
            "The signature of the web identity token does not verify with the identity provider's keys",
        ),
        JwtError::UnsupportedAlgorithm(alg) => invalid_token(&format!(
            "The web identity token's signing algorithm `{alg}` is not accepted (RS256, RS384, RS512, ES256, ES384)"
        )),
        _ => invalid_token(
            "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)",
        ),
    }
}

fn invalid_token(message: &str) -> StsError {
    StsError::new(ErrorCode::InvalidIdentityToken, message)
}

// === AssumeRole ===

impl Issuer {
    fn assume_role(
        &self,
        world: &World,
        call: &Call<'_>,
        now: SystemTime,
        now_secs: i64,
        log: &mut LogDetail,
    ) -> Result<Answer, StsError> {
        let signer = self.authenticate(world, call, now, log)?;
        let input = AssumeRoleInput::from_params(call.params)?;
        log.role_arn = Some(input.role_arn.clone());
        log.session_name = Some(input.role_session_name.clone());
        let caller: &Principal = &signer;
        let denied = || StsError::assume_role_not_authorized(&caller.arn, &input.role_arn);
        refuse_session_policies(input.policy.as_deref(), &input.policy_arns, log)?;
        if input.serial_number.is_some() || input.token_code.is_some() {
            log.detail = Some("MFA given: this service has no MFA devices".to_owned());
            return Err(denied());
        }
        let (role, trust) = trusting_role(world, &input.role_arn, log).ok_or_else(denied)?;
        let chained = matches!(caller.kind, PrincipalKind::AssumedRole { .. });
        let role_arn_of_caller = match &caller.kind {
            PrincipalKind::AssumedRole { role_arn, .. } => Some(&**role_arn),
            PrincipalKind::User => None,
        };
        let principal = policy::Principal::Aws(policy::AwsIdentity {
            account: &caller.account,
            arn: &caller.arn,
            role_arn: role_arn_of_caller,
            federating_user_arn: None,
        });
        let mut context = TrustContext::new(now_secs, call.source);
        context.set_caller(caller, world);
        if let Some(external_id) = input.external_id.as_deref() {
            context.set("sts:externalid", Value::String(Cow::Borrowed(external_id)));
        }
        // A chained session keeps its source identity (sts §2.5).
        let inherited_source = caller
            .token
            .as_ref()
            .and_then(|t| t.source_identity.as_deref());
        if let (Some(old), Some(new)) = (inherited_source, input.source_identity.as_deref())
            && old != new
        {
            log.detail = Some("the source identity differs from the caller's".to_owned());
            return Err(denied());
        }
        let source_identity = input
            .source_identity
            .as_deref()
            .or(inherited_source)
            .map(str::to_owned);
        context.set_session(
            &input.role_session_name,
            input.source_identity.as_deref(),
            &input.tags,
            &input.transitive_tag_keys,
        );
        let same_account = *caller.account == *role.account;
        let identity_policies = world.identity_policies(&Caller::Signed(signer.clone()));
        for action in needed_actions(
            "sts:AssumeRole",
            !input.tags.is_empty(),
            input.source_identity.is_some(),
        ) {
            let request = policy::Request {
                principal,
                action,
                resource: &role.arn,
            };
            let trusted = trust.policy.evaluate(&request, &context);
            if trusted.outcome == Outcome::ExplicitDeny {
                log.detail = Some(describe("trust policy", action, &trusted));
                return Err(denied());
            }
            guardrails(world, caller.account_index, role, &request, &context, log)
                .map_err(|()| denied())?;
            let mut identity = None;
            for named in identity_policies {
                let e = named.policy.evaluate(&request, &context);
                match e.outcome {
                    Outcome::ExplicitDeny => {
                        log.detail = Some(describe(
                            &format!("identity policy {}", named.name),
                            action,
                            &e,
                        ));
                        return Err(denied());
                    }
                    Outcome::Allow => identity = Some(named),
                    Outcome::NoMatch => {}
                }
            }
            // IAM's combination (sts §3.3): a trust policy that names the caller itself is enough
            // within its account; one that trusts the account, or any cross-account trust,
            // needs the caller's own identity policy too.
            let names_caller = matches!(
                trusted.principal_match,
                Some(PrincipalMatch::Exact | PrincipalMatch::Role | PrincipalMatch::Wildcard)
            );
            let allowed = trusted.outcome == Outcome::Allow
                && ((same_account && names_caller) || identity.is_some());
            if !allowed {
                log.detail = Some(if trusted.outcome == Outcome::Allow {
                    format!(
                        "the trust policy allows {action} only through the account, and no identity policy of the caller allows it"
                    )
                } else {
                    describe("trust policy", action, &trusted)
                });
                return Err(denied());
            }
        }
        let duration = input.duration_seconds.unwrap_or(DEFAULT_DURATION_SECS);
        check_duration(role, duration, chained, log)?;
        // A chained session inherits the caller's transitive tags, which it may not set again
        // (sts §2.5), and keeps them transitive.
        let inherited = caller
            .token
            .as_ref()
            .map_or(&[][..], |t| t.transitive_tags.as_slice());
        if let Some((key, _)) = inherited
            .iter()
            .find(|(k, _)| input.tags.iter().any(|(n, _)| n.eq_ignore_ascii_case(k)))
        {
            log.detail = Some(format!("tag `{key}` is inherited as transitive"));
            return Err(StsError::new(
                ErrorCode::ValidationError,
                format!(
                    "The tag key `{key}` is a transitive tag of the calling session and cannot be set again."
                ),
            ));
        }
        let mut tags: Vec<(String, String)> = inherited
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut transitive_tag_keys: Vec<String> =
            inherited.iter().map(|(k, _)| k.to_string()).collect();
        tags.extend(input.tags.iter().cloned());
        transitive_tag_keys.extend(input.transitive_tag_keys.iter().cloned());
        let answer = mint(
            world,
            role,
            &input.role_session_name,
            now_secs,
            duration,
            Minted {
                tags,
                transitive_tag_keys,
                source_identity,
                federated_provider: None,
                chained,
            },
            log,
        )?;
        log.detail = Some(format!("issued: {} may assume the role", caller.arn));
        Ok(Answer::AssumedRole(answer))
    }

    fn caller_identity(
        &self,
        world: &World,
        call: &Call<'_>,
        now: SystemTime,
        log: &mut LogDetail,
    ) -> Result<Answer, StsError> {
        // No permission is needed: an explicit deny of sts:GetCallerIdentity is ignored (sts §4).
        let signer = self.authenticate(world, call, now, log)?;
        let user_id = match (&signer.user_id, &signer.kind) {
            (Some(id), _) => id.to_string(),
            (None, PrincipalKind::User) => derived_unique_id("AIDA", &signer.arn),
            (
                None,
                PrincipalKind::AssumedRole {
                    role_arn,
                    session_name,
                },
            ) => {
                format!("{}:{session_name}", derived_unique_id("AROA", role_arn))
            }
        };
        log.detail = Some("caller identity".to_owned());
        Ok(Answer::CallerIdentity(CallerIdentity {
            arn: signer.arn.to_string(),
            user_id,
            account: signer.account.to_string(),
        }))
    }

    /// The signed caller, through the same verifier as the Check path, with STS's codes.
    fn authenticate<'w>(
        &self,
        world: &'w World,
        call: &Call<'_>,
        now: SystemTime,
        log: &mut LogDetail,
    ) -> Result<Signer<'w>, StsError> {
        match self.verifier.verify(&call.http, now, world) {
            Ok(Verified::Signed(signed)) => {
                log.caller = Some(signed.credential.arn.to_string());
                log.access_key_id = Some(signed.credential.access_key_id().to_owned());
                Ok(signed.credential)
            }
            Ok(Verified::Anonymous) => {
                log.detail = Some("the request is not signed".to_owned());
                Err(StsError::new(
                    ErrorCode::MissingAuthenticationToken,
                    "Request is missing Authentication Token",
                ))
            }
            Err(e) => {
                log.detail = Some(format!("signature refused: {e}"));
                Err(signature_refusal(&e))
            }
        }
    }
}

/// A signature failure as STS's Query protocol names it (sts §1.5).
fn signature_refusal(error: &SigV4Error) -> StsError {
    match error.kind() {
        SigV4ErrorKind::UnknownKey => StsError::invalid_client_token(),
        SigV4ErrorKind::ExpiredToken => StsError::expired_signing_token(),
        SigV4ErrorKind::Mismatch | SigV4ErrorKind::Expired | SigV4ErrorKind::Scope => {
            StsError::new(ErrorCode::SignatureDoesNotMatch, error.to_string())
        }
        SigV4ErrorKind::Malformed | SigV4ErrorKind::Payload => {
            StsError::new(ErrorCode::IncompleteSignature, error.to_string())
        }
    }
}

// === Shared steps ===

/// The role `arn` names and its trust policy; `None` (said in the log) when there is no such
/// role or it has no trust policy: both are refused alike, so that roles cannot be enumerated.
fn trusting_role<'w>(
    world: &'w World,
    arn: &str,
    log: &mut LogDetail,
) -> Option<(&'w Role, &'w NamedPolicy)> {
    let Some(role) = world.role(arn) else {
        log.detail = Some("the role is not in the world".to_owned());
        return None;
    };
    let Some(trust) = &role.trust_policy else {
        log.detail = Some("the role has no trust policy".to_owned());
        return None;
    };
    Some((role, trust))
}

/// The organizations' guardrails on an assume call: the SCPs of the caller's account (when the
/// caller is a principal of one) and the RCPs of the role's account. `Err` (said in the log) when
/// one refuses.
fn guardrails(
    world: &World,
    caller_account: Option<usize>,
    role: &Role,
    request: &policy::Request<'_>,
    context: &TrustContext<'_>,
    log: &mut LogDetail,
) -> Result<(), ()> {
    for (layer, account, kind) in [
        (
            Layer::ServiceControlPolicy,
            caller_account,
            "service control policy",
        ),
        (
            Layer::ResourceControlPolicy,
            Some(role.account_index),
            "resource control policy",
        ),
    ] {
        if let Some((name, evaluation)) =
            world.guardrail_refusal(layer, account, &|p| p.evaluate(request, context))
        {
            log.detail = Some(describe(
                &format!("{kind} {name}"),
                request.action,
                &evaluation,
            ));
            return Err(());
        }
    }
    Ok(())
}

/// The action a call needs, and `sts:TagSession` / `sts:SetSourceIdentity` when it passes
/// tags or a source identity (sts §2.5, §3.3).
fn needed_actions(action: &'static str, tags: bool, source_identity: bool) -> Vec<&'static str> {
    let mut out = vec![action];
    if tags {
        out.push("sts:TagSession");
    }
    if source_identity {
        out.push("sts:SetSourceIdentity");
    }
    out
}

/// Session policies would narrow the session; a token without them would be wider than asked
/// for, so they are refused rather than ignored.
fn refuse_session_policies(
    policy: Option<&str>,
    arns: &[String],
    log: &mut LogDetail,
) -> Result<(), StsError> {
    if policy.is_none() && arns.is_empty() {
        return Ok(());
    }
    log.detail = Some("session policies given".to_owned());
    Err(StsError::new(
        ErrorCode::ValidationError,
        "Session policies (Policy, PolicyArns) are not supported by this service; narrow the role's own policies instead.",
    ))
}

fn check_duration(
    role: &Role,
    duration: u32,
    chained: bool,
    log: &mut LogDetail,
) -> Result<(), StsError> {
    if chained && duration > CHAINED_MAX_SECS {
        log.detail = Some(format!("{duration} s asked by a chained session"));
        return Err(StsError::duration_exceeds_chaining_limit());
    }
    if duration > role.max_session_duration {
        log.detail = Some(format!(
            "{duration} s asked, the role allows {}",
            role.max_session_duration
        ));
        return Err(StsError::duration_exceeds_role_maximum());
    }
    Ok(())
}

/// What a new session carries beyond its role and name.
struct Minted {
    tags: Vec<(String, String)>,
    transitive_tag_keys: Vec<String>,
    source_identity: Option<String>,
    federated_provider: Option<String>,
    chained: bool,
}

/// Fresh credentials for a session of `role`, sealed into their token.
fn mint(
    world: &World,
    role: &Role,
    session_name: &str,
    now: i64,
    duration: u32,
    minted: Minted,
    log: &mut LogDetail,
) -> Result<AssumedRole, StsError> {
    let keyring = world.sessions.keyring();
    if keyring.is_empty() {
        log.detail = Some("the world has no session keys".to_owned());
        return Err(StsError::new(
            ErrorCode::ServiceUnavailable,
            "This service has no session keys to seal sessions with; add `sessionKeys` to the world.",
        ));
    }
    let (access_key_id, secret) = tokens::new_credentials().map_err(internal(log))?;
    let role_id = role
        .id
        .as_deref()
        .map_or_else(|| derived_unique_id("AROA", &role.arn), str::to_owned);
    let expires_at = now.saturating_add(i64::from(duration));
    let claims = SessionClaims {
        access_key_id: access_key_id.clone(),
        secret_access_key: secret.clone(),
        role_arn: role.arn.to_string(),
        role_id: role_id.clone(),
        session_name: session_name.to_owned(),
        issued_at: now,
        expires_at,
        tags: minted.tags,
        transitive_tag_keys: minted.transitive_tag_keys,
        source_identity: minted.source_identity.clone(),
        federated_provider: minted.federated_provider,
        chained: minted.chained,
    };
    let token = keyring.seal(&claims).map_err(|e| match e {
        tokens::SealError::TooLarge(_) => {
            log.detail = Some("the session does not fit in a token".to_owned());
            StsError::packed_tags_too_large(100)
        }
        other => internal(log)(other),
    })?;
    log.access_key_id = Some(access_key_id.clone());
    log.expiration = Some(expires_at);
    Ok(AssumedRole {
        credentials: IssuedCredentials {
            access_key_id,
            secret_access_key: secret,
            session_token: token,
            expiration: expires_at,
        },
        arn: format!(
            "arn:{}:sts::{}:assumed-role/{}/{session_name}",
            world.partition, role.account, role.name
        ),
        assumed_role_id: format!("{role_id}:{session_name}"),
        packed_policy_size: None,
        source_identity: minted.source_identity,
        subject_from_web_identity_token: None,
        audience: None,
        provider: None,
    })
}

fn internal<E: std::fmt::Display>(log: &mut LogDetail) -> impl FnOnce(E) -> StsError + '_ {
    move |e| {
        log.detail = Some(format!("internal failure: {e}"));
        StsError::internal_failure()
    }
}

/// A stable unique id for an identity the world gives none (`AROA…` for roles, `AIDA…` for
/// users): the prefix and 17 characters of a hash of its ARN, the same on every replica.
fn derived_unique_id(prefix: &str, arn: &str) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = Sha256::digest(arn.as_bytes());
    let mut out = String::with_capacity(prefix.len() + 17);
    out.push_str(prefix);
    for byte in digest.iter().take(17) {
        out.push(char::from(
            ALPHABET
                .get(usize::from(byte % 32))
                .copied()
                .unwrap_or(b'A'),
        ));
    }
    out
}

/// What an evaluation says, for the log: the deciding or closest statement and why.
fn describe(policy: &str, action: &str, evaluation: &Evaluation<'_>) -> String {
    let statement = |s: &policy::StatementRef<'_>| match s.sid {
        Some(sid) => format!("statement {} (Sid `{sid}`)", s.index),
        None => format!("statement {}", s.index),
    };
    match (evaluation.outcome, &evaluation.statement, &evaluation.miss) {
        (Outcome::ExplicitDeny, Some(s), _) => {
            format!("{policy}: {} denies {action}", statement(s))
        }
        (_, _, Some(miss)) => {
            let why = match miss.reason {
                MissReason::Action => "its Action does not match".to_owned(),
                MissReason::Resource => "its Resource does not match".to_owned(),
                MissReason::Principal => "its Principal does not match".to_owned(),
                MissReason::Condition { operator, key } => {
                    format!("its condition {operator} on {key} is false")
                }
            };
            format!(
                "{policy}: no statement allows {action}; closest is {}: {why}",
                statement(&miss.statement)
            )
        }
        _ => format!("{policy}: no statement allows {action}"),
    }
}

fn unix_secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

// === The trust policy's request context ===

/// The condition keys of an assume call (sts §2.4): the provider's claims or the caller's
/// keys, the session's name, tags and source identity, and the global keys of any request.
struct TrustContext<'a> {
    /// Lower-case key → value.
    keys: Vec<(String, Value<'a>)>,
    request_tags: &'a [(String, String)],
    principal_tags: Vec<(Arc<str>, Arc<str>)>,
}

impl<'a> TrustContext<'a> {
    fn new(now: i64, source: IpAddr) -> Self {
        let mut context = Self {
            keys: Vec::new(),
            request_tags: &[],
            principal_tags: Vec::new(),
        };
        context.set("aws:currenttime", Value::Date(now));
        context.set("aws:epochtime", Value::Number(now));
        context.set("aws:sourceip", Value::Ip(source));
        // The STS listener speaks plain HTTP; TLS, if any, ends before it.
        context.set("aws:securetransport", Value::Bool(false));
        context
    }

    fn set(&mut self, key: &str, value: Value<'a>) {
        self.keys.push((key.to_ascii_lowercase(), value));
    }

    fn set_session(
        &mut self,
        session_name: &'a str,
        source_identity: Option<&'a str>,
        tags: &'a [(String, String)],
        transitive: &'a [String],
    ) {
        self.set(
            "sts:rolesessionname",
            Value::String(Cow::Borrowed(session_name)),
        );
        if let Some(source) = source_identity {
            self.set("sts:sourceidentity", Value::String(Cow::Borrowed(source)));
        }
        if !tags.is_empty() {
            self.request_tags = tags;
            self.set(
                "aws:tagkeys",
                Value::Strings(
                    tags.iter()
                        .map(|(k, _)| Cow::Borrowed(k.as_str()))
                        .collect(),
                ),
            );
        }
        if !transitive.is_empty() {
            self.set(
                "sts:transitivetagkeys",
                Value::Strings(
                    transitive
                        .iter()
                        .map(|k| Cow::Borrowed(k.as_str()))
                        .collect(),
                ),
            );
        }
    }

    /// The keys that describe a signed caller, as on any of its requests.
    fn set_caller(&mut self, caller: &Principal, world: &World) {
        let owned = |s: &str| Value::String(Cow::Owned(s.to_owned()));
        let principal_arn = match &caller.kind {
            PrincipalKind::AssumedRole { role_arn, .. } => &**role_arn,
            PrincipalKind::User => &*caller.arn,
        };
        self.set("aws:principalarn", owned(principal_arn));
        self.set("aws:principalaccount", owned(&caller.account));
        self.set(
            "aws:principaltype",
            owned(match caller.kind {
                PrincipalKind::User => "User",
                PrincipalKind::AssumedRole { .. } => "AssumedRole",
            }),
        );
        if let Some(id) = caller.user_id.as_deref() {
            self.set("aws:userid", owned(id));
        }
        if let Some(name) = caller.user_name() {
            self.set("aws:username", owned(name));
        }
        if let Some((org, path)) = world.org_of(caller.account_index) {
            self.set("aws:principalorgid", owned(org));
            self.set(
                "aws:principalorgpaths",
                Value::Strings(vec![Cow::Owned(path.to_owned())]),
            );
        }
        if let Some(token) = &caller.token {
            self.set("aws:tokenissuetime", Value::Date(token.issued_at));
            if let Some(p) = token.federated_provider.as_deref() {
                self.set("aws:federatedprovider", owned(p));
            }
            if let Some(s) = token.source_identity.as_deref() {
                self.set("aws:sourceidentity", owned(s));
            }
        }
        self.principal_tags = caller.tags.clone();
    }
}

impl policy::Context for TrustContext<'_> {
    fn value(&self, key: &ConditionKey) -> Value<'_> {
        match key.base() {
            "aws:requesttag" => tag(
                key,
                self.request_tags
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            ),
            "aws:principaltag" => tag(key, self.principal_tags.iter().map(|(k, v)| (&**k, &**v))),
            _ => self
                .keys
                .iter()
                .find(|(k, _)| k == key.name())
                .map_or(Value::Absent, |(_, v)| v.clone()),
        }
    }
}

/// The value of the tag `key` names (its parameter, compared case-insensitively).
fn tag<'t>(key: &ConditionKey, mut tags: impl Iterator<Item = (&'t str, &'t str)>) -> Value<'t> {
    let Some(param) = key.param() else {
        return Value::Absent;
    };
    tags.find(|(k, _)| k.eq_ignore_ascii_case(param))
        .map_or(Value::Absent, |(_, v)| Value::String(Cow::Borrowed(v)))
}
