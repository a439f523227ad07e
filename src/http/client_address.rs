//! Who a request comes from, for the per-client limit on creating sessions.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Who a session-creating request comes from, for the per-client creation limit: its peer
/// address, grouped so that a client cannot multiply its allowance by choosing addresses. The
/// whole loopback range (127.0.0.0/8, ::1) is one client, since any local process can bind any
/// of its addresses; so is an IPv6 /64, which one host is usually handed whole. A connection
/// without a peer address (never the case over TCP) shares one allowance.
pub fn creator(req: &actix_web::HttpRequest) -> construct_actors::Creator {
    let unknown = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    construct_actors::Creator::Client(req.peer_addr().map_or(unknown, |peer| client(peer.ip())))
}

/// The address that stands for every address of `ip`'s client (see [`creator`]).
fn client(ip: IpAddr) -> IpAddr {
    let ip = ip.to_canonical();
    if ip.is_loopback() {
        return IpAddr::V4(Ipv4Addr::LOCALHOST);
    }
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_loopback_address_is_one_client() {
        let one = client("127.0.0.1".parse().unwrap());
        for other in ["127.0.3.7", "127.255.255.254", "::1", "::ffff:127.0.0.9"] {
            assert_eq!(client(other.parse().unwrap()), one, "{other}");
        }
    }

    #[test]
    fn an_ipv6_slash_64_is_one_client_and_ipv4_hosts_stay_apart() {
        assert_eq!(
            client("2001:db8:1:2:aaaa::1".parse().unwrap()),
            client("2001:db8:1:2:bbbb::9".parse().unwrap())
        );
        assert_ne!(
            client("2001:db8:1:2::1".parse().unwrap()),
            client("2001:db8:1:3::1".parse().unwrap())
        );
        assert_ne!(
            client("10.0.0.1".parse().unwrap()),
            client("10.0.0.2".parse().unwrap())
        );
    }
}
