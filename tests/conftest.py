"""Shared test fixtures.

The real data are found through ``XGAMMA_DATA`` (falling back to ``../shared/data``); tests
that need them are skipped when the folder is absent.
"""

from __future__ import annotations

import matplotlib
import pytest

from xgamma._paths import data_dir as _data_dir

matplotlib.use("Agg")


@pytest.fixture(scope="session")
def data_path():
    d = _data_dir(required=False)
    if d is None:
        pytest.skip("shared data not found (set XGAMMA_DATA)")
    return d


@pytest.fixture(scope="session")
def hess_path(data_path):
    return data_path / "hess-dl3-dr1"
