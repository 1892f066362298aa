//! The canonical request's pieces (sigv4 §1.6): `UriEncode`, the two canonical URI candidates,
//! the canonical query string and canonical header values.
//!
//! Everything works on the raw request target as the client sent it; nothing here ever decodes
//! the path (a decoded path would make `%2F` and `/` collide, sigv4 §6.7).

use smallvec::SmallVec;

use super::error::{BadEscape, Echo, SigV4Error};

/// Upper bound on query parameters (each is decoded, re-encoded and sorted).
pub const MAX_QUERY_PARAMS: usize = 512;

/// A growable byte buffer that lives on the stack for typical requests.
pub(crate) type Buf = SmallVec<[u8; 1024]>;

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn push_escaped(out: &mut Buf, b: u8) {
    out.extend_from_slice(&[
        b'%',
        HEX_UPPER.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
        HEX_UPPER.get(usize::from(b & 0xf)).copied().unwrap_or(b'0'),
    ]);
}

/// `UriEncode` (sigv4 §1.6.1): every byte but `A-Za-z0-9-._~` (and `/` when `keep_slash`) as `%XX`.
pub(crate) fn uri_encode(out: &mut Buf, bytes: &[u8], keep_slash: bool) {
    if bytes
        .iter()
        .all(|&b| is_unreserved(b) || (keep_slash && b == b'/'))
    {
        out.extend_from_slice(bytes);
        return;
    }
    for &b in bytes {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(b);
        } else {
            push_escaped(out, b);
        }
    }
}

/// Checks that every `%` in `text` starts a `%XX` escape.
pub(crate) fn check_escapes(text: &[u8]) -> Result<(), BadEscape> {
    let mut rest = text;
    while let Some(pos) = rest.iter().position(|&b| b == b'%') {
        let after = rest.get(pos + 1..).unwrap_or_default();
        match after {
            [a, b, ..] => {
                if hex_value(*a).is_none() || hex_value(*b).is_none() {
                    return Err(BadEscape::IllegalHex(Echo::new(&[*a, *b])));
                }
                rest = after.get(2..).unwrap_or_default();
            }
            _ => return Err(BadEscape::Incomplete),
        }
    }
    Ok(())
}

/// How a literal `+` in a query is read before the query is re-encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueryPlus {
    /// As a space, the form encoding botocore and `curl --aws-sigv4` sign (`%20`).
    Space,
    /// As a plus sign, the way the AWS CRT signers sign it (`%2B`).
    Plus,
}

/// Percent-decodes `text` into `out`; `+` becomes a space (form encoding) or stays, as `plus`
/// says. Escapes were validated by [`check_escapes`]; an invalid one is copied verbatim.
pub(crate) fn query_decode(out: &mut Buf, text: &[u8], plus: QueryPlus) {
    let space = plus == QueryPlus::Space;
    if !text.iter().any(|&b| b == b'%' || (space && b == b'+')) {
        out.extend_from_slice(text);
        return;
    }
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        match b {
            b'+' if space => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hi = text.get(i + 1).copied().and_then(hex_value);
                let lo = text.get(i + 2).copied().and_then(hex_value);
                if let (Some(hi), Some(lo)) = (hi, lo) {
                    out.push(hi << 4 | lo);
                    i += 3;
                } else {
                    out.push(b);
                    i += 1;
                }
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
}

/// What a path that ends in a `.` or `..` segment normalises to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DotEnd {
    /// A trailing slash, as RFC 3986's dot-segment removal leaves it: `/data/.` → `/data/`.
    Slash,
    /// No trailing slash, as botocore and the AWS CRT normalise: `/data/.` → `/data`.
    Bare,
}

/// Removes `.`/`..` segments and empty segments (`//`), keeping a trailing slash; empty → `/`
/// (RFC 3986 §5.2.4 as the AWS SDKs apply it). A path ending in a dot segment ends as `dot_end`
/// says. Writes the result to `out`.
fn normalize_path(out: &mut Buf, path: &[u8], dot_end: DotEnd) {
    // Segment boundaries in `out` so that `..` can pop.
    let mut starts: SmallVec<[usize; 16]> = SmallVec::new();
    for segment in path.split(|&b| b == b'/') {
        match segment {
            b"" | b"." => {}
            b".." => {
                if let Some(start) = starts.pop() {
                    out.truncate(start);
                }
            }
            _ => {
                starts.push(out.len());
                out.push(b'/');
                out.extend_from_slice(segment);
            }
        }
    }
    let dot_ends: &[&[u8]] = match dot_end {
        DotEnd::Slash => &[b"/.", b"/.."],
        DotEnd::Bare => &[],
    };
    let trailing =
        path.is_empty() || path.ends_with(b"/") || dot_ends.iter().any(|end| path.ends_with(end));
    if out.is_empty() || (trailing && out.last() != Some(&b'/')) {
        out.push(b'/');
    }
}

/// The double-encoded, normalised canonical URI (the SDK default for non-S3 services):
/// `UriEncode(normalize(wire_path))`, keeping `/`.
pub(crate) fn double_encoded_uri(out: &mut Buf, wire_path: &[u8]) {
    // Fast path, the common case: a rooted path of unreserved bytes with nothing to normalise is
    // its own canonical URI.
    if already_canonical(wire_path) {
        out.extend_from_slice(wire_path);
        return;
    }
    normalize_and_encode(out, wire_path);
}

/// Whether `path` is unchanged by [`normalize_path`] and [`uri_encode`]: it starts with `/`, holds
/// only unreserved bytes and `/`, and has no empty segment (`//`) and no `.` or `..` segment. An
/// empty last segment (a trailing `/`) is kept by both.
fn already_canonical(path: &[u8]) -> bool {
    if path.first() != Some(&b'/') || !path.iter().all(|&b| is_unreserved(b) || b == b'/') {
        return false;
    }
    let mut segments = path.split(|&b| b == b'/').skip(1).peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        if (segment.is_empty() && !last) || segment == b"." || segment == b".." {
            return false;
        }
    }
    true
}

/// [`double_encoded_uri`] without its fast path.
fn normalize_and_encode(out: &mut Buf, wire_path: &[u8]) {
    normalize_rooted_and_encode(out, wire_path, DotEnd::Slash);
}

/// The double-encoded canonical URI as botocore and the AWS CRT normalise the path: the same as
/// [`double_encoded_uri`] but for a path that ends in a `.` or `..` segment, which keeps no
/// trailing slash (`/data/.` → `/data`, `/a/b/..` → `/a`).
pub(crate) fn sdk_double_encoded_uri(out: &mut Buf, wire_path: &[u8]) {
    normalize_rooted_and_encode(out, wire_path, DotEnd::Bare);
}

fn normalize_rooted_and_encode(out: &mut Buf, wire_path: &[u8], dot_end: DotEnd) {
    let mut normalized = Buf::new();
    if wire_path.first() == Some(&b'/') {
        normalize_path(&mut normalized, wire_path, dot_end);
    } else {
        let mut rooted = Buf::new();
        rooted.push(b'/');
        rooted.extend_from_slice(wire_path);
        normalize_path(&mut normalized, &rooted, dot_end);
    }
    uri_encode(out, &normalized, true);
}

/// The single-encoded canonical URI: the wire path verbatim (S3 style); empty → `/`.
pub(crate) fn single_encoded_uri(out: &mut Buf, wire_path: &[u8]) {
    if wire_path.is_empty() {
        out.push(b'/');
    } else {
        out.extend_from_slice(wire_path);
    }
}

/// Appends the canonical query string: each name and value decoded (a `+` read as `plus` says),
/// re-encoded with `UriEncode`, sorted by (name, value). `skip` names one parameter (decoded
/// name) to leave out once: `X-Amz-Signature` of a presigned request.
pub(crate) fn canonical_query(
    out: &mut Buf,
    query: &[u8],
    skip: Option<&[u8]>,
    plus: QueryPlus,
) -> Result<(), SigV4Error> {
    if query.is_empty() {
        return Ok(());
    }
    check_escapes(query).map_err(SigV4Error::MalformedQueryString)?;
    // Encoded names and values are written to `text`; `pairs` holds their ranges.
    let mut text = Buf::new();
    let mut pairs: SmallVec<[(usize, usize, usize); 16]> = SmallVec::new();
    let mut decoded = Buf::new();
    let mut skipped = false;
    for param in query.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match param.iter().position(|&b| b == b'=') {
            Some(eq) => (
                param.get(..eq).unwrap_or_default(),
                param.get(eq + 1..).unwrap_or_default(),
            ),
            None => (param, &[][..]),
        };
        decoded.clear();
        query_decode(&mut decoded, name, plus);
        if !skipped && skip == Some(decoded.as_slice()) {
            skipped = true;
            continue;
        }
        if pairs.len() == MAX_QUERY_PARAMS {
            return Err(SigV4Error::TooMany {
                what: "query parameters",
                limit: MAX_QUERY_PARAMS,
            });
        }
        let start = text.len();
        uri_encode(&mut text, &decoded, false);
        let mid = text.len();
        decoded.clear();
        query_decode(&mut decoded, value, plus);
        uri_encode(&mut text, &decoded, false);
        pairs.push((start, mid, text.len()));
    }
    let part = |a: usize, b: usize| text.get(a..b).unwrap_or_default();
    pairs.sort_unstable_by(|x, y| {
        part(x.0, x.1)
            .cmp(part(y.0, y.1))
            .then_with(|| part(x.1, x.2).cmp(part(y.1, y.2)))
    });
    for (i, (start, mid, end)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(part(*start, *mid));
        out.push(b'=');
        out.extend_from_slice(part(*mid, *end));
    }
    Ok(())
}

/// Whether a header value may be signed: valid UTF-8 with no control characters but tab.
pub(crate) fn valid_header_value(value: &[u8]) -> bool {
    // One branch-free pass (it vectorises); UTF-8 is validated only when a byte is not ASCII.
    let (control, non_ascii) = value
        .iter()
        .fold((false, false), |(control, non_ascii), &b| {
            (
                control | (b < 0x20 && b != b'\t') | (b == 0x7f),
                non_ascii | (b >= 0x80),
            )
        });
    !control && (!non_ascii || std::str::from_utf8(value).is_ok())
}

/// Appends one header line's value trimmed, with inner runs of spaces and tabs collapsed to one
/// space (sigv4 §1.6.4).
pub(crate) fn push_trimmed(out: &mut Buf, value: &[u8]) {
    let is_blank = |b: &u8| *b == b' ' || *b == b'\t';
    // Fast path: nothing to trim or collapse (a single inner space is kept as is): not empty, no
    // blank at either end, no tab, no two spaces in a row. The pairs are folded without an early
    // exit so that the loop vectorises.
    let ends_clean =
        value.first().is_some_and(|b| !is_blank(b)) && value.last().is_some_and(|b| !is_blank(b));
    let inner_dirty = value
        .iter()
        .zip(value.get(1..).unwrap_or_default())
        .fold(false, |dirty, (&a, &b)| {
            dirty | (a == b'\t') | (a == b' ' && b == b' ')
        });
    if ends_clean && !inner_dirty {
        out.extend_from_slice(value);
        return;
    }
    let mut in_run = false;
    let mut started = false;
    for b in value {
        if is_blank(b) {
            in_run = started;
        } else {
            if in_run {
                out.push(b' ');
                in_run = false;
            }
            out.push(*b);
            started = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn double(path: &str) -> String {
        let mut out = Buf::new();
        double_encoded_uri(&mut out, path.as_bytes());
        String::from_utf8(out.to_vec()).unwrap()
    }

    fn query(q: &str) -> String {
        let mut out = Buf::new();
        canonical_query(&mut out, q.as_bytes(), None, QueryPlus::Space).unwrap();
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn the_sdks_leave_no_slash_after_a_final_dot_segment() {
        let sdk = |path: &str| {
            let mut out = Buf::new();
            sdk_double_encoded_uri(&mut out, path.as_bytes());
            String::from_utf8(out.to_vec()).unwrap()
        };
        for (path, rfc, sdks) in [
            ("/data/.", "/data/", "/data"),
            ("/a/b/..", "/a/", "/a"),
            ("/a/..", "/", "/"),
            ("/.", "/", "/"),
            ("/data/./", "/data/", "/data/"),
            ("/a/./b", "/a/b", "/a/b"),
            ("/a%20b/.", "/a%2520b/", "/a%2520b"),
            ("", "/", "/"),
        ] {
            assert_eq!(double(path), rfc, "{path}");
            assert_eq!(sdk(path), sdks, "{path}");
        }
    }

    #[test]
    fn a_plus_in_the_query_reads_as_a_space_or_as_a_plus() {
        let plus = |q: &str| {
            let mut out = Buf::new();
            canonical_query(&mut out, q.as_bytes(), None, QueryPlus::Plus).unwrap();
            String::from_utf8(out.to_vec()).unwrap()
        };
        assert_eq!(query("q=a+b&x+y=1"), "q=a%20b&x%20y=1");
        assert_eq!(plus("q=a+b&x+y=1"), "q=a%2Bb&x%2By=1");
        // An escaped plus or space reads the same either way.
        assert_eq!(query("q=a%2Bb%20c"), "q=a%2Bb%20c");
        assert_eq!(plus("q=a%2Bb%20c"), "q=a%2Bb%20c");
    }

    #[test]
    fn double_encoding_and_normalisation() {
        assert_eq!(double(""), "/");
        assert_eq!(double("/"), "/");
        assert_eq!(double("//"), "/");
        assert_eq!(double("/example/.."), "/");
        assert_eq!(double("/example/../.."), "/");
        assert_eq!(double("/./"), "/");
        assert_eq!(double("/./example"), "/example");
        assert_eq!(double("//example//"), "/example/");
        assert_eq!(double("/a/b/."), "/a/b/");
        assert_eq!(double("/a/b/../c"), "/a/c");
        assert_eq!(double("/a%20b/c:d"), "/a%2520b/c%3Ad");
        assert_eq!(double("/example space/"), "/example%20space/");
        assert_eq!(double("a/b"), "/a/b");
        assert_eq!(
            double("/test/@connections/JBDvjfGEIAMCERw%3D"),
            "/test/%40connections/JBDvjfGEIAMCERw%253D"
        );
    }

    proptest::proptest! {
        /// The fast path of `double_encoded_uri` gives what normalising and encoding gives.
        #[test]
        fn canonical_uri_fast_path(path in "[/.a%~ ]{0,12}") {
            let mut fast = Buf::new();
            double_encoded_uri(&mut fast, path.as_bytes());
            let mut general = Buf::new();
            normalize_and_encode(&mut general, path.as_bytes());
            proptest::prop_assert_eq!(fast.as_slice(), general.as_slice());
        }
    }

    #[test]
    fn query_is_decoded_reencoded_and_tuple_sorted() {
        assert_eq!(
            query("Param-3=Value3&Param=Value2&%E1%88%B4=Value1"),
            "%E1%88%B4=Value1&Param=Value2&Param-3=Value3"
        );
        assert_eq!(query("a-=1&a=2"), "a=2&a-=1");
        assert_eq!(
            query("Param1=value2&Param1=Value1"),
            "Param1=Value1&Param1=value2"
        );
        assert_eq!(query("a=b+c&d=%7e&e=!"), "a=b%20c&d=~&e=%21");
        assert_eq!(query("acl"), "acl=");
        assert_eq!(query("a=1&&b=2"), "a=1&b=2");
    }

    #[test]
    fn escapes_are_checked() {
        assert_eq!(check_escapes(b"/a%2"), Err(BadEscape::Incomplete));
        assert_eq!(
            check_escapes(b"/a%zz"),
            Err(BadEscape::IllegalHex(Echo::new(b"zz")))
        );
        assert_eq!(check_escapes(b"/a%2fb%41"), Ok(()));
    }

    /// `push_trimmed` without its fast path.
    fn trimmed_reference(value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut in_run = false;
        let mut started = false;
        for &b in value {
            if b == b' ' || b == b'\t' {
                in_run = started;
            } else {
                if in_run {
                    out.push(b' ');
                    in_run = false;
                }
                out.push(b);
                started = true;
            }
        }
        out
    }

    proptest::proptest! {
        /// The fast paths agree with the plain definitions.
        #[test]
        fn header_value_fast_paths(value in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just(b' '),
                proptest::strategy::Just(b'\t'),
                proptest::strategy::Just(b'a'),
                proptest::num::u8::ANY,
            ],
            0..40,
        )) {
            let mut out = Buf::new();
            push_trimmed(&mut out, &value);
            let expected = trimmed_reference(&value);
            proptest::prop_assert_eq!(out.as_slice(), expected.as_slice());
            let plain = value.iter().all(|&b| b >= 0x20 && b != 0x7f || b == b'\t')
                && std::str::from_utf8(&value).is_ok();
            proptest::prop_assert_eq!(valid_header_value(&value), plain);
        }
    }

    #[test]
    fn header_values_are_trimmed_and_collapsed() {
        let mut out = Buf::new();
        push_trimmed(&mut out, b" \t a   b \t c  ");
        assert_eq!(out.as_slice(), b"a b c");
        for (input, expected) in [
            (&b"a b"[..], &b"a b"[..]),
            (b"a\tb", b"a b"),
            (b"", b""),
            (b" ", b""),
            (b"x ", b"x"),
        ] {
            let mut out = Buf::new();
            push_trimmed(&mut out, input);
            assert_eq!(out.as_slice(), expected);
        }
    }
}
