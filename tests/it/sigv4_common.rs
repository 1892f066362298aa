//! Shared helpers for the SigV4 tests: a raw HTTP/1.1 request reader, an in-memory credential
//! source and the example-world credentials.

#![allow(
    dead_code,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::panic,
    clippy::string_slice,
    reason = "test helpers fail loudly"
)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lattice_authz::sigv4::{Credential, CredentialSource, Header, HttpRequest, Secret};

/// `tests/data/sigv4/…`
pub(crate) fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sigv4")
        .join(rel)
}

/// A request read from a raw HTTP/1.1 file (the AWS suite format or bytes captured off a socket).
#[derive(Debug, Clone)]
pub(crate) struct RawRequest {
    pub(crate) method: String,
    pub(crate) target: String,
    pub(crate) authority: String,
    /// Lower-case names, raw values, arrival order; `host` is moved to `authority` and a
    /// `:authority` pseudo-header is added, as Envoy presents HTTP/1 requests.
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) body: Vec<u8>,
}

impl RawRequest {
    /// Parses a request. The request line's target may contain spaces (the suite's logical
    /// requests do); obs-fold continuation lines are joined with a space, as RFC 9112 §5.2
    /// allows a recipient to do.
    pub(crate) fn parse(bytes: &[u8]) -> Self {
        let (head, body) = match find(bytes, b"\r\n\r\n") {
            Some(i) => (&bytes[..i], &bytes[i + 4..]),
            None => match find(bytes, b"\n\n") {
                Some(i) => (&bytes[..i], &bytes[i + 2..]),
                None => (bytes, &b""[..]),
            },
        };
        let mut lines = head
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let request_line = std::str::from_utf8(lines.next().unwrap()).unwrap();
        let (method, rest) = request_line.split_once(' ').unwrap();
        // The legacy suite files omit the version.
        let target = match rest.rsplit_once(' ') {
            Some((target, version)) if version.starts_with("HTTP/") => target,
            _ => rest,
        };
        let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
        for line in lines {
            if line.is_empty() {
                continue;
            }
            if line[0] == b' ' || line[0] == b'\t' {
                let last = headers.last_mut().unwrap();
                last.1.push(b' ');
                last.1.extend_from_slice(line.trim_ascii());
                continue;
            }
            let colon = line.iter().position(|&b| b == b':').unwrap();
            let name = std::str::from_utf8(&line[..colon])
                .unwrap()
                .to_ascii_lowercase();
            headers.push((name, line[colon + 1..].trim_ascii().to_vec()));
        }
        let authority = headers
            .iter()
            .find(|(n, _)| n == "host")
            .map(|(_, v)| String::from_utf8(v.clone()).unwrap())
            .unwrap_or_default();
        headers.retain(|(n, _)| n != "host");
        headers.insert(0, (":authority".to_owned(), authority.clone().into_bytes()));
        Self {
            method: method.to_owned(),
            target: target.to_owned(),
            authority,
            headers,
            body: body.to_vec(),
        }
    }

    pub(crate) fn read(path: &Path) -> Self {
        Self::parse(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
    }

    pub(crate) fn header_list(&self) -> Vec<Header<'_>> {
        self.headers
            .iter()
            .map(|(name, value)| Header { name, value })
            .collect()
    }

    /// The view the verifier reads; the body is passed only when non-empty.
    pub(crate) fn view<'a>(&'a self, headers: &'a [Header<'a>]) -> HttpRequest<'a> {
        HttpRequest {
            method: &self.method,
            target: &self.target,
            authority: &self.authority,
            headers,
            body: (!self.body.is_empty()).then_some(self.body.as_slice()),
        }
    }

    pub(crate) fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    pub(crate) fn set_header(&mut self, name: &str, value: &[u8]) {
        match self.headers.iter_mut().find(|(n, _)| n == name) {
            Some(h) => h.1 = value.to_vec(),
            None => self.headers.push((name.to_owned(), value.to_vec())),
        }
    }

    pub(crate) fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| n != name);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One known access key.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) secret: Secret,
    pub(crate) token: Option<String>,
    pub(crate) expires_at: Option<SystemTime>,
    pub(crate) principal: String,
}

/// An in-memory credential source; principals are ARN strings.
#[derive(Debug, Default)]
pub(crate) struct Creds(pub HashMap<String, Entry>);

impl Creds {
    pub(crate) fn with(
        mut self,
        akid: &str,
        secret: &str,
        token: Option<&str>,
        principal: &str,
    ) -> Self {
        self.0.insert(
            akid.to_owned(),
            Entry {
                secret: Secret::new(secret),
                token: token.map(str::to_owned),
                expires_at: None,
                principal: principal.to_owned(),
            },
        );
        self
    }

    pub(crate) fn expiring(mut self, akid: &str, at: SystemTime) -> Self {
        self.0.get_mut(akid).unwrap().expires_at = Some(at);
        self
    }

    /// The credentials of `../shared/spec/example-world.md`.
    pub(crate) fn example_world() -> Self {
        let sessions_end = at("20990101T000000Z");
        Self::default()
            .with(
                "AKIAIOSFODNN7EXAMPLE",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                None,
                "arn:aws:iam::917561075114:user/latticeuser",
            )
            .with(
                "AKIAI44QH8DHBEXAMPLE",
                "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
                None,
                "arn:aws:iam::917561075114:user/latticeclient",
            )
            .with(
                "AKIAEXAMPLENOPERMS01",
                "NoPermsSecretKeyEXAMPLEEXAMPLEEXAMPLE001",
                None,
                "arn:aws:iam::917561075114:user/noperms",
            )
            .with(
                "ASIAEXAMPLEBSESSION1",
                "bSessionSecretKeyEXAMPLEEXAMPLEEXAMPLE01",
                Some("IQoJb3JpZ2luX2VjEXAMPLEACCOUNTBSESSIONTOKEN"),
                "arn:aws:sts::111122223333:assumed-role/app/i-0abc123example",
            )
            .expiring("ASIAEXAMPLEBSESSION1", sessions_end)
            .with(
                "ASIAEXAMPLECSESSION1",
                "cSessionSecretKeyEXAMPLEEXAMPLEEXAMPLE01",
                Some("IQoJb3JpZ2luX2VjEXAMPLEACCOUNTCSESSIONTOKEN"),
                "arn:aws:sts::444455556666:assumed-role/outsider/i-0def456example",
            )
            .expiring("ASIAEXAMPLECSESSION1", sessions_end)
    }
}

impl CredentialSource for Creds {
    type Credential<'s> = Credential<'s, String>;

    fn credential<'s>(
        &'s self,
        access_key_id: &str,
        _session_token: Option<&[u8]>,
    ) -> Option<Credential<'s, String>> {
        self.0
            .get_key_value(access_key_id)
            .map(|(key, e)| Credential {
                access_key_id: key,
                secret: &e.secret,
                session_token: e.token.as_deref(),
                expires_at: e.expires_at,
                principal: &e.principal,
            })
    }
}

/// `YYYYMMDDTHHMMSSZ` (or `YYYY-MM-DDTHH:MM:SSZ`) as a `SystemTime`.
pub(crate) fn at(text: &str) -> SystemTime {
    let t: String = text.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let n = |r: std::ops::Range<usize>| t[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(4..6), n(6..8));
    // days_from_civil
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let secs = days * 86_400 + n(9..11) * 3600 + n(11..13) * 60 + n(13..15);
    UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap())
}

/// The Lattice deny body of an error: `Exception: message`.
pub(crate) fn body(e: &lattice_authz::sigv4::SigV4Error) -> String {
    format!("{}: {}", e.exception(), e)
}
