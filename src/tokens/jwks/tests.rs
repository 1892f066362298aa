//! Key sets: the keys kept, the keys skipped, and every refusal with its variant and text.

use serde_json::{Value, json};

use super::*;
use crate::tokens::test_keys::{b64, ec_jwk, ec_p256, ec_p384, jwks_json, rsa_jwk, rsa_public};

fn parse(keys: &[Value]) -> Result<Jwks, JwksError> {
    Jwks::parse(&jwks_json(keys))
}

fn kinds(jwks: &Jwks) -> Vec<String> {
    jwks.keys()
        .map(|k| format!("{}:{}", k.kid().unwrap_or("-"), k.material.kind()))
        .collect()
}

#[test]
fn a_kubernetes_style_key_set_is_read() {
    let p256 = ec_p256();
    let p384 = ec_p384();
    let jwks = parse(&[
        rsa_jwk("rsa-1"),
        ec_jwk("ec-1", &p256),
        ec_jwk("ec-2", &p384),
    ])
    .unwrap();
    assert_eq!(jwks.len(), 3);
    assert!(!jwks.is_empty());
    assert_eq!(kinds(&jwks), ["rsa-1:RSA-2048", "ec-1:P-256", "ec-2:P-384"]);
}

#[test]
fn keys_this_module_cannot_use_are_skipped() {
    let (n, e) = rsa_public();
    let p256 = ec_p256();
    let mut p521 = ec_jwk("p521", &p256);
    p521["crv"] = json!("P-521");
    let mut enc = rsa_jwk("enc");
    enc["use"] = json!("enc");
    let mut ps256 = rsa_jwk("ps");
    ps256["alg"] = json!("PS256");
    let mut rsa_for_es = rsa_jwk("rsa-es");
    rsa_for_es["alg"] = json!("ES256");
    let mut ec_for_es384 = ec_jwk("ec-384", &p256);
    ec_for_es384["alg"] = json!("ES384");
    let jwks = parse(&[
        json!({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}),
        json!({"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}),
        p521,
        enc,
        ps256,
        rsa_for_es,
        ec_for_es384,
        // Skipped before its material is read: broken material does not matter.
        json!({"kty": "RSA", "use": "enc", "n": "!!", "e": "!!"}),
        json!({"kty": "RSA", "n": b64(&n), "e": b64(&e), "kid": "kept"}),
    ])
    .unwrap();
    assert_eq!(kinds(&jwks), ["kept:RSA-2048"]);
    let empty = parse(&[json!({"kty": "oct", "k": "c2VjcmV0"})]).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.len(), 0);
}

#[test]
fn leading_zeros_of_the_modulus_are_ignored() {
    let (mut n, e) = rsa_public();
    n.insert(0, 0);
    let jwks = parse(&[json!({"kty": "RSA", "n": b64(&n), "e": b64(&e)})]).unwrap();
    assert_eq!(kinds(&jwks), ["-:RSA-2048"]);
}

#[test]
fn documents_that_are_not_key_sets_are_refused() {
    let cases: [(&[u8], JwksError); 8] = [
        (b"", JwksError::NotJson),
        (b"[]", JwksError::NotJson),
        (b"{\"keys\": []} x", JwksError::NotJson),
        (b"{\"keys\": [], \"keys\": []}", JwksError::NotJson),
        (b"{}", JwksError::MissingKeys),
        (b"{\"keys\": {}}", JwksError::MissingKeys),
        (b"{\"keys\": null}", JwksError::MissingKeys),
        (
            b"{\"keys\": [1]}",
            JwksError::Key {
                index: 0,
                problem: KeyProblem::NotObject,
            },
        ),
    ];
    for (json, expected) in cases {
        assert_eq!(
            Jwks::parse(json).unwrap_err(),
            expected,
            "{}",
            String::from_utf8_lossy(json)
        );
    }
    assert_eq!(
        JwksError::NotJson.to_string(),
        "the key set is not a JSON object"
    );
    assert_eq!(
        JwksError::MissingKeys.to_string(),
        "the key set has no `keys` array"
    );
    assert_eq!(Jwks::parse(b"{\"keys\": []}").unwrap().len(), 0);
}

#[test]
fn a_document_over_one_mebibyte_is_refused_unread() {
    let mut big = b"{\"keys\": [], \"pad\": \"".to_vec();
    big.resize(MAX_JWKS_BYTES - 2, b'a');
    big.extend_from_slice(b"\"}");
    assert_eq!(big.len(), MAX_JWKS_BYTES);
    assert_eq!(Jwks::parse(&big).unwrap().len(), 0);
    big.insert(1, b' ');
    let err = Jwks::parse(&big).unwrap_err();
    assert_eq!(err, JwksError::TooLarge(MAX_JWKS_BYTES + 1));
    assert_eq!(
        err.to_string(),
        "the key set is 1048577 bytes, more than the 1048576 allowed"
    );
}

#[test]
fn broken_keys_of_usable_kinds_are_refused_with_their_position() {
    let (n, e) = rsa_public();
    let p256 = ec_p256();
    let ec = ec_jwk("ec", &p256);
    let with = |base: &Value, member: &str, value: Value| {
        let mut key = base.clone();
        key[member] = value;
        key
    };
    let without = |base: &Value, member: &str| {
        let mut key = base.clone();
        key.as_object_mut().unwrap().remove(member);
        key
    };
    let rsa = json!({"kty": "RSA", "n": b64(&n), "e": b64(&e)});
    let short_n = {
        let mut m = n[..128].to_vec();
        m[127] |= 1;
        m
    };
    let even_n = {
        let mut m = n.clone();
        let last = m.len() - 1;
        m[last] &= 0xfe;
        m
    };
    let cases = [
        (json!({"n": "x"}), KeyProblem::Missing("kty")),
        (json!({"kty": 1}), KeyProblem::NotString("kty")),
        (with(&rsa, "use", json!(true)), KeyProblem::NotString("use")),
        (with(&rsa, "kid", json!(7)), KeyProblem::NotString("kid")),
        (with(&rsa, "alg", json!(null)), KeyProblem::NotString("alg")),
        (without(&rsa, "n"), KeyProblem::Missing("n")),
        (without(&rsa, "e"), KeyProblem::Missing("e")),
        (
            with(&rsa, "n", json!(b64(&n) + "=")),
            KeyProblem::Base64("n"),
        ),
        (with(&rsa, "e", json!("AQ+B")), KeyProblem::Base64("e")),
        (
            with(&rsa, "n", json!(b64(&short_n))),
            KeyProblem::RsaModulus(1024),
        ),
        (
            with(&rsa, "n", json!(b64(&even_n))),
            KeyProblem::RsaModulus(2048),
        ),
        (
            with(&rsa, "n", json!(b64([0; 300]))),
            KeyProblem::RsaModulus(0),
        ),
        (with(&rsa, "e", json!(b64([1]))), KeyProblem::RsaExponent),
        (with(&rsa, "e", json!(b64([1, 0]))), KeyProblem::RsaExponent),
        (
            with(&rsa, "e", json!(b64([2, 0, 0, 0, 1]))),
            KeyProblem::RsaExponent,
        ),
        (
            with(&rsa, "e", json!(b64([1, 0, 0, 0, 0, 1]))),
            KeyProblem::RsaExponent,
        ),
        (with(&rsa, "e", json!("")), KeyProblem::RsaExponent),
        (without(&ec, "crv"), KeyProblem::Missing("crv")),
        (without(&ec, "y"), KeyProblem::Missing("y")),
        (
            with(&ec, "x", json!(b64([1; 31]))),
            KeyProblem::EcCoordinate("x"),
        ),
        (
            with(&ec, "y", json!(b64([1; 48]))),
            KeyProblem::EcCoordinate("y"),
        ),
    ];
    for (key, problem) in cases {
        let err = parse(&[rsa.clone(), key.clone()]).unwrap_err();
        assert_eq!(err, JwksError::Key { index: 1, problem }, "{key}");
    }
    // The largest exponent ring accepts is 2^33 - 1.
    assert!(parse(&[with(&rsa, "e", json!(b64([1, 0xff, 0xff, 0xff, 0xff])))]).is_ok());
    assert_eq!(
        JwksError::Key {
            index: 3,
            problem: KeyProblem::RsaModulus(1024)
        }
        .to_string(),
        "key 3 of the key set: the RSA modulus has 1024 bits; 2048 to 8192 bits, odd, are allowed"
    );
    assert_eq!(
        KeyProblem::Base64("n").to_string(),
        "member `n` is not base64url without padding"
    );
}

#[test]
fn key_families_fit_only_their_algorithms() {
    let p256 = ec_p256();
    let p384 = ec_p384();
    let mut rsa_any = rsa_jwk("r");
    rsa_any.as_object_mut().unwrap().remove("alg");
    let jwks = parse(&[
        rsa_any,
        rsa_jwk("r256"),
        ec_jwk("p256", &p256),
        ec_jwk("p384", &p384),
    ])
    .unwrap();
    let all = [
        Algorithm::Rs256,
        Algorithm::Rs384,
        Algorithm::Rs512,
        Algorithm::Es256,
        Algorithm::Es384,
    ];
    let fits: Vec<(String, Vec<&str>)> = jwks
        .keys()
        .map(|k| {
            let algs = all
                .iter()
                .filter(|a| k.fits(**a))
                .map(|a| a.name())
                .collect();
            (k.kid().unwrap().to_owned(), algs)
        })
        .collect();
    assert_eq!(
        fits,
        [
            ("r".to_owned(), vec!["RS256", "RS384", "RS512"]),
            ("r256".to_owned(), vec!["RS256"]),
            ("p256".to_owned(), vec!["ES256"]),
            ("p384".to_owned(), vec!["ES384"]),
        ]
    );
}

#[test]
fn debug_output_names_each_key() {
    let mut key = rsa_jwk("r");
    key.as_object_mut().unwrap().remove("alg");
    let jwks = parse(&[key, rsa_jwk("r256")]).unwrap();
    assert_eq!(
        format!("{jwks:?}"),
        "Jwks { keys: [Jwk { kid: Some(\"r\"), alg: None, kind: RSA-2048 }, \
         Jwk { kid: Some(\"r256\"), alg: Some(Rs256), kind: RSA-2048 }] }"
    );
}
