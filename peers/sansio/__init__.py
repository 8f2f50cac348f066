"""The emulators' protocol state machines and their data, sans-IO: bytes and a clock in, messages out."""
