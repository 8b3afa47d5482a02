"""IP addresses and route destinations compared as the kernel means them, not as strings.

A check may write 10.0.0.1 or fd00::0001, and "default" or 0.0.0.0/0, where the snapshot holds
the kernel's spelling; several kinds (route, fdb, neighbour, vxlan, reachable) compare the two.
"""
from __future__ import annotations

import ipaddress
import socket


def same_ip(a: str | None, b: str | None) -> bool:
    """The same address, however written (None only equals None; a non-address compares as text)."""
    if a is None or b is None:
        return a == b
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return a == b


def route_key(dst: str, family: int | None = None):
    """A comparable destination: ("default", family) or an ip_network."""
    if dst == "default":
        return ("default", family)
    try:
        net = ipaddress.ip_network(dst, strict=False)
    except ValueError:
        return dst
    if net.prefixlen == 0:
        return ("default", socket.AF_INET6 if net.version == 6 else socket.AF_INET)
    return net
