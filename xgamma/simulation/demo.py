"""An analytic demo instrument: IRFs as formulas, so that simulations run with no data.

:func:`demo_irfs` returns effective area, energy dispersion, PSF and background as DataArrays
that follow :data:`xgamma.conventions.IRF_SCHEMAS`, loosely shaped like a CTA array (the
numbers are round, not measured):

- effective area ``A(E, o) = 3e10 cm2 * x**2.5 / (1 + x**2.5) * exp(-o**2 / (2 * 3**2))`` with
  ``x = E / 0.1 TeV`` (a 3e6 m2 plateau above a few hundred GeV, falling off with offset
  ``o``);
- energy dispersion: Gaussian in ``migra`` of width ``0.08 + 0.04 (0.1 TeV / E)**0.5``,
  unbiased;
- PSF: Gaussian of 68 % radius about ``0.05 deg (1 + (0.1 TeV / E)**0.5)`` growing by 10 %
  per degree of offset;
- background (BKG_3D, RADEC-aligned): ``2 * (E / 1 TeV)**-2.7 s-1 TeV-1 sr-1`` times a
  Gaussian of 2.5 deg in the field of view.

The true- and reconstructed-energy ranges are 0.02-200 TeV, offsets 0-5 deg.

Examples
--------
>>> irfs = demo_irfs()
>>> sorted(irfs), irfs["aeff"].dims
(['aeff', 'bkg', 'edisp', 'psf'], ('energy_true', 'offset'))
>>> round(float(irfs["aeff"].sel(energy_true=10, offset=0.25, method="nearest")) / 1e10, 2)
3.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from xgamma.axes import axis_from_edges, energy_axis, linear_axis

__all__ = ["demo_irfs", "demo_aeff", "demo_edisp", "demo_psf", "demo_bkg", "DEMO_TELESCOP"]

#: TELESCOP of the demo instrument (written into the DL3 headers).
DEMO_TELESCOP = "XGAMMA-DEMO"

_DEG2SR = (np.pi / 180.0) ** 2


def _da(values: np.ndarray, axes: Sequence[xr.DataArray], units: str, **attrs: Any) -> xr.DataArray:
    coords: dict[str, Any] = {}
    for ax in axes:
        coords.update({str(k): v.variable for k, v in ax.coords.items()})
    base = {"units": units, "point_like": False, "telescop": DEMO_TELESCOP, "instrume": "analytic"}
    return xr.DataArray(values, dims=[str(ax.dims[0]) for ax in axes], coords=coords,
                        attrs={**base, **attrs})


def _offset_axis() -> xr.DataArray:
    return axis_from_edges(np.linspace(0.0, 5.0, 11), "offset", "deg", "lin")


def demo_aeff() -> xr.DataArray:
    """Effective area ``(energy_true, offset)`` in cm2 (see the module docstring).

    Examples
    --------
    >>> demo_aeff().attrs["hdu_class"]
    'AEFF_2D'
    """
    e = energy_axis(0.02, 200, 48, name="energy_true")
    o = _offset_axis()
    x = (e.values / 0.1) ** 2.5
    vals = 3e10 * (x / (1 + x))[:, None] * np.exp(-0.5 * (o.values / 3.0) ** 2)[None, :]
    return _da(vals, [e, o], "cm2", irf="aeff", hdu_class="AEFF_2D")


def demo_edisp() -> xr.DataArray:
    """Energy dispersion ``(energy_true, migra, offset)``, a density in migra.

    Examples
    --------
    >>> ed = demo_edisp()
    >>> dm = (ed.migra_max - ed.migra_min).values
    >>> round(float((ed.isel(energy_true=20, offset=0) * dm).sum()), 4)
    1.0
    """
    e = energy_axis(0.02, 200, 48, name="energy_true")
    m = linear_axis(0.2, 2.0, 90, name="migra")
    o = _offset_axis()
    sig = 0.08 + 0.04 * (0.1 / e.values) ** 0.5
    pdf = np.exp(-0.5 * ((m.values[None, :] - 1.0) / sig[:, None]) ** 2)
    dm = (m.migra_max - m.migra_min).values
    pdf = pdf / (pdf * dm).sum(axis=1, keepdims=True)  # densities integrating to one
    vals = np.broadcast_to(pdf[:, :, None], (e.size, m.size, o.size)).copy()
    return _da(vals, [e, m, o], "", irf="edisp", hdu_class="EDISP_2D")


def demo_psf() -> xr.DataArray:
    """Gaussian PSF table ``(energy_true, offset, rad)`` in sr-1, normalised on the sphere.

    Examples
    --------
    >>> p = demo_psf()
    >>> p.attrs["psf_class"], p.dims
    ('PSF_TABLE', ('energy_true', 'offset', 'rad'))
    """
    e = energy_axis(0.02, 200, 24, name="energy_true")
    o = _offset_axis()
    r = linear_axis(0.0, 1.0, 200, unit="deg", name="rad")
    r68 = 0.05 * (1 + (0.1 / e.values) ** 0.5)[:, None] * (1 + 0.1 * o.values)[None, :]
    sigma = r68 / 1.50959  # 68 % containment of a 2D Gaussian: 1.50959 sigma
    rr = r.values
    prof = np.exp(-0.5 * (rr[None, None, :] / sigma[:, :, None]) ** 2)
    # normalise so that sum(2 pi sin(r) psf dr) = 1 over the rad bins
    dr = np.radians((r.rad_max - r.rad_min).values)
    norm = (2 * np.pi * np.sin(np.radians(rr)) * prof * dr).sum(axis=-1, keepdims=True)
    return _da(prof / norm, [e, o, r], "sr-1", irf="psf", hdu_class="PSF_TABLE", psf_class="PSF_TABLE")


def demo_bkg() -> xr.DataArray:
    """Background rate ``(energy, fov_lon, fov_lat)`` in s-1 TeV-1 sr-1 (BKG_3D, RADEC).

    Examples
    --------
    >>> demo_bkg().attrs["fovalign"]
    'RADEC'
    """
    e = energy_axis(0.02, 200, 24)
    edges = np.linspace(-5.0, 5.0, 41)
    lon = axis_from_edges(edges, "fov_lon", "deg", "lin")
    lat = axis_from_edges(edges, "fov_lat", "deg", "lin")
    spatial = np.exp(-0.5 * (lon.values[:, None] ** 2 + lat.values[None, :] ** 2) / 2.5**2)
    vals = 2.0 * e.values[:, None, None] ** -2.7 * spatial[None]
    return _da(vals, [e, lon, lat], "s-1 TeV-1 sr-1", irf="bkg", hdu_class="BKG_3D", fovalign="RADEC")


def demo_irfs() -> dict[str, xr.DataArray]:
    """All four IRFs of the demo instrument by kind (``aeff``, ``edisp``, ``psf``, ``bkg``).

    Examples
    --------
    >>> from xgamma.simulation import observation_from_irfs
    >>> obs = observation_from_irfs(demo_irfs(), (83.63, 22.01), "10 min")
    >>> obs.psf.attrs["telescop"]
    'XGAMMA-DEMO'
    """
    return {"aeff": demo_aeff(), "edisp": demo_edisp(), "psf": demo_psf(), "bkg": demo_bkg()}
