"""A minimal rtnetlink client over the socket module: links, addresses, routes.

The fast network path needs a dozen kernel calls per container (a bridge, a
veth pair with one end in the container's namespace, addresses, a default
route). Doing them over one netlink socket costs microseconds each, where one
``ip`` process costs ~2 ms and pyroute2 costs tens of ms to import. Only what
podium uses is here; messages are built by pure functions that unit tests
check byte for byte, and every kernel refusal becomes an ``OSError`` carrying
the errno and, when the kernel sends one, its extended-ack message.

A socket works in the network namespace it was created in: open one in the
host namespace, and one from a thread that entered the container's namespace
(see netns.py).
"""

from __future__ import annotations

import os
import socket
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator

# message types
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_SETLINK = 16, 17, 18, 19
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
RTM_DELNEIGH, NDA_DST = 29, 1
NLMSG_ERROR, NLMSG_DONE = 2, 3
# flags
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK = 0x1, 0x2, 0x4
NLM_F_DUMP, NLM_F_EXCL, NLM_F_CREATE = 0x300, 0x200, 0x400
NLA_F_NESTED = 0x8000
# link attributes
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER = 1, 3, 4, 10
IFLA_LINKINFO, IFLA_NET_NS_FD = 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFF_UP = 0x1
# address and route attributes
IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST = 1, 2, 4
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_TABLE = 1, 4, 5, 6, 15
RT_TABLE_MAIN, RTPROT_STATIC, RT_SCOPE_UNIVERSE, RTN_UNICAST = 254, 4, 0, 1
# socket options
SOL_NETLINK, NETLINK_EXT_ACK = 270, 11
NLMSGERR_ATTR_MSG = 1

_HDR = struct.Struct("=IHHII")       # nlmsghdr: len, type, flags, seq, pid
_IFINFO = struct.Struct("=BxHiII")   # ifinfomsg: family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")    # ifaddrmsg: family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # rtmsg: family, dst_len, src_len, tos, table, proto, scope, type, flags
_NDMSG = struct.Struct("=BxxxiHBB")   # ndmsg: family, ifindex, state, flags, type


# ---- encoding (pure) -------------------------------------------------------------
def attr(kind: int, data: bytes) -> bytes:
    """One rtattr, padded to 4 bytes."""
    length = 4 + len(data)
    return struct.pack("=HH", length, kind) + data + b"\0" * (-length & 3)


def nested(kind: int, *attrs: bytes) -> bytes:
    return attr(kind | NLA_F_NESTED, b"".join(attrs))


def strz(s: str) -> bytes:
    return s.encode() + b"\0"


def u32(n: int) -> bytes:
    return struct.pack("=I", n)


def ifinfo(index: int = 0, *, flags: int = 0, change: int = 0) -> bytes:
    return _IFINFO.pack(socket.AF_UNSPEC, 0, index, flags, change)


def message(kind: int, flags: int, body: bytes, seq: int = 0) -> bytes:
    return _HDR.pack(_HDR.size + len(body), kind, flags, seq, 0) + body


def mac_bytes(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":"))


def new_bridge_body(name: str, *, mtu: int | None = None, mac: str | None = None) -> bytes:
    """A bridge, up. With ``mac`` its address is fixed: otherwise the kernel gives a bridge the
    lowest address of its ports, which changes as containers come and go, and the ARP
    entries the other containers hold for the gateway go stale (their packets are lost)."""
    extra = attr(IFLA_MTU, u32(mtu)) if mtu else b""
    if mac:
        extra += attr(IFLA_ADDRESS, mac_bytes(mac))
    return (ifinfo(flags=IFF_UP, change=IFF_UP) + attr(IFLA_IFNAME, strz(name)) + extra
            + nested(IFLA_LINKINFO, attr(IFLA_INFO_KIND, b"bridge")))


def new_veth_body(name: str, peer: str, *, peer_netns_fd: int, master: int,
                  mtu: int | None = None, peer_mac: str | None = None) -> bytes:
    """A veth pair: ``name`` here, up and enslaved to ``master``; ``peer`` in another namespace."""
    mtu_attr = attr(IFLA_MTU, u32(mtu)) if mtu else b""
    mac_attr = attr(IFLA_ADDRESS, mac_bytes(peer_mac)) if peer_mac else b""
    peer_msg = (ifinfo() + attr(IFLA_IFNAME, strz(peer)) + mtu_attr + mac_attr
                + attr(IFLA_NET_NS_FD, u32(peer_netns_fd)))
    return (ifinfo(flags=IFF_UP, change=IFF_UP) + attr(IFLA_IFNAME, strz(name)) + mtu_attr
            + attr(IFLA_MASTER, u32(master))
            + nested(IFLA_LINKINFO, attr(IFLA_INFO_KIND, b"veth"),
                     nested(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer_msg))))


def addr_body(index: int, ip: str, prefixlen: int, *, broadcast: str | None = None) -> bytes:
    packed = socket.inet_aton(ip)
    body = _IFADDR.pack(socket.AF_INET, prefixlen, 0, RT_SCOPE_UNIVERSE, index)
    body += attr(IFA_LOCAL, packed) + attr(IFA_ADDRESS, packed)
    if broadcast:
        body += attr(IFA_BROADCAST, socket.inet_aton(broadcast))
    return body


def default_route_body(gateway: str, index: int, *, metric: int = 100) -> bytes:
    body = _RTMSG.pack(socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_STATIC, RT_SCOPE_UNIVERSE,
                       RTN_UNICAST, 0)
    return (body + attr(RTA_GATEWAY, socket.inet_aton(gateway)) + attr(RTA_OIF, u32(index))
            + attr(RTA_PRIORITY, u32(metric)))


# ---- decoding (pure) -------------------------------------------------------------
def parse_attrs(data: bytes, offset: int = 0) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, offset)
        if length < 4:
            break
        out[kind & ~NLA_F_NESTED] = data[offset + 4:offset + length]
        offset += (length + 3) & ~3
    return out


def split_messages(data: bytes) -> Iterator[tuple[int, int, int, bytes]]:
    """(type, flags, seq, payload) for each message in one datagram."""
    offset = 0
    while offset + _HDR.size <= len(data):
        length, kind, flags, seq, _pid = _HDR.unpack_from(data, offset)
        if length < _HDR.size:
            break
        yield kind, flags, seq, data[offset + _HDR.size:offset + length]
        offset += (length + 3) & ~3


def parse_error(payload: bytes) -> tuple[int, str]:
    """An NLMSG_ERROR payload -> (errno, extended-ack message or '')."""
    (code,) = struct.unpack_from("=i", payload, 0)
    msg = ""
    if len(payload) > 4 + _HDR.size:
        inner_len = struct.unpack_from("=I", payload, 4)[0]
        # with NETLINK_EXT_ACK and no NETLINK_CAP_ACK the request is echoed back in full
        tlv_at = 4 + (inner_len if code else _HDR.size)
        tlvs = parse_attrs(payload, tlv_at) if tlv_at < len(payload) else {}
        if NLMSGERR_ATTR_MSG in tlvs:
            msg = tlvs[NLMSGERR_ATTR_MSG].rstrip(b"\0").decode(errors="replace")
    return -code, msg


def parse_link(payload: bytes) -> dict[str, Any]:
    _family, _type, index, flags, _change = _IFINFO.unpack_from(payload, 0)
    a = parse_attrs(payload, _IFINFO.size)
    info = parse_attrs(a[IFLA_LINKINFO]) if IFLA_LINKINFO in a else {}
    return {
        "index": index,
        "flags": flags,
        "name": a.get(IFLA_IFNAME, b"").rstrip(b"\0").decode(),
        "master": struct.unpack("=I", a[IFLA_MASTER])[0] if IFLA_MASTER in a else 0,
        "mac": ":".join(f"{b:02x}" for b in a.get(IFLA_ADDRESS, b"")),
        "kind": info.get(IFLA_INFO_KIND, b"").rstrip(b"\0").decode(),
    }


def parse_addr(payload: bytes) -> dict[str, Any]:
    family, prefixlen, _flags, _scope, index = _IFADDR.unpack_from(payload, 0)
    a = parse_attrs(payload, _IFADDR.size)
    raw = a.get(IFA_LOCAL) or a.get(IFA_ADDRESS) or b""
    return {"family": family, "prefixlen": prefixlen, "index": index,
            "address": socket.inet_ntoa(raw) if family == socket.AF_INET and len(raw) == 4 else ""}


def parse_route(payload: bytes) -> dict[str, Any]:
    family, dst_len, _src, _tos, table, _proto, _scope, rtype, _flags = _RTMSG.unpack_from(payload, 0)
    a = parse_attrs(payload, _RTMSG.size)
    if RTA_TABLE in a:
        table = struct.unpack("=I", a[RTA_TABLE])[0]
    dst = a.get(RTA_DST, b"")
    return {"family": family, "dst_len": dst_len, "table": table, "type": rtype,
            "dst": socket.inet_ntoa(dst) if family == socket.AF_INET and len(dst) == 4 else "0.0.0.0"}


# ---- the socket --------------------------------------------------------------------
class Netlink:
    """One NETLINK_ROUTE socket; requests are synchronous (send, then read the ack)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                  socket.NETLINK_ROUTE)
        try:
            self.sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        except OSError:
            pass
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Netlink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, kind: int, body: bytes, *, flags: int = 0, what: str = "") -> list[bytes]:
        """Send one request; return the payloads of the replies (a dump's many, or none)."""
        self.seq += 1
        seq = self.seq
        self.sock.send(message(kind, NLM_F_REQUEST | NLM_F_ACK | flags, body, seq))
        out: list[bytes] = []
        while True:
            data = self.sock.recv(1 << 16)
            for mkind, _mflags, mseq, payload in split_messages(data):
                if mseq != seq:
                    continue
                if mkind == NLMSG_DONE:
                    return out
                if mkind == NLMSG_ERROR:
                    code, msg = parse_error(payload)
                    if code:
                        detail = f"{what}: " if what else ""
                        raise OSError(code, detail + (msg or os.strerror(code)))
                    return out
                out.append(payload)

    # ---- neighbours
    def forget_neighbour(self, index: int, ip: str) -> None:
        """Drop the host's cached MAC for ``ip`` on link ``index`` (none cached is fine)."""
        body = _NDMSG.pack(socket.AF_INET, index, 0, 0, 0) + attr(NDA_DST, socket.inet_aton(ip))
        try:
            self.request(RTM_DELNEIGH, body, what=f"forget neighbour {ip}")
        except OSError as exc:
            if exc.errno != 2:  # ENOENT: nothing cached
                raise

    # ---- links
    def links(self) -> list[dict[str, Any]]:
        return [parse_link(p) for p in self.request(RTM_GETLINK, ifinfo(), flags=NLM_F_DUMP)]

    def link(self, name: str) -> dict[str, Any] | None:
        try:
            got = self.request(RTM_GETLINK, ifinfo() + attr(IFLA_IFNAME, strz(name)))
        except OSError as exc:
            if exc.errno == 19:  # ENODEV
                return None
            raise
        return parse_link(got[0]) if got else None

    def add_bridge(self, name: str, *, mtu: int | None = None, mac: str | None = None) -> None:
        self.request(RTM_NEWLINK, new_bridge_body(name, mtu=mtu, mac=mac), flags=NLM_F_CREATE | NLM_F_EXCL,
                     what=f"create bridge {name}")

    def set_mac(self, index: int, mac: str) -> None:
        self.request(RTM_NEWLINK, ifinfo(index) + attr(IFLA_ADDRESS, mac_bytes(mac)), what="set address")

    def add_veth(self, name: str, peer: str, *, peer_netns_fd: int, master: int,
                 mtu: int | None = None, peer_mac: str | None = None) -> None:
        self.request(RTM_NEWLINK, new_veth_body(name, peer, peer_netns_fd=peer_netns_fd,
                                                master=master, mtu=mtu, peer_mac=peer_mac),
                     flags=NLM_F_CREATE | NLM_F_EXCL, what=f"create veth {name}")

    def set_up(self, index: int) -> None:
        self.request(RTM_NEWLINK, ifinfo(index, flags=IFF_UP, change=IFF_UP), what="set link up")

    def delete_index(self, index: int) -> bool:
        """Delete a link by index; False if there was none."""
        try:
            self.request(RTM_DELLINK, ifinfo(index), what=f"delete link {index}")
        except OSError as exc:
            if exc.errno == 19:  # ENODEV
                return False
            raise
        return True

    def delete_link(self, name: str) -> bool:
        """Delete a link by name; False if there was none."""
        try:
            self.request(RTM_DELLINK, ifinfo() + attr(IFLA_IFNAME, strz(name)), what=f"delete {name}")
        except OSError as exc:
            if exc.errno == 19:  # ENODEV
                return False
            raise
        return True

    # ---- addresses and routes
    def add_address(self, index: int, ip: str, prefixlen: int, *, broadcast: str | None = None,
                    exist_ok: bool = False) -> None:
        try:
            self.request(RTM_NEWADDR, addr_body(index, ip, prefixlen, broadcast=broadcast),
                         flags=NLM_F_CREATE | NLM_F_EXCL, what=f"add address {ip}/{prefixlen}")
        except OSError as exc:
            if not (exist_ok and exc.errno == 17):  # EEXIST
                raise

    def addresses(self) -> list[dict[str, Any]]:
        body = _IFADDR.pack(socket.AF_INET, 0, 0, 0, 0)
        return [parse_addr(p) for p in self.request(RTM_GETADDR, body, flags=NLM_F_DUMP)]

    def add_default_route(self, gateway: str, index: int, *, metric: int = 100) -> None:
        self.request(RTM_NEWROUTE, default_route_body(gateway, index, metric=metric),
                     flags=NLM_F_CREATE | NLM_F_EXCL, what=f"add default route via {gateway}")

    def routes(self) -> list[dict[str, Any]]:
        body = _RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)
        return [parse_route(p) for p in self.request(RTM_GETROUTE, body, flags=NLM_F_DUMP)]
