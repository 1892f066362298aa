//! Sealed session tokens: the wire format byte by byte, every refusal with its variant and text,
//! rotation, redaction, and the properties (seal then open is the identity; one changed byte, in
//! the text or in the decoded token, never opens).

use proptest::prelude::*;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use super::*;

const SECRET_1: [u8; 32] = [1; 32];
const SECRET_2: [u8; 32] = [2; 32];

fn key(id: &str, secret: &[u8; 32]) -> SessionKey {
    SessionKey::new(id, secret).unwrap()
}

fn ring_of(keys: Vec<SessionKey>) -> Keyring {
    Keyring::new(keys).unwrap()
}

fn claims() -> SessionClaims {
    SessionClaims {
        access_key_id: "ASIAQWERTYUIOPASDF23".into(),
        secret_access_key: Zeroizing::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into()),
        role_arn: "arn:aws:iam::111122223333:role/apps/reader".into(),
        role_id: "AROAEXAMPLEID1234567".into(),
        session_name: "botocore-session-1700000000".into(),
        issued_at: 1_700_000_000,
        expires_at: 1_700_003_600,
        tags: vec![
            ("Project".into(), "Blue".into()),
            ("team".into(), "a \"b\"".into()),
        ],
        transitive_tag_keys: vec!["Project".into()],
        source_identity: Some("alice".into()),
        federated_provider: Some(
            "arn:aws:iam::111122223333:oidc-provider/oidc.example.com/id/ABC".into(),
        ),
        chained: true,
    }
}

fn minimal_claims() -> SessionClaims {
    SessionClaims {
        tags: Vec::new(),
        transitive_tag_keys: Vec::new(),
        source_identity: None,
        federated_provider: None,
        chained: false,
        ..claims()
    }
}

/// Seals raw payload bytes under `ring`'s first key, as `seal` would seal a session.
fn seal_raw(ring: &Keyring, payload: &[u8]) -> String {
    ring.seal_with(|buf| {
        buf.extend_from_slice(payload);
        Ok(())
    })
    .unwrap()
}

// === wire format ===

#[test]
fn the_token_is_the_documented_envelope_around_the_documented_payload() {
    let ring = ring_of(vec![key("key-2026.a_1", &SECRET_1)]);
    let token = ring.seal(&minimal_claims()).unwrap();
    let sealed = STANDARD.decode(&token).unwrap();
    assert_eq!(sealed[0], PREFIX);
    assert_eq!(sealed[1], 12);
    assert_eq!(&sealed[2..14], b"key-2026.a_1");
    let (aad, rest) = sealed.split_at(14 + 12);
    let nonce: [u8; 12] = aad[14..].try_into().unwrap();
    let opener = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &SECRET_1).unwrap());
    let mut body = rest.to_vec();
    let plaintext = opener
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut body,
        )
        .unwrap();
    assert_eq!(
        std::str::from_utf8(plaintext).unwrap(),
        r#"{"v":1,"k":"ASIAQWERTYUIOPASDF23","s":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","r":"arn:aws:iam::111122223333:role/apps/reader","i":"AROAEXAMPLEID1234567","n":"botocore-session-1700000000","t":1700000000,"e":1700003600}"#
    );
    assert_eq!(rest.len(), plaintext_len(&minimal_claims()) + 16);
}

fn plaintext_len(claims: &SessionClaims) -> usize {
    serde_json::to_vec(&PayloadRef::from(claims)).unwrap().len()
}

#[test]
fn every_member_is_sealed_and_opened() {
    let ring = ring_of(vec![key("k1", &SECRET_1)]);
    let token = ring.seal(&claims()).unwrap();
    assert_eq!(ring.open(token.as_bytes()), Ok(claims()));
    let token = ring.seal(&minimal_claims()).unwrap();
    assert_eq!(ring.open(token.as_bytes()), Ok(minimal_claims()));
}

#[test]
fn every_seal_uses_a_fresh_nonce() {
    let ring = ring_of(vec![key("k1", &SECRET_1)]);
    let a = STANDARD.decode(ring.seal(&claims()).unwrap()).unwrap();
    let b = STANDARD.decode(ring.seal(&claims()).unwrap()).unwrap();
    assert_ne!(a[4..16], b[4..16]);
    assert_ne!(a, b);
}

#[test]
fn a_typical_token_is_well_under_the_bound() {
    let ring = ring_of(vec![key("session-key-2026-01", &SECRET_1)]);
    let len = ring.seal(&claims()).unwrap().len();
    assert!((400..=800).contains(&len), "{len}");
}

// === keys and rotation ===

#[test]
fn key_ids_and_secrets_are_checked() {
    assert_eq!(
        SessionKey::new("", &SECRET_1).err(),
        Some(KeyError::InvalidId)
    );
    assert_eq!(
        SessionKey::new(&"a".repeat(65), &SECRET_1).err(),
        Some(KeyError::InvalidId)
    );
    assert!(SessionKey::new(&"a".repeat(64), &SECRET_1).is_ok());
    for id in ["a b", "a/b", "é", "a\n", "a:b"] {
        assert_eq!(
            SessionKey::new(id, &SECRET_1).err(),
            Some(KeyError::InvalidId),
            "{id}"
        );
    }
    assert_eq!(
        SessionKey::new("k", &[0; 31]).err(),
        Some(KeyError::SecretLength(31))
    );
    assert_eq!(
        SessionKey::new("k", &[0; 33]).err(),
        Some(KeyError::SecretLength(33))
    );
    assert_eq!(
        KeyError::SecretLength(31).to_string(),
        "a session key secret must be 32 bytes, not 31"
    );
    assert_eq!(
        KeyError::InvalidId.to_string(),
        "a session key id must be 1 to 64 characters of letters, digits, `.`, `_` and `-`"
    );
}

#[test]
fn a_base64_secret_is_trimmed_and_must_be_standard_base64_of_32_bytes() {
    let text = STANDARD.encode(SECRET_2);
    let from_text = SessionKey::from_base64("k", &format!("  {text}\n")).unwrap();
    let ring = ring_of(vec![from_text]);
    let token = ring_of(vec![key("k", &SECRET_2)]).seal(&claims()).unwrap();
    assert_eq!(ring.open(token.as_bytes()), Ok(claims()));

    assert_eq!(
        SessionKey::from_base64("k", &text.replace('=', "")).err(),
        Some(KeyError::SecretBase64)
    );
    assert_eq!(
        SessionKey::from_base64("k", "not base64!").err(),
        Some(KeyError::SecretBase64)
    );
    assert_eq!(
        SessionKey::from_base64("k", &STANDARD.encode([0_u8; 16])).err(),
        Some(KeyError::SecretLength(16))
    );
    assert_eq!(
        KeyError::SecretBase64.to_string(),
        "a session key secret must be standard base64 text"
    );
}

#[test]
fn a_generated_key_round_trips_through_its_text() {
    let (generated, text) = SessionKey::generate("gen-1").unwrap();
    assert_eq!(generated.id(), "gen-1");
    assert_eq!(text.len(), 44);
    let reread = SessionKey::from_base64("gen-1", &text).unwrap();
    let token = ring_of(vec![generated]).seal(&claims()).unwrap();
    assert_eq!(ring_of(vec![reread]).open(token.as_bytes()), Ok(claims()));
    let (_, other) = SessionKey::generate("gen-1").unwrap();
    assert_ne!(text, other);
    assert_eq!(
        SessionKey::generate("bad id").err(),
        Some(KeyError::InvalidId)
    );
}

#[test]
fn a_keyring_refuses_a_repeated_id() {
    let err = Keyring::new(vec![
        key("a", &SECRET_1),
        key("b", &SECRET_1),
        key("a", &SECRET_2),
    ])
    .err()
    .unwrap();
    assert_eq!(err, KeyError::DuplicateId("a".into()));
    assert_eq!(
        err.to_string(),
        "session key id `a` is listed more than once"
    );
}

#[test]
fn an_empty_keyring_seals_nothing_and_opens_nothing() {
    let empty = ring_of(Vec::new());
    assert!(empty.is_empty());
    assert_eq!(empty.len(), 0);
    assert_eq!(empty.sealing_key_id(), None);
    assert_eq!(empty.seal(&claims()), Err(SealError::NoKey));
    assert_eq!(SealError::NoKey.to_string(), "no session key to seal with");
    let token = ring_of(vec![key("k1", &SECRET_1)]).seal(&claims()).unwrap();
    assert_eq!(
        empty.open(token.as_bytes()),
        Err(OpenError::UnknownKey("k1".into()))
    );
}

#[test]
fn the_first_key_seals_and_every_key_opens() {
    let old = ring_of(vec![key("old", &SECRET_1)]);
    let rotated = ring_of(vec![key("new", &SECRET_2), key("old", &SECRET_1)]);
    assert_eq!(rotated.sealing_key_id(), Some("new"));
    let old_token = old.seal(&claims()).unwrap();
    let new_token = rotated.seal(&claims()).unwrap();
    assert_eq!(STANDARD.decode(&new_token).unwrap()[2..5], *b"new");
    assert_eq!(rotated.open(old_token.as_bytes()), Ok(claims()));
    assert_eq!(rotated.open(new_token.as_bytes()), Ok(claims()));
    // The old key removed: what it sealed no longer opens.
    let retired = ring_of(vec![key("new", &SECRET_2)]);
    let err = retired.open(old_token.as_bytes()).unwrap_err();
    assert_eq!(err, OpenError::UnknownKey("old".into()));
    assert_eq!(
        err.to_string(),
        "the session token was sealed under unknown key `old`"
    );
}

#[test]
fn another_secret_under_the_same_id_is_rejected() {
    let token = ring_of(vec![key("k1", &SECRET_1)]).seal(&claims()).unwrap();
    let err = ring_of(vec![key("k1", &SECRET_2)])
        .open(token.as_bytes())
        .unwrap_err();
    assert_eq!(err, OpenError::Rejected);
    assert_eq!(
        err.to_string(),
        "the session token failed its authenticity check"
    );
}

// === refusals ===

#[test]
fn text_over_the_bound_is_refused_before_decoding() {
    let ring = ring_of(vec![key("k1", &SECRET_1)]);
    let err = ring.open(&[b'!'; MAX_TOKEN_BYTES + 1]).unwrap_err();
    assert_eq!(err, OpenError::TooLarge);
    assert_eq!(
        err.to_string(),
        "the session token is longer than 4096 bytes"
    );
    // At the bound, the text is decoded (and here refused for what it is).
    assert_eq!(
        ring.open(&[b'!'; MAX_TOKEN_BYTES]),
        Err(OpenError::Malformed)
    );
}

#[test]
fn malformed_tokens_are_refused() {
    let ring = ring_of(vec![key("k1", &SECRET_1)]);
    let good = STANDARD.decode(ring.seal(&claims()).unwrap()).unwrap();
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut bytes = good.clone();
        f(&mut bytes);
        STANDARD.encode(bytes)
    };
    let cases: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("not base64", "AQJrMQ==!".into()),
        ("no padding", "AQJrMQ".into()),
        ("url-safe alphabet", "AQJr-_8A".into()),
        ("one byte", STANDARD.encode([1])),
        ("version 2", with(&|b| b[0] = 2)),
        ("version 0", with(&|b| b[0] = 0)),
        ("id length 0", with(&|b| b[1] = 0)),
        ("id length 65", with(&|b| b[1] = 65)),
        ("id length past the end", with(&|b| b[1] = 255)),
        ("id with a space", with(&|b| b[2] = b' ')),
        ("no tag", with(&|b| b.truncate(2 + 2 + 12 + 15))),
        ("header only", with(&|b| b.truncate(2 + 2 + 12))),
    ];
    for (name, token) in cases {
        assert_eq!(
            ring.open(token.as_bytes()),
            Err(OpenError::Malformed),
            "{name}"
        );
    }
    assert_eq!(
        OpenError::Malformed.to_string(),
        "the session token is malformed"
    );
}

#[test]
fn base64_with_nonzero_trailing_bits_is_malformed() {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let lenient = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::general_purpose::PAD.with_decode_allow_trailing_bits(true),
    );
    let ring = ring_of(vec![key("k1", &SECRET_1)]);
    let mut padded = 0;
    for name_len in 2..5 {
        let session = SessionClaims {
            session_name: "s".repeat(name_len),
            ..minimal_claims()
        };
        let good = ring.seal(&session).unwrap().into_bytes();
        // Before `==` the last character carries 4 unused bits, before `=` 2; they must be zero.
        let unused = good.iter().rev().take_while(|&&b| b == b'=').count() * 2;
        if unused == 0 {
            continue;
        }
        padded += 1;
        let at = good.len() - 1 - unused / 2;
        let digit = ALPHABET.iter().position(|&c| c == good[at]).unwrap();
        assert_eq!(digit & ((1 << unused) - 1), 0);
        let mut altered = good.clone();
        altered[at] = ALPHABET[digit | 1];
        // A lenient decoder reads the same bytes from both texts; `open` refuses the altered one.
        assert_eq!(
            lenient.decode(&altered).unwrap(),
            STANDARD.decode(&good).unwrap()
        );
        assert_eq!(ring.open(&good), Ok(session));
        assert_eq!(ring.open(&altered), Err(OpenError::Malformed));
    }
    assert!(padded >= 2, "{padded}");
}

#[test]
fn truncated_or_tampered_ciphertext_is_rejected() {
    let ring = ring_of(vec![key("k1", &SECRET_1)]);
    let good = STANDARD.decode(ring.seal(&claims()).unwrap()).unwrap();
    let mut cut = good.clone();
    cut.truncate(good.len() - 1);
    assert_eq!(
        ring.open(STANDARD.encode(&cut).as_bytes()),
        Err(OpenError::Rejected)
    );
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x80;
    assert_eq!(
        ring.open(STANDARD.encode(&flipped).as_bytes()),
        Err(OpenError::Rejected)
    );
    let mut nonce = good;
    nonce[5] ^= 1;
    assert_eq!(
        ring.open(STANDARD.encode(&nonce).as_bytes()),
        Err(OpenError::Rejected)
    );
}

#[test]
fn an_authentic_token_without_a_valid_session_is_a_payload_error() {
    let ring = ring_of(vec![key("k1", &SECRET_1)]);
    let valid =
        String::from_utf8(serde_json::to_vec(&PayloadRef::from(&claims())).unwrap()).unwrap();
    let cases = [
        ("not JSON", "not json".to_owned()),
        ("empty", String::new()),
        ("version 2", valid.replacen("\"v\":1", "\"v\":2", 1)),
        ("unknown member", valid.replacen("{", "{\"zz\":1,", 1)),
        (
            "missing member",
            valid.replacen("\"n\":\"botocore-session-1700000000\",", "", 1),
        ),
        ("trailing text", format!("{valid} x")),
        (
            "expiry a string",
            valid.replacen("\"e\":1700003600", "\"e\":\"1700003600\"", 1),
        ),
    ];
    for (name, payload) in cases {
        assert_ne!(payload, valid, "{name}");
        let token = seal_raw(&ring, payload.as_bytes());
        assert_eq!(
            ring.open(token.as_bytes()),
            Err(OpenError::Payload),
            "{name}"
        );
    }
    assert_eq!(
        ring.open(seal_raw(&ring, valid.as_bytes()).as_bytes()),
        Ok(claims())
    );
    assert_eq!(
        OpenError::Payload.to_string(),
        "the session token does not hold a valid session"
    );
}

#[test]
fn sealing_refuses_exactly_what_would_exceed_the_bound() {
    let ring = ring_of(vec![key("k1", &SECRET_1)]);
    let base = plaintext_len(&minimal_claims());
    let mut at_bound = false;
    let mut refused = false;
    // A tag adds `,"g":[["k","<value>"]]` to the payload; walk its value across the bound.
    for value_len in 2900_usize.saturating_sub(base)..3100 - base {
        let session = SessionClaims {
            tags: vec![("k".into(), "v".repeat(value_len))],
            ..minimal_claims()
        };
        let expected_len = (2 + 2 + 12 + plaintext_len(&session) + 16).div_ceil(3) * 4;
        match ring.seal(&session) {
            Ok(token) => {
                assert_eq!(token.len(), expected_len);
                assert!(token.len() <= MAX_TOKEN_BYTES);
                at_bound |= token.len() == MAX_TOKEN_BYTES;
                assert_eq!(ring.open(token.as_bytes()), Ok(session));
            }
            Err(err) => {
                assert_eq!(err, SealError::TooLarge(expected_len));
                assert!(expected_len > MAX_TOKEN_BYTES);
                refused = true;
            }
        }
    }
    assert!(at_bound && refused);
    assert_eq!(
        SealError::TooLarge(4100).to_string(),
        "the sealed session would be 4100 bytes, more than the 4096 allowed"
    );
}

// === redaction and credentials ===

#[test]
fn debug_output_never_shows_a_secret() {
    assert_eq!(
        format!("{:?}", key("k1", &SECRET_1)),
        r#"SessionKey { id: "k1", secret: ** redacted ** }"#
    );
    assert_eq!(
        format!(
            "{:?}",
            ring_of(vec![key("a", &SECRET_1), key("b", &SECRET_2)])
        ),
        r#"Keyring { ids: ["a", "b"] }"#
    );
    assert_eq!(
        format!("{:?}", minimal_claims()),
        "SessionClaims { access_key_id: \"ASIAQWERTYUIOPASDF23\", secret_access_key: ** redacted **, \
         role_arn: \"arn:aws:iam::111122223333:role/apps/reader\", role_id: \"AROAEXAMPLEID1234567\", \
         session_name: \"botocore-session-1700000000\", issued_at: 1700000000, expires_at: 1700003600, \
         tags: [], transitive_tag_keys: [], source_identity: None, federated_provider: None, \
         chained: false }"
    );
}

#[test]
fn new_credentials_have_aws_shapes_and_differ() {
    let (id, secret) = new_credentials().unwrap();
    assert_eq!(id.len(), 20);
    assert!(id.starts_with("ASIA"));
    assert!(
        id.bytes()
            .skip(4)
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)),
        "{id}"
    );
    assert_eq!(secret.len(), 40);
    assert!(
        secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    );
    let (id2, secret2) = new_credentials().unwrap();
    assert_ne!(id, id2);
    assert_ne!(*secret, *secret2);
}

#[test]
fn base32_digits_follow_rfc_4648() {
    let digits: String = (0..32_u128).map(|v| char::from(base32_char(v))).collect();
    assert_eq!(digits, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
    assert_eq!(base32_char(32 + 3), b'D');
}

// === properties ===

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9:/=+@_.-]{0,40}",
        any::<String>().prop_map(|s| s.chars().take(20).collect()),
    ]
}

fn any_claims() -> impl Strategy<Value = SessionClaims> {
    (
        (
            "ASIA[A-Z2-7]{16}",
            "[A-Za-z0-9+/]{40}",
            text(),
            text(),
            text(),
        ),
        (any::<i64>(), any::<i64>(), any::<bool>()),
        (
            prop::collection::vec((text(), text()), 0..5),
            prop::collection::vec(text(), 0..3),
            prop::option::of(text()),
            prop::option::of(text()),
        ),
    )
        .prop_map(
            |(
                (access_key_id, secret, role_arn, role_id, session_name),
                (issued_at, expires_at, chained),
                (tags, transitive_tag_keys, source_identity, federated_provider),
            )| SessionClaims {
                access_key_id,
                secret_access_key: Zeroizing::new(secret),
                role_arn,
                role_id,
                session_name,
                issued_at,
                expires_at,
                tags,
                transitive_tag_keys,
                source_identity,
                federated_provider,
                chained,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn seal_then_open_is_the_identity(session in any_claims()) {
        let ring = ring_of(vec![key("k1", &SECRET_1), key("k0", &SECRET_2)]);
        let token = ring.seal(&session).unwrap();
        prop_assert_eq!(ring.open(token.as_bytes()), Ok(session));
    }

    #[test]
    fn one_changed_decoded_byte_never_opens(
        session in any_claims(),
        at in any::<prop::sample::Index>(),
        change in 1_u8..=255,
    ) {
        let ring = ring_of(vec![key("k1", &SECRET_1)]);
        let mut sealed = STANDARD.decode(ring.seal(&session).unwrap()).unwrap();
        let i = at.index(sealed.len());
        sealed[i] ^= change;
        prop_assert!(ring.open(STANDARD.encode(&sealed).as_bytes()).is_err());
    }

    #[test]
    fn one_changed_text_byte_never_opens(
        session in any_claims(),
        at in any::<prop::sample::Index>(),
        change in 1_u8..=255,
    ) {
        let ring = ring_of(vec![key("k1", &SECRET_1)]);
        let mut text = ring.seal(&session).unwrap().into_bytes();
        let i = at.index(text.len());
        text[i] ^= change;
        prop_assert!(ring.open(&text).is_err());
    }
}
