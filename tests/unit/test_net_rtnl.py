"""rtnetlink messages built and parsed by pure functions (engine/net/rtnl.py)."""

from __future__ import annotations

import socket
import struct

from podium.engine.net import rtnl


def test_attr_is_padded_to_four_bytes() -> None:
    a = rtnl.attr(rtnl.IFLA_IFNAME, b"eth0\0")
    assert struct.unpack_from("=HH", a) == (9, rtnl.IFLA_IFNAME)
    assert len(a) == 12 and a.endswith(b"\0\0\0")


def test_message_header_counts_the_body() -> None:
    msg = rtnl.message(rtnl.RTM_NEWLINK, rtnl.NLM_F_REQUEST, b"x" * 20, seq=7)
    length, kind, flags, seq, pid = struct.unpack_from("=IHHII", msg)
    assert (length, kind, flags, seq, pid) == (36, rtnl.RTM_NEWLINK, 1, 7, 0)


def test_veth_body_puts_the_peer_in_another_namespace() -> None:
    body = rtnl.new_veth_body("vethabc", "eth0", peer_netns_fd=9, master=4)
    family, index, flags, change = struct.unpack_from("=BxHiII", body)[0], *struct.unpack_from("=iII", body, 4)
    assert family == 0 and flags & rtnl.IFF_UP and change & rtnl.IFF_UP
    attrs = rtnl.parse_attrs(body, 16)
    assert attrs[rtnl.IFLA_IFNAME] == b"vethabc\0"
    assert struct.unpack("=I", attrs[rtnl.IFLA_MASTER])[0] == 4
    info = rtnl.parse_attrs(attrs[rtnl.IFLA_LINKINFO])
    assert info[rtnl.IFLA_INFO_KIND] == b"veth"
    peer = rtnl.parse_attrs(info[rtnl.IFLA_INFO_DATA])[rtnl.VETH_INFO_PEER]
    peer_attrs = rtnl.parse_attrs(peer, 16)  # an ifinfomsg, then the peer's attributes
    assert peer_attrs[rtnl.IFLA_IFNAME] == b"eth0\0"
    assert struct.unpack("=I", peer_attrs[rtnl.IFLA_NET_NS_FD])[0] == 9


def test_nested_attributes_carry_the_nested_flag() -> None:
    body = rtnl.new_bridge_body("podium0")
    raw_kind = [struct.unpack_from("=HH", body, off)[1] for off in _offsets(body, 16)]
    assert rtnl.IFLA_LINKINFO | rtnl.NLA_F_NESTED in raw_kind


def _offsets(data: bytes, start: int) -> list[int]:
    out, off = [], start
    while off < len(data):
        out.append(off)
        off += (struct.unpack_from("=H", data, off)[0] + 3) & ~3
    return out


def test_address_and_route_bodies() -> None:
    body = rtnl.addr_body(3, "10.87.0.2", 24, broadcast="10.87.0.255")
    assert struct.unpack_from("=BBBBI", body) == (socket.AF_INET, 24, 0, 0, 3)
    a = rtnl.parse_attrs(body, 8)
    assert a[rtnl.IFA_LOCAL] == socket.inet_aton("10.87.0.2") == a[rtnl.IFA_ADDRESS]
    assert a[rtnl.IFA_BROADCAST] == socket.inet_aton("10.87.0.255")
    r = rtnl.default_route_body("10.87.0.1", 3, metric=101)
    assert struct.unpack_from("=BBBBBBBBI", r)[:2] == (socket.AF_INET, 0)  # dst_len 0: default
    ra = rtnl.parse_attrs(r, 12)
    assert ra[rtnl.RTA_GATEWAY] == socket.inet_aton("10.87.0.1")
    assert struct.unpack("=I", ra[rtnl.RTA_PRIORITY])[0] == 101


def test_parse_error_with_extended_ack() -> None:
    request = rtnl.message(rtnl.RTM_NEWLINK, 5, b"\0" * 16)
    tlv = rtnl.attr(rtnl.NLMSGERR_ATTR_MSG, b"Invalid argument here\0")
    payload = struct.pack("=i", -22) + request + tlv
    assert rtnl.parse_error(payload) == (22, "Invalid argument here")
    assert rtnl.parse_error(struct.pack("=i", 0) + request[:16]) == (0, "")


def test_parse_link_and_split_messages() -> None:
    payload = (struct.pack("=BxHiII", 0, 1, 5, 1, 0) + rtnl.attr(rtnl.IFLA_IFNAME, b"podium0\0")
               + rtnl.attr(rtnl.IFLA_MASTER, rtnl.u32(2)) + rtnl.attr(rtnl.IFLA_ADDRESS, bytes([2, 0, 0, 0, 0, 1]))
               + rtnl.nested(rtnl.IFLA_LINKINFO, rtnl.attr(rtnl.IFLA_INFO_KIND, b"bridge")))
    data = rtnl.message(rtnl.RTM_NEWLINK, 2, payload, seq=3) + rtnl.message(rtnl.NLMSG_DONE, 2, b"\0" * 4, seq=3)
    msgs = list(rtnl.split_messages(data))
    assert [m[0] for m in msgs] == [rtnl.RTM_NEWLINK, rtnl.NLMSG_DONE]
    link = rtnl.parse_link(msgs[0][3])
    assert link == {"index": 5, "flags": 1, "name": "podium0", "master": 2,
                    "mac": "02:00:00:00:00:01", "kind": "bridge"}


def test_socket_reads_links_of_its_namespace() -> None:
    with rtnl.Netlink() as nl:
        names = {link["name"] for link in nl.links()}
        assert "lo" in names
        assert nl.link("lo")["index"] == 1
        assert nl.link("no-such-link0") is None


def test_container_mac_follows_the_address() -> None:
    from podium.engine.net.fastpath import container_mac
    assert container_mac("10.87.0.2") == "02:50:0a:57:00:02"
    assert container_mac("10.87.255.254") == "02:50:0a:57:ff:fe"


def test_veth_peer_carries_its_mac() -> None:
    from podium.engine.net import rtnl
    body = rtnl.new_veth_body("vethx", "eth0", peer_netns_fd=3, master=7, peer_mac="02:50:0a:57:00:02")
    assert bytes.fromhex("02500a570002") in body
    assert bytes.fromhex("02500a570002") not in rtnl.new_veth_body("vethx", "eth0", peer_netns_fd=3, master=7)
