"""Data reduction: one observation (DL3) to a reduced dataset (DL4), and the IRF maps.

:func:`reduce_many` (:mod:`xgamma.reduce_many`: many observations as dask tasks) and
:func:`stack` (:mod:`xgamma.stacking`) are defined elsewhere and re-exported here.

The 3D reduced dataset (the contract)
-------------------------------------
A reduced map dataset is an ``xarray.Dataset`` on the WCS geometry of the target
(:mod:`xgamma.sky`: dims ``(..., y, x)``, integer pixel coords, 2D ``ra``/``dec`` or
``glon``/``glat`` coords, attrs ``geom``, ``frame``, ``wcs``) with the variables

``counts(energy, y, x)``
    Counts in reconstructed energy, bins left-closed.
``exposure(energy_true, y, x)`` [cm2 s]
    Effective area at each pixel centre's offset from the pointing times the livetime.
``background(energy, y, x)`` [counts]
    The background IRF rate (BKG_3D in the FoV frame given by its ``fovalign`` attr, RADEC or
    ALTAZ, or BKG_2D) integrated over each energy bin (log-log, i.e. as a power law between the
    bin edges) and the pixel solid angle, times the ontime (GADF background rates are per unit
    ontime; this is what Gammapy does and what its reference numbers use). After a FoV
    normalisation (:func:`xgamma.background.fov_background`) it holds the scaled background and
    the dataset has ``fov_bkg_norm`` (and ``fov_bkg_tilt``).
``psf(energy_true, rad, y_irf, x_irf)`` [sr-1]
    The PSF profile at the centres of a coarse sky grid (default 0.2 deg pixels, like Gammapy's
    MapDataset), normalised so that ``sum(2 pi rad drad psf) = 1``; the coarse grid has integer
    pixel coords ``y_irf``, ``x_irf``, 2D coords ``ra_irf``/``dec_irf`` (or ``glon_irf``/
    ``glat_irf``) and its WCS header string in ``attrs["wcs_irf"]``.
``edisp(energy_true, energy, y_irf, x_irf)``
    Energy redistribution kernel on the same coarse grid: probability that a photon of
    true-energy bin ``i`` is reconstructed in reco bin ``j`` (rows sum to at most 1).
``exposure_irf(energy_true, y_irf, x_irf)`` [cm2 s]
    Exposure at the coarse pixels: the weight of PSF and edisp when stacking.
``mask_safe(energy, y, x)``
    bool; optional ``mask_fit(energy, y, x)``.

attrs: ``obs_id`` (a list for stacked data), ``livetime``, ``ontime`` [s], ``pointing_ra``,
``pointing_dec`` [deg], ``name``, ``tstart``/``tstop``/``mjdref`` (GTI), the geometry attrs.
Maps are float64 (``dtype="float32"`` halves memory and time, like Gammapy's maps).

IRFs are interpolated as in Gammapy: linearly in log(energy) and linearly in offset, FoV
coordinates and rad between the bin centres, extrapolated between the outermost centres and
the outer bin edges, and 0 beyond them; the background in log(rate). With a safe mask, bins
where the background template is 0 are masked (Gammapy's ``bkg-invalid``).

Pixels beyond the IRF offset range get exposure and background 0 and ``mask_safe`` False.
Several observations on one geometry share an ``obs`` dim (:func:`reduce_many`): ``obs_id`` is
then the ``obs`` coordinate and ``livetime``, ``ontime``, ``pointing_ra``, ``pointing_dec`` are
coordinates along ``obs``. :func:`stack` sums over ``obs`` (or a list) with the masks applied.

On a HEALPix geometry (sky dim ``pix``) counts, exposure, background and ``mask_safe`` are
``(energy[_true], pix)``; PSF and edisp stay on a coarse WCS grid (``y_irf``, ``x_irf``).

Region geometries (1D spectra) are reduced by :func:`xgamma.spectrum.reduce_spectrum`, to
which :func:`reduce` dispatches.

Examples
--------
>>> import xgamma as xg
>>> from xgamma import testing
>>> obs = testing.make_observation(n_events=500)
>>> geom = testing.make_wcs_geom(width=2.0, binsz=0.1)
>>> ds = xg.reduce(obs, geom)
>>> sorted(ds.data_vars)
['background', 'counts', 'edisp', 'exposure', 'exposure_irf', 'mask_safe', 'psf']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from xgamma import sky
from xgamma.axes import axis_from_edges
from xgamma.errors import GeometryError
from xgamma.irf.arrays import irf_nodes
from xgamma.obs import gti_list_attrs
from xgamma.reduction.background import (
    background_template,
    exclusion_on,
    fov_and_offset,
    fov_background,
    fov_scale,
    oversampling_factor,
    pixel_icrs,
    pixel_solid_angle,
)
from xgamma.reduction.binning import bin_events
from xgamma.reduction.observation import (
    check_irfs,
    irf_of,
    obs_id,
    pointing_radec,
    warn_empty,
)
from xgamma.reduction.products import (
    bin_counts,
    energy_axis_of,
    energy_edges_of,
    irf_geom,
    make_edisp_map,
    make_exposure,
    pixel_offsets,
    psf_map_values,
    rad_coords,
)
from xgamma.reduction.safe_mask import default_thresholds, make_safe_mask, range_mask
from xgamma.reduction.spectrum import reduce_spectrum

__all__ = [
    "reduce", "DEFAULT_PRODUCTS", "PRODUCT_FUNCTIONS", "ReductionContext", "Product",
    "counts_product", "exposure_product", "background_product", "irf_grid_product",
    "psf_product", "edisp_product",
]

#: Products computed by :func:`reduce` by default.
DEFAULT_PRODUCTS = ("counts", "exposure", "background", "psf", "edisp")


# ----------------------------------------------------------------------------- reduce


def _safe_mask_args(safe_mask: Any) -> dict[str, Any] | None:
    if safe_mask is None or safe_mask is False:
        return None
    if isinstance(safe_mask, str):
        return {"methods": [safe_mask]}
    if isinstance(safe_mask, dict):
        return dict(safe_mask)
    return {"methods": list(safe_mask)}


def _apply_background_method(ds: xr.Dataset, method: Any, exclusion_mask: Any) -> xr.Dataset:

    if method is None:
        return ds
    if callable(method):
        return method(ds)
    return fov_background(ds, **_background_opts(method, exclusion_mask))


def _background_opts(method: Any, exclusion_mask: Any) -> dict[str, Any]:
    """Options of :func:`xgamma.background.fov_background` for a ``background_method``."""
    opts: dict[str, Any] = {"method": "scale"}
    if isinstance(method, dict):
        opts.update(method)
    elif method in ("fov", "scale"):
        opts["method"] = "scale"
    elif method == "fit":
        opts["method"] = "fit"
    else:
        raise ValueError(f"unknown background_method {method!r}: use None, 'fov'/'scale', "
                         "'fit', a dict of fov_background options or a callable")
    kind = opts.pop("kind", "fov")
    if kind != "fov":
        raise ValueError(f"unknown background kind {kind!r}")
    opts.setdefault("exclusion_mask", exclusion_mask)
    return opts


def reduce(
    observation: Any,
    geom: xr.Dataset | xr.DataArray,
    energy_true: xr.DataArray | None = None,
    products: Sequence[str] = DEFAULT_PRODUCTS,
    safe_mask: Any = None,
    background_method: Any = None,
    exclusion_mask: xr.DataArray | None = None,
    offset_max: float | None = None,
    psf_binsz: float = 0.2,
    rad: Any = None,
    name: str | None = None,
    dtype: Any = "float64",
    background_oversampling: int | None = None,
    **kwargs: Any,
) -> xr.Dataset:
    """Reduce one observation to a dataset on ``geom``.

    Parameters
    ----------
    observation : Observation
        An observation (``xgamma.io.store.Observation`` or :class:`xgamma.testing.Observation`):
        events, IRFs, pointing, livetime/ontime.
    geom : Dataset or DataArray
        Target geometry with an ``energy`` axis: WCS (3D dataset), HEALPix (``(energy, pix)``
        maps; PSF/edisp on a coarse TAN grid over the pixels; safe masks ``offset-max`` and
        ``aeff-default``, no ``background_method``) or region (1D spectrum, dispatched to
        :func:`xgamma.spectrum.reduce_spectrum` with all arguments).
    energy_true : DataArray, optional
        True-energy axis of exposure, PSF and edisp; default: the reco energy axis.
    products : sequence of str
        Any of ``counts``, ``exposure``, ``background``, ``psf``, ``edisp``.
    safe_mask : list of str, dict or None
        Safe-mask methods (:func:`xgamma.safe_mask.make_safe_mask`), e.g.
        ``["offset-max", "aeff-default"]`` or ``{"methods": ["aeff-max"], "aeff_percent": 10}``
        (``offset-max`` is evaluated here with the pixel offsets at hand, same definition).
    background_method : None, "fov", "fit", dict or callable
        FoV normalisation of the background template (:func:`xgamma.background.fov_background`:
        ``"fov"`` scales, ``"fit"`` fits; a dict gives its options), applied after the safe
        mask; or a callable ``f(dataset) -> dataset``.
    exclusion_mask : DataArray, optional
        True where NOT excluded, for the background normalisation.
    offset_max : float, optional
        Maximum offset (deg): pixels beyond it get ``mask_safe`` False.
    psf_binsz : float
        Pixel size (deg) of the coarse PSF/edisp grid.
    rad : DataArray or array, optional
        Rad axis (or edges in deg) of the PSF map; default 0-0.66 deg in 66 bins.
    name : str, optional
        Dataset name (default ``"obs_<id>"``).
    dtype : dtype
        Float type of the maps; ``"float32"`` (Gammapy's default) halves memory and time. The
        background integral is computed in float32 either way (relative precision ~1e-7).
    background_oversampling : int, optional
        Integrate the background rate over each reco-energy bin in this many log-spaced
        sub-bins (each a power law between its edges), as Gammapy's
        ``MapDatasetMaker(background_oversampling=N)``; default ``None``: one power law between
        the bin edges (a few per cent off the exact integral for bins wider than ~1/3 decade).
        Not for region geometries (a 1D spectrum has no IRF background product).
    **kwargs
        For WCS and HEALPix geometries: options of :func:`xgamma.background.make_background`
        (``fov_rotation_step``); for regions: options of ``reduce_spectrum``.

    Returns
    -------
    xarray.Dataset
        The reduced dataset (see the module docstring).

    Raises
    ------
    ReductionError
        If the observation lacks an IRF a product needs (message names the obs id and IRF).

    Notes
    -----
    A geometry entirely outside the field of view (beyond the IRF offset range) gives zero
    exposure and background, ``mask_safe`` False everywhere and a warning; so does a zero
    livetime.

    Examples
    --------
    >>> from xgamma import testing
    >>> obs = testing.make_observation(n_events=300)
    >>> ds = reduce(obs, testing.make_wcs_geom(width=1.0, binsz=0.1), products=["counts", "exposure"])
    >>> ds.exposure.attrs["units"], int(ds.attrs["obs_id"])
    ('cm2 s', 1)
    """

    kind = sky.geom_kind(geom)
    factor = oversampling_factor(background_oversampling)
    if kind == "region":
        if background_oversampling is not None:
            raise ValueError("background_oversampling: a region geometry (1D spectrum) has no IRF "
                             "background map to oversample")
        if background_method is not None:
            kwargs.setdefault("background", background_method)
        return reduce_spectrum(observation, geom, energy_true=energy_true, safe_mask=safe_mask,
                               exclusion_mask=exclusion_mask, name=name, **kwargs)
    if kind == "healpix":
        return _reduce_healpix(observation, geom, energy_true, tuple(products), safe_mask, background_method,
                               offset_max, psf_binsz, rad, name, dtype,
                               background_oversampling=factor, **kwargs)
    if kind != "wcs":
        raise GeometryError(f"reduce supports WCS, HEALPix and region geometries, got {kind!r}")
    products = tuple(products)
    unknown = set(products) - set(PRODUCT_FUNCTIONS)
    if unknown:
        raise ValueError(f"unknown products {sorted(unknown)}; choose from {sorted(PRODUCT_FUNCTIONS)}")
    check_irfs(observation, products)
    unexpected = set(kwargs) - {"fov_rotation_step"}
    if unexpected:
        raise TypeError(f"unexpected arguments {sorted(unexpected)}")
    ctx = ReductionContext.build(observation, geom, energy_true, dtype=dtype, psf_binsz=psf_binsz,
                                 rad=rad, fov_rotation_step=float(kwargs.get("fov_rotation_step", 1.0)),
                                 background_oversampling=factor)
    data: dict[str, Any] = {}
    coords: dict[str, Any] = {str(k): v.variable for k, v in ctx.geom.coords.items()}
    coords.update({str(k): v.variable for k, v in ctx.energy_true_axis.coords.items()})
    attrs: dict[str, Any] = {str(k): v for k, v in ctx.geom.attrs.items()}
    steps: list[str] = [p for p in ("counts", "exposure", "background") if p in products]
    if "psf" in products or "edisp" in products:
        steps.append("irf_grid")
    steps += [p for p in ("psf", "edisp") if p in products]
    for step in steps:
        out = irf_grid_product(ctx) if step == "irf_grid" else PRODUCT_FUNCTIONS[step](ctx)
        data.update(out.data)
        coords.update(out.coords)
        attrs.update(out.attrs)

    sm = _safe_mask_args(safe_mask)
    methods = list(sm.get("methods", ())) if sm is not None else []
    if "offset-max" in methods:  # done here with the offsets at hand (same definition)
        methods.remove("offset-max")
        off_max = float(sm.get("offset_max", 3.0)) if sm is not None else 3.0
        offset_max = off_max if offset_max is None else min(off_max, float(offset_max))
    mask = np.broadcast_to(ctx.inside, ctx.shape).copy()
    if offset_max is not None:
        mask &= (ctx.offsets < float(offset_max))[None]
    if "background" in data and sm is not None:  # Gammapy's bkg-invalid part of the safe mask
        b = data["background"][1]
        if b.any():
            mask &= b > 0
    if ctx.livetime <= 0 and any(p in products for p in ("exposure", "background")):
        warn_empty(observation, "zero livetime")
        mask[:] = False
    elif not ctx.inside.any():
        warn_empty(observation, "the geometry lies entirely outside the field of view "
                   "(beyond the IRF offset range)")
    if sm is not None and methods and set(methods) <= {"aeff-default"}:
        # the only remaining method is a reco-energy range: applied here on numpy
        mask &= range_mask(ctx.e_edges, *default_thresholds(observation))[:, None, None]
        methods = []
    data["mask_safe"] = (("energy", "y", "x"), mask, {})
    oid = obs_id(observation)
    if not methods and background_method is not None and not callable(background_method) \
            and "counts" in data and "background" in data:
        # FoV normalisation on the numpy arrays at hand (same as fov_background)
        opts = _background_opts(background_method, exclusion_mask)
        if set(opts) <= {"method", "exclusion_mask", "spectral_tilt", "reference"} and \
                opts["method"] in ("scale", "fit"):
            tilt = bool(opts.get("spectral_tilt", False)) and opts["method"] == "fit"
            excl = exclusion_on(ctx.geom, opts["exclusion_mask"])[None]
            b_old = data["background"]
            scaled, norms, tilts = fov_scale(
                data["counts"][1], b_old[1], excl & mask,
                np.asarray(ctx.geom["energy"].values, dtype=float), tilt,
                float(opts.get("reference", 1.0)), name or f"obs_{oid}",
                out=b_old[1])  # in place: the template is this function's own array
            data["background"] = (b_old[0], scaled, b_old[2])
            if tilt:
                data["fov_bkg_tilt"] = ((), tilts, {"units": ""})
            data["fov_bkg_norm"] = ((), norms, {"units": ""})
            background_method = None
    attrs.update(_observation_attrs(observation, ctx, name))
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    if sm is not None and methods:
        ds = make_safe_mask(ds, observation, **{**sm, "methods": methods, "bkg_invalid": False})
    ds = _apply_background_method(ds, background_method, exclusion_mask)
    return ds


def _reduce_healpix(observation: Any, geom: xr.Dataset | xr.DataArray, energy_true: xr.DataArray | None,
                    products: tuple[str, ...], safe_mask: Any, background_method: Any, offset_max: float | None,
                    psf_binsz: float, rad: Any, name: str | None, dtype: Any, **kwargs: Any) -> xr.Dataset:
    """:func:`reduce` on a HEALPix geometry: counts, exposure and background on the pixels
    (``(energy, pix)``: the events binned with ``lonlat_to_healpix``, the IRFs at the pixel
    centres, the background times the pixel solid angle ``4 pi / npix``); PSF and edisp on a
    coarse TAN grid (``psf_binsz``) covering the pixels, as for WCS maps. Safe masks:
    ``offset-max``, ``aeff-default`` and bkg-invalid; no FoV background normalisation."""
    unknown = set(products) - set(PRODUCT_FUNCTIONS)
    if unknown:
        raise ValueError(f"unknown products {sorted(unknown)}; choose from {sorted(PRODUCT_FUNCTIONS)}")
    check_irfs(observation, products)
    unexpected = set(kwargs) - {"fov_rotation_step", "background_oversampling"}
    if unexpected:
        raise TypeError(f"unexpected arguments {sorted(unexpected)}")
    oid = obs_id(observation)
    if background_method is not None:
        raise GeometryError(f"observation {oid}: background_method is not supported on HEALPix geometries")
    sm = _safe_mask_args(safe_mask)
    methods = list(sm.get("methods", ())) if sm is not None else []
    if set(methods) - {"offset-max", "aeff-default"}:
        raise GeometryError(f"observation {oid}: on HEALPix geometries safe_mask supports offset-max and "
                            f"aeff-default, got {methods}")
    g = sky.geom_of(geom)
    if "energy" not in g.dims:
        raise GeometryError(f"observation {oid}: the HEALPix geometry needs an energy axis")
    e_edges = energy_edges_of(g)
    et_axis = axis_from_edges(e_edges, "energy_true", unit="TeV") if energy_true is None else \
        energy_axis_of(energy_true, "energy_true")
    et = np.asarray(et_axis.values, dtype=float)
    pnt = pointing_radec(observation)
    c = sky.skycoord(g).icrs
    ra, dec = np.asarray(c.ra.deg, float), np.asarray(c.dec.deg, float)
    with np.errstate(invalid="ignore"):
        fov_lon, fov_lat, offsets = fov_and_offset(ra, dec, pnt)
    inside = np.ones(offsets.shape, dtype=bool)
    for irf_name in ("aeff", "bkg"):
        irf = irf_of(observation, irf_name)
        if irf is not None and "offset" in irf.dims:
            inside &= offsets <= irf_nodes(irf, "offset")[2] + 1e-9
    livetime = float(getattr(observation, "livetime", 0.0) or 0.0)
    aeff = irf_of(observation, "aeff")
    data: dict[str, Any] = {}
    coords: dict[str, Any] = {str(k): v.variable for k, v in g.coords.items()}
    coords.update({str(k): v.variable for k, v in et_axis.coords.items()})
    attrs: dict[str, Any] = {str(k): v for k, v in g.attrs.items()}
    if "counts" in products:
        counts = bin_events(observation.events, g)
        data["counts"] = (("energy", "pix"), np.asarray(counts.transpose("energy", "pix").values, dtype=dtype),
                          {"units": ""})
    if "exposure" in products and aeff is not None:
        data["exposure"] = (("energy_true", "pix"), make_exposure(aeff, et, offsets, livetime, dtype), {"units": "cm2 s"})
    if "background" in products:
        omega = np.asarray(sky.solid_angle(g).values, dtype=float)
        bkg = background_template(observation, e_edges, ra, dec, pnt, omega,
                                  float(kwargs.get("fov_rotation_step", 1.0)), offsets=offsets,
                                  fov=(fov_lon, fov_lat), dtype=dtype,
                                  oversampling=oversampling_factor(kwargs.get("background_oversampling")))
        data["background"] = (("energy", "pix"), bkg, {"units": ""})
    if "psf" in products or "edisp" in products:
        # the coarse IRF grid: a TAN map over the pixels (their largest distance from the centre)
        centre = sky.center(g)
        frame = sky.frame_of(g)
        r = float(np.nanmax(sky.separation(g, centre).values)) if g.sizes["pix"] else 0.0
        cover = sky.wcs_geom(centre, width=2 * r + 2 * psf_binsz, binsz=psf_binsz, frame=frame, proj="TAN",
                             axes=[axis_from_edges(e_edges, "energy", unit="TeV")])
        ctx = ReductionContext.build(observation, cover, et_axis, dtype=dtype, psf_binsz=psf_binsz, rad=rad)
        for fn in (irf_grid_product, *(PRODUCT_FUNCTIONS[p] for p in ("psf", "edisp") if p in products)):
            out = fn(ctx)
            data.update(out.data)
            coords.update(out.coords)
            attrs.update(out.attrs)
    mask = np.broadcast_to(inside, (e_edges.size - 1, inside.size)).copy()
    if "offset-max" in methods:
        off_max = float(sm.get("offset_max", 3.0)) if sm is not None else 3.0
        offset_max = off_max if offset_max is None else min(off_max, float(offset_max))
    if offset_max is not None:
        mask &= (offsets < float(offset_max))[None]
    if "background" in data and sm is not None and data["background"][1].any():
        mask &= data["background"][1] > 0
    if "aeff-default" in methods:
        mask &= range_mask(e_edges, *default_thresholds(observation))[:, None]
    if livetime <= 0 and any(p in products for p in ("exposure", "background")):
        warn_empty(observation, "zero livetime")
        mask[:] = False
    elif not inside.any():
        warn_empty(observation, "the geometry lies entirely outside the field of view "
                   "(beyond the IRF offset range)")
    data["mask_safe"] = (("energy", "pix"), mask, {})
    attrs.update(_run_attrs(observation, name, livetime, float(getattr(observation, "ontime", 0.0) or 0.0),
                            pnt, aeff))
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _observation_attrs(observation: Any, ctx: ReductionContext, name: str | None) -> dict[str, Any]:
    """Per-observation attrs of a reduced dataset (id, name, times, pointing, instrument)."""
    return _run_attrs(observation, name, ctx.livetime, ctx.ontime, ctx.pointing, ctx.aeff)


def _run_attrs(observation: Any, name: str | None, livetime: float, ontime: float,
               pointing: Any, aeff: Any) -> dict[str, Any]:
    oid = obs_id(observation)
    attrs: dict[str, Any] = {
        "obs_id": oid, "name": name or f"obs_{oid}", "livetime": livetime,
        "ontime": ontime, "pointing_ra": pointing[0], "pointing_dec": pointing[1],
    }
    for key in ("tstart", "tstop"):
        val = getattr(observation, key, None)
        if isinstance(val, int | float | np.floating):
            attrs[key] = float(val)
    attrs.update(gti_list_attrs(getattr(observation, "gti", None)))  # a run with gaps
    tref = getattr(observation, "time_ref", None)
    if tref is not None and hasattr(tref, "mjd"):
        attrs["mjdref"] = float(tref.tt.mjd)
    if aeff is not None and "telescop" in aeff.attrs:
        attrs["instrument"] = str(aeff.attrs["telescop"])
    return attrs


# ----------------------------------------------------------------------------- the products
@dataclass
class ReductionContext:
    """What every product of one observation on one WCS geometry shares: the geometry, its
    energy edges and true-energy axis, the pointing, the pixel positions in ICRS and FoV
    coordinates, the offsets, and (on first use) the coarse IRF grid of PSF and edisp.

    Examples
    --------
    >>> from xgamma import testing
    >>> ctx = ReductionContext.build(testing.make_observation(),
    ...                              testing.make_wcs_geom(width=1.0, binsz=0.5))
    >>> ctx.shape, ctx.offsets.shape
    ((4, 2, 2), (2, 2))
    """

    observation: Any
    geom: xr.Dataset
    wcs: Any
    e_edges: np.ndarray
    energy_true_axis: xr.DataArray
    energy_true: np.ndarray
    pointing: tuple[float, float]
    livetime: float
    ontime: float
    ra: np.ndarray
    dec: np.ndarray
    fov: tuple[np.ndarray, np.ndarray]
    offsets: np.ndarray
    inside: np.ndarray
    aeff: xr.DataArray | None
    dtype: Any = "float64"
    psf_binsz: float = 0.2
    rad: Any = None
    fov_rotation_step: float = 1.0
    background_oversampling: int = 1
    _irf_grid: tuple[xr.Dataset, np.ndarray] | None = field(default=None, repr=False)

    @classmethod
    def build(cls, observation: Any, geom: xr.Dataset | xr.DataArray,
              energy_true: xr.DataArray | None = None, **options: Any) -> ReductionContext:
        """The context of ``observation`` on the WCS geometry ``geom``."""
        keep = {"energy", "y", "x"}
        if isinstance(geom, xr.Dataset) and not geom.data_vars and "geom" in geom.attrs and \
                set(geom.dims) == keep and all(v.ndim > 0 for v in geom.coords.variables.values()):
            g = geom  # a geometry such as wcs_geom's already: nothing to copy or drop
        else:
            g = sky.geom_of(geom)
            g = g.drop_vars([c for c in g.coords if c not in set(sky.sky_and_axis_dims(g)) and not
                             set(g.coords.variables[c].dims) <= keep])
        e_edges = energy_edges_of(g)
        if energy_true is None:
            et_axis = axis_from_edges(e_edges, "energy_true", unit="TeV")
        else:
            et_axis = energy_axis_of(energy_true, "energy_true")
        pnt = pointing_radec(observation)
        ra, dec = pixel_icrs(g)
        with np.errstate(invalid="ignore"):
            fov_lon, fov_lat, offsets = fov_and_offset(ra, dec, pnt)
            offsets = np.where(np.isfinite(offsets), offsets, np.inf)
        inside = np.ones(offsets.shape, dtype=bool)
        for irf_name in ("aeff", "bkg"):
            irf = irf_of(observation, irf_name)
            if irf is not None and "offset" in irf.dims:
                inside &= offsets <= irf_nodes(irf, "offset")[2] + 1e-9
        return cls(
            observation=observation, geom=g, wcs=sky.wcs_of(g), e_edges=e_edges,
            energy_true_axis=et_axis, energy_true=np.asarray(et_axis.values, dtype=float),
            pointing=pnt, livetime=float(getattr(observation, "livetime", 0.0) or 0.0),
            ontime=float(getattr(observation, "ontime", 0.0) or 0.0), ra=ra, dec=dec,
            fov=(fov_lon, fov_lat), offsets=offsets, inside=inside,
            aeff=irf_of(observation, "aeff"), **options)

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(energy, y, x)`` sizes of the geometry."""
        g = self.geom
        return int(g.sizes["energy"]), int(g.sizes["y"]), int(g.sizes["x"])

    def irf_grid(self) -> tuple[xr.Dataset, np.ndarray]:
        """The coarse IRF grid (``psf_binsz`` pixels) and its pixel offsets, built once."""
        if self._irf_grid is None:
            gi = irf_geom(self.geom, self.psf_binsz, wcs=self.wcs)
            self._irf_grid = (gi, pixel_offsets(gi, self.pointing, suffix="_irf"))
        return self._irf_grid


@dataclass
class Product:
    """Variables (``name -> (dims, values, attrs)``), coordinates and attrs one product adds.

    Examples
    --------
    >>> Product({"counts": (("energy",), [1.0], {"units": ""})}).coords
    {}
    """

    data: dict[str, Any]
    coords: dict[str, Any] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)


def counts_product(ctx: ReductionContext) -> Product:
    """Counts cube: the observation's events binned on the geometry.

    Examples
    --------
    >>> from xgamma import testing
    >>> ctx = ReductionContext.build(testing.make_observation(n_events=40),
    ...                              testing.make_wcs_geom(width=4.0, binsz=0.5))
    >>> int(counts_product(ctx).data["counts"][1].sum()) <= 40
    True
    """
    values = bin_counts(ctx.observation.events, ctx.geom, ctx.wcs, ctx.e_edges, ctx.dtype)
    return Product({"counts": (("energy", "y", "x"), values, {"units": ""})})


def exposure_product(ctx: ReductionContext) -> Product:
    """Exposure cube: effective area at each pixel's offset times the livetime.

    Examples
    --------
    >>> from xgamma import testing
    >>> ctx = ReductionContext.build(testing.make_observation(),
    ...                              testing.make_wcs_geom(width=1.0, binsz=0.5))
    >>> exposure_product(ctx).data["exposure"][1].shape
    (4, 2, 2)
    """
    exposure = make_exposure(ctx.aeff, ctx.energy_true, ctx.offsets, ctx.livetime, ctx.dtype)  # type: ignore[arg-type]
    return Product({"exposure": (("energy_true", "y", "x"), exposure, {"units": "cm2 s"})})


def background_product(ctx: ReductionContext) -> Product:
    """Background cube: the background IRF integrated over energy bins and pixels, times the
    ontime (:func:`xgamma.reduction.background.background_template`).

    Examples
    --------
    >>> from xgamma import testing
    >>> ctx = ReductionContext.build(testing.make_observation(),
    ...                              testing.make_wcs_geom(width=1.0, binsz=0.5))
    >>> bool((background_product(ctx).data["background"][1] > 0).all())
    True
    """
    bkg = background_template(ctx.observation, ctx.e_edges, ctx.ra, ctx.dec, ctx.pointing,
                              pixel_solid_angle(ctx.geom), ctx.fov_rotation_step,
                              offsets=ctx.offsets, fov=ctx.fov, dtype=ctx.dtype,
                              oversampling=ctx.background_oversampling)
    return Product({"background": (("energy", "y", "x"), bkg, {"units": ""})})


def irf_grid_product(ctx: ReductionContext) -> Product:
    """The coarse IRF grid's coordinates, its WCS and the exposure on it (PSF/edisp weights).

    Examples
    --------
    >>> from xgamma import testing
    >>> ctx = ReductionContext.build(testing.make_observation(),
    ...                              testing.make_wcs_geom(width=1.0, binsz=0.5))
    >>> sorted(irf_grid_product(ctx).data)
    ['exposure_irf']
    """
    gi, off_irf = ctx.irf_grid()
    data = {}
    if ctx.aeff is not None:
        data["exposure_irf"] = (("energy_true", "y_irf", "x_irf"),
                                make_exposure(ctx.aeff, ctx.energy_true, off_irf, ctx.livetime,
                                              ctx.dtype), {"units": "cm2 s"})
    return Product(data, {str(k): v.variable for k, v in gi.coords.items()},
                   {"wcs_irf": gi.attrs["wcs_irf"]})


def psf_product(ctx: ReductionContext) -> Product:
    """PSF map on the coarse IRF grid, normalised per true energy.

    Examples
    --------
    >>> from xgamma import testing
    >>> ctx = ReductionContext.build(testing.make_observation(),
    ...                              testing.make_wcs_geom(width=1.0, binsz=0.5))
    >>> psf_product(ctx).data["psf"][0]
    ('energy_true', 'rad', 'y_irf', 'x_irf')
    """
    _, off_irf = ctx.irf_grid()
    r_coords, r_edges = rad_coords(ctx.rad)
    pm = psf_map_values(ctx.observation.psf, ctx.energy_true, r_edges, off_irf, ctx.dtype)
    return Product({"psf": (("energy_true", "rad", "y_irf", "x_irf"), pm, {"units": "sr-1"})},
                   r_coords)


def edisp_product(ctx: ReductionContext) -> Product:
    """Energy-dispersion kernel map on the coarse IRF grid.

    Examples
    --------
    >>> from xgamma import testing
    >>> ctx = ReductionContext.build(testing.make_observation(),
    ...                              testing.make_wcs_geom(width=1.0, binsz=0.5))
    >>> edisp_product(ctx).data["edisp"][0]
    ('energy_true', 'energy', 'y_irf', 'x_irf')
    """
    _, off_irf = ctx.irf_grid()
    km = make_edisp_map(ctx.observation.edisp, ctx.energy_true, ctx.e_edges, off_irf)
    return Product({"edisp": (("energy_true", "energy", "y_irf", "x_irf"), km.astype(ctx.dtype),
                              {"units": ""})})


#: The product functions :func:`reduce` runs, by product name (``irf_grid`` runs with psf/edisp).
PRODUCT_FUNCTIONS: dict[str, Callable[[ReductionContext], Product]] = {
    "counts": counts_product, "exposure": exposure_product, "background": background_product,
    "psf": psf_product, "edisp": edisp_product,
}
