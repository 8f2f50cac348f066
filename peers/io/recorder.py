"""Record a live exchange on the wire: scapy ``AsyncSniffer`` on the peers' interface and ports, to pcapng.

On ``lo`` the default capture socket sees every packet twice (outgoing and incoming); ``L2Socket`` sees it
once. Sniffing needs root or CAP_NET_RAW: ``can_sniff()`` says whether this process may, and without it
``write_from_log`` writes the capture from the peers' own message log instead, marked as such in the
pcapng comment, so a run never silently passes off a log as a capture.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

from scapy.layers.inet import IP, TCP, UDP
from scapy.packet import Packet, Raw
from scapy.sendrecv import AsyncSniffer
from scapy.utils import PcapNgWriter

from analyzer.observation import Observation
from peers.craft.wire import WireMessage, write_capture


def can_sniff() -> bool:
    """CAP_NET_RAW is needed to open a packet socket (root has it, unless a container dropped it; a root-less
    one may grant it): asked of the kernel, never assumed from the user id."""
    try:
        import socket

        socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close()
    except (PermissionError, OSError, AttributeError):
        return False
    return True


class Recorder:
    """Capture UDP (or TCP) packets from or to ``ports`` on ``iface`` while a scenario runs."""

    def __init__(self, ports: Iterable[int], iface: str = "lo", tcp: bool = False) -> None:
        self.ports = set(ports)
        self.layer = TCP if tcp else UDP
        self.packets: list[Packet] = []
        self._lock = threading.Condition()
        self._started = threading.Event()
        # The kernel filters first (BPF): a busy loopback must not overflow the capture socket's buffer
        # with other traffic. Over UDP IP fragments pass, since only the first carries the ports; a TCP record
        # takes none (another exchange's fragmented datagram on lo would be reassembled into this record).
        proto = "tcp" if tcp else "udp"
        ports = " or ".join(f"{proto} port {p}" for p in sorted(self.ports))
        self._sniffer = AsyncSniffer(
            iface=iface,
            filter=f"({ports})" if tcp else f"({ports}) or (ip[6:2] & 0x3fff != 0)",
            lfilter=self._wanted,
            prn=self._keep,
            store=False,
            started_callback=self._started.set,
            L2socket=_roomy_l2socket(),
        )

    def _wanted(self, pkt: Packet) -> bool:
        if IP in pkt and (pkt[IP].frag > 0 or pkt[IP].flags.MF):
            return self.layer is UDP  # a fragment: only the first carries the UDP header; tshark reassembles them
        layer = self.layer
        return layer in pkt and (pkt[layer].sport in self.ports or pkt[layer].dport in self.ports)

    def _keep(self, pkt: Packet) -> None:
        with self._lock:
            self.packets.append(pkt)
            self._lock.notify_all()

    def start(self, timeout: float = 5.0) -> None:
        self._sniffer.start()
        if not self._started.wait(timeout):
            raise RuntimeError("the packet capture did not start")

    def wait_for(
        self,
        count: int,
        timeout: float = 5.0,
        payload: bool = False,
        since: float | None = None,
        heads: tuple[bytes, ...] = (),
        closed: bool = False,
    ) -> bool:
        """Wait until ``count`` packets were captured (the peers' log says how many went on the wire);
        ``payload``: count only packets that carry data (TCP's handshake and bare ACKs vary in number);
        ``since``: only packets captured from then on (epoch seconds); ``heads``: the packets must include
        these starts of messages (the log's last ones: a real peer's other traffic can make up the count
        while the sniffer has not yet read our last message); ``closed``: every TCP connection seen has ended
        (a FIN or RST seen: over TLS, where no message's start shows, the end of each connection proves that
        the sniffer has read all it carried)."""

        def enough() -> bool:
            packets = [p for p in self.packets if since is None or float(p.time) >= since]
            packets = [p for p in packets if Raw in p] if payload or heads else packets
            if len(packets) < count or (closed and not _all_closed(self.packets, since)):
                return False
            loads = [bytes(p[Raw].load) for p in packets] if heads else []
            return all(any(head in load for load in loads) for head in heads)

        with self._lock:
            return self._lock.wait_for(enough, timeout)

    def first_time(self, head: bytes, since: float | None) -> float | None:
        """The capture time of the first packet (from ``since`` on) that carries ``head``; ``since`` if none."""
        with self._lock:
            for p in self.packets:
                if (since is None or float(p.time) >= since) and Raw in p and head in bytes(p[Raw].load):
                    return float(p.time)
        return since

    def fragments(self, idents: Iterable[int], count: int, timeout: float = 5.0) -> list[Packet]:
        """The captured fragments of these IP identifications, once ``count`` of them are in (or when ``timeout``
        passes): the peers' log can show the receiver's answer while the sniffer's thread is still reading the
        last fragment sent (a reversed datagram's first fragment leaves last)."""
        wanted = set(idents)

        def ours() -> list[Packet]:
            return [p for p in self.packets if _datagram(p) in wanted]

        with self._lock:
            self._lock.wait_for(lambda: len(ours()) >= count, timeout)
            return ours()

    def stop(self) -> None:
        if self._sniffer.running:
            self._sniffer.stop()

    def write(
        self, path: str | Path, until: float | None = None, since: float | None = None, ours: Iterable[int] = ()
    ) -> Path:
        """The packets captured (between ``since`` and ``until``, epoch seconds, when given) as pcapng.

        A fragment carries no ports, so the capture filter lets every fragment on the interface through; on a
        shared machine another exchange's fragments pass too. A fragment is kept when its datagram is ours:
        its IP identification is one we sent (``ours``), or its first fragment carries our ports."""
        path = Path(path)
        keep = set(ours) | self._our_datagrams()
        with PcapNgWriter(str(path)) as writer:
            for pkt in self.packets:
                within = (until is None or float(pkt.time) <= until) and (since is None or float(pkt.time) >= since)
                if within and (_datagram(pkt) is None or pkt[IP].id in keep):
                    writer.write(pkt)
        return path

    def _our_datagrams(self) -> set[int]:
        """The IP identifications of fragmented datagrams whose first fragment carries one of our ports."""
        layer = self.layer
        return {
            int(p[IP].id)
            for p in self.packets
            if _datagram(p) is not None
            and layer in p
            and (p[layer].sport in self.ports or p[layer].dport in self.ports)
        }


def _datagram(pkt: Packet) -> int | None:
    """The IP identification of a fragment (None: not a fragment)."""
    if IP in pkt and (pkt[IP].frag > 0 or pkt[IP].flags.MF):
        return int(pkt[IP].id)
    return None


def _all_closed(packets: list[Packet], since: float | None) -> bool:
    """Every TCP connection in ``packets`` (from ``since`` on) shows a FIN or an RST."""
    flows: dict[frozenset[tuple[str, int]], bool] = {}
    for p in packets:
        if TCP in p and IP in p and (since is None or float(p.time) >= since):
            key = frozenset({(p[IP].src, p[TCP].sport), (p[IP].dst, p[TCP].dport)})
            flows[key] = flows.get(key, False) or bool(int(p[TCP].flags) & 0x05)  # FIN or RST
    return all(flows.values())


def embed_secrets(path: Path, keylog: Path) -> Path:
    """Put the TLS session secrets into the pcapng (``editcap --inject-secrets``: a Decryption Secrets
    Block), so the one file holds the evidence and opens without a key log. Left as it is without secrets."""
    import shutil
    import subprocess

    editcap = shutil.which("editcap")
    if editcap is None or not keylog.is_file() or keylog.stat().st_size == 0:
        return path
    with_keys = path.with_name(path.name + ".keys")
    done = subprocess.run(
        [editcap, "--inject-secrets", f"tls,{keylog}", str(path), str(with_keys)], capture_output=True, timeout=60
    )
    if done.returncode != 0:
        raise RuntimeError(f"editcap could not embed the TLS secrets: {done.stderr.decode(errors='replace')[:200]}")
    with_keys.replace(path)
    return path


def _roomy_l2socket() -> type:
    """scapy's ``L2Socket`` (one copy per packet on ``lo``) with a large receive buffer: under load a burst of
    packets, or one 60 kB datagram, must not be dropped before the sniffer thread reads it."""
    import socket

    from scapy.arch.linux import L2Socket

    class RoomyL2Socket(L2Socket):  # type: ignore[misc]
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            force = getattr(socket, "SO_RCVBUFFORCE", 33)  # root may exceed net.core.rmem_max
            for option in (force, socket.SO_RCVBUF):
                try:
                    self.ins.setsockopt(socket.SOL_SOCKET, option, 16 * 1024 * 1024)
                    break
                except OSError:
                    continue

    return RoomyL2Socket


def write_from_log(path: str | Path, observations: Iterable[Observation]) -> Path:
    """The fallback without capture privileges: the message log as a capture (same bytes, crafted framing)."""
    messages = [  # TLS is written as the plain TCP it carries: the log holds no records to encrypt
        WireMessage(
            o.time, (o.src.host, o.src.port), (o.dst.host, o.dst.port), o.data, o.transport.replace("tls", "tcp")
        )
        for o in observations
    ]
    path = write_capture(path, messages)
    Path(str(path) + ".from-log").write_text("written from the peers' message log, not captured on the wire\n")
    return path
