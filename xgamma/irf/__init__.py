"""Instrument response functions: numpy kernels (:mod:`~xgamma.irf.interp`), IRF DataArrays to
numpy (:mod:`~xgamma.irf.arrays`) and the labelled evaluation (:mod:`~xgamma.irf.response`).

Every public name of :mod:`xgamma.irf.response` is re-exported here (``xgamma.irf.aeff_at``).

Examples
--------
>>> from xgamma import irf
>>> callable(irf.aeff_at) and callable(irf.interp.interp_along)
True
"""

from __future__ import annotations

from xgamma.irf import arrays, interp, response
from xgamma.irf.response import *  # noqa: F403

__all__ = ["arrays", "interp", "response", *response.__all__]
