//! HMAC-SHA256 with precomputed pads, SigV4 signing-key derivation (sigv4 §1.8), SigV4A key
//! derivation (sigv4 §2.2) and the SigV4A ECDSA signature check (sigv4 §2.3).
//!
//! It must not touch: requests, canonical text, caches or the order of checks; it is handed
//! bytes and gives keys, MACs and yes/no answers.
//!
//! The HMAC is written over `sha2::compress256` so that the keyed state (the SHA-256 state after
//! absorbing `key ^ ipad` and `key ^ opad`) can be cached and zeroized: a cached SigV4 key then
//! costs 4 compressions per request instead of 6 (sigv4 §7).

use sha2::digest::consts::U64;
#[expect(
    deprecated,
    reason = "sha2 0.10's compress256 takes generic-array 0.14 blocks"
)]
use sha2::digest::generic_array::GenericArray;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

const H0: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

const BLOCK: usize = 64;

/// A 64-byte block as `sha2::compress256` takes it.
#[expect(
    deprecated,
    reason = "sha2 0.10's compress256 takes generic-array 0.14 blocks"
)]
type Block = GenericArray<u8, U64>;

/// Blocks handed to `sha2::compress256` per call: an HMAC over a string to sign (147 bytes, three
/// blocks with padding) is one call, where a call per block paid each time for entering and
/// leaving the SHA extensions' state layout (`benches/sigv4.rs` measures the difference).
const BATCH: usize = 4;

#[expect(
    deprecated,
    reason = "sha2 0.10's compress256 takes generic-array 0.14 blocks"
)]
fn compress(state: &mut [u32; 8], block: &[u8; BLOCK]) {
    sha2::compress256(state, &[*Block::from_slice(block)]);
}

/// Finishes SHA-256 from `state`, which has already absorbed `absorbed` bytes (a multiple of 64),
/// over the remaining message `msg`.
fn finish(mut state: [u32; 8], absorbed: u64, msg: &[u8]) -> [u8; 32] {
    let mut blocks = [Block::default(); BATCH];
    let mut filled = 0;
    let mut chunks = msg.chunks_exact(BLOCK);
    for chunk in &mut chunks {
        if let Some(block) = blocks.get_mut(filled) {
            block.copy_from_slice(chunk);
            filled += 1;
        }
        if filled == BATCH {
            sha2::compress256(&mut state, &blocks);
            filled = 0;
        }
    }
    // The padding: 0x80, zeros, the length in bits; in one block when the rest leaves room for
    // the marker and the length, else in two.
    let rest = chunks.remainder();
    let padding_blocks = if rest.len() + 9 <= BLOCK { 1 } else { 2 };
    if filled + padding_blocks > BATCH {
        sha2::compress256(&mut state, blocks.get(..filled).unwrap_or_default());
        filled = 0;
    }
    let tail = blocks
        .get_mut(filled..filled + padding_blocks)
        .unwrap_or_default();
    for block in tail.iter_mut() {
        block.fill(0);
    }
    let mut bytes = tail.iter_mut().flat_map(|block| block.iter_mut());
    // `rest` first: zip takes from its left side first and stops there, leaving the marker's
    // byte in `bytes`.
    for (src, dst) in rest.iter().zip(bytes.by_ref()) {
        *dst = *src;
    }
    if let Some(marker) = bytes.next() {
        *marker = 0x80;
    }
    let bits = (absorbed + msg.len() as u64).wrapping_mul(8);
    if let Some(last) = tail.last_mut()
        && let Some(len) = last.get_mut(BLOCK - 8..)
    {
        len.copy_from_slice(&bits.to_be_bytes());
    }
    sha2::compress256(
        &mut state,
        blocks.get(..filled + padding_blocks).unwrap_or_default(),
    );
    for block in &mut blocks {
        let bytes: &mut [u8] = block;
        bytes.zeroize();
    }
    let mut out = [0u8; 32];
    for (dst, word) in out.chunks_exact_mut(4).zip(state) {
        dst.copy_from_slice(&word.to_be_bytes());
    }
    state.zeroize();
    out
}

/// Whether `a` and `b` are equal, in a time that depends only on their lengths (which are not
/// secret: a mismatch returns at once, as `subtle`'s slice comparison does).
///
/// The differences of eight bytes at a time are OR-ed together with no early exit; after every
/// 64 bytes the running result passes through `std::hint::black_box`, so that the optimiser
/// cannot learn from it that the answer is already known and stop early; the last test is
/// `subtle`'s. Like `subtle`'s own barrier, `black_box` is best effort (rustc makes it an opaque
/// block of assembly); the compiled loop was checked to branch on lengths only.
/// `subtle` compares a byte at a time through a barrier per byte: for a session token (about
/// 1 KB from STS, IRSA or Pod Identity) that was a large share of verifying a request that
/// carries one.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut xs, mut ys) = (a.chunks_exact(64), b.chunks_exact(64));
    let mut diff = 0u64;
    for (x, y) in xs.by_ref().zip(ys.by_ref()) {
        diff = std::hint::black_box(diff | difference(x, y));
    }
    diff |= difference(xs.remainder(), ys.remainder());
    bool::from(diff.ct_eq(&0))
}

/// The OR of `x ^ y` over equally long `x` and `y`, eight bytes at a time.
fn difference(x: &[u8], y: &[u8]) -> u64 {
    let word = |chunk: &[u8]| u64::from_ne_bytes(<[u8; 8]>::try_from(chunk).unwrap_or_default());
    let (mut xs, mut ys) = (x.chunks_exact(8), y.chunks_exact(8));
    let words = xs
        .by_ref()
        .zip(ys.by_ref())
        .fold(0, |diff, (x, y)| diff | (word(x) ^ word(y)));
    let bytes = xs
        .remainder()
        .iter()
        .zip(ys.remainder())
        .fold(0, |diff, (x, y)| diff | u64::from(x ^ y));
    words | bytes
}

/// HMAC-SHA256 keyed once: the SHA-256 states after the inner and outer pads. Zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct HmacKey {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl HmacKey {
    /// Keys an HMAC with `key` (hashed first when longer than a block, per RFC 2104).
    pub(crate) fn new(key: &[u8]) -> Self {
        let mut padded = Zeroizing::new([0u8; BLOCK]);
        if key.len() > BLOCK {
            let digest = Zeroizing::new(<[u8; 32]>::from(Sha256::digest(key)));
            for (dst, src) in padded.iter_mut().zip(digest.iter()) {
                *dst = *src;
            }
        } else {
            for (dst, src) in padded.iter_mut().zip(key) {
                *dst = *src;
            }
        }
        let mut ipad = Zeroizing::new([0x36u8; BLOCK]);
        let mut opad = Zeroizing::new([0x5cu8; BLOCK]);
        for ((i, o), k) in ipad.iter_mut().zip(opad.iter_mut()).zip(padded.iter()) {
            *i ^= k;
            *o ^= k;
        }
        let mut inner = H0;
        compress(&mut inner, &ipad);
        let mut outer = H0;
        compress(&mut outer, &opad);
        Self { inner, outer }
    }

    /// `HMAC(key, msg)`.
    pub(crate) fn mac(&self, msg: &[u8]) -> [u8; 32] {
        let inner = Zeroizing::new(finish(self.inner, BLOCK as u64, msg));
        finish(self.outer, BLOCK as u64, inner.as_slice())
    }
}

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("** redacted **")
    }
}

/// One-shot `HMAC(key, msg)`.
fn hmac(key: &[u8], msg: &[u8]) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(HmacKey::new(key).mac(msg))
}

/// The SigV4 signing key for `date` (`YYYYMMDD`), `region`, `service`, already keyed:
///
/// ```text
/// kDate    = HMAC("AWS4" + secret, date)
/// kRegion  = HMAC(kDate, region)
/// kService = HMAC(kRegion, service)
/// kSigning = HMAC(kService, "aws4_request")
/// ```
pub(crate) fn signing_key(secret: &[u8], date: &[u8], region: &[u8], service: &[u8]) -> HmacKey {
    let mut seed = Zeroizing::new(Vec::with_capacity(4 + secret.len()));
    seed.extend_from_slice(b"AWS4");
    seed.extend_from_slice(secret);
    let k_date = hmac(&seed, date);
    let k_region = hmac(k_date.as_slice(), region);
    let k_service = hmac(k_region.as_slice(), service);
    let k_signing = hmac(k_service.as_slice(), b"aws4_request");
    HmacKey::new(k_signing.as_slice())
}

/// The P-256 group order `n` minus 2, big-endian.
const N_MINUS_2: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x4f,
];

/// `a <= b` for big-endian 256-bit numbers, without data-dependent branches.
fn le_be(a: &[u8; 32], b: &[u8; 32]) -> bool {
    // Computes b - a; a borrow out of the top byte means a > b.
    let mut borrow = 0i16;
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        let diff = i16::from(*y) - i16::from(*x) - borrow;
        borrow = (diff >> 15) & 1;
    }
    borrow == 0
}

/// The SigV4A private scalar `d` for `access_key_id` (sigv4 §2.2: NIST SP 800-108 counter mode,
/// HMAC-SHA256 keyed with `"AWS4A" + secret`, retried with counters 1..=254 until `k0 <= n - 2`,
/// then `d = k0 + 1`). `None` only in the ~2^-8000 case that every counter fails.
pub(crate) fn sigv4a_private_key(
    secret: &[u8],
    access_key_id: &[u8],
) -> Option<Zeroizing<[u8; 32]>> {
    let mut seed = Zeroizing::new(Vec::with_capacity(5 + secret.len()));
    seed.extend_from_slice(b"AWS4A");
    seed.extend_from_slice(secret);
    let key = HmacKey::new(&seed);
    let mut msg = Vec::with_capacity(4 + 22 + 1 + access_key_id.len() + 1 + 4);
    for counter in 1u8..=254 {
        msg.clear();
        msg.extend_from_slice(&1u32.to_be_bytes());
        msg.extend_from_slice(b"AWS4-ECDSA-P256-SHA256");
        msg.push(0);
        msg.extend_from_slice(access_key_id);
        msg.push(counter);
        msg.extend_from_slice(&256u32.to_be_bytes());
        let mut k = Zeroizing::new(key.mac(&msg));
        if le_be(&k, &N_MINUS_2) {
            // d = k0 + 1; k0 <= n - 2 so this cannot overflow.
            let mut carry = 1u16;
            for byte in k.iter_mut().rev() {
                let sum = u16::from(*byte) + carry;
                *byte = sum.to_be_bytes()[1];
                carry = sum >> 8;
            }
            return Some(k);
        }
    }
    None
}

/// The uncompressed SEC1 public point (`04 || X || Y`) for a SigV4A private scalar.
pub(crate) fn sigv4a_public_key(private: &[u8; 32]) -> Option<[u8; 65]> {
    let secret = p256::SecretKey::from_bytes(private.into()).ok()?;
    let point =
        p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&secret.public_key(), false);
    <[u8; 65]>::try_from(point.as_bytes()).ok()
}

/// A SigV4A public key, the uncompressed point [`sigv4a_public_key`] gives, ready to check
/// `AWS4-ECDSA-P256-SHA256` signatures (sigv4 §2.3: ECDSA P-256 over SHA-256 of the string to
/// sign, the signature ASN.1 DER). Built once per request and checked against each canonical URI
/// candidate.
pub(crate) struct EcdsaKey<'p>(ring::signature::UnparsedPublicKey<&'p [u8]>);

impl<'p> EcdsaKey<'p> {
    /// The key of `point` (`04 || X || Y`).
    pub(crate) fn new(point: &'p [u8; 65]) -> Self {
        Self(ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_ASN1,
            point.as_slice(),
        ))
    }

    /// Whether `der` is this key's signature of `message`.
    pub(crate) fn verify(&self, message: &[u8], der: &[u8]) -> bool {
        self.0.verify(message, der).is_ok()
    }
}

/// The SigV4A public-key cache key of (`secret`, `access_key_id`): SHA-256 over a domain
/// separator, the secret's length, the secret and the access key id, so that a rotated secret
/// never finds the old key. The secret has ~240 bits of entropy, so the digest reveals nothing
/// usable. Computed per SigV4A request (one more compression beside an ECDSA verification)
/// rather than stored per secret.
pub(crate) fn key_cache_id(secret: &[u8], access_key_id: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"lattice-authz sigv4a public key\0");
    h.update((secret.len() as u64).to_be_bytes());
    h.update(secret);
    h.update(access_key_id);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};

    #[test]
    fn key_cache_ids_differ_by_secret_and_access_key_and_never_run_together() {
        let id = key_cache_id(b"secret", b"AKID");
        assert_eq!(id, key_cache_id(b"secret", b"AKID"));
        assert_ne!(id, key_cache_id(b"rotated", b"AKID"));
        assert_ne!(id, key_cache_id(b"secret", b"AKID2"));
        // The length prefix keeps the boundary: no secret/key split collides with another.
        assert_ne!(key_cache_id(b"ab", b"c"), key_cache_id(b"a", b"bc"));
    }

    fn reference(key: &[u8], msg: &[u8]) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
        m.update(msg);
        m.finalize().into_bytes().into()
    }

    #[test]
    fn hmac_matches_the_hmac_crate_at_every_length() {
        for key_len in [0usize, 1, 32, 63, 64, 65, 200] {
            let key: Vec<u8> = (0..key_len)
                .map(|i: usize| u8::try_from(i % 251).unwrap())
                .collect();
            let k = HmacKey::new(&key);
            for msg_len in 0..300 {
                let msg: Vec<u8> = (0..msg_len)
                    .map(|i: usize| u8::try_from(i * 7 % 256).unwrap())
                    .collect();
                assert_eq!(
                    k.mac(&msg),
                    reference(&key, &msg),
                    "key {key_len} msg {msg_len}"
                );
            }
        }
    }

    #[test]
    fn signing_key_matches_published_numbers() {
        // sigv4 §1.13: kSigning(20150830, us-east-1, service) and get-vanilla's signature.
        let secret = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        let seed = [b"AWS4".as_slice(), secret].concat();
        let k = reference(
            &reference(
                &reference(&reference(&seed, b"20150830"), b"us-east-1"),
                b"service",
            ),
            b"aws4_request",
        );
        assert_eq!(
            hex::encode(k),
            "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75"
        );
        let sts = "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63";
        let key = signing_key(secret, b"20150830", b"us-east-1", b"service");
        assert_eq!(
            hex::encode(key.mac(sts.as_bytes())),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn sigv4a_key_matches_published_vector() {
        // sigv4 §2.2.
        let d = sigv4a_private_key(b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", b"AKIDEXAMPLE")
            .unwrap();
        assert_eq!(
            hex::encode(d.as_slice()),
            "7efc8c0e65a324242818c5a50c891c6060b6a00717b7ba3cbe3c5d765be9259c"
        );
        let q = sigv4a_public_key(&d).unwrap();
        assert_eq!(
            hex::encode(&q[1..33]),
            "b6618f6a65740a99e650b33b6b4b5bd0d43b176d721a3edfea7e7d2d56d936b1"
        );
        assert_eq!(
            hex::encode(&q[33..]),
            "865ed22a7eadc9c5cb9d2cbaca1b3699139fedc5043dc6661864218330c8e518"
        );
    }

    #[test]
    fn constant_time_equality_sees_every_byte() {
        let a: Vec<u8> = (0..=255u8).cycle().take(1_031).collect();
        assert!(ct_eq(&a, &a.clone()));
        assert!(ct_eq(b"", b""));
        assert!(!ct_eq(&a, a.get(..1_030).unwrap()));
        for i in 0..a.len() {
            let mut b = a.clone();
            b[i] ^= 0x01;
            assert!(!ct_eq(&a, &b), "byte {i}");
            b[i] ^= 0x81;
            assert!(!ct_eq(&a, &b), "byte {i}");
        }
    }

    #[test]
    fn big_endian_compare() {
        let mut a = N_MINUS_2;
        assert!(le_be(&a, &N_MINUS_2));
        a[31] += 1;
        assert!(!le_be(&a, &N_MINUS_2));
        assert!(le_be(&[0; 32], &N_MINUS_2));
        assert!(!le_be(&[0xff; 32], &N_MINUS_2));
    }

    #[test]
    fn debug_is_redacted() {
        assert_eq!(format!("{:?}", HmacKey::new(b"k")), "** redacted **");
    }
}
