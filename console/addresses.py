"""A request's client address, the one every limit counts by.

Behind a reverse proxy the peer is the proxy, and the person's address is in `X-Forwarded-For`.
That header is believed only when the peer is one of the configured proxies
(`HOMEWARD_TRUSTED_PROXIES`): then the address is the right-most one in it that is not a trusted
proxy. Anyone else can write what they like there, so from anyone else the peer address counts.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from starlette.requests import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def proxies(setting: str) -> tuple[Network, ...]:
    """The trusted proxies of a comma-separated list of addresses and networks (`10.0.0.0/8, ::1`)."""
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in setting.split(",") if item.strip())


def _trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def forwarded_for(peer: str, header_values: list[str], trusted: tuple[Network, ...]) -> str:
    """The client address given the peer, the `X-Forwarded-For` values in order, and the trusted proxies."""
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for value in header_values for hop in value.split(",")]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a hop a proxy of ours would not write: nothing further left is believed
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops and hops[0] else peer


def client_address(request: Request, trusted_proxies: str) -> str:
    peer = request.client.host if request.client else "unknown"
    return forwarded_for(peer, request.headers.getlist("x-forwarded-for"), proxies(trusted_proxies))
