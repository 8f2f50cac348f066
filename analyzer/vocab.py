"""The words of ``as-feature-event``, each defined once: the event package, the media type, the document
namespace, the four features and their ``forwardingType`` names. Every other module imports them from here."""

from __future__ import annotations

PACKAGE = "as-feature-event"
MEDIA_TYPE = "application/x-as-feature-event+xml"
NS = "http://www.ecma-international.org/standards/ecma-323/csta/ed3"
NS_HYPHENLESS = "http://www.ecmainternational.org/standards/ecma-323/csta/ed3"  # a variant some servers send

# The synchronised features, in the order reports and the initial NOTIFY list them.
DND, CFA, CFB, CFNA = "DND", "CFA", "CFB", "CFNA"
FEATURES = (DND, CFA, CFB, CFNA)
FORWARDING = (CFA, CFB, CFNA)
# forwardingType of ForwardingEvent / SetForwarding <-> the feature it carries.
FORWARDING_TYPES = {"forwardImmediate": CFA, "forwardBusy": CFB, "forwardNoAns": CFNA}
FORWARDING_TYPE_OF = {feature: ftype for ftype, feature in FORWARDING_TYPES.items()}
RING_COUNT_TYPE = FORWARDING_TYPE_OF[CFNA]  # only forwardNoAns carries a ringCount
