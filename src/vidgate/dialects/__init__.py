"""Wire formats: pure functions between each API's JSON and the canonical model."""
