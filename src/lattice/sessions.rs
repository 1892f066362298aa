//! Sessions issued by `lattice-authz sts`: a request signed with one presents its session token,
//! which holds the whole session sealed under one of the world's session keys. Opening it (the
//! key ring), finding its role in the world and building its principal happens once per token;
//! the opened session is then kept in a bounded cache keyed by the token itself.
//!
//! It must not verify signatures (`sigv4` does, with the secret found here) nor decide anything.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::sigv4::Secret;
use crate::tokens::{Keyring, OpenError, SessionClaims};

use super::world::{Principal, PrincipalKind, Role, TokenFacts, World};

/// The default bound of the opened-session cache, in bytes of the estimate it makes of each
/// session (its token, its texts, and a fixed overhead calibrated on resident memory).
pub const DEFAULT_SESSION_CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// What every cached session costs beyond the sizes [`weight`] counts: the cache's own entry,
/// the `Arc`, the principal's fixed part, the secret, and the allocator's rounding. Calibrated
/// on resident memory: `bench/src/bin/session_cache.rs` keeps the growth within the bound.
const ENTRY_OVERHEAD: usize = 1088;

/// A session opened from its token: the principal it names and the credential that signs.
#[derive(Debug)]
pub struct SealedSession {
    /// The assumed-role principal, with its role's policies and the session's tags.
    pub principal: Principal,
    /// The access key id the token was sealed for.
    pub access_key_id: Box<str>,
    pub(super) secret: Secret,
    /// The token itself (also the cache's key): the verifier compares it with the one
    /// presented, as with a listed session.
    pub(super) token: Arc<[u8]>,
    /// When the session ends.
    pub expires_at: SystemTime,
}

/// The world's session keys and the sessions opened with them.
#[derive(Debug)]
pub struct Sessions {
    keyring: Keyring,
    /// Token → opened session. Only tokens that opened are inserted, and opening authenticates
    /// them, so a client cannot fill the cache with keys of its choosing; hence foldhash (the
    /// token is hashed on every request) rather than SipHash.
    cache: moka::sync::Cache<Arc<[u8]>, Arc<SealedSession>, foldhash::fast::RandomState>,
}

impl Sessions {
    /// Sessions opened with `keyring`, at most `cache_bytes` of them kept open.
    pub fn new(keyring: Keyring, cache_bytes: u64) -> Self {
        let cache = moka::sync::Cache::builder()
            .max_capacity(cache_bytes)
            .weigher(|_: &Arc<[u8]>, session: &Arc<SealedSession>| weight(session))
            .build_with_hasher(foldhash::fast::RandomState::default());
        Self { keyring, cache }
    }

    /// The key ring: the first key seals, every key opens.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// Number of sessions kept open (after pending cache maintenance).
    pub fn cached(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }

    /// The session `token` seals, opened and checked against `world` (which must be the world
    /// holding these sessions), or `None` when it does not open or its role is gone.
    pub(super) fn open(&self, world: &World, token: &[u8]) -> Option<Arc<SealedSession>> {
        if self.keyring.is_empty() {
            return None;
        }
        if let Some(session) = self.cache.get(token) {
            return Some(session);
        }
        let session = match self.keyring.open(token) {
            Ok(claims) => Arc::new(session_of(world, &claims, token.into())?),
            Err(e) => {
                log_refused(&e);
                return None;
            }
        };
        self.cache
            .insert(Arc::clone(&session.token), Arc::clone(&session));
        Some(session)
    }
}

fn log_refused(error: &OpenError) {
    tracing::debug!(message = "Session token refused.", reason = %error);
}

/// The cache's estimate of what one session holds, in bytes: the token (shared with the key),
/// the principal's texts, and a fixed overhead.
fn weight(session: &SealedSession) -> u32 {
    let p = &session.principal;
    let texts = p.arn.len()
        + p.user_id.as_deref().map_or(0, str::len)
        + p.tags
            .iter()
            .map(|(k, v)| k.len() + v.len() + 32)
            .sum::<usize>()
        + p.policies.len() * 16
        + session.access_key_id.len();
    u32::try_from(session.token.len() + texts + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
}

/// The principal a session's claims name, with its role's policies from `world`; `None` when
/// the role is not in the world (deleted since the session was issued).
fn session_of(world: &World, claims: &SessionClaims, token: Arc<[u8]>) -> Option<SealedSession> {
    let Some(role) = world.role(&claims.role_arn) else {
        tracing::debug!(
            message = "Session token refused.",
            reason = "its role is not in the world",
            role = %claims.role_arn
        );
        return None;
    };
    let mut tags = role.tags.clone();
    super::world::override_tags(
        &mut tags,
        claims.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let token_facts = TokenFacts {
        issued_at: claims.issued_at,
        federated_provider: claims.federated_provider.as_deref().map(Arc::from),
        source_identity: claims.source_identity.as_deref().map(Arc::from),
        transitive_tags: claims
            .tags
            .iter()
            .filter(|(k, _)| {
                claims
                    .transitive_tag_keys
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(k))
            })
            .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
            .collect(),
    };
    let principal = role_session(
        world,
        role,
        &claims.session_name,
        Some(&claims.role_id),
        tags,
        Some(Box::new(token_facts)),
    );
    Some(SealedSession {
        principal,
        access_key_id: claims.access_key_id.as_str().into(),
        secret: Secret::new(claims.secret_access_key.as_str()),
        token,
        expires_at: UNIX_EPOCH + Duration::from_secs(u64::try_from(claims.expires_at).unwrap_or(0)),
    })
}

/// The principal of a session of `role` named `session_name`, as AWS names it
/// (`arn:<partition>:sts::<account>:assumed-role/<role name>/<session name>`), with the role's
/// identity policies and `tags` (the role's, with the session's over them).
pub(super) fn role_session(
    world: &World,
    role: &Role,
    session_name: &str,
    role_id: Option<&str>,
    tags: Vec<(Arc<str>, Arc<str>)>,
    token: Option<Box<TokenFacts>>,
) -> Principal {
    let session_name: Arc<str> = session_name.into();
    Principal {
        kind: PrincipalKind::AssumedRole {
            role_arn: Arc::clone(&role.arn),
            session_name: Arc::clone(&session_name),
        },
        arn: format!(
            "arn:{}:sts::{}:assumed-role/{}/{}",
            world.partition, role.account, role.name, session_name
        )
        .into(),
        account: Arc::clone(&role.account),
        user_id: role_id.map(|id| format!("{id}:{session_name}").into()),
        tags,
        policies: role.policies.clone(),
        account_index: Some(role.account_index),
        token,
        headers: OnceLock::new(),
    }
}
