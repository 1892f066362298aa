//! Web identity tokens signed by real keys: what is accepted, and every refusal with its variant
//! (and, for a sample, its text).

use ring::hmac;
use ring::signature::{RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA512};
use serde_json::{Value, json};

use super::*;
use crate::tokens::test_keys::{
    b64, ec_jwk, ec_p256, ec_p384, es_signer, jwks_json, rs_signer, rsa_jwk, rsa_public,
    signing_input, token,
};

const CLAIMS: &str = r#"{"aud":["sts.amazonaws.com"],"exp":1700003600,"iat":1700000000,"iss":"https://oidc.example.com/id/ABC","kubernetes.io":{"namespace":"default"},"nbf":1700000000,"sub":"system:serviceaccount:default:reader"}"#;

fn expected_claims() -> Claims {
    Claims {
        iss: Some("https://oidc.example.com/id/ABC".into()),
        sub: Some("system:serviceaccount:default:reader".into()),
        aud: vec!["sts.amazonaws.com".into()],
        exp: Some(1_700_003_600),
        nbf: Some(1_700_000_000),
        iat: Some(1_700_000_000),
        ..Claims::default()
    }
}

fn jwks(keys: &[Value]) -> Jwks {
    Jwks::parse(&jwks_json(keys)).unwrap()
}

fn rs256(header: &str, claims: &str) -> String {
    token(header, claims, rs_signer(&RSA_PKCS1_SHA256))
}

fn parse_err(token: &str) -> JwtError {
    UnverifiedJwt::parse(token).unwrap_err()
}

fn verify(token: &str, set: &Jwks) -> Result<(), JwtError> {
    UnverifiedJwt::parse(token).unwrap().verify(set)
}

/// Payload JSON with `member` added to the standard claims.
fn claims_with(member: &str, value: &str) -> String {
    format!(r#"{{"iss":"https://i","{member}":{value}}}"#)
}

// === accepted ===

#[test]
fn an_rs256_token_is_read_and_verified() {
    let set = jwks(&[rsa_jwk("rsa-1")]);
    let jwt = UnverifiedJwt::parse(&rs256(
        r#"{"alg":"RS256","kid":"rsa-1","typ":"JWT"}"#,
        CLAIMS,
    ))
    .unwrap();
    assert_eq!(jwt.algorithm(), Algorithm::Rs256);
    assert_eq!(jwt.key_id(), Some("rsa-1"));
    assert_eq!(jwt.claims(), &expected_claims());
    assert_eq!(jwt.verify(&set), Ok(()));
}

#[test]
fn rs384_and_rs512_verify_with_a_key_without_its_own_alg() {
    let mut key = rsa_jwk("r");
    key.as_object_mut().unwrap().remove("alg");
    let set = jwks(&[key]);
    let t384 = token(
        r#"{"alg":"RS384","kid":"r"}"#,
        CLAIMS,
        rs_signer(&RSA_PKCS1_SHA384),
    );
    let t512 = token(
        r#"{"alg":"RS512","kid":"r"}"#,
        CLAIMS,
        rs_signer(&RSA_PKCS1_SHA512),
    );
    assert_eq!(verify(&t384, &set), Ok(()));
    assert_eq!(verify(&t512, &set), Ok(()));
    // A key that says RS256 checks RS256 only.
    let only_256 = jwks(&[rsa_jwk("r")]);
    assert_eq!(
        verify(&t384, &only_256),
        Err(JwtError::KeyAlgorithmMismatch(Algorithm::Rs384))
    );
}

#[test]
fn es256_and_es384_tokens_verify() {
    let p256 = ec_p256();
    let p384 = ec_p384();
    let set = jwks(&[ec_jwk("a", &p256), ec_jwk("b", &p384), rsa_jwk("c")]);
    let t256 = token(r#"{"alg":"ES256","kid":"a"}"#, CLAIMS, es_signer(&p256));
    let t384 = token(r#"{"alg":"ES384","kid":"b"}"#, CLAIMS, es_signer(&p384));
    assert_eq!(verify(&t256, &set), Ok(()));
    assert_eq!(verify(&t384, &set), Ok(()));
    // The P-384 key cannot check ES256, nor the P-256 key ES384.
    let t256_b = token(r#"{"alg":"ES256","kid":"b"}"#, CLAIMS, es_signer(&p256));
    assert_eq!(
        verify(&t256_b, &set),
        Err(JwtError::KeyAlgorithmMismatch(Algorithm::Es256))
    );
}

#[test]
fn surrounding_whitespace_is_ignored() {
    let set = jwks(&[rsa_jwk("rsa-1")]);
    let t = rs256(r#"{"alg":"RS256","kid":"rsa-1"}"#, CLAIMS);
    assert_eq!(verify(&format!("{t}\n"), &set), Ok(()));
    assert_eq!(verify(&format!(" \t\r\n{t}\r\n "), &set), Ok(()));
}

#[test]
fn without_kid_the_one_fitting_key_is_used() {
    let p256 = ec_p256();
    let set = jwks(&[rsa_jwk("rsa-1"), ec_jwk("ec-1", &p256)]);
    assert_eq!(verify(&rs256(r#"{"alg":"RS256"}"#, CLAIMS), &set), Ok(()));
    let es = token(r#"{"alg":"ES256"}"#, CLAIMS, es_signer(&p256));
    assert_eq!(verify(&es, &set), Ok(()));
}

#[test]
fn a_kid_shared_by_two_keys_verifies_with_either() {
    let old = ec_p256();
    let new = ec_p256();
    let set = jwks(&[ec_jwk("k", &old), ec_jwk("k", &new)]);
    for pair in [&old, &new] {
        let t = token(r#"{"alg":"ES256","kid":"k"}"#, CLAIMS, es_signer(pair));
        assert_eq!(verify(&t, &set), Ok(()));
    }
}

// === refused when verifying ===

#[test]
fn a_token_signed_by_another_key_is_refused() {
    let signer = ec_p256();
    let listed = ec_p256();
    let t = token(r#"{"alg":"ES256","kid":"k"}"#, CLAIMS, es_signer(&signer));
    assert_eq!(
        verify(&t, &jwks(&[ec_jwk("k", &listed)])),
        Err(JwtError::BadSignature)
    );

    // The RSA test key with one bit of its modulus changed (still odd, still 2048 bits).
    let (mut n, e) = rsa_public();
    n[100] ^= 0x10;
    let other_rsa = jwks(&[json!({"kty": "RSA", "kid": "rsa-1", "n": b64(&n), "e": b64(&e)})]);
    let t = rs256(r#"{"alg":"RS256","kid":"rsa-1"}"#, CLAIMS);
    assert_eq!(verify(&t, &other_rsa), Err(JwtError::BadSignature));
    assert_eq!(verify(&t, &jwks(&[rsa_jwk("rsa-1")])), Ok(()));
}

#[test]
fn a_flipped_signature_bit_is_refused() {
    let set = jwks(&[rsa_jwk("rsa-1")]);
    let header = r#"{"alg":"RS256","kid":"rsa-1"}"#;
    let mut signature = rs_signer(&RSA_PKCS1_SHA256)(signing_input(header, CLAIMS).as_bytes());
    signature[17] ^= 0x04;
    let t = format!("{}.{}", signing_input(header, CLAIMS), b64(&signature));
    let err = verify(&t, &set).unwrap_err();
    assert_eq!(err, JwtError::BadSignature);
    assert_eq!(err.to_string(), "the token's signature does not verify");
}

#[test]
fn a_changed_claim_is_refused() {
    let set = jwks(&[rsa_jwk("rsa-1")]);
    let header = r#"{"alg":"RS256","kid":"rsa-1"}"#;
    let t = rs256(header, CLAIMS);
    let signature = t.rsplit('.').next().unwrap();
    let forged = format!(
        "{}.{signature}",
        signing_input(header, &CLAIMS.replace("reader", "admin"))
    );
    assert_eq!(verify(&forged, &set), Err(JwtError::BadSignature));
}

#[test]
fn an_es256_header_over_an_rsa_key_is_refused() {
    let set = jwks(&[rsa_jwk("rsa-1")]);
    // Whatever the bytes, an RSA key never checks an ES256 signature.
    let t = token(r#"{"alg":"ES256","kid":"rsa-1"}"#, CLAIMS, |_| vec![7; 64]);
    let err = verify(&t, &set).unwrap_err();
    assert_eq!(err, JwtError::KeyAlgorithmMismatch(Algorithm::Es256));
    assert_eq!(
        err.to_string(),
        "the token's key cannot check a ES256 signature"
    );
    // Nor does an EC key check an RS256 one.
    let p256 = ec_p256();
    let t = rs256(r#"{"alg":"RS256","kid":"ec"}"#, CLAIMS);
    assert_eq!(
        verify(&t, &jwks(&[ec_jwk("ec", &p256)])),
        Err(JwtError::KeyAlgorithmMismatch(Algorithm::Rs256))
    );
}

#[test]
fn an_unknown_kid_is_refused() {
    let set = jwks(&[rsa_jwk("rsa-1")]);
    let t = rs256(r#"{"alg":"RS256","kid":"rsa-2"}"#, CLAIMS);
    let err = verify(&t, &set).unwrap_err();
    assert_eq!(err, JwtError::UnknownKeyId);
    assert_eq!(
        err.to_string(),
        "the token's key id is not in the provider's key set"
    );
    // A key without `kid` is not found by one.
    let mut anonymous = rsa_jwk("x");
    anonymous.as_object_mut().unwrap().remove("kid");
    assert_eq!(verify(&t, &jwks(&[anonymous])), Err(JwtError::UnknownKeyId));
}

#[test]
fn without_kid_anything_but_exactly_one_fitting_key_is_ambiguous() {
    let p256 = ec_p256();
    let t = rs256(r#"{"alg":"RS256"}"#, CLAIMS);
    let two = jwks(&[rsa_jwk("a"), rsa_jwk("b")]);
    let err = verify(&t, &two).unwrap_err();
    assert_eq!(err, JwtError::AmbiguousKey);
    assert_eq!(
        err.to_string(),
        "the token has no key id and the key set does not have exactly one key for its algorithm"
    );
    assert_eq!(
        verify(&t, &jwks(&[ec_jwk("e", &p256)])),
        Err(JwtError::AmbiguousKey)
    );
    assert_eq!(verify(&t, &jwks(&[])), Err(JwtError::AmbiguousKey));
}

#[test]
fn keys_named_in_the_header_are_never_trusted() {
    // The attacker signs with their own key and embeds it (`jwk`, `x5c`) or points at it (`jku`,
    // `x5u`); the provider's key under the same kid is used, and refuses the signature.
    let attacker = ec_p256();
    let provider = ec_p256();
    let header = json!({
        "alg": "ES256", "kid": "k",
        "jwk": ec_jwk("k", &attacker),
        "jku": "https://attacker.example/jwks", "x5u": "https://attacker.example/cert",
        "x5c": ["MIIB"],
    })
    .to_string();
    let t = token(&header, CLAIMS, es_signer(&attacker));
    assert_eq!(
        verify(&t, &jwks(&[ec_jwk("k", &provider)])),
        Err(JwtError::BadSignature)
    );
    assert_eq!(verify(&t, &jwks(&[ec_jwk("k", &attacker)])), Ok(()));
}

// === refused when parsing ===

#[test]
fn alg_none_is_refused() {
    let t = format!("{}.", signing_input(r#"{"alg":"none"}"#, CLAIMS));
    let err = parse_err(&t);
    assert_eq!(err, JwtError::UnsupportedAlgorithm("none".into()));
    assert_eq!(
        err.to_string(),
        "the token's signing algorithm `none` is not supported"
    );
}

#[test]
fn hs256_signed_with_the_rsa_public_key_is_refused_for_its_algorithm() {
    // The classic confusion attack: the public key (here its JWKS text and its raw modulus) used
    // as an HMAC secret. Refused before any key is looked at.
    let (n, _) = rsa_public();
    let jwk_text = rsa_jwk("rsa-1").to_string();
    for secret in [n.as_slice(), jwk_text.as_bytes()] {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let t = token(r#"{"alg":"HS256","kid":"rsa-1"}"#, CLAIMS, |input| {
            hmac::sign(&key, input).as_ref().to_vec()
        });
        assert_eq!(
            parse_err(&t),
            JwtError::UnsupportedAlgorithm("HS256".into())
        );
    }
}

#[test]
fn every_other_algorithm_is_refused_by_name() {
    for alg in [
        "HS256", "HS384", "HS512", "PS256", "PS384", "PS512", "EdDSA", "ES512", "rs256", "RS1", "",
    ] {
        let t = rs256(&json!({"alg": alg, "kid": "k"}).to_string(), CLAIMS);
        assert_eq!(
            parse_err(&t),
            JwtError::UnsupportedAlgorithm(alg.into()),
            "{alg}"
        );
    }
    for header in [
        r#"{"kid":"k"}"#,
        r#"{"alg":null}"#,
        r#"{"alg":256}"#,
        r#"{"alg":["RS256"]}"#,
    ] {
        let t = rs256(header, CLAIMS);
        assert_eq!(
            parse_err(&t),
            JwtError::UnsupportedAlgorithm(String::new()),
            "{header}"
        );
    }
    // A hostile name is cut to 32 printable characters.
    let t = rs256(
        &json!({"alg": format!("X\n\u{7f}é{}", "a".repeat(40))}).to_string(),
        CLAIMS,
    );
    assert_eq!(
        parse_err(&t),
        JwtError::UnsupportedAlgorithm(format!("X???{}", "a".repeat(28)))
    );
}

#[test]
fn a_crit_header_is_refused() {
    let t = rs256(
        r#"{"alg":"RS256","kid":"k","crit":["exp"],"exp":1}"#,
        CLAIMS,
    );
    let err = parse_err(&t);
    assert_eq!(err, JwtError::CriticalHeader);
    assert_eq!(err.to_string(), "the token's header has a `crit` member");
    let t = rs256(r#"{"alg":"RS256","crit":[]}"#, CLAIMS);
    assert_eq!(parse_err(&t), JwtError::CriticalHeader);
}

#[test]
fn a_kid_that_is_not_a_string_is_refused() {
    let t = rs256(r#"{"alg":"RS256","kid":1}"#, CLAIMS);
    assert_eq!(parse_err(&t), JwtError::HeaderMember("kid"));
}

#[test]
fn an_oversize_token_is_refused() {
    let set = jwks(&[rsa_jwk("rsa-1")]);
    let padded = |typ: &str, pad: usize| {
        let claims = format!(r#"{{"iss":"https://i","pad":"{}"}}"#, "a".repeat(pad));
        rs256(&format!(r#"{{"alg":"RS256","typ":"{typ}"}}"#), &claims)
    };
    // Unpadded base64 never has a length of 4k + 1, so one of these header lengths lets the
    // padding reach the bound exactly.
    let at_bound = ["", "J", "JW", "JWT"]
        .into_iter()
        .find_map(|typ| {
            let base = padded(typ, 0).len();
            let pad = (MAX_JWT_BYTES - base) * 3 / 4 - 2;
            (pad..pad + 4)
                .map(|p| (p, padded(typ, p)))
                .find(|(_, t)| t.len() == MAX_JWT_BYTES)
                .map(|(p, t)| (typ, p, t))
        })
        .unwrap();
    let (typ, pad, token_at_bound) = at_bound;
    assert_eq!(verify(&token_at_bound, &set), Ok(()));
    assert_eq!(verify(&format!("\n{token_at_bound}\n"), &set), Ok(()));
    let over = padded(typ, pad + 1);
    assert!(over.len() > MAX_JWT_BYTES);
    let err = parse_err(&over);
    assert_eq!(err, JwtError::TooLarge(over.len()));
    assert_eq!(
        JwtError::TooLarge(20_001).to_string(),
        "the token is 20001 bytes, more than the 20000 allowed"
    );
}

#[test]
fn anything_but_three_parts_is_refused() {
    let t = rs256(r#"{"alg":"RS256"}"#, CLAIMS);
    let (input, signature) = t.rsplit_once('.').unwrap();
    for bad in [
        String::new(),
        input.to_owned(),
        format!("{t}."),
        format!("{t}.{signature}"),
        format!(".{t}"),
        "a.b".to_owned(),
    ] {
        assert_eq!(parse_err(&bad), JwtError::NotThreeParts, "{bad}");
    }
    assert_eq!(
        JwtError::NotThreeParts.to_string(),
        "the token is not three parts separated by dots"
    );
}

#[test]
fn only_unpadded_base64url_is_read() {
    let header = r#"{"alg":"RS256","kid":"a"}"#; // 25 bytes: its base64url would end in `=`
    let t = rs256(header, CLAIMS);
    let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
    let padded = |p: &str| format!("{p}{}", "=".repeat((4 - p.len() % 4) % 4));
    let standard = |p: &str| p.replace('-', "+").replace('_', "/");
    assert_ne!(padded(&parts[0]), parts[0]);
    let cases = [
        (0, padded(&parts[0]), JwtPart::Header),
        (1, format!("{}!", parts[1]), JwtPart::Payload),
        (2, padded(&parts[2]), JwtPart::Signature),
        (
            2,
            format!("{}+/", parts[2].get(..parts[2].len() - 2).unwrap()),
            JwtPart::Signature,
        ),
        (1, format!("{}=", parts[1]), JwtPart::Payload),
    ];
    for (i, part, which) in cases {
        let original = std::mem::replace(&mut parts[i], part);
        assert_eq!(
            parse_err(&parts.join(".")),
            JwtError::Base64(which),
            "{}",
            parts.join(".")
        );
        parts[i] = original;
    }
    // The same bytes in the standard alphabet (when it differs) are refused too.
    let signature = standard(&parts[2]);
    if signature != parts[2] {
        assert_eq!(
            parse_err(&format!("{}.{}.{signature}", parts[0], parts[1])),
            JwtError::Base64(JwtPart::Signature)
        );
    }
    assert_eq!(
        JwtError::Base64(JwtPart::Payload).to_string(),
        "the token's payload is not base64url without padding"
    );
}

#[test]
fn a_header_or_payload_that_is_not_one_json_object_is_refused() {
    let sig = |_: &[u8]| vec![1; 256];
    for (header, payload, part) in [
        ("[]", CLAIMS, JwtPart::Header),
        ("", CLAIMS, JwtPart::Header),
        ("\"RS256\"", CLAIMS, JwtPart::Header),
        (r#"{"alg":"RS256"} {}"#, CLAIMS, JwtPart::Header),
        (r#"{"alg":"RS256","alg":"none"}"#, CLAIMS, JwtPart::Header),
        (r#"{"alg":"none","alg":"RS256"}"#, CLAIMS, JwtPart::Header),
        (r#"{"alg":"RS256"}"#, "[1]", JwtPart::Payload),
        (r#"{"alg":"RS256"}"#, "null", JwtPart::Payload),
        (
            r#"{"alg":"RS256"}"#,
            r#"{"sub":"a","sub":"b"}"#,
            JwtPart::Payload,
        ),
        (r#"{"alg":"RS256"}"#, "{\"sub\":\"\u{1}\"", JwtPart::Payload),
    ] {
        let t = token(header, payload, sig);
        assert_eq!(
            parse_err(&t),
            JwtError::NotJsonObject(part),
            "{header} {payload}"
        );
    }
    // Not UTF-8.
    let t = format!(
        "{}.{}.AA",
        b64(br#"{"alg":"RS256"}"#),
        b64(b"{\"sub\":\"\xff\"}")
    );
    assert_eq!(parse_err(&t), JwtError::NotJsonObject(JwtPart::Payload));
    assert_eq!(
        JwtError::NotJsonObject(JwtPart::Header).to_string(),
        "the token's header is not a JSON object"
    );
}

// === claims ===

fn claims_of(payload: &str) -> Result<Claims, JwtError> {
    UnverifiedJwt::parse(&rs256(r#"{"alg":"RS256"}"#, payload)).map(|jwt| jwt.claims().clone())
}

#[test]
fn every_claim_read_is_read_exactly() {
    let payload = json!({
        "iss": "https://oidc.example.com",
        "sub": "system:serviceaccount:ns:sa",
        "aud": "one",
        "azp": "client",
        "amr": ["pwd", "mfa"],
        "exp": 2, "nbf": -1, "iat": 0,
        "https://aws.amazon.com/tags": {
            "principal_tags": {"Project": ["Blue"], "cost-center": ["12"], "Émoji": ["✓"]},
            "transitive_tag_keys": ["Project"],
        },
        "https://aws.amazon.com/source_identity": "alice",
        "other": {"ignored": true},
    });
    assert_eq!(
        claims_of(&payload.to_string()),
        Ok(Claims {
            iss: Some("https://oidc.example.com".into()),
            sub: Some("system:serviceaccount:ns:sa".into()),
            aud: vec!["one".into()],
            azp: Some("client".into()),
            amr: vec!["pwd".into(), "mfa".into()],
            exp: Some(2),
            nbf: Some(-1),
            iat: Some(0),
            principal_tags: vec![
                ("Project".into(), "Blue".into()),
                ("cost-center".into(), "12".into()),
                ("Émoji".into(), "✓".into()),
            ],
            transitive_tag_keys: vec!["Project".into()],
            source_identity: Some("alice".into()),
        })
    );
    assert_eq!(claims_of("{}"), Ok(Claims::default()));
    assert_eq!(claims_of(r#"{"aud":[]}"#), Ok(Claims::default()));
}

#[test]
fn tags_keep_the_order_of_the_token() {
    let payload =
        r#"{"https://aws.amazon.com/tags":{"principal_tags":{"z":["1"],"a":["2"],"m":["3"]}}}"#;
    let tags = claims_of(payload).unwrap().principal_tags;
    let keys: Vec<&str> = tags.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["z", "a", "m"]);
}

#[test]
fn numeric_dates_must_be_integers() {
    for claim in ["exp", "nbf", "iat"] {
        for value in [
            "1700000000.5",
            "1700000000.0",
            "1.7e9",
            "\"1700000000\"",
            "null",
            "true",
            "18446744073709551615",
        ] {
            assert_eq!(
                claims_of(&claims_with(claim, value)),
                Err(JwtError::NumericDate(claim)),
                "{claim} {value}"
            );
        }
    }
    assert_eq!(
        JwtError::NumericDate("exp").to_string(),
        "claim `exp` is not an integer number of seconds"
    );
}

#[test]
fn aud_and_amr_must_be_a_string_or_an_array_of_strings() {
    for claim in ["aud", "amr"] {
        for value in ["1", "null", "{}", "[1]", r#"["a",null]"#, r#"[["a"]]"#] {
            assert_eq!(
                claims_of(&claims_with(claim, value)),
                Err(JwtError::StringList(claim)),
                "{claim} {value}"
            );
        }
    }
    assert_eq!(
        claims_of(&claims_with("aud", r#"["a","b"]"#)).unwrap().aud,
        ["a", "b"]
    );
    assert_eq!(
        JwtError::StringList("aud").to_string(),
        "claim `aud` is neither a string nor an array of strings"
    );
}

#[test]
fn string_claims_must_be_strings() {
    for claim in [
        "iss",
        "sub",
        "azp",
        "https://aws.amazon.com/source_identity",
    ] {
        let payload = json!({ claim: 5 }).to_string();
        assert_eq!(
            claims_of(&payload),
            Err(JwtError::NotString(claim)),
            "{claim}"
        );
    }
}

fn tags_claim(value: &Value) -> String {
    json!({ "https://aws.amazon.com/tags": value }).to_string()
}

#[test]
fn a_malformed_tags_claim_is_refused() {
    let many: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("k{i}"), json!(["v"]))).collect();
    let fifty: serde_json::Map<String, Value> =
        (0..50).map(|i| (format!("k{i}"), json!(["v"]))).collect();
    let cases = [
        (json!([]), TagsProblem::NotObject),
        (json!("Project=Blue"), TagsProblem::NotObject),
        (json!({"principal_tags": []}), TagsProblem::NotObject),
        (json!({"principal_tags": {"a": "b"}}), TagsProblem::Value),
        (json!({"principal_tags": {"a": []}}), TagsProblem::Value),
        (
            json!({"principal_tags": {"a": ["b", "c"]}}),
            TagsProblem::Value,
        ),
        (json!({"principal_tags": {"a": [1]}}), TagsProblem::Value),
        (json!({"principal_tags": many}), TagsProblem::TooMany(51)),
        (
            json!({"principal_tags": {"": ["v"]}}),
            TagsProblem::KeyLength,
        ),
        (
            json!({"principal_tags": {"k".repeat(129): ["v"]}}),
            TagsProblem::KeyLength,
        ),
        (
            json!({"principal_tags": {"k": ["v".repeat(257)]}}),
            TagsProblem::ValueLength,
        ),
        (
            json!({"principal_tags": {"Team": ["a"], "team": ["b"]}}),
            TagsProblem::DuplicateKey,
        ),
        (
            json!({"transitive_tag_keys": "Team"}),
            TagsProblem::TransitiveKeys,
        ),
        (
            json!({"transitive_tag_keys": [1]}),
            TagsProblem::TransitiveKeys,
        ),
        (
            json!({"transitive_tag_keys": [""]}),
            TagsProblem::TransitiveKeys,
        ),
        (
            json!({"transitive_tag_keys": vec!["k"; 51]}),
            TagsProblem::TransitiveKeys,
        ),
    ];
    for (value, problem) in cases {
        let payload = tags_claim(&value);
        assert_eq!(
            claims_of(&payload),
            Err(JwtError::MalformedTags(problem)),
            "{payload}"
        );
    }
    // Exactly at the bounds (counted in characters, not bytes).
    let at_bounds = tags_claim(&json!({
        "principal_tags": {"é".repeat(128): ["é".repeat(256)]},
        "transitive_tag_keys": vec!["k"; 50],
    }));
    let claims = claims_of(&at_bounds).unwrap();
    assert_eq!(claims.principal_tags, [("é".repeat(128), "é".repeat(256))]);
    assert_eq!(claims.transitive_tag_keys.len(), 50);
    assert_eq!(
        claims_of(&tags_claim(&json!({"principal_tags": fifty})))
            .unwrap()
            .principal_tags
            .len(),
        50
    );
    // A tag key repeated exactly is refused too (JSON readers disagree on which one wins).
    let repeated = r#"{"https://aws.amazon.com/tags":{"principal_tags":{"a":["1"],"a":["2"]}}}"#;
    assert_eq!(
        claims_of(repeated),
        Err(JwtError::MalformedTags(TagsProblem::DuplicateKey))
    );
    assert_eq!(
        JwtError::MalformedTags(TagsProblem::TooMany(51)).to_string(),
        "claim `https://aws.amazon.com/tags`: 51 tags, more than the 50 allowed"
    );
}

#[test]
fn debug_output_never_shows_the_signature() {
    let jwt =
        UnverifiedJwt::parse(&rs256(r#"{"alg":"RS256","kid":"k"}"#, r#"{"sub":"s"}"#)).unwrap();
    let shown = format!("{jwt:?}");
    assert!(shown.starts_with(r#"UnverifiedJwt { algorithm: Rs256, key_id: Some("k"), claims: Claims { iss: None, sub: Some("s"), "#), "{shown}");
    assert!(shown.ends_with(", signature: ** redacted ** }"), "{shown}");
}
