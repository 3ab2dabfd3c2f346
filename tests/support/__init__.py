"""Test harness shared by the test modules: servers and stand-ins they start."""
