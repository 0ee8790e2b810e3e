"""Shared fixtures for the unit tests."""

from __future__ import annotations

import pytest

from modelchip.catalog.loader import CATALOG_ENV


@pytest.fixture(autouse=True)
def _isolated_catalog_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--catalog` writes MODELCHIP_CATALOG into os.environ; restore it after every test."""
    monkeypatch.setenv(CATALOG_ENV, "")
