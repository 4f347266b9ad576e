"""Deprecated: moved to :mod:`xgamma.sky.regions` (one-way layout); this path goes in the next release."""

import warnings

from xgamma.sky import regions as _moved

warnings.warn("xgamma.sky_regions moved to xgamma.sky.regions; the old import path goes in the next release",
              DeprecationWarning, stacklevel=2)


def __getattr__(name: str) -> object:
    return getattr(_moved, name)
