//! The SSRF guard: which addresses a source may not reach unless it is allowed to.
//!
//! A feed URL is user input. Without a guard, `http://169.254.169.254/latest/meta-data/`
//! or `http://127.0.0.1:6379/` would let whoever adds sources read the cloud metadata
//! service or poke internal services. The guard runs where the address is known: in the
//! DNS resolver (so a public name that resolves to a private address, and every redirect
//! target, is checked), and on URLs whose host is an IP literal (which skip DNS).

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;

/// Why an address is off limits, or `None` when a source may reach it.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if first & 0xfe00 == 0xfc00 {
                Some("private (unique local)")
            } else if first & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if v6.is_multicast() {
                Some("multicast")
            } else if first == 0x0064 && v6.segments()[1] == 0xff9b {
                // NAT64 prefix: the embedded IPv4 address decides.
                let [.., a, b] = v6.segments();
                let [a1, a2] = a.to_be_bytes();
                let [b1, b2] = b.to_be_bytes();
                forbidden_v4(Ipv4Addr::new(a1, a2, b1, b2))
            } else {
                None
            }
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip == Ipv4Addr::new(169, 254, 169, 254) {
        Some("cloud metadata service")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified (\"this network\")")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared address space (carrier-grade NAT)")
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("multicast, broadcast or reserved")
    } else {
        None
    }
}

/// A connection refused by the guard; found in a request error's source chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refused: {host} resolves to {ip}, a {reason} address (add the source with --allow-private to permit)"
)]
pub struct BlockedAddress {
    /// The name or literal as in the URL.
    pub host: String,
    /// The offending address.
    pub ip: IpAddr,
    /// What kind of address it is.
    pub reason: &'static str,
}

/// Checks a URL whose host is an IP literal (names are checked when resolved).
pub fn check_literal(url: &url::Url) -> Result<(), BlockedAddress> {
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return Ok(()),
    };
    match forbidden_reason(ip) {
        Some(reason) => Err(BlockedAddress {
            host: url.host_str().unwrap_or_default().to_owned(),
            ip,
            reason,
        }),
        None => Ok(()),
    }
}

/// A DNS resolver that drops forbidden addresses, and fails when none is left, so a
/// request cannot reach them whatever name or redirect led there.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct GuardedResolver;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let lookup: Pin<Box<dyn Future<Output = Result<reqwest::dns::Addrs, BoxError>> + Send>> =
            Box::pin(async move {
                let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
                let mut allowed = Vec::with_capacity(resolved.len());
                let mut first_blocked = None;
                for addr in resolved {
                    match forbidden_reason(addr.ip()) {
                        None => allowed.push(addr),
                        Some(reason) => {
                            first_blocked.get_or_insert(BlockedAddress {
                                host: host.clone(),
                                ip: addr.ip(),
                                reason,
                            });
                        }
                    }
                }
                if allowed.is_empty()
                    && let Some(blocked) = first_blocked
                {
                    return Err(Box::new(blocked) as BoxError);
                }
                Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
            });
        lookup
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;

    fn reason(s: &str) -> Option<&'static str> {
        forbidden_reason(s.parse().unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED)))
    }

    #[test]
    fn internal_addresses_are_refused_and_public_ones_pass() {
        for (ip, expected) in [
            ("127.0.0.1", Some("loopback")),
            ("10.1.2.3", Some("private")),
            ("172.16.0.1", Some("private")),
            ("192.168.1.1", Some("private")),
            ("169.254.169.254", Some("cloud metadata service")),
            ("169.254.1.1", Some("link-local")),
            ("0.0.0.0", Some("unspecified (\"this network\")")),
            ("100.64.0.1", Some("shared address space (carrier-grade NAT)")),
            ("255.255.255.255", Some("multicast, broadcast or reserved")),
            ("::1", Some("loopback")),
            ("fd00:ec2::254", Some("private (unique local)")),
            ("fe80::1", Some("link-local")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("64:ff9b::a00:1", Some("private")),
            ("93.184.215.14", None),
            ("2606:4700::1111", None),
            ("172.32.0.1", None),
            ("100.128.0.1", None),
        ] {
            assert_eq!(reason(ip), expected, "{ip}");
        }
    }

    #[test]
    fn literal_hosts_are_checked_and_names_left_to_the_resolver() {
        let check = |s: &str| url::Url::parse(s).map(|u| check_literal(&u).is_ok());
        assert_eq!(check("http://127.0.0.1:8080/feed"), Ok(false));
        assert_eq!(check("http://[::1]/feed"), Ok(false));
        assert_eq!(check("http://169.254.169.254/latest/meta-data/"), Ok(false));
        assert_eq!(check("https://93.184.215.14/"), Ok(true));
        assert_eq!(check("http://localhost/feed"), Ok(true));
    }
}
