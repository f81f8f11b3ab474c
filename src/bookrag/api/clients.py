"""Who a request's client is, as a key it cannot multiply: an IPv4 address, an IPv6 /64.

Never a port, and never a string that is not an address (a trusted proxy's junk falls back
to the proxy); behind a trusted proxy, the nearest untrusted `X-Forwarded-For` entry.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import Scope

IPV6_CLIENT_PREFIX = 64
MAX_PEER_CHARS = 64  # a peer that is not an IP address (a unix socket, a test client)


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str) -> Address | None:
    """`text` as an IP address, without a port (`1.2.3.4:80`, `[2001:db8::1]:443`) and with
    an IPv4-mapped IPv6 address as the IPv4 one; None for anything else."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]  # IPv4 with a port (IPv6 has at least two colons)
    if not text or len(text) > 45:  # the longest textual IPv6 address
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_key(address: Address) -> str:
    """The rate limiting key for `address`: itself for IPv4, its /64 for IPv6."""
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    network = ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False)
    return str(network)


class ClientAddress:
    """The client's address: the peer, or `X-Forwarded-For` when the peer is a trusted proxy.

    The chain is read from the right, skipping trusted proxies, so the entries a client
    writes itself (on the left) are never taken while a trusted proxy's are there. `*`
    trusts any peer as one proxy, whose own entry (the rightmost) names the client. An entry
    that is not an address ends the walk: the last trusted hop is the best we know.
    """

    def __init__(self, trusted: Iterable[str]) -> None:
        self.any_peer = False
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in trusted:
            if entry == "*":
                self.any_peer = True
            elif entry:
                self.networks.append(ipaddress.ip_network(entry, strict=False))

    def trusted(self, address: Address) -> bool:
        return any(address in network for network in self.networks)

    def address(self, scope: Scope) -> Address | str:
        """The client's IP address, or the peer as the server named it if it has none."""
        peer = scope.get("client")
        named = str(peer[0]) if peer else "unknown"
        peer_address = parse_address(named)
        address: Address | str = named[:MAX_PEER_CHARS] if peer_address is None else peer_address
        if not (self.any_peer or (peer_address is not None and self.trusted(peer_address))):
            return address
        raw: bytes = dict(scope["headers"]).get(b"x-forwarded-for", b"")
        hops = [h for h in raw.decode("latin-1").split(",") if h.strip()]
        if self.any_peer and hops:
            hops = hops[-1:]  # only the proxy's own entry
        for hop in reversed(hops):
            found = parse_address(hop)
            if found is None:
                break  # junk: the client is not known beyond the last trusted hop
            address = found
            if not self.trusted(found):
                break
        return address

    def of(self, scope: Scope) -> str:
        """The client's address as text (for the access log)."""
        return str(self.address(scope))

    def key(self, scope: Scope) -> str:
        """The client as the limits count it: IPv4 address or IPv6 /64."""
        address = self.address(scope)
        return address if isinstance(address, str) else client_key(address)
