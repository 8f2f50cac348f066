"""A Kamailio configuration for a lab: a stateless proxy between a base and an AS that mirrors the base's
leg to a HEP collector with ``siptrace`` (what the base sends and receives, as a capture at the base would
show it). The live tests and the monitor's soak run Debian's ``kamailio`` (5.6) with it."""

from __future__ import annotations

MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"

_CONFIG = """#!KAMAILIO
# Requests from the base are mirrored as they arrive, so are replies from the base; whatever the proxy
# sends to the base is mirrored in onsend_route (replies too: onsend_route_reply). The AS's leg is not.
debug=2
log_stderror=yes
children={children}
disable_tcp=yes
auto_aliases=no
onsend_route_reply=yes
listen=udp:127.0.0.1:{proxy}
mpath="{modules}"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "siptrace.so"
modparam("siptrace", "duplicate_uri", "sip:127.0.0.1:{hep}")
modparam("siptrace", "hep_mode_on", 1)
modparam("siptrace", "hep_version", {version})
modparam("siptrace", "hep_capture_id", 2001)
modparam("siptrace", "trace_to_database", 0)
modparam("siptrace", "trace_on", 1)

request_route {{
    if ($sp == {as_port}) {{
        forward();
    }} else {{
        sip_trace();
        $du = "sip:127.0.0.1:{as_port}";
        forward();
    }}
    exit;
}}

onreply_route {{
    if ($sp != {as_port}) {{
        sip_trace();
    }}
}}

onsend_route {{
    if ($snd(port) != {as_port}) {{
        sip_trace();
    }}
}}
"""

READY = r"SO_RCVBUF is finally"  # the line Kamailio logs once its UDP socket is bound


def proxy_config(proxy: int, hep: int, as_port: int, version: int = 3, children: int = 1) -> str:
    """The configuration text: listen on 127.0.0.1:``proxy``, forward to the AS on 127.0.0.1:``as_port``,
    mirror to HEP on 127.0.0.1:``hep``."""
    return _CONFIG.format(proxy=proxy, hep=hep, as_port=as_port, version=version, children=children, modules=MODULES)


def command(config: str, runtime_dir: str) -> list[str]:
    """Kamailio in the foreground (its PID is the one to signal), logging to stderr, with small memory pools."""
    return ["kamailio", "-DD", "-E", "-f", config, "-Y", runtime_dir, "-m", "32", "-M", "4"]
