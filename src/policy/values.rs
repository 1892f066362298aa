//! Typed condition values: exact decimals, instants, CIDR blocks, base-64, booleans, and a
//! stack buffer that renders typed context values as text without allocating.

use crate::civil::{civil_from_days, days_from_civil};
use std::fmt;
use std::net::IpAddr;

// === Decimal ===

/// Most digits before the decimal point in a numeric condition value.
pub const MAX_NUMBER_INTEGER_DIGITS: usize = 20;
/// Most digits after the decimal point in a numeric condition value.
pub const MAX_NUMBER_FRACTION_DIGITS: usize = 18;

const SCALE: i128 = 1_000_000_000_000_000_000; // 10^MAX_NUMBER_FRACTION_DIGITS

/// An exact decimal (`Numeric*` operators): the value times 10^18, so `1.10 == 1.1` and
/// `0.1 + 0.2`-style float surprises cannot happen. Bounded by [`MAX_NUMBER_INTEGER_DIGITS`]
/// and [`MAX_NUMBER_FRACTION_DIGITS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Decimal(i128);

impl Decimal {
    pub(crate) fn from_i64(n: i64) -> Self {
        Self(i128::from(n) * SCALE)
    }

    /// `[+-]digits[.digits]`, at least one digit; no exponent.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        let (neg, body) = match s.as_bytes().first() {
            Some(b'-') => (true, s.get(1..)?),
            Some(b'+') => (false, s.get(1..)?),
            _ => (false, s),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
            || (body.contains('.') && frac.is_empty() && int.is_empty())
        {
            return None;
        }
        let int = int.trim_start_matches('0');
        let frac = frac.trim_end_matches('0');
        if int.len() > MAX_NUMBER_INTEGER_DIGITS || frac.len() > MAX_NUMBER_FRACTION_DIGITS {
            return None;
        }
        let mut v: i128 = 0;
        for b in int.bytes() {
            v = v * 10 + i128::from(b - b'0');
        }
        let mut f: i128 = 0;
        let mut scale = SCALE;
        for b in frac.bytes() {
            scale /= 10;
            f += i128::from(b - b'0') * scale;
        }
        let v = v * SCALE + f;
        Some(Self(if neg { -v } else { v }))
    }
}

// === Timestamp ===

/// An instant: seconds since the epoch and nanoseconds (`Date*` operators).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Timestamp {
    secs: i64,
    nanos: u32,
}

impl Timestamp {
    pub(crate) fn from_secs(secs: i64) -> Self {
        Self { secs, nanos: 0 }
    }

    /// Parses the forms IAM accepts (iam-policy §1.6): epoch seconds (`1700000000`,
    /// `-292275054`), or W3C/ISO 8601 `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, then `T` (any case) and
    /// `h:mm`, `hh:mm`, `hh:mm:ss` or `hh:mm:ss.fraction`, then `Z`, `±hh`, `±hhmm` or `±hh:mm`
    /// (no zone means UTC). Exactly four digits are a year, not an epoch time.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        let digits_only = |x: &[u8]| !x.is_empty() && x.iter().all(u8::is_ascii_digit);
        if (b.len() != 4 && digits_only(b))
            || (b.first() == Some(&b'-') && digits_only(b.get(1..).unwrap_or_default()))
        {
            return s.parse::<i64>().ok().map(Self::from_secs);
        }
        let mut c = Cursor { b, pos: 0 };
        let year = c.fixed(4)?;
        let (mut month, mut day) = (1, 1);
        let (mut hour, mut minute, mut second, mut nanos) = (0, 0, 0, 0u32);
        let mut offset: i64 = 0;
        if c.eat(b'-') {
            month = c.fixed(2)?;
            if c.eat(b'-') {
                day = c.fixed(2)?;
                if c.eat(b'T') || c.eat(b't') {
                    hour = c.one_or_two()?;
                    if !c.eat(b':') {
                        return None;
                    }
                    minute = c.fixed(2)?;
                    if c.eat(b':') {
                        second = c.fixed(2)?;
                        if c.eat(b'.') {
                            let start = c.pos;
                            let mut n: u64 = 0;
                            while let Some(d) = c.digit() {
                                if c.pos - start <= 9 {
                                    n = n * 10 + u64::from(d);
                                }
                            }
                            let len = c.pos - start;
                            if len == 0 {
                                return None;
                            }
                            for _ in len.min(9)..9 {
                                n *= 10;
                            }
                            nanos = u32::try_from(n).ok()?;
                        }
                    }
                    offset = c.zone()?;
                }
            }
        }
        if c.pos != b.len() {
            return None;
        }
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
        Some(Self { secs, nanos })
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn digit(&mut self) -> Option<u8> {
        let d = self.b.get(self.pos).filter(|d| d.is_ascii_digit())?;
        self.pos += 1;
        Some(d - b'0')
    }
    fn fixed(&mut self, n: usize) -> Option<i64> {
        let mut v = 0i64;
        for _ in 0..n {
            v = v * 10 + i64::from(self.digit()?);
        }
        Some(v)
    }
    fn one_or_two(&mut self) -> Option<i64> {
        let mut v = i64::from(self.digit()?);
        if let Some(d) = self.digit() {
            v = v * 10 + i64::from(d);
        }
        Some(v)
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.pos) == Some(&c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    /// Zone designator in seconds east of UTC; absent means UTC.
    fn zone(&mut self) -> Option<i64> {
        if self.eat(b'Z') || self.eat(b'z') || self.pos == self.b.len() {
            return Some(0);
        }
        let sign = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return None;
        };
        let h = self.fixed(2)?;
        let m = if self.pos == self.b.len() {
            0
        } else {
            self.eat(b':');
            self.fixed(2)?
        };
        if h > 23 || m > 59 {
            return None;
        }
        Some(sign * (h * 3600 + m * 60))
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Writes `secs` as `YYYY-MM-DDThh:mm:ssZ`.
pub(crate) fn write_iso(out: &mut impl fmt::Write, secs: i64) -> fmt::Result {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

// === CIDR ===

/// An IPv4 or IPv6 network (`IpAddress` / `NotIpAddress`).
///
/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, iam-policy §6 q10) match by either form: an
/// IPv4 block contains the mapped address of one of its members, and an IPv6 block contains an
/// IPv4 address whose mapped form it contains. Other mixed families never match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `addr` (→ /32 or /128, as IAM does) or `addr/prefix`. Host bits are cleared.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => {
                if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                (a, Some(p.parse::<u8>().ok()?))
            }
            None => (s, None),
        };
        let net: IpAddr = addr.parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return None;
        }
        let net = match net {
            IpAddr::V4(a) => IpAddr::V4((u32::from(a) & mask32(prefix)).into()),
            IpAddr::V6(a) => IpAddr::V6((u128::from(a) & mask128(prefix)).into()),
        };
        Some(Self { net, prefix })
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => u32::from(a) & mask32(self.prefix) == u32::from(n),
            (IpAddr::V6(n), IpAddr::V6(a)) => u128::from(a) & mask128(self.prefix) == u128::from(n),
            (IpAddr::V4(_), IpAddr::V6(a)) => a
                .to_ipv4_mapped()
                .is_some_and(|a| self.contains(IpAddr::V4(a))),
            (IpAddr::V6(_), IpAddr::V4(a)) => self.contains(IpAddr::V6(a.to_ipv6_mapped())),
        }
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

// === base-64, booleans ===

/// Standard base-64 (RFC 4648 alphabet, `=` padding optional).
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let body = s.trim_end_matches('=');
    if s.len() - body.len() > 2 || body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in body.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xFF).unwrap_or(0));
        }
    }
    Some(out)
}

/// `true` / `false` in any case.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

// === StrBuf ===

/// A 64-byte stack buffer for rendering a typed context value (number, date, IP) as text.
#[derive(Debug)]
pub(crate) struct StrBuf {
    buf: [u8; 64],
    len: usize,
}

impl StrBuf {
    pub(crate) fn new() -> Self {
        Self {
            buf: [0; 64],
            len: 0,
        }
    }
    pub(crate) fn as_str(&self) -> &str {
        self.buf
            .get(..self.len)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }
}

impl fmt::Write for StrBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Option<Decimal> {
        Decimal::parse(s)
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(d("1.10"), d("1.1"));
        assert_eq!(d("-0"), d("0"));
        assert_eq!(d("007"), Some(Decimal::from_i64(7)));
        assert!(d("0.1") < d("0.10000000000000001"));
        assert!(d("-1.5") < d("-1.4"));
        assert_eq!(d(".5"), d("0.5"));
        for bad in [
            "",
            "-",
            ".",
            "1e3",
            "1.2.3",
            "0x10",
            " 1",
            "1 ",
            "--1",
            "123456789012345678901",
        ] {
            assert_eq!(d(bad), None, "{bad}");
        }
        assert!(d("99999999999999999999.999999999999999999").is_some());
    }

    fn t(s: &str) -> Option<i64> {
        Timestamp::parse(s).map(|t| t.secs)
    }

    #[test]
    fn dates_in_iam_forms() {
        assert_eq!(t("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(t("2019-07-01T13:20:15Z"), Some(1_561_987_215));
        assert_eq!(t("2019-07-01t13:20:15z"), Some(1_561_987_215));
        assert_eq!(t("2019-07-01T15:20:15+02:00"), Some(1_561_987_215));
        assert_eq!(t("2019-07-01T15:20:15+0200"), Some(1_561_987_215));
        assert_eq!(t("2019-07-01T13:20Z"), Some(1_561_987_200));
        assert_eq!(t("2019-07-01"), Some(1_561_939_200));
        assert_eq!(t("2019-07"), t("2019-07-01"));
        assert_eq!(t("2019"), t("2019-01-01"));
        assert_eq!(t("1700000000"), Some(1_700_000_000));
        assert_eq!(t("-292275054"), Some(-292_275_054));
        assert!(t("2016-12-13T21:20:37.593194+00:00").is_some());
        assert!(t("2016-12-13t2:00:00.593194+23").is_some());
        for bad in [
            "",
            "2019-13-01",
            "2019-02-30",
            "2019-07-01T25:00Z",
            "2019-7-1",
            "yesterday",
            "2019-07-01T13Z",
            "2019-07-01T13:20:15+2",
        ] {
            assert_eq!(t(bad), None, "{bad}");
        }
        let a = Timestamp::parse("2020-01-01T00:00:00.5Z").unwrap();
        assert!(a > Timestamp::parse("2020-01-01T00:00:00Z").unwrap());
        let mut b = StrBuf::new();
        write_iso(&mut b, 1_561_987_215).unwrap();
        assert_eq!(b.as_str(), "2019-07-01T13:20:15Z");
    }

    #[test]
    fn cidrs() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let c = Cidr::parse("203.0.113.5").unwrap();
        assert!(c.contains(ip("203.0.113.5")));
        assert!(!c.contains(ip("203.0.113.6")));
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains(ip("10.255.0.1")));
        assert!(c.contains(ip("::ffff:10.1.2.3")));
        assert!(!c.contains(ip("2001:db8::1")));
        let c = Cidr::parse("2001:DB8:1234:5678::/64").unwrap();
        assert!(c.contains(ip("2001:db8:1234:5678:ffff::1")));
        assert!(!c.contains(ip("10.0.0.1")));
        assert!(
            Cidr::parse("::ffff:0:0/96")
                .unwrap()
                .contains(ip("10.0.0.1"))
        );
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("1.2.3.4")));
        for bad in [
            "10.0.0.0/33",
            "10.0.0/8",
            "x",
            "10.0.0.1/",
            "::/129",
            "10.0.0.1/-1",
        ] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn base64_and_bools() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8").unwrap(), b"hello");
        assert_eq!(base64_decode("").unwrap(), b"");
        assert!(base64_decode("a").is_none());
        assert!(base64_decode("aGV*").is_none());
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("yes"), None);
    }
}
