//! Exercise (Your First Socket): three kinds of socket, and what the kernel
//! says about each.
//!
//! Reference solution.

use anyhow::Context;
use socket2::{Domain, Socket, Type};

fn main() -> anyhow::Result<()> {
    let kinds = [
        ("ipv4 stream", Domain::IPV4, Type::STREAM),
        ("ipv6 stream", Domain::IPV6, Type::STREAM),
        ("ipv4 datagram", Domain::IPV4, Type::DGRAM),
    ];
    for (label, domain, kind) in kinds {
        // Protocol `None` is 0 in socket(2): "the usual one for this type".
        let socket =
            Socket::new(domain, kind, None).with_context(|| format!("socket(2) for {label}"))?;
        // Three getsockopt(2) calls: the kernel's view, not our arguments.
        let domain = socket.domain().context("getsockopt(SO_DOMAIN)")?;
        let kind = socket.r#type().context("getsockopt(SO_TYPE)")?;
        let protocol = match socket.protocol().context("getsockopt(SO_PROTOCOL)")? {
            Some(protocol) => format!("{protocol:?}"),
            None => "unknown".to_string(),
        };
        println!("{label}: domain {domain:?}, type {kind:?}, protocol {protocol}");
        // `socket` is dropped here: close(2).
    }
    Ok(())
}
