//! The raw HTTP/1.1 request format of `check` (and of AWS's SigV4 test suite): request line,
//! header lines, a blank line, an optional body.

/// Largest request `check` reads.
pub const MAX_RAW_REQUEST_BYTES: usize = 16 << 20;

/// A parsed raw request: header names lower-cased, values trimmed, obs-fold continuation lines
/// joined with one space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRequest {
    /// Method.
    pub method: String,
    /// Request target as written.
    pub target: String,
    /// Header lines in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Body (may be empty).
    pub body: Vec<u8>,
}

/// Why a raw request cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRawRequest {
    /// Nothing before the blank line.
    #[error("the request is empty")]
    Empty,
    /// Request line and headers must be UTF-8.
    #[error("the request line and headers are not UTF-8")]
    NotUtf8,
    /// Not `METHOD TARGET VERSION`.
    #[error("`{0}` is not a request line (METHOD TARGET HTTP/1.1)")]
    RequestLine(String),
    /// A line without `:`.
    #[error("`{0}` is not a header line (Name: value)")]
    HeaderLine(String),
    /// A header name with white space, or empty.
    #[error("`{0}` is not a header name")]
    HeaderName(String),
    /// A continuation line before the first header.
    #[error("a continuation line before any header")]
    Continuation,
    /// Over the size limit.
    #[error("the request is larger than {MAX_RAW_REQUEST_BYTES} bytes")]
    TooLarge,
}

fn find_blank_line(bytes: &[u8]) -> Option<(usize, usize)> {
    let crlf = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, 4));
    let lf = bytes.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

impl RawRequest {
    /// Parses `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Self, InvalidRawRequest> {
        if bytes.len() > MAX_RAW_REQUEST_BYTES {
            return Err(InvalidRawRequest::TooLarge);
        }
        let (head, body) = match find_blank_line(bytes) {
            Some((end, skip)) => (
                bytes.get(..end).unwrap_or_default(),
                bytes.get(end + skip..).unwrap_or_default(),
            ),
            None => (bytes, &[][..]),
        };
        let head = std::str::from_utf8(head).map_err(|_| InvalidRawRequest::NotUtf8)?;
        let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let request_line = lines
            .next()
            .filter(|l| !l.is_empty())
            .ok_or(InvalidRawRequest::Empty)?;
        let mut parts = request_line.split(' ');
        let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
            return Err(InvalidRawRequest::RequestLine(request_line.to_owned()));
        };
        if method.is_empty() || !target.starts_with('/') {
            return Err(InvalidRawRequest::RequestLine(request_line.to_owned()));
        }
        let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
        for line in lines {
            if line.starts_with([' ', '\t']) {
                let Some((_, value)) = headers.last_mut() else {
                    return Err(InvalidRawRequest::Continuation);
                };
                value.push(b' ');
                value.extend_from_slice(line.trim().as_bytes());
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(InvalidRawRequest::HeaderLine(line.to_owned()));
            };
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(InvalidRawRequest::HeaderName(name.to_owned()));
            }
            headers.push((name.to_ascii_lowercase(), value.trim().as_bytes().to_vec()));
        }
        Ok(RawRequest {
            method: method.to_owned(),
            target: target.to_owned(),
            headers,
            body: body.to_vec(),
        })
    }

    /// The `Host` header, if present and UTF-8.
    pub fn host(&self) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == "host")
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_suite_format() {
        let r = RawRequest::parse(
            b"GET /?a=b HTTP/1.1\nHost: example.amazonaws.com\nX-Fold:a\n  b\n\nbody",
        )
        .unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.target, "/?a=b");
        assert_eq!(
            r.headers,
            vec![
                ("host".into(), b"example.amazonaws.com".to_vec()),
                ("x-fold".into(), b"a b".to_vec())
            ]
        );
        assert_eq!(r.body, b"body");
        assert_eq!(r.host(), Some("example.amazonaws.com"));
        assert_eq!(RawRequest::parse(b""), Err(InvalidRawRequest::Empty));
        assert_eq!(
            RawRequest::parse(b"GET\n\n"),
            Err(InvalidRawRequest::RequestLine("GET".into()))
        );
        assert_eq!(
            RawRequest::parse(b"GET / HTTP/1.1\nno colon\n\n"),
            Err(InvalidRawRequest::HeaderLine("no colon".into()))
        );
        assert_eq!(
            RawRequest::parse(b"GET / HTTP/1.1\n b\n\n"),
            Err(InvalidRawRequest::Continuation)
        );
        assert_eq!(
            RawRequest::parse(b"GET / HTTP/1.1\nA B: c\n\n"),
            Err(InvalidRawRequest::HeaderName("A B".into()))
        );
        assert_eq!(
            RawRequest::parse(b"GET / HTTP/1.1\n\xff: x\n\n"),
            Err(InvalidRawRequest::NotUtf8)
        );
    }
}
