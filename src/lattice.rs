//! The Lattice world and its layered decision.
//!
//! This module owns: the object model (organizations, accounts, principals, VPCs, security
//! groups, VPC endpoints, service networks, services), the request context with every condition
//! key of lattice-auth §3, the decision in Lattice's layer order with one reason (lattice-auth
//! §2.10), the exact deny texts (§5) and the identity headers (§6).
//!
//! Its files follow a world from its documents to a decision: `spec` (the documents as written)
//! → `build` (a [`World`], every problem reported at once, then `lint`'s warnings) → `world` (the
//! model and its lookups); `decision` (the types a decision speaks in, its deny texts and
//! headers), `context` (the condition keys), `sessions` (sessions sealed into their tokens by
//! the STS, opened with the world's keys and cached), `assert` (callers asserted instead of
//! verified, for `check --as`, `Explain` and `test`) and `decide` ([`World::authorize`]: route,
//! authenticate, evaluate the layers). `net` holds the CIDR matching they share.
//!
//! It must not touch: protobuf types, files, environment variables, tokio, or the clock. Time and
//! request data are parameters; secrets and policy files come through [`Loader`]; the caller
//! hears where the decision's phases start through [`Phases`] and times them with its own clock.

mod assert;
mod build;
mod context;
mod decide;
mod decision;
mod lint;
mod net;
mod sessions;
pub mod spec;
mod world;

/// The hash map of the world's indexes. Lookups run on every Check with keys from the request
/// (authority, access key id, addresses); foldhash, seeded per map, hashes them several times
/// faster than the standard SipHash. The keys a table holds come from the trusted world file,
/// so a request cannot make its probes long.
type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

pub use assert::{ASSERTED_SESSION_NAME, AssertError, Asserted, Authentication};
pub use build::{
    CompiledPolicy, FileKind, InlineLoader, Loader, LoaderError, ReadError, compile_policy,
    error_chain,
};
pub use context::KNOWN_KEYS;
pub use decide::{Phases, Untimed};
pub use decision::{
    Authenticated, Caller, Decision, Effect, IDENTITY_HEADERS, INVOKE, Layer, LayerOutcome,
    LayerTrace, Reason, Request, Route,
};
pub use net::{Cidr, InvalidCidr};
pub use sessions::DEFAULT_SESSION_CACHE_BYTES;
pub use world::{
    Account, AuthType, CredentialEntry, NamedPolicy, OidcProvider, Organization, Principal,
    PrincipalKind, Problem, Role, SealedSession, Service, ServiceNetwork, Sessions, Signer,
    TokenFacts, Vpc, VpcEndpoint, World, WorldOptions,
};
