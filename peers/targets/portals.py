"""A real AS's portal as the suite reaches it: the operator's command (``--fks-portal-cmd``) or an Xsi-Actions
URL (``--fks-portal-url``), each given a change as a feature document."""

from __future__ import annotations

import shlex
import subprocess
import urllib.error
import urllib.request

from analyzer.documents import DocumentError, parse_document
from peers.io.portal import SERVICES
from peers.sansio.features import FORWARDING
from peers.targets.lab import LabError
from peers.targets.outcomes import OwnSide

XSI_SERVICES = {feature: service for service, feature in SERVICES.items()}  # "DND" -> "DoNotDisturb", ...


def run_portal_cmd(template: str, user: str, domain: str, doc: bytes) -> None:
    """Run the operator's portal command with the change spelled out in placeholders ({user} {domain} {aor}
    {feature} {state} {target} {rings} {forwarding_type}); its failure is ours, with its stderr."""
    fields = {**_change_fields(doc), "user": user, "domain": domain, "aor": f"sip:{user}@{domain}"}
    command = template.format(**{k: shlex.quote(v) for k, v in fields.items()})
    try:
        run = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise OwnSide(f"portal command did not finish within 30 s: {command}") from None
    if run.returncode != 0:
        err = run.stderr.strip().replace("\n", " | ")[-500:] or "(no stderr)"
        raise OwnSide(f"portal command exited {run.returncode}: {command}: {err}")


def xsi_put(base_url: str, token: str | None, user: str, doc: bytes) -> None:
    """PUT the change to an Xsi-Actions-style service (BroadWorks, or ``fks as --portal``)."""
    fields = _change_fields(doc)
    service = XSI_SERVICES[fields["feature"]]
    active = "true" if fields["state"] == "on" else "false"
    parts = [f"<active>{active}</active>"]
    if fields["target"]:
        parts.append(f"<forwardToPhoneNumber>{fields['target']}</forwardToPhoneNumber>")
    if fields["rings"]:
        parts.append(f"<numberOfRings>{fields['rings']}</numberOfRings>")
    body = f'<{service} xmlns="http://schema.broadsoft.com/xsi">{"".join(parts)}</{service}>'.encode()
    url = f"{base_url.rstrip('/')}/com.broadsoft.xsi-actions/v2.0/user/{user}/services/{service}"
    request = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": "application/xml"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, urllib.error.URLError) as exc:
        raise OwnSide(f"portal PUT {url}: {exc}") from None
    if status >= 300:
        raise OwnSide(f"portal PUT {url}: HTTP {status}")


def _change_fields(doc: bytes) -> dict[str, str]:
    try:
        parsed = parse_document(doc)
    except DocumentError as exc:
        raise LabError(f"portal change: {exc}") from None
    feature = parsed.feature or "DND"
    active = parsed.dnd if feature == "DND" else parsed.active
    return {
        "feature": feature,
        "state": "on" if active else "off",
        "target": parsed.target or "",
        "rings": str(parsed.ring_count) if parsed.ring_count is not None else "",
        "forwarding_type": FORWARDING.get(feature, ""),
    }
