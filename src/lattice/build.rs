//! Building a world: from the documents ([`WorldSpec`]) to a [`World`], every reference resolved,
//! every policy compiled through a [`Loader`], every problem reported at once with its JSON
//! pointer, then the Lattice-level warnings of `lint`.
//!
//! The [`Builder`] is split by what it builds: `identity` (organizations, accounts, managed
//! policies, users, roles with their trust policies and sessions), `federation` (OIDC providers
//! and session keys, what the STS issues sessions from) and `network` (VPCs, security groups,
//! services, service networks, VPC endpoints). It must not decide requests, and it reads nothing itself:
//! secrets, policy files and compilation come through the [`Loader`].

mod error;
mod federation;
mod identity;
mod network;

use std::sync::Arc;

use crate::policy::{self, Diagnostic, ParseOptions, Policy, PolicyKind};

use super::Map;
use super::spec::{DocumentSpec, SecretSourceSpec, SecretSpec, WorldSpec};
use super::world::{Account, NamedPolicy, Problem, Sessions, World, WorldOptions};

pub use error::{FileKind, LoaderError, ReadError, error_chain};

/// What `World::build` needs from the outside: secrets, policy files, and compiled policies
/// (so `store` can cache them by content).
pub trait Loader {
    /// Resolves a secret given by environment variable or file. Errors never contain the
    /// secret.
    fn secret(&self, source: &SecretSourceSpec) -> Result<String, LoaderError>;
    /// Reads a policy document file named in the world.
    fn document_file(&self, path: &str) -> Result<String, LoaderError>;
    /// Compiles a policy (a `store` implementation caches by content hash).
    fn compile(
        &self,
        text: &str,
        options: &ParseOptions,
    ) -> Result<CompiledPolicy, Vec<Diagnostic>>;
}

/// A compiled policy and the warnings found compiling it.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    /// The policy.
    pub policy: Arc<Policy>,
    /// Its warnings.
    pub warnings: Arc<[Diagnostic]>,
}

/// A [`Loader`] for worlds that are complete in themselves: inline secrets and documents only.
#[derive(Debug, Clone, Copy, Default)]
pub struct InlineLoader;

impl Loader for InlineLoader {
    fn secret(&self, source: &SecretSourceSpec) -> Result<String, LoaderError> {
        match source {
            SecretSourceSpec {
                value: Some(v),
                env: None,
                file: None,
            } => Ok(v.clone()),
            _ => Err(LoaderError::SecretSourceNeedsFiles),
        }
    }

    fn document_file(&self, path: &str) -> Result<String, LoaderError> {
        Err(LoaderError::PolicyFileNeedsFiles(path.to_owned()))
    }

    fn compile(
        &self,
        text: &str,
        options: &ParseOptions,
    ) -> Result<CompiledPolicy, Vec<Diagnostic>> {
        compile_policy(text, options)
    }
}

/// Compiles a policy without caching.
pub fn compile_policy(
    text: &str,
    options: &ParseOptions,
) -> Result<CompiledPolicy, Vec<Diagnostic>> {
    let compiled = Policy::compile(text, options)?;
    Ok(CompiledPolicy {
        policy: Arc::new(compiled.policy),
        warnings: compiled.warnings.into(),
    })
}

// === impl World: building ===

impl World {
    /// The built-in example world (the README's quick tour lists its decisions) as YAML.
    pub const EXAMPLE_YAML: &'static str = include_str!("example_world.yaml");

    /// Compiles a world, reporting every problem at once (errors and warnings).
    pub fn build(
        spec: &WorldSpec,
        options: &WorldOptions,
        loader: &dyn Loader,
    ) -> Result<World, Vec<Problem>> {
        let mut b = Builder {
            loader,
            options,
            problems: Vec::new(),
        };
        let world = b.world(spec);
        let errors = b
            .problems
            .iter()
            .any(|p| p.severity == policy::Severity::Error);
        match world {
            Some(mut world) if !errors => {
                world.warnings = b.problems;
                world.warnings.extend(super::lint::lint(&world, spec));
                Ok(world)
            }
            _ => Err(b.problems),
        }
    }

    /// The built-in example world, compiled.
    pub fn example(options: &WorldOptions) -> Result<World, Vec<Problem>> {
        let spec: WorldSpec = serde_saphyr::from_str(Self::EXAMPLE_YAML).map_err(|e| {
            vec![Problem {
                severity: policy::Severity::Error,
                pointer: String::new(),
                message: format!("built-in world does not parse: {e}"),
                hint: None,
            }]
        })?;
        Self::build(&spec, options, &InlineLoader)
    }
}

/// Builds one world from its documents, collecting every problem on the way.
struct Builder<'a> {
    loader: &'a dyn Loader,
    options: &'a WorldOptions,
    problems: Vec<Problem>,
}

fn valid_account(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

impl Builder<'_> {
    fn error(
        &mut self,
        pointer: impl Into<String>,
        message: impl Into<String>,
        hint: Option<&str>,
    ) {
        self.problems.push(Problem {
            severity: policy::Severity::Error,
            pointer: pointer.into(),
            message: message.into(),
            hint: hint.map(str::to_owned),
        });
    }

    fn warn(&mut self, pointer: impl Into<String>, message: impl Into<String>, hint: Option<&str>) {
        self.problems.push(Problem {
            severity: policy::Severity::Warning,
            pointer: pointer.into(),
            message: message.into(),
            hint: hint.map(str::to_owned),
        });
    }

    fn secret(&mut self, spec: &SecretSpec, pointer: &str) -> Option<String> {
        let resolved = match spec {
            SecretSpec::Inline(value) => Ok(value.clone()),
            SecretSpec::Source(source) => {
                let count = [
                    source.value.is_some(),
                    source.env.is_some(),
                    source.file.is_some(),
                ]
                .iter()
                .filter(|x| **x)
                .count();
                if count == 1 {
                    self.loader.secret(source).map_err(|e| error_chain(&e))
                } else {
                    Err("give exactly one of `value`, `env` or `file`".to_owned())
                }
            }
        };
        match resolved {
            Ok(v) if !v.is_empty() => Some(v),
            Ok(_) => {
                self.error(pointer, "secret is empty", None);
                None
            }
            Err(message) => {
                self.error(pointer, message, None);
                None
            }
        }
    }

    /// The JSON text of a document, from inline text, a mapping, or a file.
    fn document_text(&mut self, doc: &DocumentSpec, pointer: &str) -> Option<String> {
        match (&doc.document, &doc.document_file) {
            (Some(serde_json::Value::String(text)), None) => Some(text.clone()),
            (Some(value @ serde_json::Value::Object(_)), None) => {
                match serde_json::to_string(value) {
                    Ok(text) => Some(text),
                    Err(e) => {
                        self.error(
                            format!("{pointer}/document"),
                            format!("policy cannot be serialised: {e}"),
                            None,
                        );
                        None
                    }
                }
            }
            (Some(_), None) => {
                self.error(
                    format!("{pointer}/document"),
                    "a policy document must be a JSON string or a mapping",
                    None,
                );
                None
            }
            (None, Some(file)) => match self.loader.document_file(file) {
                Ok(text) => Some(text),
                Err(e) => {
                    self.error(format!("{pointer}/documentFile"), error_chain(&e), None);
                    None
                }
            },
            (Some(_), Some(_)) => {
                self.error(
                    pointer,
                    "give either `document` or `documentFile`, not both",
                    None,
                );
                None
            }
            (None, None) => {
                self.error(pointer, "missing `document` (or `documentFile`)", None);
                None
            }
        }
    }

    fn policy(
        &mut self,
        name: &str,
        text: &str,
        kind: PolicyKind,
        max_bytes: usize,
        pointer: &str,
    ) -> Option<NamedPolicy> {
        let options = ParseOptions {
            kind,
            max_bytes,
            bare_account_principal: self.options.bare_account_principal,
            aws_wildcard_matches_anonymous: self.options.aws_wildcard_matches_anonymous,
        };
        match self.loader.compile(text, &options) {
            Ok(compiled) => {
                for w in compiled.warnings.iter() {
                    self.problems.push(diagnostic_problem(w, pointer));
                }
                Some(NamedPolicy {
                    name: name.into(),
                    policy: compiled.policy,
                })
            }
            Err(diagnostics) => {
                self.problems
                    .extend(diagnostics.iter().map(|d| diagnostic_problem(d, pointer)));
                None
            }
        }
    }

    fn doc_policy(
        &mut self,
        name: &str,
        doc: &DocumentSpec,
        kind: PolicyKind,
        max: usize,
        pointer: &str,
    ) -> Option<NamedPolicy> {
        let text = self.document_text(doc, pointer)?;
        self.policy(name, &text, kind, max, &format!("{pointer}/document"))
    }

    /// The index of account `id`, added (outside any organization) if the world does not
    /// define it.
    fn ensure_account(
        &mut self,
        id: &str,
        accounts: &mut Vec<Account>,
        index: &mut Map<Arc<str>, usize>,
    ) -> usize {
        if let Some(i) = index.get(id) {
            return *i;
        }
        let id: Arc<str> = id.into();
        index.insert(id.clone(), accounts.len());
        accounts.push(Account {
            id,
            organization: None,
            org_path: None,
            levels: Vec::new(),
        });
        accounts.len() - 1
    }

    fn world(&mut self, spec: &WorldSpec) -> Option<World> {
        let partition: Arc<str> = spec.partition.as_deref().unwrap_or("aws").into();
        let region: Arc<str> = match spec.region.as_deref() {
            Some(r)
                if !r.is_empty()
                    && r.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
            {
                r.into()
            }
            Some(r) => {
                self.error(
                    "/region",
                    format!("`{r}` is not a region name"),
                    Some("e.g. `ap-northeast-1`"),
                );
                return None;
            }
            None => {
                self.error(
                    "/region",
                    "missing `region`",
                    Some("the region this sidecar plays, e.g. `ap-northeast-1`"),
                );
                return None;
            }
        };
        let organizations = self.organizations(spec);
        let (mut accounts, mut account_index) = self.accounts(spec, &organizations);
        let managed = self.managed_policies(spec);
        let principals = self.principals(
            spec,
            &managed,
            &mut accounts,
            &mut account_index,
            &partition,
        );
        let oidc_providers =
            self.oidc_providers(spec, &partition, &mut accounts, &mut account_index);
        let keyring = self.session_keys(spec);
        let (mut vpcs, vpc_by_address) =
            self.vpcs(spec, &partition, &region, &mut accounts, &mut account_index);
        let (security_groups, sg_index) = self.security_groups(spec, &vpcs);
        let default_owner: Arc<str> = accounts
            .first()
            .map_or_else(|| "000000000000".into(), |a| a.id.clone());
        let services = self.services(
            spec,
            &partition,
            &region,
            &default_owner,
            &mut accounts,
            &mut account_index,
        );
        let mut service_by_host = Map::default();
        for (i, s) in services.iter().enumerate() {
            for host in std::iter::once(&s.dns_name).chain(s.custom_domain_name.iter()) {
                if let Some(other) =
                    service_by_host.insert(host.to_ascii_lowercase().into_boxed_str(), i)
                {
                    let other = services.get(other).map_or("", |o| &*o.id);
                    self.error(
                        format!("/services/{i}"),
                        format!("host `{host}` names both `{other}` and `{}`", s.id),
                        Some("DNS names and custom domain names must be unique"),
                    );
                }
            }
        }
        let (networks, associations) = self.networks(
            spec,
            &partition,
            &region,
            &default_owner,
            &services,
            &mut vpcs,
            &sg_index,
            &security_groups,
        );
        let (endpoints, endpoint_by_address, endpoint_by_id) =
            self.endpoints(spec, &vpcs, &networks);
        let (principal_list, credentials, roles, role_by_arn) = (
            principals.list,
            principals.credentials,
            principals.roles,
            principals.role_by_arn,
        );
        Some(World {
            partition,
            region,
            options: self.options.clone(),
            organizations,
            accounts,
            account_index,
            principals: principal_list,
            credentials,
            roles,
            role_by_arn,
            oidc_providers,
            sessions: Sessions::new(keyring, self.options.session_cache_bytes),
            vpcs,
            vpc_by_address,
            security_groups,
            endpoints,
            endpoint_by_address,
            endpoint_by_id,
            networks,
            services,
            service_by_host,
            associations,
            warnings: Vec::new(),
        })
    }
}

fn diagnostic_problem(d: &Diagnostic, pointer: &str) -> Problem {
    let mut message = d.message.clone();
    if let Some(index) = d.statement {
        match &d.sid {
            Some(sid) => message = format!("{message} (statement {index}, Sid `{sid}`)"),
            None => message = format!("{message} (statement {index})"),
        }
    }
    Problem {
        severity: d.severity,
        pointer: format!("{pointer}{}", d.pointer),
        message,
        hint: d.hint.clone(),
    }
}
