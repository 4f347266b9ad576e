"""Small synthetic IRFs, observations and reduced datasets for unit tests.

Everything here is analytic and seeded, so tests need no download and know the truth:

- :func:`make_aeff`: effective area ``aeff(energy_true, offset)`` [cm2], a smooth rise in
  energy times a parabolic fall-off in offset;
- :func:`make_edisp`: Gaussian energy dispersion ``edisp(energy_true, migra, offset)``;
- :func:`make_psf`: Gaussian PSF table ``psf(energy_true, offset, rad)`` [sr-1];
- :func:`make_bkg`: power-law background rate, ``bkg(energy, fov_lon, fov_lat)`` (BKG_3D) or
  ``bkg(energy, offset)`` (BKG_2D) [s-1 TeV-1 sr-1];
- :class:`Observation` / :func:`make_observation`: an object with the attributes of
  ``xgamma.io.store.Observation`` (events, GTI, IRFs, pointing, times) with events drawn
  from the background model plus an optional point source;
- :func:`make_wcs_geom`: a small WCS geometry (through ``xg.wcs_geom``).

The IRFs follow :data:`xgamma.conventions.IRF_SCHEMAS` (validated in the tests).

Examples
--------
>>> from xgamma import testing
>>> obs = testing.make_observation(obs_id=1, n_events=100)
>>> obs.aeff.dims
('energy_true', 'offset')
>>> len(obs.events)
100
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from astropy.coordinates import SkyCoord
from astropy.time import Time

from xgamma import sky
from xgamma.axes import axis_from_edges, energy_axis, linear_axis
from xgamma.sky.geom import wcs_geom
from xgamma.times import seconds_to_datetime

__all__ = [
    "make_map_dataset",
    "crab_reference_geom",
    "make_aeff",
    "make_edisp",
    "make_psf",
    "make_bkg",
    "make_observation",
    "make_wcs_geom",
    "Observation",
    "HESS_LOCATION",
]

#: Observatory location used by the synthetic observations (H.E.S.S. site: GEOLON, GEOLAT deg,
#: ALTITUDE m).
HESS_LOCATION = {"GEOLON": 16.5002222222222, "GEOLAT": -23.2717777777778, "ALTITUDE": 1835.0}

_DEFAULT_OFFSET_EDGES = np.linspace(0.0, 3.0, 7)


def _da(values: np.ndarray, axes: Sequence[xr.DataArray], units: str, **attrs: Any) -> xr.DataArray:
    coords: dict[str, Any] = {}
    for ax in axes:
        coords.update({str(k): v.variable for k, v in ax.coords.items()})
    return xr.DataArray(
        values, dims=[str(ax.dims[0]) for ax in axes], coords=coords, attrs={"units": units, **attrs}
    )


def make_aeff(
    energy_true: xr.DataArray | None = None,
    offset: xr.DataArray | None = None,
    area: float = 1e9,
    e_rise: float = 0.3,
    offset_scale: float = 4.0,
    lo_threshold: float | None = 0.5,
    hi_threshold: float | None = 50.0,
) -> xr.DataArray:
    """Synthetic effective area ``area * (1 - exp(-E / e_rise)) * (1 - (offset / offset_scale)**2)``.

    Parameters
    ----------
    energy_true, offset : xarray.DataArray, optional
        Axes (defaults: 0.05-100 TeV, 40 log bins; 0-3 deg, 6 bins).
    area : float
        Plateau area in cm2.
    e_rise : float
        Energy scale of the rise at low energies, TeV.
    offset_scale : float
        Offset at which the area drops to zero, deg.
    lo_threshold, hi_threshold : float or None
        Default safe energy thresholds (``LO_THRES``/``HI_THRES``) stored in attrs.

    Returns
    -------
    xarray.DataArray
        ``aeff(energy_true, offset)`` in cm2.

    Examples
    --------
    >>> aeff = make_aeff()
    >>> aeff.attrs["units"], aeff.attrs["lo_threshold"]
    ('cm2', 0.5)
    """
    e = energy_true if energy_true is not None else energy_axis(0.05, 100, 40, name="energy_true")
    o = offset if offset is not None else axis_from_edges(_DEFAULT_OFFSET_EDGES, "offset", "deg", "lin")
    ev = e.values[:, None]
    ov = o.values[None, :]
    values = area * (1 - np.exp(-ev / e_rise)) * np.clip(1 - (ov / offset_scale) ** 2, 0, None)
    attrs: dict[str, Any] = {"irf": "aeff", "hdu_class": "AEFF_2D", "point_like": False}
    if lo_threshold is not None:
        attrs["lo_threshold"] = float(lo_threshold)
    if hi_threshold is not None:
        attrs["hi_threshold"] = float(hi_threshold)
    return _da(values, [e, o], "cm2", **attrs)


def make_edisp(
    energy_true: xr.DataArray | None = None,
    migra: xr.DataArray | None = None,
    offset: xr.DataArray | None = None,
    sigma: float = 0.1,
    bias: float = 0.0,
    bias_energy: float = 0.0,
) -> xr.DataArray:
    """Synthetic Gaussian energy dispersion in ``migra = E_reco / E_true``.

    The mean migration is ``1 + bias + bias_energy * (0.1 TeV / E_true)`` (so a positive
    ``bias_energy`` gives the usual positive bias at low energies) and the width ``sigma``.

    Returns
    -------
    xarray.DataArray
        ``edisp(energy_true, migra, offset)``, a probability density in migra.

    Examples
    --------
    >>> import numpy as np
    >>> ed = make_edisp()
    >>> w = (ed.migra_max - ed.migra_min).values
    >>> bool(np.allclose((ed.isel(energy_true=10, offset=0) * w).sum(), 1, rtol=1e-3))
    True
    """
    e = energy_true if energy_true is not None else energy_axis(0.05, 100, 40, name="energy_true")
    m = migra if migra is not None else linear_axis(0.2, 3.0, 140, name="migra")
    o = offset if offset is not None else axis_from_edges(_DEFAULT_OFFSET_EDGES, "offset", "deg", "lin")
    mean = 1 + bias + bias_energy * (0.1 / e.values)
    mv = m.values
    pdf = np.exp(-0.5 * ((mv[None, :] - mean[:, None]) / sigma) ** 2) / (np.sqrt(2 * np.pi) * sigma)
    values = np.broadcast_to(pdf[:, :, None], (e.size, m.size, o.size)).copy()
    return _da(values, [e, m, o], "", irf="edisp", hdu_class="EDISP_2D")


def make_psf(
    energy_true: xr.DataArray | None = None,
    offset: xr.DataArray | None = None,
    rad: xr.DataArray | None = None,
    sigma: float = 0.1,
    offset_slope: float = 0.5,
) -> xr.DataArray:
    """Synthetic Gaussian PSF with width ``sigma * (1 + offset_slope * offset)`` (deg).

    Returns
    -------
    xarray.DataArray
        ``psf(energy_true, offset, rad)`` in sr-1, normalised so that the integral of
        ``2 pi sin(r) psf dr`` is one.

    Examples
    --------
    >>> psf = make_psf()
    >>> psf.dims
    ('energy_true', 'offset', 'rad')
    """
    e = energy_true if energy_true is not None else energy_axis(0.05, 100, 20, name="energy_true")
    o = offset if offset is not None else axis_from_edges(_DEFAULT_OFFSET_EDGES, "offset", "deg", "lin")
    r = rad if rad is not None else linear_axis(0.0, 1.0, 100, unit="deg", name="rad")
    s = np.deg2rad(sigma * (1 + offset_slope * o.values))  # (offset,)
    rr = np.deg2rad(r.values)
    prof = np.exp(-0.5 * (rr[None, :] / s[:, None]) ** 2) / (2 * np.pi * s[:, None] ** 2)
    values = np.broadcast_to(prof[None], (e.size, o.size, r.size)).copy()
    return _da(values, [e, o, r], "sr-1", irf="psf", hdu_class="PSF_TABLE", psf_class="PSF_TABLE")


def make_bkg(
    kind: str = "3d",
    energy: xr.DataArray | None = None,
    fov: xr.DataArray | None = None,
    rate: float = 10.0,
    index: float = 2.7,
    fov_sigma: float = 1.5,
    fovalign: str = "RADEC",
    gradient: float = 0.0,
) -> xr.DataArray:
    """Synthetic background rate ``rate * E**-index * exp(-r**2 / (2 fov_sigma**2))``.

    Parameters
    ----------
    kind : {"3d", "2d"}
        BKG_3D on (fov_lon, fov_lat) or BKG_2D on offset.
    gradient : float
        Relative linear gradient along ``fov_lon`` per degree (3D only), to test the field of
        view alignment.

    Returns
    -------
    xarray.DataArray
        ``bkg(energy, fov_lon, fov_lat)`` or ``bkg(energy, offset)`` in s-1 TeV-1 sr-1, attrs
        ``fovalign``.

    Examples
    --------
    >>> make_bkg().dims
    ('energy', 'fov_lon', 'fov_lat')
    >>> make_bkg("2d").dims
    ('energy', 'offset')
    """
    e = energy if energy is not None else energy_axis(0.1, 100, 30)
    spec = rate * e.values ** (-index)
    if kind == "3d":
        f = fov if fov is not None else linear_axis(-3.0, 3.0, 30, unit="deg", name="fov_lon")
        d = str(f.dims[0])
        edges = np.append(f.coords[f"{d}_min"].values, f.coords[f"{d}_max"].values[-1])
        ax_lon = axis_from_edges(edges, "fov_lon", "deg", "lin")
        ax_lat = axis_from_edges(edges, "fov_lat", "deg", "lin")
        x = ax_lon.values[:, None]
        y = ax_lat.values[None, :]
        spatial = np.exp(-(x**2 + y**2) / (2 * fov_sigma**2)) * np.clip(1 + gradient * x, 0, None)
        values = spec[:, None, None] * spatial[None]
        return _da(values, [e, ax_lon, ax_lat], "s-1 TeV-1 sr-1", irf="bkg", hdu_class="BKG_3D",
                   fovalign=fovalign)
    if kind == "2d":
        o = fov if fov is not None else linear_axis(0.0, 3.0, 15, unit="deg", name="offset")
        spatial = np.exp(-(o.values**2) / (2 * fov_sigma**2))
        values = spec[:, None] * spatial[None, :]
        return _da(values, [e, o], "s-1 TeV-1 sr-1", irf="bkg", hdu_class="BKG_2D",
                   fovalign=fovalign)
    raise ValueError(f"kind must be '3d' or '2d', got {kind!r}")


@dataclass(frozen=True)
class Observation:
    """A synthetic observation with the attributes of ``xgamma.io.store.Observation``.

    Examples
    --------
    >>> obs = make_observation(n_events=10)
    >>> round(float(obs.pointing_radec.ra.deg), 3)
    83.633
    """

    obs_id: int
    events: pd.DataFrame
    gti: pd.DataFrame
    pointing: dict[str, Any]
    livetime: float
    ontime: float
    tstart: float
    tstop: float
    aeff: xr.DataArray | None = None
    edisp: xr.DataArray | None = None
    psf: xr.DataArray | None = None
    bkg: xr.DataArray | None = None
    rad_max: xr.DataArray | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    mjdref: float = 51910.00074287037

    @property
    def deadc(self) -> float:
        return self.livetime / self.ontime if self.ontime > 0 else 0.0

    @property
    def time_ref(self) -> Time:
        return Time(self.mjdref, format="mjd", scale="tt")

    @cached_property
    def pointing_radec(self) -> SkyCoord:
        return SkyCoord(self.pointing["ra"], self.pointing["dec"], unit="deg", frame="icrs")

    @property
    def is_point_like(self) -> bool:
        return self.rad_max is not None


def _fov_to_sky(lon: np.ndarray, lat: np.ndarray, ra0: float, dec0: float) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of the RADEC field-of-view coordinates (SkyOffsetFrame around ra0, dec0)."""
    lo, la = np.radians(lon), np.radians(lat)
    x, y, z = np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)
    d0 = np.radians(dec0)
    xs = x * np.cos(d0) - z * np.sin(d0)
    zs = x * np.sin(d0) + z * np.cos(d0)
    ra = np.degrees(np.arctan2(y, xs)) + ra0
    dec = np.degrees(np.arcsin(np.clip(zs, -1, 1)))
    return ra % 360, dec


def _powerlaw(rng: np.random.Generator, n: int, index: float, emin: float, emax: float) -> np.ndarray:
    g = 1.0 - index
    u = rng.uniform(0, 1, n)
    return (emin**g + u * (emax**g - emin**g)) ** (1 / g)


def make_observation(
    obs_id: int = 1,
    pointing: tuple[float, float] = (83.633, 21.514),
    livetime: float = 1600.0,
    deadc: float = 0.94,
    n_events: int = 2000,
    source: tuple[float, float] | None = (83.633, 22.014),
    source_fraction: float = 0.2,
    seed: int = 0,
    irfs: Sequence[str] = ("aeff", "edisp", "psf", "bkg"),
    bkg_kind: str = "3d",
    fovalign: str = "RADEC",
    tstart: float = 123890826.0,
    **irf_kwargs: Any,
) -> Observation:
    """A synthetic observation whose background events follow its background IRF.

    ``n_events * (1 - source_fraction)`` background events are drawn from the BKG_3D model of
    :func:`make_bkg` (power law of index 2.7 in energy over the IRF's energy range, Gaussian
    of 1.5 deg in the RADEC field of view, truncated at the IRF's FoV grid), and the IRF rate is
    scaled so that its expected number of events in the ontime equals that number: a FoV
    normalisation of the template gives 1 within Poisson errors. The rest are source events
    (index 2.5 above 0.3 TeV, Gaussian of 0.1 deg at ``source``).

    Parameters
    ----------
    obs_id : int
    pointing : (ra, dec)
        Pointing position in deg (ICRS).
    livetime : float
        Livetime in s; ``ontime = livetime / deadc``.
    n_events : int
        Total number of events.
    source : (ra, dec) or None
        Point-source position.
    irfs : sequence of str
        The IRFs to attach (others are None).
    bkg_kind : {"3d", "2d"}
    fovalign : {"RADEC", "ALTAZ"}
    irf_kwargs
        Passed as ``aeff=dict(...)``, ``bkg=dict(...)`` etc. to the IRF makers.

    Examples
    --------
    >>> obs = make_observation(obs_id=7, n_events=50, irfs=("aeff",))
    >>> obs.obs_id, obs.bkg is None
    (7, True)
    """
    from scipy.special import erf

    rng = np.random.default_rng(seed)
    ontime = livetime / deadc if deadc > 0 else 0.0
    n_src = int(round(source_fraction * n_events)) if source is not None else 0
    n_bkg = n_events - n_src
    bkw = dict(irf_kwargs.get("bkg", {}))
    sigma = float(bkw.get("fov_sigma", 1.5))
    index = float(bkw.get("index", 2.7))
    e_ax = bkw.get("energy", energy_axis(0.1, 100, 30))
    emin, emax = float(e_ax.energy_min[0]), float(e_ax.energy_max[-1])
    half = 3.0
    # background events from the model, truncated to the FoV grid
    lon = np.empty(0)
    lat = np.empty(0)
    while lon.size < n_bkg:
        a = rng.normal(0, sigma, (2, 2 * n_bkg + 10))
        keep = (np.abs(a[0]) < half) & (np.abs(a[1]) < half)
        lon, lat = np.concatenate([lon, a[0][keep]]), np.concatenate([lat, a[1][keep]])
    lon, lat = lon[:n_bkg], lat[:n_bkg]
    ra_b, dec_b = _fov_to_sky(lon, lat, pointing[0], pointing[1])
    e_b = _powerlaw(rng, n_bkg, index, emin, emax)
    # rate such that the expected number of events (small-angle FoV integral) is n_bkg
    spatial = 2 * np.pi * np.radians(sigma) ** 2 * erf(half / (sigma * np.sqrt(2))) ** 2
    spectral = (emax ** (1 - index) - emin ** (1 - index)) / (1 - index)
    rate = n_bkg / (ontime * spatial * spectral) if ontime > 0 and n_bkg > 0 else 1.0
    bkw.setdefault("rate", rate)
    if n_src:
        assert source is not None
        slon = rng.normal(0, 0.1, n_src)
        slat = rng.normal(0, 0.1, n_src)
        ra_s, dec_s = _fov_to_sky(slon, slat, source[0], source[1])
        e_s = _powerlaw(rng, n_src, 2.5, 0.3, 100.0)
    else:
        ra_s = dec_s = e_s = np.zeros(0)
    ra = np.concatenate([ra_b, ra_s])
    dec = np.concatenate([dec_b, dec_s])
    energy = np.concatenate([e_b, e_s])
    order = rng.permutation(ra.size)
    time = tstart + np.sort(rng.uniform(0, ontime, ra.size))
    tattrs: dict[Any, Any] = {"mjdref": 51910.00074287037, "mjdrefi": 51910.0, "mjdreff": 51910.00074287037 - 51910.0,
              "timesys": "TT", "timeunit": "s", "timeref": "LOCAL", "timezero": 0.0,
              "time_scale": "utc"}
    events = pd.DataFrame(
        {
            "event_id": np.arange(1, ra.size + 1, dtype=np.int64),
            "time": seconds_to_datetime(time, tattrs),
            "ra": ra[order],
            "dec": dec[order],
            "energy": energy[order],
        }
    )
    events.attrs = {"units": {"time": "s", "energy": "TeV", "ra": "deg", "dec": "deg"},
                    **tattrs, "obs_id": obs_id}
    gti = pd.DataFrame({"start": [tstart], "stop": [tstart + ontime]})
    kw: dict[str, Any] = {}
    if "aeff" in irfs:
        kw["aeff"] = make_aeff(**irf_kwargs.get("aeff", {}))
    if "edisp" in irfs:
        kw["edisp"] = make_edisp(**irf_kwargs.get("edisp", {}))
    if "psf" in irfs:
        kw["psf"] = make_psf(**irf_kwargs.get("psf", {}))
    if "bkg" in irfs:
        kw["bkg"] = make_bkg(bkg_kind, fovalign=fovalign, **bkw)
    meta = {"OBS_ID": obs_id, "RA_PNT": pointing[0], "DEC_PNT": pointing[1], **HESS_LOCATION}
    return Observation(
        obs_id=obs_id,
        events=events,
        gti=gti,
        pointing={"mode": "pointing", "ra": pointing[0], "dec": pointing[1]},
        livetime=float(livetime),
        ontime=float(ontime),
        tstart=float(tstart),
        tstop=float(tstart + ontime),
        meta=meta,
        **kw,
    )


def make_wcs_geom(
    center: tuple[float, float] = (83.633, 22.014),
    width: float | tuple[float, float] = 3.0,
    binsz: float = 0.05,
    frame: str = "icrs",
    proj: str = "CAR",
    energy: xr.DataArray | None = None,
) -> xr.Dataset:
    """A WCS geometry with an energy axis (default 1-10 TeV, 4 bins) through ``xg.wcs_geom``.

    Examples
    --------
    >>> geom = make_wcs_geom(width=1.0, binsz=0.1)
    >>> dict(geom.sizes)
    {'energy': 4, 'y': 10, 'x': 10}
    """

    e = energy if energy is not None else energy_axis(1, 10, 4)
    return wcs_geom(center, width, binsz, frame=frame, proj=proj, axes=[e])


def make_map_dataset(
    counts: Any,
    background: Any,
    binsz: float = 0.02,
    skydir: tuple[float, float] = (83.633, 22.014),
    exposure: float = 1e10,
) -> xr.Dataset:
    """A minimal map dataset from count and background cubes ``(n_energy, ny, nx)``.

    Energy axis 1-10 TeV (``energy_true`` = ``energy``), constant ``exposure`` [cm2 s], no PSF
    or energy dispersion, everything inside ``mask_safe``: the input of estimator unit tests.

    Examples
    --------
    >>> import numpy as np
    >>> ds = make_map_dataset(np.ones((2, 5, 5)), 0.5)
    >>> dict(ds.sizes), float(ds.background.sum())
    ({'energy': 2, 'y': 5, 'x': 5, 'energy_true': 2}, 25.0)
    """

    counts = np.asarray(counts, float)
    ne, ny, nx = counts.shape
    geom = sky.wcs_geom(skydir, (nx * binsz, ny * binsz), binsz, axes=[energy_axis(1, 10, ne)])
    et = energy_axis(1, 10, ne, name="energy_true")
    return xr.Dataset({
        "counts": (("energy", "y", "x"), counts),
        "background": (("energy", "y", "x"), np.broadcast_to(background, counts.shape).astype(float)),
        "exposure": (("energy_true", "y", "x"), np.full(counts.shape, float(exposure))),
        "mask_safe": (("energy", "y", "x"), np.ones(counts.shape, bool)),
    }, coords={**geom.coords, **dict(et.coords.items())}, attrs={**geom.attrs, "name": "flat"})


def crab_reference_geom(energy: xr.DataArray) -> xr.Dataset:
    """The geometry of Gammapy's ``analysis_3d`` Crab reference: ``WcsGeom.create(skydir=(83.633,
    22.014), binsz=0.02, width=5 deg, proj="CAR", frame="icrs")``, 250 x 250 pixels.

    Examples
    --------
    >>> from xgamma.axes import energy_axis
    >>> dict(crab_reference_geom(energy_axis(1, 10, 10)).sizes)
    {'energy': 10, 'y': 250, 'x': 250}
    """

    return sky.wcs_geom((83.633, 22.014), 5.0, 0.02, axes=[energy], car_reference="center")
