"""Monthly recognition digests (SPEC F10, B3): who gets one, what it says, and delivery that survives crashes."""
