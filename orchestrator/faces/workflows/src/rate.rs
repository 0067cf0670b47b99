//! Per-IP rate limits of the workflow face: login, the execute routes, `POST /v1/jobs` and
//! the inbound hooks, each counted on its own (a health check never uses up a login
//! allowance) in a fixed one-minute window kept in the store, so every orchestrator on one
//! Redis counts together ([`crate::store::WorkflowStore::count_request`]).
//!
//! The client is the connection's peer address. Behind a proxy, set the trusted proxies
//! (`BATON_TRUSTED_PROXIES`: addresses or CIDR blocks): a request from one of them is
//! counted for the right-most `X-Forwarded-For` address that is not itself trusted, so a
//! client cannot pick its own bucket by sending the header.

use std::net::{IpAddr, SocketAddr};

/// Requests per minute and client for each limited group; 0 turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub login: u32,
    pub execute: u32,
    pub jobs: u32,
    pub hooks: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            login: 5,
            execute: 10,
            jobs: 20,
            hooks: 30,
        }
    }
}

/// The groups of limited routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    Login,
    Execute,
    Jobs,
    Hooks,
}

impl Limited {
    pub fn bucket(self) -> &'static str {
        match self {
            Limited::Login => "login",
            Limited::Execute => "execute",
            Limited::Jobs => "jobs",
            Limited::Hooks => "hooks",
        }
    }

    pub fn per_minute(self, limits: &RateLimits) -> u32 {
        match self {
            Limited::Login => limits.login,
            Limited::Execute => limits.execute,
            Limited::Jobs => limits.jobs,
            Limited::Hooks => limits.hooks,
        }
    }
}

/// An address or a CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    addr: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Block {
    type Err = String;

    fn from_str(s: &str) -> Result<Block, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not an IP address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}`: the prefix length must be 0 to {max}"))?,
        };
        Ok(Block { addr, prefix })
    }
}

impl Block {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |ip: IpAddr| -> (u128, u32) {
            match ip {
                IpAddr::V4(v4) => (u128::from(u32::from(v4)) << 96, 32),
                IpAddr::V6(v6) => (u128::from(v6), 128),
            }
        };
        // An IPv4 client may show as ::ffff:a.b.c.d on a dual-stack socket.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        let ((a, width), (b, other)) = (bits(self.addr), bits(ip));
        if width != other {
            return false;
        }
        // Both are left-aligned in 128 bits, so the prefix is always the top bits.
        let prefix = u32::from(self.prefix);
        if prefix == 0 {
            return true;
        }
        let mask = u128::MAX << (128 - prefix);
        (a & mask) == (b & mask)
    }
}

/// Parses `BATON_TRUSTED_PROXIES` (comma-separated addresses and blocks).
pub fn parse_proxies(spec: &str) -> Result<Vec<Block>, String> {
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect()
}

/// The address a request is counted for (see the module docs); `unknown` without a peer.
pub fn client_ip(peer: Option<SocketAddr>, forwarded: Option<&str>, trusted: &[Block]) -> String {
    let Some(peer) = peer.map(|p| p.ip()) else {
        return "unknown".into();
    };
    let is_trusted = |ip: IpAddr| trusted.iter().any(|b| b.contains(ip));
    if !is_trusted(peer) {
        return peer.to_string();
    }
    let Some(list) = forwarded else {
        return peer.to_string();
    };
    let mut last = peer;
    for hop in list.rsplit(',').map(str::trim) {
        match hop.parse::<IpAddr>() {
            Ok(ip) if is_trusted(ip) => last = ip,
            Ok(ip) => return ip.to_string(),
            // Garbage in the header: stop at the last address we could trust.
            Err(_) => break,
        }
    }
    last.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(s: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(s.parse().unwrap(), 4000))
    }

    #[test]
    fn blocks_match_by_prefix() {
        let b: Block = "10.1.0.0/16".parse().unwrap();
        assert!(b.contains("10.1.200.3".parse().unwrap()));
        assert!(!b.contains("10.2.0.1".parse().unwrap()));
        assert!(b.contains("::ffff:10.1.0.9".parse().unwrap()), "v4-mapped");
        let one: Block = "127.0.0.1".parse().unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let v6: Block = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("fe80::1".parse().unwrap()));
        let all: Block = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        for bad in ["10.0.0.0/33", "nope", "1.2.3.4/x"] {
            assert!(bad.parse::<Block>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let trusted = parse_proxies("127.0.0.1, 10.0.0.0/8").unwrap();
        // A client sending the header itself changes nothing.
        assert_eq!(
            client_ip(peer("203.0.113.9"), Some("1.1.1.1"), &trusted),
            "203.0.113.9"
        );
        // Through the proxy: the right-most untrusted hop.
        assert_eq!(
            client_ip(
                peer("127.0.0.1"),
                Some("6.6.6.6, 198.51.100.7, 10.0.0.2"),
                &trusted
            ),
            "198.51.100.7"
        );
        assert_eq!(client_ip(peer("127.0.0.1"), None, &trusted), "127.0.0.1");
        assert_eq!(
            client_ip(peer("127.0.0.1"), Some("junk"), &trusted),
            "127.0.0.1"
        );
        assert_eq!(
            client_ip(peer("127.0.0.1"), Some("1.1.1.1"), &[]),
            "127.0.0.1"
        );
        assert_eq!(client_ip(None, None, &trusted), "unknown");
    }
}
