"""Feature Key Synchronization (``as-feature-event``) conformance analyzer.

The sans-IO core (``sip``, ``documents``, ``dialogs``, ``rules``) never touches sockets or files; ``capture``
is the only module that knows pyshark and the only one that reads capture files.
"""

__version__ = "0.1.0"
