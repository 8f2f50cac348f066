"""What a conformance scenario runs against: one class per target, and the lab that plays the live ends."""
