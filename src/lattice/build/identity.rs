//! Building the identity side of a world: organizations and their guardrails, accounts, managed
//! policies, and the principals (users with their access keys, roles with their sessions) with
//! the credential index. It must not build the network side (`network`).

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use crate::policy::PolicyKind;
use crate::sigv4::Secret;

use super::{Builder, valid_account};
use crate::lattice::Map;
use crate::lattice::spec::{self, WorldSpec};
use crate::lattice::world::{
    self, Account, CredentialEntry, NamedPolicy, Organization, Principal, PrincipalKind,
};

/// A role's longest session when the world does not say (IAM's default).
const DEFAULT_MAX_SESSION_DURATION: u32 = 3600;

/// Largest trust policy, in bytes: IAM's quota for a role trust policy, raised to its maximum.
const MAX_TRUST_POLICY_BYTES: usize = 4096;

/// The AWS managed policies the world knows by name.
const AWS_MANAGED: &[(&str, &str)] = &[
    (
        "VPCLatticeServicesInvokeAccess",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["vpc-lattice-svcs:Invoke"],"Resource":"*"}]}"#,
    ),
    (
        "AdministratorAccess",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    ),
];

/// Parses an IAM user or role ARN: (partition, account, kind, path+name).
fn iam_arn<'t>(arn: &'t str, kind: &str) -> Option<(&'t str, &'t str, &'t str)> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let name = resource.strip_prefix(kind)?.strip_prefix('/')?;
    let valid_account = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    let last = name.rsplit('/').next().unwrap_or(name);
    (valid_account && !partition.is_empty() && !last.is_empty())
        .then_some((partition, account, name))
}

impl Builder<'_> {
    pub(super) fn organizations(&mut self, spec: &WorldSpec) -> Vec<Organization> {
        let mut out: Vec<Organization> = Vec::new();
        for (i, o) in spec.organizations.iter().enumerate() {
            let p = format!("/organizations/{i}");
            if !o.id.starts_with("o-") || o.id.len() < 4 {
                self.error(
                    format!("{p}/id"),
                    format!("`{}` is not an organization id", o.id),
                    Some("e.g. `o-a1b2c3d4e5`"),
                );
            }
            if !o.root_id.starts_with("r-") {
                self.error(
                    format!("{p}/rootId"),
                    format!("`{}` is not a root id", o.root_id),
                    Some("e.g. `r-ab12`"),
                );
            }
            if out.iter().any(|x| *x.id == *o.id) {
                self.error(
                    format!("{p}/id"),
                    format!("organization `{}` is defined twice", o.id),
                    None,
                );
            }
            let mut scps = Vec::new();
            for (j, g) in o.service_control_policies.iter().enumerate() {
                let gp = format!("{p}/serviceControlPolicies/{j}");
                if let Some(policy) = self.doc_policy(
                    &g.name,
                    &g.document,
                    PolicyKind::ServiceControl,
                    self.options.max_policy_bytes.max(5120),
                    &gp,
                ) {
                    scps.push((
                        policy,
                        g.targets.iter().map(|t| Arc::from(t.as_str())).collect(),
                    ));
                }
            }
            let mut rcps = Vec::new();
            for (j, g) in o.resource_control_policies.iter().enumerate() {
                let gp = format!("{p}/resourceControlPolicies/{j}");
                if let Some(policy) = self.doc_policy(
                    &g.name,
                    &g.document,
                    PolicyKind::ResourceControl,
                    self.options.max_policy_bytes.max(5120),
                    &gp,
                ) {
                    rcps.push((
                        policy,
                        g.targets.iter().map(|t| Arc::from(t.as_str())).collect(),
                    ));
                }
            }
            out.push(Organization {
                id: o.id.as_str().into(),
                root_id: o.root_id.as_str().into(),
                management_account: o.management_account_id.as_deref().map(Arc::from),
                scps,
                rcps,
            });
        }
        out
    }

    pub(super) fn accounts(
        &mut self,
        spec: &WorldSpec,
        orgs: &[Organization],
    ) -> (Vec<Account>, Map<Arc<str>, usize>) {
        let mut accounts = Vec::new();
        let mut index = Map::default();
        for (i, a) in spec.accounts.iter().enumerate() {
            let p = format!("/accounts/{i}");
            if !valid_account(&a.id) {
                self.error(
                    format!("{p}/id"),
                    format!("`{}` is not a 12-digit account id", a.id),
                    Some("quote it in YAML: \"012345678901\""),
                );
                continue;
            }
            let organization = match &a.organization_id {
                None => None,
                Some(org) => match orgs.iter().position(|o| *o.id == **org) {
                    Some(o) => Some(o),
                    None => {
                        self.error(
                            format!("{p}/organizationId"),
                            format!(
                                "account `{}` names organization `{org}`, which is not defined",
                                a.id
                            ),
                            None,
                        );
                        None
                    }
                },
            };
            let (org_path, levels) = match (organization.and_then(|o| orgs.get(o)), &a.org_path) {
                (Some(org), path) => {
                    let default_path = format!("{}/{}/", org.id, org.root_id);
                    let path = path.clone().unwrap_or(default_path);
                    let mut segments = path.trim_end_matches('/').split('/');
                    let ok = path.ends_with('/')
                        && segments.next() == Some(&*org.id)
                        && segments.next() == Some(&*org.root_id);
                    if !ok {
                        self.error(
                            format!("{p}/orgPath"),
                            format!(
                                "org path `{path}` must start with `{}/{}/` and end with `/`",
                                org.id, org.root_id
                            ),
                            None,
                        );
                    }
                    let mut levels: Vec<Arc<str>> = vec![org.root_id.clone()];
                    levels.extend(segments.filter(|s| !s.is_empty()).map(Arc::from));
                    levels.push(a.id.as_str().into());
                    (Some(Arc::from(path.as_str())), levels)
                }
                (None, Some(_)) => {
                    self.error(
                        format!("{p}/orgPath"),
                        "an org path needs an `organizationId`",
                        None,
                    );
                    (None, Vec::new())
                }
                (None, None) => (None, Vec::new()),
            };
            let id: Arc<str> = a.id.as_str().into();
            if index.insert(id.clone(), accounts.len()).is_some() {
                self.error(
                    format!("{p}/id"),
                    format!("account `{}` is defined twice", a.id),
                    None,
                );
            }
            accounts.push(Account {
                id,
                organization,
                org_path,
                levels,
            });
        }
        (accounts, index)
    }

    pub(super) fn managed_policies(&mut self, spec: &WorldSpec) -> Map<String, NamedPolicy> {
        let mut out = Map::default();
        for (name, text) in AWS_MANAGED {
            if let Some(p) = self.policy(name, text, PolicyKind::Identity, usize::MAX, "/") {
                out.insert((*name).to_owned(), p);
            }
        }
        for (i, m) in spec.managed_policies.iter().enumerate() {
            let p = format!("/managedPolicies/{i}");
            if out.contains_key(&m.name) {
                self.error(
                    format!("{p}/name"),
                    format!("managed policy `{}` is defined twice", m.name),
                    None,
                );
                continue;
            }
            if let Some(policy) =
                self.doc_policy(&m.name, &m.document, PolicyKind::Identity, 6144, &p)
            {
                out.insert(m.name.clone(), policy);
            }
        }
        out
    }

    fn identity_policies(
        &mut self,
        managed: &Map<String, NamedPolicy>,
        names: &[String],
        inline: &[spec::InlinePolicySpec],
        pointer: &str,
    ) -> Vec<NamedPolicy> {
        let mut out = Vec::new();
        for (j, name) in names.iter().enumerate() {
            // Accept the bare name or a policy ARN (`arn:aws:iam::aws:policy/NAME`).
            let short = name.rsplit('/').next().unwrap_or(name);
            match managed.get(name.as_str()).or_else(|| managed.get(short)) {
                Some(p) => out.push(p.clone()),
                None => self.error(
                    format!("{pointer}/managedPolicies/{j}"),
                    format!("managed policy `{name}` is not defined"),
                    Some("define it under `managedPolicies`, or use an AWS managed policy the sidecar knows: VPCLatticeServicesInvokeAccess, AdministratorAccess"),
                ),
            }
        }
        for (j, p) in inline.iter().enumerate() {
            let ip = format!("{pointer}/policies/{j}");
            if let Some(policy) =
                self.doc_policy(&p.name, &p.document, PolicyKind::Identity, 10_240, &ip)
            {
                out.push(policy);
            }
        }
        out
    }

    /// Users, then roles with their sessions: every principal, and the credentials that name
    /// them.
    pub(super) fn principals<'a>(
        &mut self,
        spec: &WorldSpec,
        managed: &'a Map<String, NamedPolicy>,
        accounts: &mut Vec<Account>,
        account_index: &mut Map<Arc<str>, usize>,
        partition: &'a str,
    ) -> Principals<'a> {
        let mut out = Principals {
            partition,
            managed,
            list: Vec::new(),
            roles: Vec::new(),
            role_by_arn: Map::default(),
            credentials: Map::default(),
            key_owner: Map::default(),
            seen_arns: HashSet::new(),
        };
        for (i, u) in spec.users.iter().enumerate() {
            self.user(&format!("/users/{i}"), u, accounts, account_index, &mut out);
        }
        for (i, r) in spec.roles.iter().enumerate() {
            self.role(&format!("/roles/{i}"), r, accounts, account_index, &mut out);
        }
        // Pushing one by one left up to half the capacity unused (100,000 principals in room
        // for 131,072); the world never grows.
        out.list.shrink_to_fit();
        out
    }

    /// An IAM user and its active access keys.
    fn user(
        &mut self,
        p: &str,
        u: &spec::UserSpec,
        accounts: &mut Vec<Account>,
        account_index: &mut Map<Arc<str>, usize>,
        out: &mut Principals<'_>,
    ) {
        let partition = out.partition;
        let Some((arn_partition, account, _)) = iam_arn(&u.arn, "user") else {
            self.error(
                format!("{p}/arn"),
                format!("`{}` is not an IAM user ARN", u.arn),
                Some("arn:aws:iam::123456789012:user/name"),
            );
            return;
        };
        if arn_partition != partition {
            self.error(
                format!("{p}/arn"),
                format!("`{}` is not in partition `{partition}`", u.arn),
                None,
            );
        }
        if !out.seen_arns.insert(u.arn.clone()) {
            self.error(
                format!("{p}/arn"),
                format!("user `{}` is defined twice", u.arn),
                None,
            );
        }
        let account_i = self.ensure_account(account, accounts, account_index);
        let policies = self.identity_policies(out.managed, &u.managed_policies, &u.policies, p);
        let tags: Vec<(Arc<str>, Arc<str>)> = u
            .tags
            .iter()
            .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
            .collect();
        let index = out.list.len();
        let owner = accounts.get(account_i);
        // The account's own id, shared: one allocation per account, not per principal.
        let account_id = owner.map_or_else(|| account.into(), |a| a.id.clone());
        let arn: Arc<str> = u.arn.as_str().into();
        out.list.push(Principal {
            headers: OnceLock::new(),
            kind: PrincipalKind::User,
            arn,
            account: account_id,
            user_id: u.user_id.as_deref().map(Arc::from),
            tags,
            policies,
            account_index: Some(account_i),
            token: None,
        });
        for (j, k) in u.access_keys.iter().enumerate() {
            let kp = format!("{p}/accessKeys/{j}");
            match k.status.as_deref() {
                None | Some("Active") => {}
                Some("Inactive") => continue,
                Some(other) => {
                    self.error(
                        format!("{kp}/status"),
                        format!("`{other}` is not a key status"),
                        Some("`Active` or `Inactive`"),
                    );
                    continue;
                }
            }
            let Some(secret) = self.secret(&k.secret_access_key, &format!("{kp}/secretAccessKey"))
            else {
                continue;
            };
            let entry = CredentialEntry {
                secret: Secret::new(secret),
                session_token: None,
                expires_at: None,
                principal: index,
            };
            self.add_key(
                out,
                &k.access_key_id,
                &format!("{kp}/accessKeyId"),
                &u.arn,
                entry,
            );
        }
    }

    /// An IAM role: its sessions are the principals (a role itself never signs).
    fn role(
        &mut self,
        p: &str,
        r: &spec::RoleSpec,
        accounts: &mut Vec<Account>,
        account_index: &mut Map<Arc<str>, usize>,
        out: &mut Principals<'_>,
    ) {
        let partition = out.partition;
        let Some((arn_partition, account, path_name)) = iam_arn(&r.arn, "role") else {
            self.error(
                format!("{p}/arn"),
                format!("`{}` is not an IAM role ARN", r.arn),
                Some("arn:aws:iam::123456789012:role/name"),
            );
            return;
        };
        if arn_partition != partition {
            self.error(
                format!("{p}/arn"),
                format!("`{}` is not in partition `{partition}`", r.arn),
                None,
            );
        }
        if !out.seen_arns.insert(r.arn.clone()) {
            self.error(
                format!("{p}/arn"),
                format!("role `{}` is defined twice", r.arn),
                None,
            );
        }
        let account_i = self.ensure_account(account, accounts, account_index);
        let role = Role {
            spec: r,
            name: path_name.rsplit('/').next().unwrap_or(path_name),
            arn: r.arn.as_str().into(),
            account,
            // The account's own id, shared: one allocation per account, not per principal.
            account_id: accounts
                .get(account_i)
                .map_or_else(|| account.into(), |a| a.id.clone()),
            account_index: account_i,
            policies: self.identity_policies(out.managed, &r.managed_policies, &r.policies, p),
        };
        for (j, s) in r.sessions.iter().enumerate() {
            self.session(&format!("{p}/sessions/{j}"), s, &role, out);
        }
        let trust_policy = self.trust_policy(p, r);
        let max_session_duration = match r.max_session_duration {
            None => DEFAULT_MAX_SESSION_DURATION,
            Some(d) if (3600..=43_200).contains(&d) => d,
            Some(d) => {
                self.error(
                    format!("{p}/maxSessionDuration"),
                    format!("{d} is not a maximum session duration"),
                    Some("3600 (one hour, the default) to 43200 (twelve hours) seconds"),
                );
                DEFAULT_MAX_SESSION_DURATION
            }
        };
        out.role_by_arn.insert(role.arn.clone(), out.roles.len());
        out.roles.push(world::Role {
            arn: role.arn,
            name: role.name.into(),
            id: r.role_id.as_deref().map(Arc::from),
            account: role.account_id,
            account_index: role.account_index,
            tags: r
                .tags
                .iter()
                .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
                .collect(),
            policies: role.policies,
            trust_policy,
            max_session_duration,
        });
    }

    /// A role's trust policy (`assumeRolePolicyDocument`, or the file it names): a resource
    /// policy on the role, of at most [`MAX_TRUST_POLICY_BYTES`].
    fn trust_policy(&mut self, p: &str, r: &spec::RoleSpec) -> Option<NamedPolicy> {
        let document = match (
            &r.assume_role_policy_document,
            &r.assume_role_policy_document_file,
        ) {
            (None, None) => return None,
            (Some(_), Some(_)) => {
                self.error(
                    format!("{p}/assumeRolePolicyDocumentFile"),
                    "give `assumeRolePolicyDocument` or `assumeRolePolicyDocumentFile`, not both",
                    None,
                );
                return None;
            }
            (document, file) => spec::DocumentSpec {
                document: document.clone(),
                document_file: file.clone(),
                source: None,
            },
        };
        let pointer = format!("{p}/assumeRolePolicyDocument");
        let text = self.document_text(&document, &pointer)?;
        self.policy(
            &format!("trust policy of {}", r.arn),
            &text,
            PolicyKind::Trust,
            MAX_TRUST_POLICY_BYTES,
            &pointer,
        )
    }

    /// A session of `role`, with its temporary credentials.
    fn session(
        &mut self,
        sp: &str,
        s: &spec::SessionSpec,
        role: &Role<'_>,
        out: &mut Principals<'_>,
    ) {
        let valid_name = (2..=64).contains(&s.session_name.len())
            && s.session_name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"=,.@-_".contains(&c));
        if !valid_name {
            self.error(
                format!("{sp}/sessionName"),
                format!("`{}` is not a role session name", s.session_name),
                Some("2 to 64 characters of [A-Za-z0-9=,.@_-]"),
            );
            return;
        }
        let Ok(expires_at) = humantime::parse_rfc3339_weak(&s.expiration) else {
            self.error(
                format!("{sp}/expiration"),
                format!("`{}` is not an RFC 3339 time", s.expiration),
                Some("e.g. `2099-01-01T00:00:00Z`"),
            );
            return;
        };
        let arn: Arc<str> = format!(
            "arn:{}:sts::{}:assumed-role/{}/{}",
            out.partition, role.account, role.name, s.session_name
        )
        .into();
        let mut tags: Vec<(Arc<str>, Arc<str>)> = role
            .spec
            .tags
            .iter()
            .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
            .collect();
        world::override_tags(
            &mut tags,
            s.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let index = out.list.len();
        out.list.push(Principal {
            headers: OnceLock::new(),
            kind: PrincipalKind::AssumedRole {
                role_arn: role.arn.clone(),
                session_name: s.session_name.as_str().into(),
            },
            arn,
            account: role.account_id.clone(),
            user_id: role
                .spec
                .role_id
                .as_deref()
                .map(|id| Arc::from(format!("{id}:{}", s.session_name))),
            tags,
            policies: role.policies.clone(),
            account_index: Some(role.account_index),
            token: None,
        });
        let Some(secret) = self.secret(&s.secret_access_key, &format!("{sp}/secretAccessKey"))
        else {
            return;
        };
        let Some(token) = self.secret(&s.session_token, &format!("{sp}/sessionToken")) else {
            return;
        };
        let entry = CredentialEntry {
            secret: Secret::new(secret),
            session_token: Some(token.into_boxed_str()),
            expires_at: Some(expires_at),
            principal: index,
        };
        self.add_key(
            out,
            &s.access_key_id,
            &format!("{sp}/accessKeyId"),
            &role.spec.arn,
            entry,
        );
    }

    /// Indexes a credential by its access key id, unless the id is malformed or taken.
    fn add_key(
        &mut self,
        out: &mut Principals<'_>,
        akid: &str,
        pointer: &str,
        owner: &str,
        entry: CredentialEntry,
    ) {
        let valid =
            (16..=128).contains(&akid.len()) && akid.bytes().all(|c| c.is_ascii_alphanumeric());
        if !valid {
            self.error(
                pointer.to_owned(),
                format!("`{akid}` is not an access key id"),
                Some("16 to 128 letters and digits, e.g. `AKIAIOSFODNN7EXAMPLE`"),
            );
        } else if let Some(first) = out.key_owner.get(akid) {
            self.error(
                pointer.to_owned(),
                format!("access key `{akid}` belongs to both `{first}` and `{owner}`"),
                None,
            );
        } else {
            out.key_owner.insert(akid.to_owned(), owner.to_owned());
            out.credentials.insert(akid.into(), entry);
        }
    }
}

/// The principals and credentials built so far, with what they are checked against.
pub(super) struct Principals<'a> {
    /// The world's partition: every ARN must be in it.
    partition: &'a str,
    /// The managed policies principals may name.
    managed: &'a Map<String, NamedPolicy>,
    pub(super) list: Vec<Principal>,
    pub(super) roles: Vec<world::Role>,
    pub(super) role_by_arn: Map<Arc<str>, usize>,
    pub(super) credentials: Map<Box<str>, CredentialEntry>,
    /// Access key id → the ARN of its owner, to name both owners of a key given twice.
    key_owner: Map<String, String>,
    /// The ARNs of the users and roles so far.
    seen_arns: HashSet<String>,
}

/// What a role's sessions share.
struct Role<'a> {
    spec: &'a spec::RoleSpec,
    /// The role's name, without its path.
    name: &'a str,
    arn: Arc<str>,
    /// The account id as the ARN gives it.
    account: &'a str,
    /// The account's own id, shared.
    account_id: Arc<str>,
    account_index: usize,
    policies: Vec<NamedPolicy>,
}
