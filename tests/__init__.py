"""The test suite; its shared support (fake_clock, postgres_server) is imported as tests.<module>."""
