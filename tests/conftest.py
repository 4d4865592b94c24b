"""Shared fixtures for the test suite."""

# pytester runs the huddle_client pytest plugin in a nested session (tests/test_pytest_plugin.py).
pytest_plugins = ["pytester"]
