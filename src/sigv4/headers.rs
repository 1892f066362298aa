//! The signed headers: one pass over the request that finds every header the verifier reads,
//! the `SignedHeaders` list's syntax, which headers must be signed, and the canonical headers
//! block (sigv4 §1.6.3, §1.12 step 4).
//!
//! It must not touch: the signature, the credential, the clock. It reads the request and
//! writes canonical text; the order of the checks is `verify`'s.

use smallvec::SmallVec;

use super::canonical::{self, Buf};
use super::error::{Echo, SigV4Error};
use super::{HttpRequest, MAX_SIGNED_HEADERS};

/// All lines of header `name`, in arrival order.
pub(super) fn lines<'r, 'n>(
    request: &HttpRequest<'r>,
    name: &'n [u8],
) -> impl Iterator<Item = &'r [u8]> + use<'r, 'n> {
    request
        .headers
        .iter()
        .filter(move |h| h.name.as_bytes().eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

/// Every line of one header name the verifier reads, as one pass over the request found them.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Slot<'r> {
    /// The first line's raw value.
    pub(super) first: Option<&'r [u8]>,
    /// How many lines there are.
    pub(super) count: usize,
    /// Whether a later line differs from the first (after trimming).
    ambiguous: bool,
}

impl<'r> Slot<'r> {
    fn add(&mut self, value: &'r [u8]) {
        match self.first {
            None => self.first = Some(value),
            Some(first) => self.ambiguous |= first.trim_ascii() != value.trim_ascii(),
        }
        self.count += 1;
    }
}

/// A header the verifier reads by name (besides `host`, checked against `:authority`).
#[derive(Debug, Clone, Copy)]
pub(super) enum Read {
    Authorization,
    XAmzDate,
    Date,
    SecurityToken,
    ContentSha256,
    RegionSet,
}

impl Read {
    const ALL: [Read; 6] = [
        Read::Authorization,
        Read::XAmzDate,
        Read::Date,
        Read::SecurityToken,
        Read::ContentSha256,
        Read::RegionSet,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            Read::Authorization => "authorization",
            Read::XAmzDate => "x-amz-date",
            Read::Date => "date",
            Read::SecurityToken => "x-amz-security-token",
            Read::ContentSha256 => "x-amz-content-sha256",
            Read::RegionSet => "x-amz-region-set",
        }
    }

    /// Which header `name` is, matched case-insensitively as [`lines`] matches names (a
    /// different length is told by one comparison).
    fn of(name: &[u8]) -> Option<Read> {
        Read::ALL
            .into_iter()
            .find(|read| read.name().as_bytes().eq_ignore_ascii_case(name))
    }
}

/// The headers the verifier reads by name, found in one pass over the request instead of one
/// pass per name.
#[derive(Debug, Default)]
pub(super) struct Found<'r> {
    slots: [Slot<'r>; Read::ALL.len()],
    /// Whether some `host` line disagrees with `:authority` (after trimming).
    host_differs: bool,
    /// Every `x-amz-*` line's name (each must be signed), in arrival order.
    pub(super) amz: SmallVec<[&'r str; 8]>,
}

impl<'r> Found<'r> {
    pub(super) fn scan(request: &HttpRequest<'r>) -> Self {
        let mut found = Found::default();
        let authority = request.authority.as_bytes().trim_ascii();
        for header in request.headers {
            if is_amz(header.name) {
                found.amz.push(header.name);
            }
            let name = header.name.as_bytes();
            if name.eq_ignore_ascii_case(b"host") {
                found.host_differs |= header.value.trim_ascii() != authority;
            } else if let Some(slot) =
                Read::of(name).and_then(|read| found.slots.get_mut(read as usize))
            {
                slot.add(header.value);
            }
        }
        found
    }

    /// The lines of header `read`.
    pub(super) fn slot(&self, read: Read) -> Slot<'r> {
        self.slots.get(read as usize).copied().unwrap_or_default()
    }

    /// The single value (trimmed) of header `read`: repeated lines must agree.
    pub(super) fn single(&self, read: Read) -> Result<Option<&'r [u8]>, SigV4Error> {
        let slot = self.slot(read);
        if slot.ambiguous {
            return Err(SigV4Error::AmbiguousHeader(read.name()));
        }
        Ok(slot.first.map(<[u8]>::trim_ascii))
    }
}

/// Whether a header name has the `x-amz-` prefix (any case) and more after it.
fn is_amz(name: &str) -> bool {
    name.len() > AMZ_PREFIX.len()
        && name
            .as_bytes()
            .get(..AMZ_PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(AMZ_PREFIX))
}

/// The names of a `SignedHeaders` list, split once.
pub(super) type SignedNames<'a> = SmallVec<[&'a [u8]; 8]>;

/// `SignedHeaders`: lowercase names (a leading `:` allowed for `:authority`), strictly increasing.
pub(super) fn check_signed_headers(list: &[u8]) -> Result<SignedNames<'_>, SigV4Error> {
    // Lists are almost always plain names and semicolons: one branch-free pass over the whole
    // list (it vectorises) then stands for the check of every name's bytes.
    let plain = list.iter().fold(true, |plain, &b| {
        plain & (b == b';' || is_signed_name_byte(b))
    });
    let mut names = SignedNames::new();
    let mut previous: Option<&[u8]> = None;
    for (count, name) in list.split(|&b| b == b';').enumerate() {
        if count == MAX_SIGNED_HEADERS {
            return Err(SigV4Error::TooMany {
                what: "signed headers",
                limit: MAX_SIGNED_HEADERS,
            });
        }
        let body = name.strip_prefix(b":").unwrap_or(name);
        let valid = !body.is_empty() && (plain || body.iter().all(|&b| is_signed_name_byte(b)));
        if !valid || previous.is_some_and(|p| p >= name) {
            return Err(SigV4Error::InvalidSignedHeaders);
        }
        previous = Some(name);
        names.push(name);
    }
    Ok(names)
}

/// A byte a `SignedHeaders` name may hold: lowercase letters, digits and the other token
/// characters of RFC 9110 (`!#$%&'*+-.^_|~` and the backtick). A `matches!` compiles to a few
/// range tests, where the search of a 15-byte list it replaces ran for every byte of every name.
fn is_signed_name_byte(b: u8) -> bool {
    matches!(
        b,
        b'a'..=b'z'
            | b'0'..=b'9'
            | b'!'
            | b'#'
            | b'$'
            | b'%'
            | b'&'
            | b'\''
            | b'*'
            | b'+'
            | b'-'
            | b'.'
            | b'^'
            | b'_'
            | b'`'
            | b'|'
            | b'~'
    )
}

/// Headers of this prefix carry AWS meaning and must be signed when present.
const AMZ_PREFIX: &[u8] = b"x-amz-";

/// Whether header `name` is among the signed `names` (lower-case; `name` in any case, as header
/// names are).
pub(super) fn is_signed(names: &[&[u8]], name: &[u8]) -> bool {
    names.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Glob match with `*` as any sequence (SigV4A region sets: `*`, `us-west-*`).
pub(super) fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match (pattern.get(p), text.get(t)) {
            (Some(b'*'), _) => {
                backtrack = Some((p, t));
                p += 1;
            }
            (Some(a), Some(b)) if a == b => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((bp, bt)) => {
                    p = bp + 1;
                    t = bt + 1;
                    backtrack = Some((bp, bt + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .unwrap_or_default()
        .iter()
        .all(|&b| b == b'*')
}

/// Appends `name:value\n` for every signed header, checking each exists and is valid text.
pub(super) fn canonical_headers(
    out: &mut Buf,
    request: &HttpRequest<'_>,
    found: &Found<'_>,
    signed: &[&[u8]],
) -> Result<(), SigV4Error> {
    for &name in signed {
        out.extend_from_slice(name);
        out.push(b':');
        if name == b"host" || name == b":authority" {
            let authority = request.authority.as_bytes();
            if authority.is_empty() {
                return Err(SigV4Error::SignedHeaderMissing(Echo::new(name)));
            }
            // A `host` line that disagrees with `:authority` is ambiguous.
            if found.host_differs {
                return Err(SigV4Error::AmbiguousHeader("host"));
            }
            if !canonical::valid_header_value(authority) {
                return Err(SigV4Error::InvalidHeaderValue(Echo::new(name)));
            }
            canonical::push_trimmed(out, authority);
        } else if let Some(Slot {
            first,
            count: 0..=1,
            ..
        }) = Read::of(name).map(|read| found.slot(read))
        {
            // A header the scan found: no second pass when it has one line (or none).
            let value = first.ok_or_else(|| SigV4Error::SignedHeaderMissing(Echo::new(name)))?;
            if !canonical::valid_header_value(value) {
                return Err(SigV4Error::InvalidHeaderValue(Echo::new(name)));
            }
            canonical::push_trimmed(out, value);
        } else {
            let mut count = 0usize;
            for value in lines(request, name) {
                if !canonical::valid_header_value(value) {
                    return Err(SigV4Error::InvalidHeaderValue(Echo::new(name)));
                }
                if count > 0 {
                    out.push(b',');
                }
                canonical::push_trimmed(out, value);
                count += 1;
            }
            if count == 0 {
                return Err(SigV4Error::SignedHeaderMissing(Echo::new(name)));
            }
        }
        out.push(b'\n');
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_read_header_is_told_by_its_name_in_any_case() {
        for read in Read::ALL {
            let name = read.name();
            assert!(matches!(Read::of(name.as_bytes()), Some(r) if r as usize == read as usize));
            let upper = name.to_ascii_uppercase();
            assert!(matches!(Read::of(upper.as_bytes()), Some(r) if r as usize == read as usize));
        }
        for other in [
            "host",
            "x-amz-dates",
            "dat",
            "authorisation",
            "x-amz-content-sha25",
            "",
        ] {
            assert!(Read::of(other.as_bytes()).is_none(), "{other}");
        }
    }

    #[test]
    fn glob() {
        assert!(glob_match(b"*", b"us-east-1"));
        assert!(glob_match(b"us-west-*", b"us-west-2"));
        assert!(!glob_match(b"us-west-*", b"us-east-1"));
        assert!(glob_match(b"us-*-1", b"us-east-1"));
        assert!(glob_match(b"ap-northeast-1", b"ap-northeast-1"));
        assert!(!glob_match(b"ap-northeast-1", b"ap-northeast-10"));
        assert!(!glob_match(b"", b"x"));
    }

    #[test]
    fn signed_name_bytes() {
        for b in 0..=u8::MAX {
            let listed =
                b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is_signed_name_byte(b), listed, "{b:#04x}");
        }
    }

    #[test]
    fn signed_headers_syntax() {
        assert!(check_signed_headers(b"host;x-amz-date").is_ok());
        assert!(check_signed_headers(b":authority;host").is_ok());
        assert!(check_signed_headers(b"x-amz-date;host").is_err());
        assert!(check_signed_headers(b"host;host").is_err());
        assert!(check_signed_headers(b"Host").is_err());
        assert!(check_signed_headers(b"host;;x").is_err());
        assert!(check_signed_headers(b"").is_err());
        assert!(check_signed_headers(b"host;").is_err());
        assert!(check_signed_headers(b";host").is_err());
        assert!(check_signed_headers(b"ho:st").is_err());
        assert!(check_signed_headers(b"::authority").is_err());
        assert!(check_signed_headers(b"host;x-amz-d\xc3\xa9").is_err());
        // Past the limit, the count is what is reported, even for a name that is also bad.
        let many: Vec<String> = (0..MAX_SIGNED_HEADERS + 1)
            .map(|i| format!("h{i:03}"))
            .collect();
        let too_many = |list: &str| {
            matches!(
                check_signed_headers(list.as_bytes()),
                Err(SigV4Error::TooMany { .. })
            )
        };
        assert!(too_many(&many.join(";")));
        assert!(too_many(&format!("{};H", many.join(";"))));
        assert_eq!(
            check_signed_headers(
                many.get(..MAX_SIGNED_HEADERS)
                    .unwrap_or_default()
                    .join(";")
                    .as_bytes()
            )
            .map(|names| names.len()),
            Ok(MAX_SIGNED_HEADERS)
        );
    }
}
