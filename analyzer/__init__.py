"""Feature Key Synchronization (``as-feature-event``) conformance analyzer.

The sans-IO core (``sip``, ``documents``, ``dialogs``, ``rules``, ``judging``) never touches sockets or files;
``sources`` is the only package that reads capture files (``sources.pyshark`` the only module that knows pyshark),
``report`` the one that renders an audit.
"""

__version__ = "0.1.0"
