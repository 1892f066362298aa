//! Building the network side of a world: VPCs and their address index, security groups,
//! services and their host names, service networks with their VPC and service associations, and
//! VPC endpoints. It must not build principals or credentials (`identity`).

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use crate::policy::PolicyKind;

use super::{Builder, valid_account};
use crate::lattice::Map;
use crate::lattice::net::{self, Cidr, PrefixMap};
use crate::lattice::spec::WorldSpec;
use crate::lattice::world::{
    Account, AssociationMap, AuthType, IngressRule, SecurityGroup, Service, ServiceNetwork, Vpc,
    VpcEndpoint,
};

/// VPC endpoint policies may be larger than auth policies (20,480 characters, iam-policy §1.10).
const MAX_ENDPOINT_POLICY_BYTES: usize = 20_480;

/// Most security groups on one service-network VPC association (lattice-auth §7).
const MAX_ASSOCIATION_SECURITY_GROUPS: usize = 5;

/// The default policy of a VPC endpoint (iam-policy §1.1).
const FULL_ACCESS_ENDPOINT_POLICY: &str =
    r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;

/// VPC id → index.
fn vpc_index(vpcs: &[Vpc]) -> Map<Arc<str>, usize> {
    vpcs.iter()
        .enumerate()
        .map(|(i, v)| (v.id.clone(), i))
        .collect()
}

/// Every name (id, ARN, name) of each item → its index; the first item wins a shared name.
fn name_index<'n>(items: impl Iterator<Item = [&'n str; 3]>) -> Map<&'n str, usize> {
    let mut out = Map::default();
    for (i, names) in items.enumerate() {
        for name in names {
            out.entry(name).or_insert(i);
        }
    }
    out
}

fn valid_resource_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == 17
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    })
}

impl Builder<'_> {
    pub(super) fn vpcs(
        &mut self,
        spec: &WorldSpec,
        partition: &str,
        region: &str,
        accounts: &mut Vec<Account>,
        account_index: &mut Map<Arc<str>, usize>,
    ) -> (Vec<Vpc>, PrefixMap<usize>) {
        let mut vpcs: Vec<Vpc> = Vec::new();
        let mut by_address = PrefixMap::default();
        let mut blocks: Map<Cidr, String> = Map::default();
        let mut seen = HashSet::new();
        for (i, v) in spec.vpcs.iter().enumerate() {
            let p = format!("/vpcs/{i}");
            if !v.vpc_id.starts_with("vpc-") {
                self.error(
                    format!("{p}/vpcId"),
                    format!("`{}` is not a VPC id", v.vpc_id),
                    Some("e.g. `vpc-0a0a0a0a0a0a0a0a0`"),
                );
            }
            if !seen.insert(v.vpc_id.as_str()) {
                self.error(
                    format!("{p}/vpcId"),
                    format!("VPC `{}` is defined twice", v.vpc_id),
                    None,
                );
                continue;
            }
            if !valid_account(&v.owner_id) {
                self.error(
                    format!("{p}/ownerId"),
                    format!("`{}` is not a 12-digit account id", v.owner_id),
                    Some("quote it in YAML"),
                );
            }
            let owner_index = valid_account(&v.owner_id)
                .then(|| self.ensure_account(&v.owner_id, accounts, account_index));
            let index = vpcs.len();
            for (j, c) in v.cidr_blocks.iter().enumerate() {
                match Cidr::parse(c) {
                    Ok(cidr) => {
                        if let Some(other) = blocks.insert(cidr, v.vpc_id.clone()) {
                            self.error(
                                format!("{p}/cidrBlocks/{j}"),
                                format!("CIDR `{cidr}` is in both `{other}` and `{}`", v.vpc_id),
                                None,
                            );
                        }
                        by_address.insert(cidr, index);
                    }
                    Err(e) => self.error(format!("{p}/cidrBlocks/{j}"), e.to_string(), None),
                }
            }
            let arn: Arc<str> = format!(
                "arn:{partition}:ec2:{region}:{}:vpc/{}",
                v.owner_id, v.vpc_id
            )
            .into();
            vpcs.push(Vpc {
                id: v.vpc_id.as_str().into(),
                owner: v.owner_id.as_str().into(),
                owner_index,
                network_header: format!("SourceVpcArn={arn}").into(),
                arn,
                association: None,
            });
        }
        (vpcs, by_address)
    }

    pub(super) fn security_groups(
        &mut self,
        spec: &WorldSpec,
        vpcs: &[Vpc],
    ) -> (Vec<SecurityGroup>, Map<String, (usize, usize)>) {
        let mut groups = Vec::new();
        let vpc_index = vpc_index(vpcs);
        let mut index = Map::default();
        for (i, g) in spec.security_groups.iter().enumerate() {
            let p = format!("/securityGroups/{i}");
            if !g.group_id.starts_with("sg-") {
                self.error(
                    format!("{p}/groupId"),
                    format!("`{}` is not a security group id", g.group_id),
                    None,
                );
            }
            let Some(vpc) = vpc_index.get(g.vpc_id.as_str()).copied() else {
                self.error(
                    format!("{p}/vpcId"),
                    format!(
                        "security group `{}` is in VPC `{}`, which is not defined",
                        g.group_id, g.vpc_id
                    ),
                    None,
                );
                continue;
            };
            let mut ingress = Vec::new();
            for (j, r) in g.ingress.iter().enumerate() {
                let rp = format!("{p}/ingress/{j}");
                let ports = match (r.ip_protocol.as_str(), r.from_port, r.to_port) {
                    ("-1", _, _) => None,
                    ("tcp" | "6", Some(from), Some(to)) if from <= to => Some((from, to)),
                    ("tcp" | "6", _, _) => {
                        self.error(rp.clone(), "a tcp rule needs `fromPort` <= `toPort`", None);
                        continue;
                    }
                    (other, _, _) => {
                        // Lattice carries HTTP over TCP only: other protocols never match a request.
                        self.warn(
                            format!("{rp}/ipProtocol"),
                            format!("protocol `{other}` never matches a Lattice request"),
                            Some("use `tcp` or `-1`"),
                        );
                        continue;
                    }
                };
                let mut sources = Vec::new();
                for (k, c) in r.cidr_blocks.iter().enumerate() {
                    match Cidr::parse(c) {
                        Ok(cidr) => sources.push(cidr),
                        Err(e) => self.error(format!("{rp}/cidrBlocks/{k}"), e.to_string(), None),
                    }
                }
                ingress.push(IngressRule { ports, sources });
            }
            if index
                .insert(g.group_id.clone(), (groups.len(), vpc))
                .is_some()
            {
                self.error(
                    format!("{p}/groupId"),
                    format!("security group `{}` is defined twice", g.group_id),
                    None,
                );
            }
            groups.push(SecurityGroup {
                id: g.group_id.as_str().into(),
                ingress,
            });
        }
        (groups, index)
    }

    fn auth_type(&mut self, value: &str, pointer: String) -> AuthType {
        match value {
            "AWS_IAM" => AuthType::AwsIam,
            "NONE" => AuthType::None,
            other => {
                self.error(
                    pointer,
                    format!("`{other}` is not an auth type"),
                    Some("`NONE` or `AWS_IAM`"),
                );
                AuthType::AwsIam
            }
        }
    }

    pub(super) fn services(
        &mut self,
        spec: &WorldSpec,
        partition: &str,
        region: &str,
        default_owner: &Arc<str>,
        accounts: &mut Vec<Account>,
        account_index: &mut Map<Arc<str>, usize>,
    ) -> Vec<Service> {
        let mut out: Vec<Service> = Vec::new();
        let mut seen = HashSet::new();
        for (i, s) in spec.services.iter().enumerate() {
            let p = format!("/services/{i}");
            if !valid_resource_id(&s.id, "svc-") {
                self.error(
                    format!("{p}/id"),
                    format!("`{}` is not a service id", s.id),
                    Some("`svc-` and 17 lowercase letters or digits"),
                );
            }
            let valid_name = !s.name.is_empty()
                && s.name.len() <= 40
                && s.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !s.name.starts_with('-')
                && !s.name.ends_with('-')
                && !s.name.contains("--");
            if !valid_name {
                self.error(
                    format!("{p}/name"),
                    format!("`{}` is not a service name", s.name),
                    Some("3 to 40 of a-z, 0-9 and '-', no leading, trailing or double hyphen"),
                );
            }
            if !seen.insert(s.id.as_str()) {
                self.error(
                    format!("{p}/id"),
                    format!("service `{}` is defined twice", s.id),
                    None,
                );
                continue;
            }
            let owner: Arc<str> = s
                .owner_id
                .as_deref()
                .map_or_else(|| default_owner.clone(), Arc::from);
            if !valid_account(&owner) {
                self.error(
                    format!("{p}/ownerId"),
                    format!("`{owner}` is not a 12-digit account id"),
                    None,
                );
            }
            let owner_index =
                valid_account(&owner).then(|| self.ensure_account(&owner, accounts, account_index));
            let auth_type = self.auth_type(&s.auth_type, format!("{p}/authType"));
            let auth_policy = s.auth_policy.as_ref().and_then(|d| {
                self.doc_policy(
                    &policy_name(&s.id, d),
                    d,
                    PolicyKind::Resource,
                    self.options.max_policy_bytes,
                    &format!("{p}/authPolicy"),
                )
            });
            let digits = s.id.strip_prefix("svc-").unwrap_or(&s.id);
            let dns_name = s.dns_name.clone().unwrap_or_else(|| {
                format!(
                    "{}-{digits}.7d67968.vpc-lattice-svcs.{region}.on.aws",
                    s.name
                )
            });
            out.push(Service {
                arn: format!(
                    "arn:{partition}:vpc-lattice:{region}:{owner}:service/{}",
                    s.id
                )
                .into(),
                id: s.id.as_str().into(),
                name: s.name.as_str().into(),
                owner,
                owner_index,
                dns_name: dns_name.to_ascii_lowercase().into(),
                custom_domain_name: s
                    .custom_domain_name
                    .as_deref()
                    .map(|d| Arc::from(d.to_ascii_lowercase())),
                auth_type,
                auth_policy,
                tags: s
                    .tags
                    .iter()
                    .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
                    .collect(),
            });
        }
        out
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "the pieces built so far, passed explicitly"
    )]
    pub(super) fn networks(
        &mut self,
        spec: &WorldSpec,
        partition: &str,
        region: &str,
        default_owner: &Arc<str>,
        services: &[Service],
        vpcs: &mut [Vpc],
        sg_index: &Map<String, (usize, usize)>,
        groups: &[SecurityGroup],
    ) -> (Vec<ServiceNetwork>, AssociationMap) {
        let mut out: Vec<ServiceNetwork> = Vec::new();
        let mut seen = HashSet::new();
        let vpc_index = vpc_index(vpcs);
        let service_index = name_index(services.iter().map(|s| [&*s.id, &*s.arn, &*s.name]));
        let mut associations = Map::default();
        for (i, n) in spec.service_networks.iter().enumerate() {
            let p = format!("/serviceNetworks/{i}");
            if !valid_resource_id(&n.id, "sn-") {
                self.error(
                    format!("{p}/id"),
                    format!("`{}` is not a service network id", n.id),
                    Some("`sn-` and 17 lowercase letters or digits"),
                );
            }
            if !seen.insert(n.id.as_str()) || !seen.insert(n.name.as_str()) {
                self.error(
                    format!("{p}/id"),
                    format!("service network `{}` ({}) is defined twice", n.id, n.name),
                    None,
                );
                continue;
            }
            let owner: Arc<str> = n
                .owner_id
                .as_deref()
                .map_or_else(|| default_owner.clone(), Arc::from);
            let arn: Arc<str> = format!(
                "arn:{partition}:vpc-lattice:{region}:{owner}:servicenetwork/{}",
                n.id
            )
            .into();
            let auth_type = self.auth_type(&n.auth_type, format!("{p}/authType"));
            let auth_policy = n.auth_policy.as_ref().and_then(|d| {
                self.doc_policy(
                    &policy_name(&n.id, d),
                    d,
                    PolicyKind::Resource,
                    self.options.max_policy_bytes,
                    &format!("{p}/authPolicy"),
                )
            });
            let index = out.len();
            for (j, a) in n.vpc_associations.iter().enumerate() {
                let ap = format!("{p}/vpcAssociations/{j}");
                let Some(vpc_i) = vpc_index.get(a.vpc_id.as_str()).copied() else {
                    self.error(format!("{ap}/vpcId"), format!("service network `{}` is associated with VPC `{}`, which is not defined", n.id, a.vpc_id), None);
                    continue;
                };
                if a.security_group_ids.len() > MAX_ASSOCIATION_SECURITY_GROUPS {
                    self.error(format!("{ap}/securityGroupIds"), format!("at most {MAX_ASSOCIATION_SECURITY_GROUPS} security groups per association"), None);
                }
                let mut sgs = Vec::new();
                for (k, sg) in a.security_group_ids.iter().enumerate() {
                    match sg_index.get(sg) {
                        Some((g, vpc)) if *vpc == vpc_i => sgs.push(*g),
                        Some(_) => self.error(
                            format!("{ap}/securityGroupIds/{k}"),
                            format!("security group `{sg}` is not in VPC `{}`", a.vpc_id),
                            None,
                        ),
                        None => self.error(
                            format!("{ap}/securityGroupIds/{k}"),
                            format!("security group `{sg}` is not defined"),
                            None,
                        ),
                    }
                }
                let _ = groups;
                let Some(vpc) = vpcs.get_mut(vpc_i) else {
                    continue;
                };
                if let Some((other, _)) = vpc.association {
                    let other = out.get(other).map_or("", |o: &ServiceNetwork| &*o.id);
                    self.error(
                        ap,
                        format!(
                            "VPC `{}` is associated with both `{other}` and `{}`",
                            a.vpc_id, n.id
                        ),
                        Some("a VPC can be associated with one service network"),
                    );
                } else {
                    vpc.association = Some((index, sgs));
                }
            }
            for (j, reference) in n.service_associations.iter().enumerate() {
                match service_index.get(reference.as_str()).copied() {
                    Some(s) => {
                        let service = services.get(s).map_or("", |s| &*s.arn);
                        associations.insert((index, s), Arc::from(format!("ServiceArn={service}; ServiceNetworkArn={arn}")));
                    }
                    None => self.error(
                        format!("{p}/serviceAssociations/{j}"),
                        format!("service network `{}` is associated with service `{reference}`, which is not defined", n.id),
                        None,
                    ),
                }
            }
            out.push(ServiceNetwork {
                id: n.id.as_str().into(),
                name: n.name.as_str().into(),
                arn,
                owner,
                auth_type,
                auth_policy,
            });
        }
        (out, associations)
    }

    #[expect(
        clippy::type_complexity,
        reason = "the endpoint list and its two indexes"
    )]
    pub(super) fn endpoints(
        &mut self,
        spec: &WorldSpec,
        vpcs: &[Vpc],
        networks: &[ServiceNetwork],
    ) -> (Vec<VpcEndpoint>, Map<IpAddr, usize>, Map<Arc<str>, usize>) {
        let vpc_index = vpc_index(vpcs);
        let network_index = name_index(networks.iter().map(|n| [&*n.id, &*n.arn, &*n.name]));
        let mut out = Vec::new();
        let mut by_address = Map::default();
        let mut by_id = Map::default();
        for (i, e) in spec.vpc_endpoints.iter().enumerate() {
            let p = format!("/vpcEndpoints/{i}");
            if !e.vpc_endpoint_id.starts_with("vpce-") {
                self.error(
                    format!("{p}/vpcEndpointId"),
                    format!("`{}` is not a VPC endpoint id", e.vpc_endpoint_id),
                    None,
                );
            }
            let Some(vpc) = vpc_index.get(e.vpc_id.as_str()).copied() else {
                self.error(
                    format!("{p}/vpcId"),
                    format!(
                        "endpoint `{}` is in VPC `{}`, which is not defined",
                        e.vpc_endpoint_id, e.vpc_id
                    ),
                    None,
                );
                continue;
            };
            let Some(network) = network_index.get(e.service_network.as_str()).copied() else {
                self.error(
                    format!("{p}/serviceNetwork"),
                    format!(
                        "endpoint `{}` names service network `{}`, which is not defined",
                        e.vpc_endpoint_id, e.service_network
                    ),
                    None,
                );
                continue;
            };
            let name = format!("endpoint policy of {}", e.vpc_endpoint_id);
            let policy = if e.policy.document.is_none() && e.policy.document_file.is_none() {
                self.policy(
                    &name,
                    FULL_ACCESS_ENDPOINT_POLICY,
                    PolicyKind::Resource,
                    MAX_ENDPOINT_POLICY_BYTES,
                    &p,
                )
            } else {
                self.doc_policy(
                    &name,
                    &e.policy,
                    PolicyKind::Resource,
                    MAX_ENDPOINT_POLICY_BYTES,
                    &p,
                )
            };
            let Some(policy) = policy else { continue };
            let index = out.len();
            for (j, a) in e.ip_addresses.iter().enumerate() {
                match a.parse::<IpAddr>() {
                    Ok(addr) => {
                        if by_address.insert(net::canonical(addr), index).is_some() {
                            self.error(
                                format!("{p}/ipAddresses/{j}"),
                                format!("address `{a}` belongs to two endpoints"),
                                None,
                            );
                        }
                    }
                    Err(_) => self.error(
                        format!("{p}/ipAddresses/{j}"),
                        format!("`{a}` is not an IP address"),
                        None,
                    ),
                }
            }
            let id: Arc<str> = e.vpc_endpoint_id.as_str().into();
            if by_id.insert(id.clone(), index).is_some() {
                self.error(
                    format!("{p}/vpcEndpointId"),
                    format!("endpoint `{id}` is defined twice"),
                    None,
                );
            }
            out.push(VpcEndpoint {
                id,
                vpc,
                network,
                policy,
            });
        }
        (out, by_address, by_id)
    }
}

/// The name of a resource's auth policy in traces: `auth policy of svc-…`, and the
/// `IAMAuthPolicy` it came from, if it did.
fn policy_name(id: &str, document: &crate::lattice::spec::DocumentSpec) -> String {
    match &document.source {
        Some(source) => format!("auth policy of {id} ({source})"),
        None => format!("auth policy of {id}"),
    }
}
