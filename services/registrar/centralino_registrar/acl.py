"""Per-account IP access control (ACC-11, FEAT-08).

An account carries an "allowed address" and an "allowed subnet mask"; REGISTER and INVITE
are accepted only from sources inside that network. The mask may be written as a dotted
IPv4 mask (``255.255.255.0``) or as a prefix length (``24``); an empty address means "any".
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class AclConfigError(ValueError):
    """The account's ACL cannot be interpreted; requests are refused (fail closed)."""

    def __init__(self, address: str, netmask: str, problem: str) -> None:
        super().__init__(f"invalid ACL {address!r}/{netmask!r}: {problem}")
        self.address = address
        self.netmask = netmask


@dataclass(frozen=True, slots=True)
class Acl:
    network: IPNetwork | None  # None: any source

    @classmethod
    def parse(cls, address: str, netmask: str) -> Acl:
        address, netmask = address.strip(), netmask.strip()
        if not address:
            return cls(None)
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            raise AclConfigError(address, netmask, "address is not an IP address") from None
        if not netmask:
            prefix = str(ip.max_prefixlen)
        elif netmask.isdigit():
            prefix = netmask
        else:
            try:
                mask = ipaddress.ip_address(netmask)
            except ValueError:
                raise AclConfigError(address, netmask, "mask is not an IP mask") from None
            prefix = str(mask)
        try:
            # strict=False: "192.168.1.10/255.255.255.0" means the whole /24, as admins write it
            network = ipaddress.ip_network(f"{ip}/{prefix}", strict=False)
        except ValueError as exc:
            raise AclConfigError(address, netmask, str(exc)) from None
        return cls(network)

    def allows(self, source_ip: str) -> bool:
        if self.network is None:
            return True
        try:
            ip = ipaddress.ip_address(source_ip.strip("[]"))
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return ip.version == self.network.version and ip in self.network
