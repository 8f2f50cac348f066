"""SIP for the kit, sans-IO: the message codec and what it is made of, one module a job.

``headers`` (names, ``Headers``, parameters), ``address`` (name-addr, URI user and AOR), ``message`` (parse and
build a message), ``framer`` (stream framing), ``multipart``, ``digest``, ``subscription_state`` and ``peek``
(header values read from raw bytes on hot paths). The names re-exported here are the package's public face.
"""

from analyzer.sip.address import NameAddr, uri_aor, uri_user
from analyzer.sip.digest import build_authorization, digest_response, parse_digest, verify_authorization
from analyzer.sip.framer import StreamFramer
from analyzer.sip.headers import (
    COMPACT_FORMS,
    Headers,
    SipError,
    canonical_name,
    is_number,
    parse_params,
    split_commas,
)
from analyzer.sip.message import (
    MAX_MESSAGE_BYTES,
    SipMessage,
    build_message,
    build_response,
    parse_message,
    response_to,
)
from analyzer.sip.multipart import Part, build_multipart, parse_multipart
from analyzer.sip.peek import peek_branch, peek_call_id, peek_cseq_method, peek_from_user, peek_to_user
from analyzer.sip.subscription_state import SubscriptionState, parse_subscription_state

__all__ = [
    "COMPACT_FORMS",
    "MAX_MESSAGE_BYTES",
    "Headers",
    "NameAddr",
    "Part",
    "SipError",
    "SipMessage",
    "StreamFramer",
    "SubscriptionState",
    "build_authorization",
    "build_message",
    "build_multipart",
    "build_response",
    "canonical_name",
    "digest_response",
    "is_number",
    "parse_digest",
    "parse_message",
    "parse_multipart",
    "parse_params",
    "parse_subscription_state",
    "peek_branch",
    "peek_call_id",
    "peek_cseq_method",
    "peek_from_user",
    "peek_to_user",
    "response_to",
    "split_commas",
    "uri_aor",
    "uri_user",
    "verify_authorization",
]
