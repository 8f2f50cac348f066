"""The emulators on real sockets: transports, the wire recorder, the impairment relay, the portal, the loops."""

LOG_RATE = 1000  # per-message log lines a second of ``fks as`` / ``fks base`` by default; beyond, they are counted
