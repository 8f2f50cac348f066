"""The emulators on real sockets: transports, the wire recorder, the impairment relay, the portal, the loops."""
