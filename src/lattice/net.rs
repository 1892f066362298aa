//! CIDR blocks and address lookup for VPCs, security-group rules and endpoints.

use std::fmt;
use std::net::IpAddr;

use super::Map;

/// An IPv4 or IPv6 CIDR block, normalised (host bits cleared).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// A CIDR block that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a CIDR block (expected e.g. `10.0.0.0/16` or `2001:db8::/32`)")]
pub struct InvalidCidr(pub String);

impl Cidr {
    /// Parses `a.b.c.d/n`, `x::y/n`, or a bare address (a /32 or /128).
    pub fn parse(text: &str) -> Result<Self, InvalidCidr> {
        let invalid = || InvalidCidr(text.to_owned());
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| invalid())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse::<u8>().map_err(|_| invalid())?,
            None => max,
        };
        if prefix > max {
            return Err(invalid());
        }
        Ok(Self {
            network: mask(addr, prefix),
            prefix,
        })
    }

    /// Whether `addr` is inside the block. An IPv4-mapped IPv6 address counts as IPv4.
    pub fn contains(&self, addr: IpAddr) -> bool {
        mask(canonical(addr), self.prefix) == self.network
            && canonical(addr).is_ipv4() == self.network.is_ipv4()
    }

    /// Prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Network address.
    pub fn network(&self) -> IpAddr {
        self.network
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are treated as the IPv4 address they carry.
pub(crate) fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        IpAddr::V4(_) => addr,
    }
}

/// An address as messages print it: an IPv4-mapped IPv6 address as the IPv4 address it maps.
pub(crate) fn display_ip(addr: IpAddr) -> String {
    canonical(addr).to_string()
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix))
            };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix))
            };
            IpAddr::V6((bits & m).into())
        }
    }
}

/// Longest-prefix lookup from address to a value: one hash probe per distinct prefix length.
#[derive(Debug, Clone)]
pub(crate) struct PrefixMap<T> {
    // INVARIANT: `lengths` holds each prefix length present in `entries`, longest first.
    lengths: Vec<u8>,
    entries: Map<(IpAddr, u8), T>,
}

impl<T> Default for PrefixMap<T> {
    fn default() -> Self {
        Self {
            lengths: Vec::new(),
            entries: Map::default(),
        }
    }
}

impl<T> PrefixMap<T> {
    /// Inserts a block; returns the previous value for exactly that block, if any.
    pub(crate) fn insert(&mut self, cidr: Cidr, value: T) -> Option<T> {
        if !self.lengths.contains(&cidr.prefix) {
            self.lengths.push(cidr.prefix);
            self.lengths.sort_unstable_by(|a, b| b.cmp(a));
        }
        self.entries.insert((cidr.network, cidr.prefix), value)
    }

    /// The value of the longest block containing `addr`.
    pub(crate) fn lookup(&self, addr: IpAddr) -> Option<&T> {
        let addr = canonical(addr);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        self.lengths
            .iter()
            .filter(|len| **len <= max)
            .find_map(|len| self.entries.get(&(mask(addr, *len), *len)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_contains() {
        let c = Cidr::parse("10.1.2.3/16").unwrap();
        assert_eq!(c.to_string(), "10.1.0.0/16");
        assert!(c.contains("10.1.255.1".parse().unwrap()));
        assert!(!c.contains("10.2.0.1".parse().unwrap()));
        assert!(c.contains("::ffff:10.1.0.9".parse().unwrap()));
        assert!(!c.contains("2001:db8::1".parse().unwrap()));
        assert_eq!(Cidr::parse("127.0.0.1").unwrap().prefix(), 32);
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("nope").is_err());
        assert!(
            Cidr::parse("2001:db8::/32")
                .unwrap()
                .contains("2001:db8:1::5".parse().unwrap())
        );
    }

    #[test]
    fn longest_prefix_wins() {
        let mut m = PrefixMap::default();
        m.insert(Cidr::parse("10.0.0.0/8").unwrap(), "wide");
        m.insert(Cidr::parse("10.1.0.0/16").unwrap(), "narrow");
        assert_eq!(m.lookup("10.1.0.1".parse().unwrap()), Some(&"narrow"));
        assert_eq!(m.lookup("10.2.0.1".parse().unwrap()), Some(&"wide"));
        assert_eq!(m.lookup("11.0.0.1".parse().unwrap()), None);
    }
}
