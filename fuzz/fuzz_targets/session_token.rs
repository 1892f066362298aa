//! Any bytes as a session token, opened under a fixed keyring; and any session sealed then
//! opened, which must give it back unchanged (or be refused as too large).
#![no_main]

use std::sync::OnceLock;

use lattice_authz::tokens::{Keyring, SealError, SessionClaims, SessionKey};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Input {
    /// Bytes as the `X-Amz-Security-Token` header carried them.
    Open(Vec<u8>),
    /// A session to seal and open again.
    RoundTrip {
        strings: [String; 6],
        times: (i64, i64),
        tags: Vec<(String, String)>,
        transitive_tag_keys: Vec<String>,
        source_identity: Option<String>,
        federated_provider: Option<String>,
        chained: bool,
    },
}

fn keyring() -> &'static Keyring {
    static KEYRING: OnceLock<Keyring> = OnceLock::new();
    KEYRING.get_or_init(|| {
        let keys = ["fuzz-2", "fuzz-1"]
            .into_iter()
            .zip([[2_u8; 32], [1_u8; 32]])
            .map(|(id, secret)| SessionKey::new(id, &secret).unwrap())
            .collect();
        Keyring::new(keys).unwrap()
    })
}

fuzz_target!(|input: Input| match input {
    Input::Open(token) => drop(keyring().open(&token)),
    Input::RoundTrip {
        strings: [access_key_id, secret, role_arn, role_id, session_name, _],
        times: (issued_at, expires_at),
        tags,
        transitive_tag_keys,
        source_identity,
        federated_provider,
        chained,
    } => {
        let session = SessionClaims {
            access_key_id,
            secret_access_key: secret.into(),
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
        };
        match keyring().seal(&session) {
            Ok(token) => assert_eq!(keyring().open(token.as_bytes()).unwrap(), session),
            Err(SealError::TooLarge(_)) => {}
            Err(other) => panic!("sealing failed: {other}"),
        }
    }
});
