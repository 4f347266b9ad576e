"""Deprecated: moved to :mod:`xgamma.models.components` (one-way layout); this path goes in the next release."""

import warnings

from xgamma.models import components as _moved

warnings.warn("xgamma.models.sky moved to xgamma.models.components; the old import path goes in the next release",
              DeprecationWarning, stacklevel=2)


def __getattr__(name: str) -> object:
    return getattr(_moved, name)
