//! Any text as a web identity token, parsed and verified against a fixed key set (the public
//! halves of the RSA test key and of a P-256 key); any bytes as a key set.
#![no_main]

use std::sync::OnceLock;

use lattice_authz::tokens::{Jwks, UnverifiedJwt};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

/// Public keys only: the RSA test key of `src/tokens/testdata/` and a P-256 point.
const JWKS: &str = r#"{"keys":[
{"kty":"RSA","kid":"rsa-1","alg":"RS256","use":"sig","e":"AQAB","n":"tBO20vaQhujfJJaolPpS0FaU0MFdFVuO7kPpCElwVdtdkyQJoyovLiqk773bA3eha74v9gWbp-6ll6YlJhyb6rKGysU_Tmj7deLVkhC_Ou5iHdN5xwIrV1ItKKJHoFvng0yVCGB8HUi2Naqm-bc2yG5pGPNB3YbB7xSgRHs2NRyPIqmTMRz_MgcYL7N1c7ZqRv3RhXWUOI3J3yf0jl11Mpq1THaStSvLteu2od5O9-x7wElddLeynERV23xpg4UlbGk6RGFt_5D0OMT1CMG90GYiTx9TbcJtyw1JgY-5x519SZ1azv4n0fJaoL2wTbs2aTqqhSAOBQqDLqG77EN9Yw"},
{"kty":"EC","kid":"ec-1","crv":"P-256","x":"YnRHmD27j5Nv6F1bcNynnRiQAIF3Ii-ZuLa2IyNoj0A","y":"dreWAlTpyUsgpGGrKnJoBu4fVIViLq6N8-2s7ccSrA8"}
]}"#;

#[derive(Debug, Arbitrary)]
enum Input<'a> {
    /// A token as the STS request carried it.
    Token(&'a str),
    /// A key set document as a provider served it.
    KeySet(&'a [u8]),
}

fn jwks() -> &'static Jwks {
    static SET: OnceLock<Jwks> = OnceLock::new();
    SET.get_or_init(|| {
        let set = Jwks::parse(JWKS.as_bytes()).unwrap();
        assert_eq!(set.len(), 2);
        set
    })
}

fuzz_target!(|input: Input<'_>| match input {
    Input::Token(token) => {
        if let Ok(jwt) = UnverifiedJwt::parse(token) {
            drop(jwt.verify(jwks()));
        }
    }
    Input::KeySet(json) => drop(Jwks::parse(json)),
});
