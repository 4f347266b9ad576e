"""What reduction reads from an observation: the :class:`Observation` protocol and its access
helpers (obs id, pointing, IRFs), in one place for every reduction module.

Any object with these attributes reduces: the data store's
:class:`xgamma.io.store.Observation`, :class:`xgamma.testing.Observation`, or a simulated one.

Examples
--------
>>> from xgamma import testing
>>> obs = testing.make_observation(obs_id=7)
>>> isinstance(obs, Observation), obs_id(obs), len(pointing_radec(obs))
(True, 7, 2)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import pandas as pd
import xarray as xr
from astropy.coordinates import SkyCoord

from xgamma.errors import ReductionError

__all__ = [
    "Observation", "IRF_NEEDS", "obs_id", "pointing_radec", "pointing_skycoord", "irf_of",
    "check_irfs", "warn_empty",
]

#: IRFs each reduction product needs.
IRF_NEEDS: dict[str, tuple[str, ...]] = {
    "exposure": ("aeff",), "background": ("bkg",), "psf": ("psf",), "edisp": ("edisp",),
    "counts": (),
}


@runtime_checkable
class Observation(Protocol):
    """The observation interface reduction relies on (all IRFs may be ``None``).

    ``pointing`` is a mapping or object with ``ra``/``dec`` (deg) or ``pointing_radec`` a
    ``SkyCoord``; ``livetime``/``ontime`` are in s.
    """

    obs_id: Any
    livetime: float
    ontime: float

    @property
    def events(self) -> pd.DataFrame: ...

    @property
    def aeff(self) -> xr.DataArray | None: ...

    @property
    def edisp(self) -> xr.DataArray | None: ...

    @property
    def psf(self) -> xr.DataArray | None: ...

    @property
    def bkg(self) -> xr.DataArray | None: ...


def obs_id(obs: Any) -> Any:
    return getattr(obs, "obs_id", None)


def pointing_radec(obs: Any) -> tuple[float, float]:
    """Pointing (ra, dec) in deg, ICRS."""
    p = getattr(obs, "pointing", None)
    ra = dec = None
    if isinstance(p, dict):
        ra, dec = p.get("ra"), p.get("dec")
    elif p is not None:
        ra, dec = getattr(p, "ra", None), getattr(p, "dec", None)
    if ra is None or dec is None:
        c = getattr(obs, "pointing_radec", None)
        if c is None:
            raise ReductionError(f"observation {obs_id(obs)}: no pointing position (ra, dec)")
        c = c.icrs
        return float(c.ra.deg), float(c.dec.deg)
    return float(getattr(ra, "deg", ra)), float(getattr(dec, "deg", dec))  # type: ignore[arg-type]


def irf_of(obs: Any, name: str) -> xr.DataArray | None:
    return getattr(obs, name, None)


def check_irfs(obs: Any, products: Sequence[str]) -> None:
    missing: dict[str, list[str]] = {}
    for p in products:
        for irf in IRF_NEEDS.get(p, ()):
            if irf_of(obs, irf) is None:
                missing.setdefault(irf, []).append(p)
    if missing:
        what = "; ".join(f"{k} (needed by {', '.join(v)})" for k, v in missing.items())
        raise ReductionError(f"observation {obs_id(obs)} lacks IRFs: {what}")


def warn_empty(obs: Any, why: str) -> None:
    warnings.warn(f"observation {obs_id(obs)}: {why}; exposure and background are 0 and "
                  "mask_safe is False there", stacklevel=3)


def pointing_skycoord(obs: Any) -> SkyCoord:
    """Pointing as an ICRS ``SkyCoord``; drift-mode data without one raise a named error."""
    p = getattr(obs, "pointing_radec", None)
    if p is None:
        raise ReductionError(f"observation {obs_id(obs)}: no fixed pointing position "
                             "(drift-mode data cannot use reflected regions)")
    return p.icrs if hasattr(p, "icrs") else p
