"""How a shaped datagram leaves (peers.craft.packets): fragments of an MTU, order, losses, checksum, TTL.

Sans-IO: scapy packets are built and taken apart here, nothing is sent (the live side is features/wire.feature).
"""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, UDP
from scapy.packet import Raw

from peers.craft.packets import Shaper, WirePlan, plain_packet

SRC, DST = ("127.0.0.1", 5060), ("127.0.0.1", 5062)
BODY = b"--b\r\n" + b"x" * 1700 + b"\r\n--b--\r\n"
NOTIFY = b"NOTIFY sip:1001@h SIP/2.0\r\nContent-Type: multipart/mixed;boundary=b\r\n\r\n" + BODY
OK = b"SIP/2.0 200 OK\r\nCSeq: 1 SUBSCRIBE\r\n\r\n"


def reassembled(wire: list[bytes]) -> bytes:
    """The UDP payload the receiver's kernel would deliver from these fragments."""
    packets = [IP(p) for p in wire]
    pieces = {p.frag * 8: bytes(p.payload) for p in packets}  # a duplicate lands on itself
    data, end = b"", 0
    for offset in sorted(pieces):
        assert offset == end, "a fragment is missing"
        data, end = data + pieces[offset], offset + len(pieces[offset])
    return bytes(UDP(data).payload)


def _recomputed(packet: bytes) -> int:
    """The UDP checksum scapy computes for this packet's datagram."""
    again = IP(packet)
    del again[UDP].chksum
    return int(IP(bytes(again))[UDP].chksum)


def test_a_plain_packet_is_what_scapy_builds() -> None:
    """The fast path packs the same bytes as scapy: header checksum, UDP checksum and all."""
    for data in (OK, OK + b"!", b""):
        built = IP(src=SRC[0], dst=DST[0], ttl=64, id=7) / UDP(sport=SRC[1], dport=DST[1]) / Raw(data)
        assert plain_packet(data, SRC, DST, 7) == bytes(built)


def test_what_the_plan_does_not_select_leaves_as_one_plain_packet() -> None:
    shipment = Shaper(WirePlan(mtu=576, ttl=1, hops=1)).shape(OK, SRC, DST)
    (packet,) = map(IP, shipment.packets)
    assert shipment.whole and shipment.fragments == 1 and packet.ttl == 64 and bytes(packet[Raw]) == OK


@pytest.mark.parametrize("mtu", [576, 1280])
def test_fragments_fit_the_mtu_and_reassemble_to_the_datagram(mtu: int) -> None:
    shipment = Shaper(WirePlan(mtu=mtu)).shape(NOTIFY, SRC, DST)
    assert shipment.fragments == len(shipment.packets) >= 2 and shipment.whole
    assert all(len(p) <= mtu for p in shipment.packets)
    assert reassembled(shipment.packets) == NOTIFY
    assert "IP fragments" in shipment.note()


def test_reversed_and_duplicated_orders() -> None:
    backwards = Shaper(WirePlan(mtu=576, order="reversed")).shape(NOTIFY, SRC, DST).packets
    offsets = [IP(p).frag for p in backwards]
    assert offsets == sorted(offsets, reverse=True) and reassembled(backwards) == NOTIFY
    assert "reversed" in Shaper(WirePlan(mtu=576, order="reversed")).shape(NOTIFY, SRC, DST).note()
    twice = Shaper(WirePlan(mtu=576, order="one duplicated")).shape(NOTIFY, SRC, DST)
    assert len(twice.packets) == twice.fragments + 1 and twice.packets[0] == twice.packets[-1]


def test_a_fragment_lost_in_the_first_copy_only_and_each_copy_its_own_ip_id() -> None:
    shaper = Shaper(WirePlan(mtu=576, lose=2, lose_in="first"))
    first, second = shaper.shape(NOTIFY, SRC, DST), shaper.shape(NOTIFY, SRC, DST)
    assert not first.whole and len(first.packets) == first.fragments - 1 and "fragment 2 of" in first.lost
    assert second.whole and second.copy == 2 and reassembled(second.packets) == NOTIFY
    assert {IP(p).id for p in first.packets}.isdisjoint({IP(p).id for p in second.packets})


def test_a_fragment_lost_in_every_copy_and_one_that_does_not_exist() -> None:
    shaper = Shaper(WirePlan(mtu=576, lose=1, lose_in="every"))
    assert not any(shaper.shape(NOTIFY, SRC, DST).whole for _ in range(3))
    beyond = Shaper(WirePlan(mtu=576, lose=9)).shape(NOTIFY, SRC, DST)  # an Examples row past the last one
    assert beyond.whole and "no fragment 9 to lose" in beyond.note()


def test_a_wrong_udp_checksum_in_the_first_copy() -> None:
    shaper = Shaper(WirePlan(bad_checksum="first"))
    bad, good = shaper.shape(NOTIFY, SRC, DST), shaper.shape(NOTIFY, SRC, DST)
    (spoiled,) = bad.packets
    assert bad.checksum and not bad.whole and good.whole
    assert IP(spoiled)[UDP].chksum != IP(good.packets[0])[UDP].chksum == _recomputed(good.packets[0])


@pytest.mark.parametrize(("ttl", "hops", "arrives"), [(1, 0, True), (2, 1, True), (1, 1, False), (5, 5, False)])
def test_a_ttl_too_small_for_the_emulated_path_dies_on_the_way(ttl: int, hops: int, arrives: bool) -> None:
    shipment = Shaper(WirePlan(ttl=ttl, hops=hops)).shape(NOTIFY, SRC, DST)
    assert shipment.whole is arrives and (len(shipment.packets) == 1) is arrives
    assert all(IP(p).ttl == ttl for p in shipment.packets)
    if not arrives:
        assert f"TTL {ttl} expired" in shipment.lost


@pytest.mark.parametrize(
    "plan",
    [
        {"mtu": 40},
        {"order": "shuffled"},
        {"lose": 0},
        {"lose_in": "second"},
        {"ttl": 300},
        {"message": "INVITE"},
    ],
)
def test_a_plan_that_cannot_be_is_refused_with_a_reason(plan: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        WirePlan(**plan)  # type: ignore[arg-type]


def _first_idents(shapers: int, datagrams: int) -> list[set[int]]:
    lots = [Shaper(WirePlan(mtu=576)) for _ in range(shapers)]
    return [{int(IP(s.shape(NOTIFY, SRC, DST).packets[0]).id) for _ in range(datagrams)} for s in lots]


def test_shapers_of_one_process_never_share_an_ip_identification() -> None:
    """The base's and the AS's shapers of one lab send between the same loopback addresses: a shared
    identification would let the kernel join one's fragments to the other's datagram."""
    one, two = _first_idents(2, 200)
    assert len(one) == len(two) == 200 and not one & two


def test_two_processes_start_their_ip_identifications_apart() -> None:
    """The suite's parallel workers craft fragments between 127.0.0.1 and 127.0.0.1 at the same moment;
    with one fixed start their identifications coincide and a capture (or the kernel) reassembles a
    datagram from two scenarios' fragments (a lost fragment of one "found" in the other)."""
    import subprocess
    import sys

    code = "from peers.craft.packets import Shaper; print(Shaper().ident)"
    starts = {int(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(3)}
    assert len(starts) > 1  # 3 random starts of 65,536 all equal: once in 4 billion runs
