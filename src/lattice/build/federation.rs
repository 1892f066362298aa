//! Building what `lattice-authz sts` issues sessions from: the OIDC identity providers whose
//! tokens it trusts, and the session keys that seal and open the sessions it issues. It must not
//! build principals (`identity`) nor read files (secrets come through the [`super::Loader`]).

use std::sync::Arc;

use crate::lattice::Map;
use crate::lattice::spec::WorldSpec;
use crate::lattice::world::{Account, OidcProvider};
use crate::tokens::{Jwks, Keyring, SessionKey};

use super::{Builder, valid_account};

/// IAM's bounds on a provider: the URL's length and the number of audiences.
const MAX_PROVIDER_URL: usize = 255;
const MAX_CLIENT_IDS: usize = 100;
const MAX_CLIENT_ID: usize = 255;

impl Builder<'_> {
    /// The OIDC providers, each in its account (the first account when it names none).
    pub(super) fn oidc_providers(
        &mut self,
        spec: &WorldSpec,
        partition: &str,
        accounts: &mut Vec<Account>,
        account_index: &mut Map<Arc<str>, usize>,
    ) -> Vec<OidcProvider> {
        let mut out: Vec<OidcProvider> = Vec::new();
        for (i, o) in spec.open_id_connect_providers.iter().enumerate() {
            let p = format!("/openIdConnectProviders/{i}");
            let Some(key_prefix) = self.provider_url(&o.url, &format!("{p}/url")) else {
                continue;
            };
            let account: Arc<str> = match (&o.account_id, accounts.first()) {
                (Some(id), _) if valid_account(id) => {
                    let index = self.ensure_account(id, accounts, account_index);
                    accounts
                        .get(index)
                        .map_or_else(|| id.as_str().into(), |a| a.id.clone())
                }
                (Some(id), _) => {
                    self.error(
                        format!("{p}/accountId"),
                        format!("`{id}` is not a 12-digit account id"),
                        Some("quote it in YAML: \"012345678901\""),
                    );
                    continue;
                }
                (None, Some(first)) => first.id.clone(),
                (None, None) => {
                    self.error(
                        format!("{p}/accountId"),
                        "the provider names no account and the world has none",
                        Some("add `accountId`, or an entry under `accounts`"),
                    );
                    continue;
                }
            };
            if out
                .iter()
                .any(|x| *x.url == *o.url && *x.account == *account)
            {
                self.error(
                    format!("{p}/url"),
                    format!("provider `{}` is defined twice in account {account}", o.url),
                    None,
                );
                continue;
            }
            let client_ids = self.client_ids(&o.client_id_list, &p);
            let Some(jwks_text) = self.secret(&o.jwks, &format!("{p}/jwks")) else {
                continue;
            };
            let jwks = match Jwks::parse(jwks_text.as_bytes()) {
                Ok(jwks) if jwks.is_empty() => {
                    self.error(
                        format!("{p}/jwks"),
                        "the key set holds no key usable for signatures",
                        Some("RSA (2048 bits or more) or EC P-256/P-384 keys with `use` absent or `sig`"),
                    );
                    continue;
                }
                Ok(jwks) => jwks,
                Err(e) => {
                    self.error(
                        format!("{p}/jwks"),
                        format!("not a JSON Web Key Set: {e}"),
                        None,
                    );
                    continue;
                }
            };
            out.push(OidcProvider {
                arn: format!("arn:{partition}:iam::{account}:oidc-provider/{key_prefix}").into(),
                url: o.url.as_str().into(),
                key_prefix: key_prefix.into(),
                account,
                client_ids,
                jwks,
            });
        }
        out
    }

    /// IAM's rules for a provider URL: `https://`, a host, no port, no query or fragment, at
    /// most 255 characters. Returns the URL without its scheme (the condition-key prefix).
    fn provider_url<'u>(&mut self, url: &'u str, pointer: &str) -> Option<&'u str> {
        let rest = url.strip_prefix("https://");
        let host = rest.map(|r| r.split('/').next().unwrap_or(r));
        let problem = match (rest, host) {
            (None, _) => Some("must start with `https://`"),
            (_, Some("")) => Some("has no host"),
            (_, Some(h)) if h.contains(':') => Some("must not name a port"),
            (Some(r), _) if r.contains(['?', '#']) => Some("must not have a query or fragment"),
            _ if url.len() > MAX_PROVIDER_URL => Some("is longer than 255 characters"),
            _ if url.ends_with('/') => Some("must not end with `/` (tokens' `iss` never does)"),
            _ => None,
        };
        match problem {
            Some(problem) => {
                self.error(
                    pointer.to_owned(),
                    format!("provider URL `{url}` {problem}"),
                    Some("the issuer URL exactly as tokens carry it in `iss`, e.g. `https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE`"),
                );
                None
            }
            None => rest,
        }
    }

    fn client_ids(&mut self, list: &[String], p: &str) -> Vec<Arc<str>> {
        if list.is_empty() || list.len() > MAX_CLIENT_IDS {
            self.error(
                format!("{p}/clientIdList"),
                format!("a provider has 1 to 100 client ids, not {}", list.len()),
                Some("the audiences its tokens carry in `aud`, e.g. `sts.amazonaws.com`"),
            );
        }
        let mut out: Vec<Arc<str>> = Vec::new();
        for (j, id) in list.iter().enumerate() {
            if id.is_empty() || id.len() > MAX_CLIENT_ID {
                self.error(
                    format!("{p}/clientIdList/{j}"),
                    "a client id has 1 to 255 characters",
                    None,
                );
            } else if !out.iter().any(|x| **x == **id) {
                out.push(id.as_str().into());
            }
        }
        out
    }

    /// The session keys, in order: the first seals.
    pub(super) fn session_keys(&mut self, spec: &WorldSpec) -> Keyring {
        let mut keys = Vec::new();
        for (i, k) in spec.session_keys.iter().enumerate() {
            let p = format!("/sessionKeys/{i}");
            let Some(secret) = self.secret(&k.secret, &format!("{p}/secret")) else {
                continue;
            };
            match SessionKey::from_base64(&k.id, &secret) {
                Ok(key) if keys.iter().any(|x: &SessionKey| x.id() == key.id()) => self.error(
                    format!("{p}/id"),
                    format!("session key `{}` is defined twice", k.id),
                    None,
                ),
                Ok(key) => keys.push(key),
                Err(e) => self.error(
                    p,
                    format!("session key `{}`: {e}", k.id),
                    Some("`lattice-authz session-key` prints a new key"),
                ),
            }
        }
        // Ids are unique by now, the one thing `Keyring::new` refuses.
        Keyring::new(keys).unwrap_or_else(|e| {
            self.error("/sessionKeys", e.to_string(), None);
            Keyring::default()
        })
    }
}
