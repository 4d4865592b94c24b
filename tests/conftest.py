"""Shared fixtures for the test suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# pytester runs the huddle_client pytest plugin in a nested session (tests/test_pytest_plugin.py).
pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True, scope="session")
def _run_outside_the_checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Run the suite from an empty directory.

    ``python -c`` and ``python -m`` put the working directory first on sys.path; from the
    checkout's root that finds the source ``huddle_client/``, which has no ``integrations``
    subpackage (setuptools maps it in at install time), and shadows the installed package.
    Subprocesses the tests start inherit this directory, so they import what was installed.
    """
    before = Path.cwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    try:
        yield
    finally:
        os.chdir(before)
