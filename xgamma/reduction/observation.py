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

    Examples
    --------
    >>> from xgamma import testing
    >>> isinstance(testing.make_observation(), Observation), isinstance(object(), Observation)
    (True, False)
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
    """The ``obs_id`` of ``obs``, or None when it has none.

    Examples
    --------
    >>> from xgamma import testing
    >>> obs_id(testing.make_observation(obs_id=7)), obs_id(object())
    (7, None)
    """
    return getattr(obs, "obs_id", None)


def pointing_radec(obs: Any) -> tuple[float, float]:
    """Pointing (ra, dec) in deg, ICRS.

    From ``obs.pointing`` (a mapping or object with ``ra``/``dec``), else from the
    ``SkyCoord`` ``obs.pointing_radec``; neither raises a :class:`ReductionError`.

    Examples
    --------
    >>> from xgamma import testing
    >>> pointing_radec(testing.make_observation())
    (83.633, 21.514)
    >>> from types import SimpleNamespace
    >>> pointing_radec(SimpleNamespace(pointing={"ra": 10.0, "dec": -5.0}))
    (10.0, -5.0)
    """
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
    """The IRF ``name`` (``"aeff"``, ``"edisp"``, ``"psf"``, ``"bkg"``) of ``obs``, or None.

    Examples
    --------
    >>> from xgamma import testing
    >>> obs = testing.make_observation()
    >>> irf_of(obs, "aeff").dims, irf_of(obs, "rad_max")
    (('energy_true', 'offset'), None)
    """
    return getattr(obs, name, None)


def check_irfs(obs: Any, products: Sequence[str]) -> None:
    """Raise a :class:`ReductionError` naming the IRFs ``obs`` lacks for ``products``
    (see :data:`IRF_NEEDS`).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> obs = SimpleNamespace(obs_id=3, aeff=None, psf=None, bkg=1)
    >>> check_irfs(obs, ["counts", "background"])   # nothing missing: no error
    >>> try:
    ...     check_irfs(obs, ["exposure", "psf"])
    ... except ReductionError as err:
    ...     print(err)
    observation 3 lacks IRFs: aeff (needed by exposure); psf (needed by psf)
    """
    missing: dict[str, list[str]] = {}
    for p in products:
        for irf in IRF_NEEDS.get(p, ()):
            if irf_of(obs, irf) is None:
                missing.setdefault(irf, []).append(p)
    if missing:
        what = "; ".join(f"{k} (needed by {', '.join(v)})" for k, v in missing.items())
        raise ReductionError(f"observation {obs_id(obs)} lacks IRFs: {what}")


def warn_empty(obs: Any, why: str) -> None:
    """Warn that ``obs`` contributes nothing (``why``): its exposure and background are 0.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_empty(SimpleNamespace(obs_id=3), "no events")
    >>> print(caught[0].message)
    observation 3: no events; exposure and background are 0 and mask_safe is False there
    """
    warnings.warn(f"observation {obs_id(obs)}: {why}; exposure and background are 0 and "
                  "mask_safe is False there", stacklevel=3)


def pointing_skycoord(obs: Any) -> SkyCoord:
    """Pointing as an ICRS ``SkyCoord``; drift-mode data without one raise a named error.

    Examples
    --------
    >>> from xgamma import testing
    >>> c = pointing_skycoord(testing.make_observation())
    >>> c.frame.name, round(float(c.ra.deg), 3), round(float(c.dec.deg), 3)
    ('icrs', 83.633, 21.514)
    """
    p = getattr(obs, "pointing_radec", None)
    if p is None:
        raise ReductionError(f"observation {obs_id(obs)}: no fixed pointing position "
                             "(drift-mode data cannot use reflected regions)")
    return p.icrs if hasattr(p, "icrs") else p
