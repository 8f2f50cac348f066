"""Subscription dialogs and transactions rebuilt from observed SIP messages (see ``engine`` for how).

``state`` holds what is rebuilt, ``filters`` tells feature sync from the rest cheaply, ``engine`` files each
message. The names re-exported here are the package's public face.
"""

from analyzer.dialogs import state
from analyzer.dialogs.engine import Engine, build_trace
from analyzer.dialogs.filters import claims_feature_sync, irrelevant, is_feature_subscribe
from analyzer.dialogs.state import *  # noqa: F403 (the model's names, listed once in state.__all__)

__all__ = ["Engine", "build_trace", "claims_feature_sync", "irrelevant", "is_feature_subscribe", *state.__all__]
