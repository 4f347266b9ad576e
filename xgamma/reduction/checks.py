"""Checks made before any work: map sizes from the configuration, and the content of each
observation (IRF values, GTIs, event energies) before it is reduced.

:func:`estimate_memory` sizes every map a configuration would allocate, from the numbers in the
configuration alone; :func:`check_memory` refuses one above ``datasets.max_memory`` with the
number. :func:`check_observation` raises a :class:`~xgamma.errors.ReductionError` naming the
observation, file and HDU for an IRF that is empty, all NaN or negative, or for empty GTIs, and
returns warnings for what the reduction will drop (events with a NaN or non-positive energy,
which fall outside every energy bin).

Examples
--------
>>> from xgamma.config import AnalysisConfig
>>> cfg = AnalysisConfig.from_dict({"datasets": {"type": "3d", "geom": {"wcs": {
...     "binsize": "0.0001 deg"}}}})
>>> try:
...     check_memory(cfg)
... except Exception as err:
...     print(str(err)[:60])
datasets.geom.wcs.binsize: the exposure map would need 298.0
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xgamma.config import AnalysisConfig, ConfigError
from xgamma.errors import ReductionError

__all__ = ["estimate_memory", "check_memory", "check_observation", "format_bytes"]

_F8 = 8  # float64
_N_RAD = 66  # radii of a PSF map (the reduction's default rad axis), an upper estimate


def format_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``.

    Examples
    --------
    >>> format_bytes(37 * 2**30)
    '37.0 GiB'
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def _npix(width: Any, binsize: Any) -> int:
    return max(1, int(round(float(width.to_value("deg")) / float(binsize.to_value("deg")))))


def estimate_memory(cfg: AnalysisConfig) -> dict[str, tuple[float, str, str]]:
    """Bytes of each map the analysis would allocate: ``{product: (bytes, shape text, key)}``
    where ``key`` is the configuration key that sets its size.

    Examples
    --------
    >>> from xgamma.config import AnalysisConfig
    >>> est = estimate_memory(AnalysisConfig.from_dict({"datasets": {"type": "3d"}}))
    >>> est["counts"][1], format_bytes(est["counts"][0])
    ('5 energy x 250 x 250 pixels', '2.4 MiB')
    """
    d = cfg.datasets
    ax = d.geom.axes
    ne, net = ax.energy.nbins, ax.energy_true.nbins
    out: dict[str, tuple[float, str, str]] = {}
    if d.type == "3d":
        w = d.geom.wcs
        nx, ny = _npix(w.width.width, w.binsize), _npix(w.width.height, w.binsize)
        key = "datasets.geom.wcs.binsize"
        out["counts"] = (float(ne) * nx * ny * _F8, f"{ne} energy x {nx} x {ny} pixels", key)
        out["exposure"] = (float(net) * nx * ny * _F8, f"{net} energy_true x {nx} x {ny} pixels", key)
        ix, iy = _npix(w.width.width, w.binsize_irf), _npix(w.width.height, w.binsize_irf)
        kirf = "datasets.geom.wcs.binsize_irf"
        out["edisp"] = (float(net) * ne * ix * iy * _F8,
                        f"{net} energy_true x {ne} energy x {ix} x {iy} IRF pixels", kirf)
        out["psf"] = (float(net) * _N_RAD * ix * iy * _F8,
                      f"{net} energy_true x {_N_RAD} rad x {ix} x {iy} IRF pixels", kirf)
        em = cfg.excess_map.energy_edges.nbins or 1  # null edges: one band
        out["excess_map"] = (float(em) * nx * ny * _F8, f"{em} energy x {nx} x {ny} pixels", key)
    else:
        out["edisp"] = (float(net) * ne * _F8, f"{net} energy_true x {ne} energy",
                        "datasets.geom.axes.energy.nbins")
        out["exposure"] = (float(net) * _F8 * 4, f"{net} energy_true",
                           "datasets.geom.axes.energy_true.nbins")
    fp = cfg.flux_points.energy.nbins or 0  # null: no flux points
    out["flux_points"] = (float(fp) * _F8 * 40, f"{fp} energy bins x 40 columns",
                          "flux_points.energy.nbins")
    lc = cfg.light_curve.energy_edges.nbins or 1  # null edges: one band
    nt = len(cfg.light_curve.time_intervals.start or [1])
    out["light_curve"] = (float(lc) * nt * _F8 * 40, f"{lc} energy x {nt} time bins x 40 columns",
                          "light_curve.energy_edges.nbins")
    return out


def check_memory(cfg: AnalysisConfig) -> None:
    """Raise :class:`~xgamma.config.ConfigError` naming the key when a map would need more than
    ``datasets.max_memory``; no data are read and nothing is allocated.

    Examples
    --------
    >>> from xgamma.config import AnalysisConfig
    >>> check_memory(AnalysisConfig())
    """
    limit = cfg.datasets.max_memory_bytes()
    for name, (nbytes, shape, key) in sorted(estimate_memory(cfg).items(), key=lambda kv: -kv[1][0]):
        if nbytes > limit:
            raise ConfigError(
                f"{key}: the {name} map would need {format_bytes(nbytes)} ({shape}, float64), above "
                f"datasets.max_memory = {cfg.datasets.max_memory}; coarser bins or a smaller "
                "region, or raise max_memory")


def _where(obs: Any, hdu_type: str) -> str:
    loc = obs.location(hdu_type) if hasattr(obs, "location") else None
    if loc is None:
        return ""
    return f" ({loc.path} [HDU {loc.hdu_name}])"


def check_observation(obs: Any, required: tuple[str, ...] = ()) -> list[str]:
    """Check one observation's IRFs, GTIs and event energies before reducing it.

    Parameters
    ----------
    obs : Observation
    required : tuple of str
        IRF types whose values are checked (those present are checked in any case).

    Returns
    -------
    list of str
        Warnings: what the reduction will drop.

    Raises
    ------
    ReductionError
        An IRF that is empty, all NaN, infinite or negative, or no good time; the message names
        the observation, the file and the HDU.

    Examples
    --------
    >>> from xgamma import testing
    >>> obs = testing.make_observation(obs_id=5, n_events=20)
    >>> check_observation(obs)
    []
    >>> obs.events.loc[0, "energy"] = float("nan")
    >>> check_observation(obs)
    ['observation 5: 1 of 20 events have a NaN or non-positive energy and are dropped']
    """
    oid = getattr(obs, "obs_id", "?")
    warnings = []
    for kind in ("aeff", "edisp", "psf", "bkg"):
        irf = getattr(obs, kind, None)
        if irf is None:
            if kind in required:
                raise ReductionError(f"observation {oid}: no {kind} IRF")
            continue
        v = np.asarray(getattr(irf, "values", irf), dtype=float)
        what = None
        if v.size == 0:
            what = "is empty"
        elif not np.isfinite(v).any():
            what = "is all NaN"
        elif np.isinf(v).any():
            what = f"has {int(np.isinf(v).sum())} infinite values"
        elif kind in ("aeff", "bkg") and (v < 0).sum() > (v > 0).sum():
            what = f"is mostly negative ({int((v < 0).sum())} of {v.size} values)"
        elif kind == "aeff" and not (v[np.isfinite(v)] > 0).any():
            what = "is zero everywhere"
        elif kind in ("aeff", "bkg") and (v < 0).any():
            # a few small negative values occur in released IRFs (13 H.E.S.S. DR1 runs: 7 values
            # each; edisp and psf negatives from interpolation are not even reported)
            warnings.append(f"observation {oid}: the {kind} IRF has {int((v < 0).sum())} negative "
                            f"values (min {float(np.nanmin(v)):.3g}), used as they are{_where(obs, kind)}")
        if what is not None:
            raise ReductionError(f"observation {oid}: the {kind} IRF {what}{_where(obs, kind)}")
    gti = getattr(obs, "gti", None)
    if gti is not None:
        dur = float(np.nansum(np.asarray(gti["stop"], float) - np.asarray(gti["start"], float)))
        if len(gti) == 0 or not dur > 0:
            raise ReductionError(f"observation {oid}: no good time (GTI table has {len(gti)} rows, "
                                 f"{dur:g} s){_where(obs, 'gti')}")
    e = np.asarray(obs.events["energy"], dtype=float)
    bad = int((~(e > 0)).sum())
    if bad and bad == e.size:
        raise ReductionError(f"observation {oid}: none of the {e.size} events has a valid energy "
                             f"(NaN or non-positive){_where(obs, 'events')}")
    if bad:
        warnings.append(f"observation {oid}: {bad} of {e.size} events have a NaN or non-positive "
                        f"energy and are dropped{_where(obs, 'events')}")
    return warnings
