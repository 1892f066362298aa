//! The STS: every answer of `tests/data/sts/cases.yaml` exactly, then the life of a session on
//! the Lattice path (tampered, expired, keys rotated or removed, older sessions revoked), each
//! over the world `tests/data/sts/world.yaml` with keys this test makes.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use lattice_authz::config::Settings;
use lattice_authz::lattice::{Effect, Request, Untimed};
use lattice_authz::sigv4::{self, Header};
use lattice_authz::store::{Reload, Store};
use lattice_authz::sts::{Answer, Call, Handler, Issuer, Params};
use lattice_authz::test_util::{sign_lattice, sign_sts};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use serde_json::{Map, Value, json};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sts");
/// The repository's RSA test key (see `src/tokens/testdata/README.md`).
const RSA_PKCS8: &[u8] = include_bytes!("../../src/tokens/testdata/rsa2048-test-key.pk8");
const STS_HOST: &str = "sts.test:9192";
const ORDERS: &str = "orders-0a11e1c0ffee00002.7d67968.vpc-lattice-svcs.ap-northeast-1.on.aws";
const KEY_K1: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const KEY_K2: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

/// The keys that sign web identity tokens.
struct Keys {
    es: EcdsaKeyPair,
    other: EcdsaKeyPair,
    rsa: RsaKeyPair,
}

impl Keys {
    fn new() -> Self {
        let ec = || {
            let rng = SystemRandom::new();
            let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
            EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap()
        };
        Self {
            es: ec(),
            other: ec(),
            rsa: RsaKeyPair::from_pkcs8(RSA_PKCS8).unwrap(),
        }
    }

    /// The provider's key set: `es` and `rsa` (not `other`).
    fn jwks(&self) -> String {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let point = self.es.public_key().as_ref();
        let rsa = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(self.rsa.public());
        json!({"keys": [
            {"kty": "EC", "crv": "P-256", "kid": "es", "use": "sig", "x": b64(&point[1..33]), "y": b64(&point[33..])},
            {"kty": "RSA", "kid": "rsa", "use": "sig", "alg": "RS256", "n": b64(&rsa.n), "e": b64(&rsa.e)},
        ]})
        .to_string()
    }

    /// A compact JWT of `header` and `claims`, signed as `how` says.
    fn jwt(&self, header: &Value, claims: &Value, how: &str) -> String {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let rng = SystemRandom::new();
        let ec = |pair: &EcdsaKeyPair| pair.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec();
        let signature = match how {
            "es" => ec(&self.es),
            "other" => ec(&self.other),
            "flip" => {
                let mut s = ec(&self.es);
                *s.last_mut().unwrap() ^= 1;
                s
            }
            "rsa" => {
                let mut s = vec![0; self.rsa.public().modulus_len()];
                self.rsa
                    .sign(&signature::RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut s)
                    .unwrap();
                s
            }
            "none" => Vec::new(),
            "hs256-public" => {
                let mut mac =
                    Hmac::<sha2::Sha256>::new_from_slice(self.rsa.public().as_ref()).unwrap();
                mac.update(input.as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
            other => panic!("unknown signing `{other}`"),
        };
        format!("{input}.{}", b64(&signature))
    }
}

/// A world on disk (the test's keys, session keys, revocation) and the STS over it.
struct Sts {
    dir: tempfile::TempDir,
    store: Arc<Store>,
    issuer: Issuer,
}

impl Sts {
    fn new(keys: &Keys, now: SystemTime) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["world", "keys"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        std::fs::copy(
            Path::new(DATA).join("world.yaml"),
            dir.path().join("world/world.yaml"),
        )
        .unwrap();
        std::fs::write(dir.path().join("keys/jwks.json"), keys.jwks()).unwrap();
        let sts = Self::at(dir, now);
        sts.variant(&["k1"], None, now);
        sts
    }

    fn at(dir: tempfile::TempDir, now: SystemTime) -> Self {
        let settings = Settings {
            world: Some(dir.path().join("world")),
            ..Settings::default()
        };
        let store = Arc::new(Store::new(settings));
        let _ = store.poll(now);
        let issuer = Issuer::new(Arc::clone(&store), sigv4::Settings::sts());
        Self { dir, store, issuer }
    }

    /// Rewrites `variant.yaml`: the session keys in order, and a revocation of the sessions
    /// issued before `revoke_before` (an `AWSRevokeOlderSessions`-style role policy); loads it.
    fn variant(&self, session_keys: &[&str], revoke_before: Option<SystemTime>, now: SystemTime) {
        let keys: Vec<Value> = session_keys
            .iter()
            .map(|id| {
                let secret = if *id == "k1" { KEY_K1 } else { KEY_K2 };
                json!({"id": id, "secret": secret})
            })
            .collect();
        let before = revoke_before.map_or_else(|| "2000-01-01T00:00:00Z".to_owned(), rfc3339);
        let variant = json!({
            "sessionKeys": keys,
            "managedPolicies": [{"name": "revocation", "document": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*",
                    "Condition": {"DateLessThan": {"aws:TokenIssueTime": before}}}]
            }}],
        });
        std::fs::write(
            self.dir.path().join("world/variant.yaml"),
            variant.to_string(),
        )
        .unwrap();
        match self.store.poll(now) {
            Reload::Loaded(..) => {}
            other => panic!("world does not load: {other:#?}"),
        }
    }

    /// One call with `params`, signed by `creds` when given.
    fn call(
        &self,
        params: &[(String, String)],
        creds: Option<(&str, &str, Option<&str>)>,
        now: SystemTime,
    ) -> Result<Answer, (u16, String, String)> {
        let body = form(params);
        let mut owned = vec![(
            "content-type".to_owned(),
            "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
        )];
        if let Some(creds) = creds {
            owned = sign_sts(STS_HOST, &body, creds, "us-east-1", now);
        }
        let headers: Vec<Header<'_>> = owned
            .iter()
            .map(|(k, v)| Header {
                name: k,
                value: v.as_bytes(),
            })
            .collect();
        let (action, parsed) = Params::parse(
            "POST",
            "/",
            Some(b"application/x-www-form-urlencoded; charset=utf-8"),
            body.as_bytes(),
        )
        .map_err(|e| {
            (
                e.status(),
                e.code().as_str().to_owned(),
                e.message().to_owned(),
            )
        })?;
        let call = Call {
            action,
            params: &parsed,
            http: sigv4::HttpRequest {
                method: "POST",
                target: "/",
                authority: STS_HOST,
                headers: &headers,
                body: Some(body.as_bytes()),
            },
            source: "10.1.0.7".parse().unwrap(),
            request_id: "test-request",
        };
        let handled = self.issuer.handle(&call, now);
        let log = format!("{:?}", handled.log);
        assert!(!log.contains("eyJ"), "a JWT in the log detail: {log}");
        handled.result.map_err(|e| {
            (
                e.status(),
                e.code().as_str().to_owned(),
                e.message().to_owned(),
            )
        })
    }

    /// `GET /` to the orders service signed with a session's credentials at `at`: the effect and
    /// the deny body, or the identity header on allow.
    fn invoke(&self, creds: (&str, &str, Option<&str>), at: SystemTime) -> (Effect, String) {
        let signed = sign_lattice("GET", ORDERS, "/", &[], creds, "ap-northeast-1", at);
        let headers: Vec<Header<'_>> = signed
            .iter()
            .map(|(k, v)| Header {
                name: k,
                value: v.as_bytes(),
            })
            .collect();
        let request = Request {
            method: "GET",
            target: "/",
            authority: ORDERS,
            scheme: "http",
            headers: &headers,
            body: None,
            source: "10.1.0.7".parse::<IpAddr>().unwrap(),
            destination: None,
            vpc_endpoint: None,
        };
        let snapshot = self.store.current().unwrap();
        let decision = snapshot.world.authorize(
            &snapshot.verifier,
            &request,
            lattice_authz::lattice::Authentication::Verify,
            at,
            &mut Untimed,
        );
        let text = match decision.effect {
            Effect::Allow => decision
                .identity_headers()
                .iter()
                .find(|(name, _)| *name == "x-amzn-lattice-identity")
                .map(|(_, v)| (*v).to_owned())
                .unwrap_or_default(),
            Effect::Deny => decision.body().unwrap_or_default(),
        };
        (decision.effect, text)
    }
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

fn form(params: &[(String, String)]) -> String {
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    params
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn secs(t: SystemTime) -> i64 {
    i64::try_from(t.duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

/// The secret of an access key of `world.yaml` (a made-up one for keys it does not list).
fn secret_of(key: &str) -> &'static str {
    match key {
        "AKIAEXAMPLEALICE0001" => "aliceSecretKeyEXAMPLEEXAMPLEEXAMPLE00001",
        "AKIAEXAMPLEDAVE00001" => "daveSecretKeyEXAMPLEEXAMPLEEXAMPLE000001",
        "AKIAEXAMPLEBOB000001" => "bobSecretKeyEXAMPLEEXAMPLEEXAMPLE0000001",
        "AKIAEXAMPLECAROL0001" => "carolSecretKeyEXAMPLEEXAMPLEEXAMPLE00001",
        _ => "unknownSecretKeyEXAMPLEEXAMPLEEXAMPLE0001",
    }
}

/// `base` with `changes` applied: a null removes a member.
fn merged(base: &Value, changes: Option<&Value>) -> Map<String, Value> {
    let mut out = base.as_object().cloned().unwrap_or_default();
    for (k, v) in changes.and_then(Value::as_object).into_iter().flatten() {
        if v.is_null() {
            out.remove(k);
        } else {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// The case file's default token with `changes`, times relative to `now`.
fn token(keys: &Keys, file: &Value, changes: Option<&Value>, now: i64) -> String {
    let header = merged(&file["token"]["header"], changes.map(|c| &c["header"]));
    let mut claims = merged(&file["token"]["claims"], changes.map(|c| &c["claims"]));
    for name in ["exp", "iat", "nbf"] {
        if let Some(offset) = claims.get(name).and_then(Value::as_i64) {
            claims.insert(name.to_owned(), json!(now + offset));
        }
    }
    let how = changes.and_then(|c| c["sign"].as_str()).unwrap_or("es");
    keys.jwt(&Value::Object(header), &Value::Object(claims), how)
}

/// The request parameters of a case: `Action`, `Version`, the file's defaults for the action,
/// the token of a web identity call, then the case's own.
fn params(file: &Value, case: &Value, jwt: Option<String>) -> Vec<(String, String)> {
    let action = case["call"].as_str().unwrap();
    let mut out = vec![
        ("Action".to_owned(), action.to_owned()),
        ("Version".to_owned(), "2011-06-15".to_owned()),
    ];
    let mut named = merged(&file["params"][action], case.get("params"));
    if let Some(jwt) = jwt {
        named
            .entry("WebIdentityToken".to_owned())
            .or_insert(json!(jwt));
    }
    for (k, v) in named {
        out.push((k, v.as_str().unwrap().to_owned()));
    }
    out
}

#[test]
fn every_answer_of_the_case_file() {
    let text = std::fs::read_to_string(Path::new(DATA).join("cases.yaml")).unwrap();
    let file: Value = serde_saphyr::from_str(&text).unwrap();
    let now = humantime::parse_rfc3339(file["now"].as_str().unwrap()).unwrap();
    let keys = Keys::new();
    let sts = Sts::new(&keys, now);
    let cases = file["cases"].as_array().unwrap();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let web = case["call"] == "AssumeRoleWithWebIdentity";
        let jwt = web.then(|| token(&keys, &file, case.get("token"), secs(now)));
        let params = params(&file, case, jwt);
        let creds = case["signedBy"]
            .as_str()
            .map(|key| (key, secret_of(key), None));
        let got = sts.call(&params, creds, now);
        let expect = &case["expect"];
        match got {
            Err((status, code, message)) => {
                assert_eq!(
                    (json!(status), json!(code), json!(message)),
                    (
                        expect["status"].clone(),
                        expect["code"].clone(),
                        expect["message"].clone()
                    ),
                    "{name}"
                );
            }
            Ok(Answer::AssumedRole(role)) => {
                assert_eq!(expect["status"], 200, "{name}: issued {}", role.arn);
                assert_eq!(role.arn, expect["arn"].as_str().unwrap(), "{name}");
                if let Some(id) = expect["assumedRoleId"].as_str() {
                    assert_eq!(role.assumed_role_id, id, "{name}");
                }
                let c = &role.credentials;
                assert!(
                    c.access_key_id.starts_with("ASIA") && c.access_key_id.len() == 20,
                    "{name}: {}",
                    c.access_key_id
                );
                assert_eq!(c.secret_access_key.len(), 40, "{name}");
                assert_eq!(
                    c.expiration,
                    secs(now) + expect["duration"].as_i64().unwrap(),
                    "{name}"
                );
                if web {
                    assert_eq!(
                        role.provider.as_deref(),
                        Some("arn:aws:iam::111122223333:oidc-provider/oidc.test/cluster-a"),
                        "{name}"
                    );
                    assert_eq!(
                        role.audience.as_deref(),
                        Some("sts.amazonaws.com"),
                        "{name}"
                    );
                }
            }
            Ok(Answer::CallerIdentity(who)) => {
                assert_eq!(expect["status"], 200, "{name}");
                assert_eq!(who.arn, expect["arn"].as_str().unwrap(), "{name}");
                assert_eq!(who.account, expect["account"].as_str().unwrap(), "{name}");
                match expect["userId"].as_str().unwrap() {
                    "AIDA_DERIVED" => {
                        assert!(
                            who.user_id.starts_with("AIDA") && who.user_id.len() == 21,
                            "{name}: {}",
                            who.user_id
                        );
                    }
                    id => assert_eq!(who.user_id, id, "{name}"),
                }
            }
        }
    }
}

/// A session issued by `AssumeRoleWithWebIdentity` at `at` (seconds of `DurationSeconds`).
struct Issued {
    key: String,
    secret: String,
    token: String,
}

impl Issued {
    fn creds(&self) -> (&str, &str, Option<&str>) {
        (&self.key, &self.secret, Some(&self.token))
    }
}

fn issue(sts: &Sts, keys: &Keys, at: SystemTime, duration: Option<&str>) -> Issued {
    let file = json!({
        "token": {"header": {"alg": "ES256", "kid": "es"}, "claims": {
            "iss": "https://oidc.test/cluster-a", "sub": "system:serviceaccount:shop:app",
            "aud": ["sts.amazonaws.com"], "exp": 3600, "iat": -60}},
    });
    let jwt = token(keys, &file, None, secs(at));
    let mut params = vec![
        ("Action".to_owned(), "AssumeRoleWithWebIdentity".to_owned()),
        ("Version".to_owned(), "2011-06-15".to_owned()),
        (
            "RoleArn".to_owned(),
            "arn:aws:iam::111122223333:role/app".to_owned(),
        ),
        ("RoleSessionName".to_owned(), "app-session".to_owned()),
        ("WebIdentityToken".to_owned(), jwt),
    ];
    if let Some(d) = duration {
        params.push(("DurationSeconds".to_owned(), d.to_owned()));
    }
    match sts.call(&params, None, at) {
        Ok(Answer::AssumedRole(role)) => Issued {
            key: role.credentials.access_key_id,
            secret: role.credentials.secret_access_key.to_string(),
            token: role.credentials.session_token,
        },
        other => panic!("not issued: {other:?}"),
    }
}

const SESSION_IDENTITY: &str = "Principal=arn:aws:sts::111122223333:assumed-role/app/app-session; PrincipalOrgID=o-stsexample1; PrincipalOrgPath=o-stsexample1/r-st01/; SessionName=app-session; Type=AWS_IAM";
const INVALID: &str =
    "UnrecognizedClientException: The security token included in the request is invalid.";

fn later(now: SystemTime, secs: u64) -> SystemTime {
    now + Duration::from_secs(secs)
}

#[test]
fn an_issued_session_is_verified_from_its_token_alone() {
    let now = humantime::parse_rfc3339("2026-12-08T00:00:00Z").unwrap();
    let keys = Keys::new();
    let sts = Sts::new(&keys, now);
    let session = issue(&sts, &keys, now, None);
    assert_eq!(
        sts.invoke(session.creds(), later(now, 60)),
        (Effect::Allow, SESSION_IDENTITY.to_owned())
    );
    // A second decision opens nothing: the session comes from the cache.
    assert_eq!(sts.invoke(session.creds(), later(now, 61)).0, Effect::Allow);
    assert_eq!(sts.store.current().unwrap().world.sessions.cached(), 1);

    // The session calls the STS too: who am I, and role chaining (at most an hour).
    match sts.call(
        &[
            ("Action".to_owned(), "GetCallerIdentity".to_owned()),
            ("Version".to_owned(), "2011-06-15".to_owned()),
        ],
        Some(session.creds()),
        later(now, 60),
    ) {
        Ok(Answer::CallerIdentity(who)) => {
            assert_eq!(
                who.arn,
                "arn:aws:sts::111122223333:assumed-role/app/app-session"
            );
            assert_eq!(who.user_id, "AROAEXAMPLEAPPROLE01:app-session");
        }
        other => panic!("{other:?}"),
    }
    let chain = |duration: &str| {
        sts.call(
            &[
                ("Action".to_owned(), "AssumeRole".to_owned()),
                ("Version".to_owned(), "2011-06-15".to_owned()),
                (
                    "RoleArn".to_owned(),
                    "arn:aws:iam::111122223333:role/app".to_owned(),
                ),
                ("RoleSessionName".to_owned(), "chained".to_owned()),
                ("DurationSeconds".to_owned(), duration.to_owned()),
            ],
            Some(session.creds()),
            later(now, 60),
        )
    };
    assert_eq!(
        chain("3601").unwrap_err(),
        (
            400,
            "ValidationError".to_owned(),
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.".to_owned()
        )
    );
    match chain("3600") {
        Ok(Answer::AssumedRole(role)) => assert_eq!(
            role.arn,
            "arn:aws:sts::111122223333:assumed-role/app/chained"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_session_token_changed_in_any_way_is_invalid() {
    let now = humantime::parse_rfc3339("2026-12-08T00:00:00Z").unwrap();
    let keys = Keys::new();
    let sts = Sts::new(&keys, now);
    let session = issue(&sts, &keys, now, None);
    let mut bytes = STANDARD.decode(&session.token).unwrap();
    for at in [0, 5, bytes.len() / 2, bytes.len() - 1] {
        bytes[at] ^= 0x20;
        let tampered = STANDARD.encode(&bytes);
        bytes[at] ^= 0x20;
        let creds = (
            session.key.as_str(),
            session.secret.as_str(),
            Some(tampered.as_str()),
        );
        assert_eq!(
            sts.invoke(creds, later(now, 60)),
            (Effect::Deny, INVALID.to_owned()),
            "byte {at}"
        );
    }
    let truncated = &session.token[..session.token.len() - 8];
    let creds = (
        session.key.as_str(),
        session.secret.as_str(),
        Some(truncated),
    );
    assert_eq!(
        sts.invoke(creds, later(now, 60)),
        (Effect::Deny, INVALID.to_owned())
    );
    // The token names its own access key: another key with it is refused.
    let other = issue(&sts, &keys, now, None);
    let creds = (
        other.key.as_str(),
        other.secret.as_str(),
        Some(session.token.as_str()),
    );
    assert_eq!(
        sts.invoke(creds, later(now, 60)),
        (Effect::Deny, INVALID.to_owned())
    );
}

#[test]
fn a_session_ends_at_its_expiry() {
    let now = humantime::parse_rfc3339("2026-12-08T00:00:00Z").unwrap();
    let keys = Keys::new();
    let sts = Sts::new(&keys, now);
    let session = issue(&sts, &keys, now, Some("900"));
    assert_eq!(
        sts.invoke(session.creds(), later(now, 899)).0,
        Effect::Allow
    );
    assert_eq!(
        sts.invoke(session.creds(), later(now, 900)),
        (
            Effect::Deny,
            "ExpiredTokenException: The security token included in the request is expired"
                .to_owned()
        )
    );
}

#[test]
fn rotating_keys_keeps_live_sessions_and_removing_a_key_revokes_its_sessions() {
    let now = humantime::parse_rfc3339("2026-12-08T00:00:00Z").unwrap();
    let keys = Keys::new();
    let sts = Sts::new(&keys, now);
    let old = issue(&sts, &keys, now, None);
    // Rotation, step one: the new key first; the old one still opens.
    sts.variant(&["k2", "k1"], None, later(now, 10));
    let new = issue(&sts, &keys, later(now, 10), None);
    assert_eq!(sts.invoke(old.creds(), later(now, 20)).0, Effect::Allow);
    assert_eq!(sts.invoke(new.creds(), later(now, 20)).0, Effect::Allow);
    // Step two: the old key removed; what it sealed no longer opens.
    sts.variant(&["k2"], None, later(now, 30));
    assert_eq!(
        sts.invoke(old.creds(), later(now, 40)),
        (Effect::Deny, INVALID.to_owned())
    );
    assert_eq!(sts.invoke(new.creds(), later(now, 40)).0, Effect::Allow);
}

#[test]
fn a_token_issue_time_deny_revokes_older_sessions_only() {
    let now = humantime::parse_rfc3339("2026-12-08T00:00:00Z").unwrap();
    let keys = Keys::new();
    let sts = Sts::new(&keys, now);
    let older = issue(&sts, &keys, now, None);
    assert_eq!(sts.invoke(older.creds(), later(now, 10)).0, Effect::Allow);
    sts.variant(&["k1"], Some(later(now, 30)), later(now, 40));
    assert_eq!(
        sts.invoke(older.creds(), later(now, 50)),
        (
            Effect::Deny,
            "AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role/app/app-session is not authorized to perform: vpc-lattice-svcs:Invoke on resource: arn:aws:vpc-lattice:ap-northeast-1:111122223333:service/svc-0a11e1c0ffee00002/ with an explicit deny in an identity-based policy".to_owned()
        )
    );
    let fresh = issue(&sts, &keys, later(now, 60), None);
    assert_eq!(
        sts.invoke(fresh.creds(), later(now, 70)),
        (Effect::Allow, SESSION_IDENTITY.to_owned())
    );
}

#[test]
fn sessions_are_unavailable_without_session_keys() {
    let now = humantime::parse_rfc3339("2026-12-08T00:00:00Z").unwrap();
    let keys = Keys::new();
    let sts = Sts::new(&keys, now);
    sts.variant(&[], None, now);
    let file = json!({"token": {"header": {"alg": "ES256", "kid": "es"}, "claims": {
        "iss": "https://oidc.test/cluster-a", "sub": "system:serviceaccount:shop:app",
        "aud": "sts.amazonaws.com", "exp": 3600}}});
    let params = vec![
        ("Action".to_owned(), "AssumeRoleWithWebIdentity".to_owned()),
        ("Version".to_owned(), "2011-06-15".to_owned()),
        (
            "RoleArn".to_owned(),
            "arn:aws:iam::111122223333:role/app".to_owned(),
        ),
        ("RoleSessionName".to_owned(), "s".repeat(2)),
        (
            "WebIdentityToken".to_owned(),
            token(&keys, &file, None, secs(now)),
        ),
    ];
    let (status, code, _) = sts.call(&params, None, now).unwrap_err();
    assert_eq!((status, code.as_str()), (503, "ServiceUnavailable"));
}

#[test]
fn a_chained_session_inherits_the_transitive_tags() {
    let now = humantime::parse_rfc3339("2026-12-08T00:00:00Z").unwrap();
    let keys = Keys::new();
    let sts = Sts::new(&keys, now);
    let file = json!({"token": {"header": {"alg": "ES256", "kid": "es"}, "claims": {
        "iss": "https://oidc.test/cluster-a", "sub": "system:serviceaccount:shop:app",
        "aud": "sts.amazonaws.com", "exp": 3600,
        "https://aws.amazon.com/tags": {
            "principal_tags": {"team": ["payments"], "tier": ["gold"]},
            "transitive_tag_keys": ["team"]}}}});
    let base = |action: &str| {
        vec![
            ("Action".to_owned(), action.to_owned()),
            ("Version".to_owned(), "2011-06-15".to_owned()),
            (
                "RoleArn".to_owned(),
                "arn:aws:iam::111122223333:role/app".to_owned(),
            ),
            ("RoleSessionName".to_owned(), "tagged".to_owned()),
        ]
    };
    let mut params = base("AssumeRoleWithWebIdentity");
    params.push((
        "WebIdentityToken".to_owned(),
        token(&keys, &file, None, secs(now)),
    ));
    let Ok(Answer::AssumedRole(first)) = sts.call(&params, None, now) else {
        panic!("not issued");
    };
    let creds = (
        first.credentials.access_key_id.as_str(),
        first.credentials.secret_access_key.as_str(),
        Some(first.credentials.session_token.as_str()),
    );
    let Ok(Answer::AssumedRole(chained)) = sts.call(&base("AssumeRole"), Some(creds), now) else {
        panic!("not chained");
    };
    let snapshot = sts.store.current().unwrap();
    let claims = snapshot
        .world
        .sessions
        .keyring()
        .open(chained.credentials.session_token.as_bytes())
        .unwrap();
    assert_eq!(claims.tags, [("team".to_owned(), "payments".to_owned())]);
    assert_eq!(claims.transitive_tag_keys, ["team"]);
    assert!(claims.chained);

    let mut again = base("AssumeRole");
    again.push(("Tags.member.1.Key".to_owned(), "Team".to_owned()));
    again.push(("Tags.member.1.Value".to_owned(), "other".to_owned()));
    assert_eq!(
        sts.call(&again, Some(creds), now).unwrap_err(),
        (
            400,
            "ValidationError".to_owned(),
            "The tag key `team` is a transitive tag of the calling session and cannot be set again."
                .to_owned()
        )
    );
}
