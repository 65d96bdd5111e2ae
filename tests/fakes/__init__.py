"""Test doubles shared by the test suites (loopback fakes of external services)."""
