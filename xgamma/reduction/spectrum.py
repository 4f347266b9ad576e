"""1D spectrum extraction: ON/OFF spectra of one observation, and their stacking.

:func:`reduce_spectrum` turns one observation and a region geometry (ON region + reco-energy
axis) into the 1D spectrum dataset of :mod:`xgamma.fold` (an ``xarray.Dataset`` without sky
dims):

* ``counts(energy)``: events inside the ON region, binned in reconstructed energy with
  left-closed bins ``[min, max)``;
* ``exposure(energy_true)`` [cm2 s]: effective area at the offset of the ON-region centre
  times the livetime, times the PSF containment fraction within the ON radius when
  ``containment_correction=True`` (full-enclosure IRFs and circular ON regions only);
* ``exposure_irf(energy_true)`` [cm2 s]: the same without the containment correction (the
  weights of the energy dispersion when stacking, as ``exposure_irf`` of 3D datasets);
* ``edisp(energy_true, energy)``: the redistribution matrix at that offset;
* with ``background="reflected"``: ``counts_off(energy)`` summed over the reflected regions
  (:mod:`xgamma.reflected`), ``acceptance(energy) = 1`` and ``acceptance_off(energy) =
  n_off_regions`` (Gammapy convention, ``alpha = acceptance / acceptance_off``);
* ``mask_safe(energy)``: from :func:`xgamma.safe_mask.make_safe_mask` with the given methods,
  all True otherwise;
* attrs ``name``, ``obs_id``, ``livetime``, ``ontime``, ``deadc``, ``instrument``, ``region``
  (string), ``geom="region"``, ``n_off_regions``, ``off_regions`` (region string of the OFF
  regions), ``pointing_ra``/``pointing_dec``, ``offset`` (deg), ``point_like``,
  ``containment_correction``.

Point-like IRFs (``RAD_MAX_2D`` table or ``RAD_MAX`` header keyword): the ON region is a circle
of radius ``rad_max`` (evaluated per event at its reconstructed energy, nearest bin, at the
offset of the ON centre) around the ON-region centre, whatever the geometry's shape; OFF regions
are placed for a circle of the largest ``rad_max`` in the energy range (so that they never
overlap) and filled with the same per-event radius. No containment correction applies.

Documented edge cases:

* ON region beyond the IRF's offset range (outside the field of view), or zero livetime: the
  exposure is zero, ``mask_safe`` is all False and a warning is issued.
* No reflected region fits (e.g. the ON region contains the pointing, or the exclusion mask
  removes all): ``counts_off = 0``, ``acceptance_off = 0`` (alpha is undefined: infinite),
  ``n_off_regions = 0``, ``mask_safe`` all False and a warning; such a dataset contributes
  nothing to a fit or a stack.
* Missing IRFs: a :class:`~xgamma.errors.XgammaError` naming the observation and the IRF.

:func:`stack_spectra` sums ON/OFF datasets the way Gammapy's ``SpectrumDatasetOnOff.stack``
does and :func:`spectrum_info` gives the summary numbers (Gammapy's ``info_dict``). For joint
fits, put datasets along an ``obs`` dim with :func:`xgamma.fold.concat_obs`.

Examples
--------
>>> import xgamma as xg
>>> from xgamma import testing
>>> obs = testing.make_observation(obs_id=1, n_events=2000)  # pointing 0.5 deg off the source
>>> geom = xg.region_geom("icrs;circle(83.633,22.014,0.11)", axes=[xg.energy_axis(0.3, 30, 10)])
>>> ds = reduce_spectrum(obs, geom, safe_mask=["aeff-default"])
>>> ds.attrs["n_off_regions"], sorted(ds.data_vars)[:3]
(12, ['acceptance', 'acceptance_off', 'counts'])
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.coordinates import SkyCoord

from xgamma import axes as xax
from xgamma import irf as xirf
from xgamma import sky
from xgamma.errors import GeometryError, ReductionError, XgammaError
from xgamma.obs import GTI_ATTRS, gti_table, stacked_gti
from xgamma.reduction.binning import bin_events
from xgamma.reduction.reflected import (
    events_in_pixel_regions,
    find_pixel_regions,
    pixel_regions_to_sky,
)
from xgamma.reduction.safe_mask import make_safe_mask
from xgamma.sky.frames import regions_module, separation_deg
from xgamma.stats import cash_significance, li_ma_significance

if TYPE_CHECKING:
    from regions import SkyRegion


__all__ = [
    "reduce_spectrum",
    "stack_spectra",
    "stack_onoff",
    "contributing",
    "spectrum_info",
    "point_like_counts",
    "point_like_search_radius",
]

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------- small helpers
def _energy_edges(geom: xr.Dataset | xr.DataArray, dim: str) -> np.ndarray:
    """Bin edges of ``dim`` in TeV."""
    e = xax.edges(geom, dim)
    unit = geom.coords[f"{dim}_min"].attrs.get("units") or geom.coords[dim].attrs.get("units") or "TeV"
    return np.asarray(e * u.Unit(unit).to("TeV"), dtype=float)


def _energy_centers(axis: xr.DataArray, dim: str) -> np.ndarray:
    """Bin centres of an energy axis in TeV."""
    e = _energy_edges(axis, dim)
    return np.sqrt(e[:-1] * e[1:]) if axis.coords[dim].attrs.get("interp", "log") == "log" \
        else 0.5 * (e[:-1] + e[1:])


def _flat(values: Any, n: int) -> np.ndarray:
    arr = np.asarray(getattr(values, "values", values), dtype=float)
    return np.broadcast_to(arr.reshape(-1) if arr.size == n else arr, (n,)).copy()


def _hist(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Left-closed histogram ``[e_i, e_i+1)``; values outside are dropped."""
    idx = np.searchsorted(edges, values, side="right") - 1
    ok = (idx >= 0) & (idx < edges.size - 1)
    return np.bincount(idx[ok], minlength=edges.size - 1).astype(float)


def _obs_label(observation: Any) -> str:
    return str(getattr(observation, "obs_id", "?"))


def _pointing(observation: Any) -> SkyCoord:
    p = getattr(observation, "pointing_radec", None)
    if p is None:

        raise ReductionError(
            f"observation {_obs_label(observation)}: no fixed pointing position "
            "(drift-mode data cannot use reflected regions)"
        )
    return p.icrs if hasattr(p, "icrs") else p


def _energy_axis(geom: xr.Dataset | xr.DataArray, dim: str) -> xr.DataArray:
    if dim not in geom.dims or not xax.is_binned(geom, dim):
        raise GeometryError(f"the geometry needs a binned {dim!r} axis (xg.energy_axis)")
    return xax.axis_of(geom, dim)


def _rad_max_table(observation: Any) -> xr.DataArray | None:
    """RAD_MAX as a DataArray(energy, offset) in deg (the store also builds it from the RAD_MAX
    header keyword of MAGIC/VERITAS files)."""
    return getattr(observation, "rad_max", None)


def _is_point_like(observation: Any) -> bool:
    flag = getattr(observation, "is_point_like", None)
    if flag is not None:
        return bool(flag)
    return _rad_max_table(observation) is not None


def _rad_max_for(rad_max: xr.DataArray, energy: np.ndarray, offset: float) -> np.ndarray:
    """RAD_MAX (deg) at reco energies ``energy`` (TeV): nearest offset node, energy bin that
    contains each energy (clipped to the table)."""
    rm = rad_max
    unit = rm.attrs.get("units", "deg") or "deg"
    factor = u.Unit(unit).to("deg")
    if "offset" in rm.dims:
        rm = rm.isel(offset=int(np.argmin(np.abs(np.asarray(rm.offset.values, float) - offset))))
    table = np.asarray(rm.values, dtype=float).ravel() * factor
    if "energy" not in rm.dims or table.size == 1:
        return np.full(np.shape(energy), table[0])
    eunit = rm.coords["energy_min"].attrs.get("units", "TeV") or "TeV"
    ef = u.Unit(eunit).to("TeV")
    lo = np.asarray(rm.coords["energy_min"].values, float) * ef
    idx = np.clip(np.searchsorted(lo, energy, side="right") - 1, 0, table.size - 1)
    return table[idx]


def _rad_max_range(rad_max: xr.DataArray, emin: float, emax: float, offset: float) -> float:
    """Largest RAD_MAX (deg) over the table bins that overlap ``[emin, emax)`` (TeV)."""
    e = np.array([emin, emax * (1 - 1e-12)])
    if "energy" in rad_max.dims and rad_max.sizes["energy"] > 1:
        ef = u.Unit(rad_max.coords["energy_min"].attrs.get("units", "TeV") or "TeV").to("TeV")
        lo = np.asarray(rad_max.coords["energy_min"].values, float) * ef
        hi = np.asarray(rad_max.coords["energy_max"].values, float) * ef
        inside = (hi > emin) & (lo < emax)
        e = np.concatenate([e, np.sqrt(lo * hi)[inside]])
    return float(np.max(_rad_max_for(rad_max, e, offset)))


def point_like_counts(events: Any, rad_max: xr.DataArray, offset: float,
                      centers: Sequence[tuple[float, float]], geom: xr.Dataset | xr.DataArray) -> np.ndarray:
    """Counts per reco-energy bin of ``geom`` of the events within RAD_MAX (at each event's
    energy and the run's ``offset``) of any of the ICRS ``centers`` (deg): the ON (one centre)
    or OFF counts of point-like IRFs, as :func:`reduce_spectrum` makes them.

    Examples
    --------
    >>> import pandas as pd, xgamma as xg
    >>> rm = xr.DataArray([0.1], dims="offset", coords={"offset": [0.4]}, attrs={"units": "deg"})
    >>> ev = pd.DataFrame({"ra": [83.6, 83.65, 84.0], "dec": [22.0, 22.0, 22.0], "energy": [1.0, 2.0, 3.0]})
    >>> point_like_counts(ev, rm, 0.4, [(83.6, 22.0)], xg.energy_axis(0.5, 5, 1)).tolist()
    [2.0]
    """
    ra = np.asarray(events["ra"], dtype=float)
    dec = np.asarray(events["dec"], dtype=float)
    energy = np.asarray(events["energy"], dtype=float)
    rm_ev = _rad_max_for(rad_max, energy, offset)
    sel = np.zeros(ra.shape, dtype=bool)
    for lon, lat in centers:
        sel |= separation_deg(ra, dec, float(lon), float(lat)) <= rm_ev
    return _hist(energy[sel], _energy_edges(geom, "energy"))


def point_like_search_radius(rad_max: xr.DataArray, geom: xr.Dataset | xr.DataArray, offset: float) -> float:
    """Radius (deg) of the circle whose reflected positions :func:`reduce_spectrum` searches
    for point-like IRFs: the largest RAD_MAX over the reco-energy range of ``geom``.

    Examples
    --------
    >>> import xgamma as xg
    >>> rm = xr.DataArray([0.1], dims="offset", coords={"offset": [0.4]}, attrs={"units": "deg"})
    >>> point_like_search_radius(rm, xg.energy_axis(0.5, 5, 2), 0.4)
    0.1
    """
    e = _energy_edges(geom, "energy")
    return _rad_max_range(rad_max, float(e[0]), float(e[-1]), offset)


def _missing(observation: Any, what: str, why: str) -> XgammaError:

    return ReductionError(f"observation {_obs_label(observation)}: no {what} IRF, needed for {why}")


# ----------------------------------------------------------------------------- reduction
def reduce_spectrum(
    observation: Any,
    geom: xr.Dataset | xr.DataArray,
    energy_true: xr.DataArray | None = None,
    containment_correction: bool = False,
    background: str | None = "reflected",
    exclusion_mask: xr.DataArray | None = None,
    safe_mask: str | Sequence[str] | None = None,
    safe_mask_params: Mapping[str, Any] | None = None,
    name: str | None = None,
    **finder_kwargs: Any,
) -> xr.Dataset:
    """Reduce one observation to a 1D (ON/OFF) spectrum dataset.

    Parameters
    ----------
    observation : Observation
        From :meth:`xgamma.io.store.DataStore.observation`: ``events``, ``aeff``, ``edisp``,
        ``psf``, ``rad_max``, ``pointing_radec``, ``livetime``, ``ontime``, ``obs_id``.
    geom : xarray.Dataset
        Region geometry (:func:`xgamma.region_geom`) with an ``energy`` axis; may also carry
        the ``energy_true`` axis.
    energy_true : xarray.DataArray, optional
        True-energy axis; default the geometry's ``energy_true`` axis, else the reco edges.
    containment_correction : bool
        Multiply the exposure by the PSF containment fraction in the ON circle.
    background : {"reflected", None}
        Reflected-regions OFF counts, or none (a dataset with ``counts`` only).
    exclusion_mask : xarray.DataArray, optional
        Boolean WCS map, False in excluded areas, for the OFF regions.
    safe_mask : str, list of str or dict, optional
        Safe-mask methods (``"aeff-default"``, ``"aeff-max"``, ``"edisp-bias"``,
        ``"offset-max"``, ...) for :func:`xgamma.safe_mask.make_safe_mask`, or a dict
        ``{"methods": [...], "aeff_percent": 10, ...}``.
    safe_mask_params : mapping, optional
        Keyword arguments of ``make_safe_mask`` (``aeff_percent``, ``bias_percent``, ...).
    name : str, optional
        Dataset name (default ``"obs_<obs_id>"``).
    **finder_kwargs
        Passed to :func:`xgamma.reflected.find_reflected_regions` (``angle_increment``,
        ``min_distance``, ``min_distance_input``, ``max_region_number``, ``binsz``).

    Returns
    -------
    xarray.Dataset
        The 1D spectrum dataset (see the module docstring).

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma import testing
    >>> obs = testing.make_observation(obs_id=7, n_events=3000)
    >>> geom = xg.region_geom("icrs;circle(83.633,22.014,0.11)",
    ...                       axes=[xg.energy_axis(0.2, 30, 15)])
    >>> ds = reduce_spectrum(obs, geom, containment_correction=True,
    ...                      safe_mask={"methods": ["aeff-default"]})
    >>> ds.counts.dims, ds.exposure.attrs["units"], ds.attrs["name"]
    (('energy',), 'cm2 s', 'obs_7')
    """

    if sky.geom_kind(geom) != "region":
        raise GeometryError("reduce_spectrum needs a region geometry (xg.region_geom)")
    if background not in ("reflected", None):
        raise ValueError(f"background must be 'reflected' or None, got {background!r}")
    region = sky.region_of(geom)
    e_axis = _energy_axis(geom, "energy")
    if energy_true is None:
        if "energy_true" in geom.dims:
            energy_true = _energy_axis(geom, "energy_true")
        else:
            energy_true = xax.axis_from_edges(
                xax.edges(e_axis), "energy_true", unit=e_axis.attrs.get("units", "TeV")
            )
    et_axis = energy_true
    e_edges = _energy_edges(e_axis, "energy")

    aeff = getattr(observation, "aeff", None)
    if aeff is None:
        raise _missing(observation, "effective area (aeff)", "the exposure")
    edisp = getattr(observation, "edisp", None)
    if edisp is None:
        raise _missing(observation, "energy dispersion (edisp)", "the edisp matrix")
    point_like = _is_point_like(observation)
    rad_max = _rad_max_table(observation) if point_like else None
    if point_like and rad_max is None:
        raise _missing(observation, "RAD_MAX", "point-like IRFs (the ON radius)")
    if isinstance(region, regions_module().PointSkyRegion) and not point_like:
        raise GeometryError(
            f"observation {_obs_label(observation)}: a point ON region needs point-like IRFs "
            "with RAD_MAX; use a circle for full-enclosure IRFs"
        )
    if containment_correction and not point_like:
        if getattr(observation, "psf", None) is None:
            raise _missing(observation, "PSF", "the containment correction")
        if not isinstance(region, regions_module().CircleSkyRegion):
            raise GeometryError("the containment correction needs a circular ON region")

    pointing = _pointing(observation)
    on_center = sky.center(geom).icrs
    offset = float(pointing.separation(on_center).deg)
    events = observation.events
    ra = np.asarray(events["ra"], dtype=float)
    dec = np.asarray(events["dec"], dtype=float)
    energy = np.asarray(events["energy"], dtype=float)

    # --- ON counts
    on_geom = sky.region_geom(region, axes=[e_axis])
    if point_like:
        assert rad_max is not None
        rm_ev = _rad_max_for(rad_max, energy, offset)
        sel = separation_deg(ra, dec, float(on_center.ra.deg), float(on_center.dec.deg)) <= rm_ev
        counts = _hist(energy[sel], e_edges)
        if isinstance(region, regions_module().CircleSkyRegion):
            rm_bins = _rad_max_for(rad_max, np.sqrt(e_edges[:-1] * e_edges[1:]), offset)
            if np.ptp(rm_bins) == 0 and not np.isclose(region.radius.to_value("deg"), rm_bins[0], rtol=1e-3):
                warnings.warn(
                    f"observation {_obs_label(observation)}: ON radius "
                    f"{region.radius.to_value('deg'):.4g} deg differs from RAD_MAX "
                    f"{rm_bins[0]:.4g} deg of the point-like IRFs; RAD_MAX is used",
                    stacklevel=2,
                )
    else:
        counts = np.asarray(bin_events(events, on_geom).values, dtype=float)

    # --- exposure and edisp

    et_centers = _energy_centers(et_axis, "energy_true")
    aeff_arr = _flat(xirf.aeff_at(aeff, energy_true=et_centers, offset=offset), et_centers.size)
    livetime = float(observation.livetime)
    exposure = aeff_arr * livetime
    if containment_correction and not point_like:
        radius = float(region.radius.to_value("deg"))
        frac = xirf.psf_containment(observation.psf, radius, energy_true=et_centers, offset=offset)
        exposure = exposure * _flat(frac, et_centers.size)
    ematrix = xirf.edisp_matrix(edisp, et_axis, e_axis, offset)
    ematrix_arr = np.asarray(ematrix.transpose("energy_true", "energy").values, dtype=float)

    coords = {**xax.coords_from_axis(e_axis), **xax.coords_from_axis(et_axis)}
    data_vars: dict[str, Any] = {
        "counts": (("energy",), counts, {"units": ""}),
        "exposure": (("energy_true",), exposure, {"units": "cm2 s"}),
        "exposure_irf": (("energy_true",), aeff_arr * livetime, {"units": "cm2 s"}),
        "edisp": (("energy_true", "energy"), ematrix_arr, {"units": ""}),
    }
    n_off = 0
    off_string = ""
    if background == "reflected":

        if point_like:
            assert rad_max is not None
            r_big = _rad_max_range(rad_max, float(e_edges[0]), float(e_edges[-1]), offset)
            finder_region: SkyRegion = regions_module().CircleSkyRegion(on_center, r_big * u.deg)
        else:
            finder_region = region
        opts = {"angle_increment": 0.1, "min_distance": 0.0, "min_distance_input": 0.1,
                "max_region_number": 99, "binsz": 0.01, **finder_kwargs}
        pix_regions, ref_wcs = find_pixel_regions(finder_region, pointing, exclusion_mask, **opts)
        regions = pixel_regions_to_sky(pix_regions, ref_wcs)
        n_off = len(regions)
        if point_like and n_off:
            sel_off = np.zeros(ra.shape, dtype=bool)
            for reg in regions:
                c = reg.center.icrs
                sel_off |= separation_deg(ra, dec, float(c.ra.deg), float(c.dec.deg)) <= rm_ev
            counts_off = _hist(energy[sel_off], e_edges)
        elif n_off:
            counts_off = _hist(energy[events_in_pixel_regions(events, pix_regions, ref_wcs)], e_edges)
        else:
            counts_off = np.zeros(e_edges.size - 1)
        if n_off:
            off_string = sky.region_to_string(_union(regions))
        data_vars["counts_off"] = (("energy",), counts_off, {"units": ""})
        data_vars["acceptance"] = (("energy",), np.ones(e_edges.size - 1), {"units": ""})
        data_vars["acceptance_off"] = (("energy",), np.full(e_edges.size - 1, float(n_off)), {"units": ""})

    obs_id = getattr(observation, "obs_id", None)
    meta = getattr(observation, "meta", {}) or {}
    attrs: dict[str, Any] = {
        "name": name if name is not None else f"obs_{obs_id}",
        "obs_id": int(obs_id) if isinstance(obs_id, int | np.integer) else obs_id,
        "livetime": livetime,
        "ontime": float(getattr(observation, "ontime", np.nan)),
        "deadc": float(getattr(observation, "deadc", np.nan)),
        "instrument": str(meta.get("TELESCOP", meta.get("INSTRUME", ""))),
        "region": geom.attrs.get("region", sky.region_to_string(region)),
        "frame": geom.attrs.get("frame", "icrs"),
        "geom": "region",
        "pointing_ra": float(pointing.ra.deg),
        "pointing_dec": float(pointing.dec.deg),
        "offset": offset,
        "point_like": int(point_like),
        "containment_correction": int(bool(containment_correction) and not point_like),
    }
    if background == "reflected":
        attrs["n_off_regions"] = n_off
        attrs["off_regions"] = off_string
    ds = xr.Dataset(data_vars, coords=coords, attrs=attrs)
    ds["mask_safe"] = xr.DataArray(np.ones(e_edges.size - 1, dtype=bool), dims=("energy",))

    sm = _safe_mask_args(safe_mask, safe_mask_params)
    if sm is not None:

        res = make_safe_mask(ds, observation, **sm)
        mask = res["mask_safe"] if isinstance(res, xr.Dataset) else res
        ds["mask_safe"] = xr.DataArray(np.asarray(mask.values, dtype=bool).reshape(-1), dims=("energy",))

    if not livetime > 0:
        warnings.warn(
            f"observation {_obs_label(observation)}: zero livetime: exposure is zero, mask_safe "
            "set to False", stacklevel=2,
        )
        ds["mask_safe"] = xr.zeros_like(ds["mask_safe"])
    elif not np.any(exposure > 0):
        warnings.warn(
            f"observation {_obs_label(observation)}: the ON region (offset {offset:.3g} deg) lies "
            "outside the IRF's field of view: exposure is zero, mask_safe set to False",
            stacklevel=2,
        )
        ds["mask_safe"] = xr.zeros_like(ds["mask_safe"])
    if background == "reflected" and n_off == 0:
        warnings.warn(
            f"observation {_obs_label(observation)}: no reflected OFF region found "
            "(ON region on the pointing, or all excluded): mask_safe set to False",
            stacklevel=2,
        )
        ds["mask_safe"] = xr.zeros_like(ds["mask_safe"])
    return ds


def _safe_mask_args(safe_mask: Any, params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``make_safe_mask`` keyword arguments from a method name, a list or a dict with ``methods``."""
    if safe_mask is None or safe_mask is False:
        return None
    if isinstance(safe_mask, str):
        out: dict[str, Any] = {"methods": [safe_mask]}
    elif isinstance(safe_mask, Mapping):
        out = dict(safe_mask)
    else:
        out = {"methods": list(safe_mask)}
    out.update(params or {})
    return out if out.get("methods") else None


def _union(regions: Sequence[SkyRegion]) -> SkyRegion:
    out = regions[0]
    for r in regions[1:]:
        out = out | r
    return out


# ----------------------------------------------------------------------------- stacking
def _same_edges(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-9, atol=0))


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(np.all(a == b))
    except Exception:  # incomparable types
        return False


def _obs_attrs(datasets: xr.Dataset | Sequence[xr.Dataset]) -> dict[str, Any]:
    """Summed livetime/ontime and the list of obs ids of the datasets to stack."""
    out: dict[str, Any] = {}
    if isinstance(datasets, xr.Dataset):
        ds = datasets
        for key in ("livetime", "ontime"):
            if key in ds.coords and "obs" in ds.coords[key].dims:
                out[key] = float(np.nansum(ds.coords[key].values))
            elif key == "livetime" and key in ds.attrs:
                out[key] = float(ds.attrs[key])
        attr_ids = ds.attrs.get("obs_id")
        out["obs_id"] = list(attr_ids) if isinstance(attr_ids, list | tuple) else \
            [v.item() if hasattr(v, "item") else v for v in ds["obs"].values]
        return out
    for key in ("livetime", "ontime"):
        if all(key in d.attrs for d in datasets):
            out[key] = float(np.nansum([float(d.attrs[key]) for d in datasets]))
    ids: list[Any] = []
    for d in datasets:
        oid = d.attrs.get("obs_id")
        ids.extend(oid if isinstance(oid, list | tuple) else [oid])
    out["obs_id"] = ids
    return out


def _union_gti(datasets: xr.Dataset | Sequence[xr.Dataset]) -> dict[str, Any]:
    """``tstart``/``tstop``/``gti_start``/``gti_stop`` of the union of the datasets' GTIs."""
    if isinstance(datasets, xr.Dataset):
        return stacked_gti(datasets)
    gtis = [gti_table(d) for d in datasets]
    if any(g is None for g in gtis):
        return {}
    start = [x for g in gtis for x in g[0].tolist()]  # type: ignore[index]
    stop = [x for g in gtis for x in g[1].tolist()]  # type: ignore[index]
    return stacked_gti(xr.Dataset(attrs={"gti_start": start, "gti_stop": stop}))


def _safe_any(ds: xr.Dataset) -> xr.DataArray:
    """Per observation (or for a dataset without ``obs``): whether any bin is safe."""
    if "mask_safe" not in ds:
        return xr.DataArray(np.ones(ds.sizes["obs"], bool) if "obs" in ds.dims else True,
                            dims=("obs",) if "obs" in ds.dims else ())
    m = ds["mask_safe"].astype(bool)
    return m.any([d for d in m.dims if d != "obs"])


def contributing(datasets: xr.Dataset | Sequence[xr.Dataset]) -> xr.Dataset | list[xr.Dataset]:
    """The datasets (or ``obs`` entries) with at least one safe bin: those that contribute to a
    stack. An observation without an OFF region or outside the field of view has ``mask_safe``
    all False; it adds no counts, and must add no livetime either.

    Raises
    ------
    ReductionError
        When none has a safe bin.

    Examples
    --------
    >>> import xarray as xr
    >>> a = xr.Dataset({"mask_safe": ("energy", [True, False])}, attrs={"obs_id": 1})
    >>> b = xr.Dataset({"mask_safe": ("energy", [False, False])}, attrs={"obs_id": 2})
    >>> [d.attrs["obs_id"] for d in contributing([a, b])]
    [1]
    """
    if isinstance(datasets, xr.Dataset):
        flags = np.asarray(_safe_any(datasets).values, bool).reshape(-1).tolist()
        ids = datasets["obs"].values.tolist() if "obs" in datasets.dims else [datasets.attrs.get("obs_id")]
    else:
        flags = [bool(_safe_any(d).any()) for d in datasets]
        ids = [d.attrs.get("name", d.attrs.get("obs_id")) for d in datasets]
    if not any(flags):
        raise ReductionError("stacking: no dataset has a safe bin (no OFF region, outside the field of view "
                             f"or offset_max, or fully excluded): nothing to stack ({len(ids)} datasets: {ids})")
    left = [i for i, k in zip(ids, flags, strict=True) if not k]
    if not left:
        return datasets if isinstance(datasets, xr.Dataset) else list(datasets)
    log.info("stacking: %d of %d datasets contribute nothing (no safe bin: no OFF region, outside "
             "the field of view or offset_max, or fully excluded) and are left out: %s", len(left), len(ids), left)
    if isinstance(datasets, xr.Dataset):
        out = datasets.isel(obs=np.flatnonzero(flags))
        if isinstance(out.attrs.get("obs_id"), list):
            out = out.assign_attrs(obs_id=[i for i, k in zip(ids, flags, strict=True) if k])
        return out
    return [d for d, k in zip(datasets, flags, strict=True) if k]


def stack_onoff(ds: xr.Dataset, mask: xr.DataArray) -> dict[str, xr.DataArray]:
    """The stacked ON/OFF variables of datasets along ``obs`` (1D spectra or 3D maps).

    With each observation's ``mask`` applied: ``counts_off`` and ``acceptance`` summed;
    ``acceptance_off = acceptance * sum(n_off) / sum(alpha * n_off)`` per bin, so that the
    stacked ``alpha`` is the OFF-count weighted mean of the alphas (and ``alpha * counts_off =
    sum(alpha_i * n_off_i)``, the summed background); where the stacked OFF counts are zero,
    ``acceptance / <alpha>`` with ``<alpha> = sum(alpha * n_off) / sum(n_off)`` over all bins.
    Bins outside every mask get ``acceptance = 1`` and ``acceptance_off = 1 / <alpha>``.

    Parameters
    ----------
    ds : Dataset
        ON/OFF datasets along ``obs`` (``counts_off``, ``acceptance_off``, optional
        ``acceptance``, default 1).
    mask : DataArray
        Per-observation safe mask (bool, broadcastable to ``counts_off``).

    Returns
    -------
    dict
        ``counts_off``, ``acceptance``, ``acceptance_off`` without the ``obs`` dim.

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.Dataset({"counts_off": (("obs", "energy"), [[10.0, 0.0], [30.0, 0.0]]),
    ...                  "acceptance": (("obs", "energy"), [[1.0, 1.0], [1.0, 1.0]]),
    ...                  "acceptance_off": (("obs", "energy"), [[10.0, 10.0], [5.0, 5.0]])})
    >>> st = stack_onoff(ds, xr.ones_like(ds.counts_off, dtype=bool))
    >>> [round(float(a), 4) for a in st["acceptance"] / st["acceptance_off"]]   # (1 + 6) / 40
    [0.175, 0.175]
    """
    acc = ds["acceptance"] if "acceptance" in ds else xr.ones_like(ds["counts_off"])
    acc_off = ds["acceptance_off"]
    maskf = mask.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = xr.where(mask & (acc_off > 0), acc / acc_off.where(acc_off > 0, 1.0), 0.0)
    n_off = ds["counts_off"].fillna(0) * maskf
    total_off = n_off.sum("obs")
    total_alpha = (alpha * n_off).sum("obs")
    acc_sum = (acc * maskf).sum("obs")
    sum_off = total_off.sum()
    mean_alpha = xr.where(
        sum_off > 0,
        total_alpha.sum() / sum_off.where(sum_off > 0, 1.0),
        (alpha * maskf).sum() / maskf.sum().where(maskf.sum() > 0, 1.0),
    )
    stacked_mask = mask.any("obs")
    mean_alpha_safe = mean_alpha.where(mean_alpha > 0, 1.0)
    acc_off_new = xr.where(
        total_off > 0,
        acc_sum * total_off / total_alpha.where(total_alpha > 0, np.inf),
        acc_sum / mean_alpha_safe,
    )
    return {
        "counts_off": total_off.assign_attrs(ds["counts_off"].attrs),
        "acceptance": xr.where(stacked_mask, acc_sum, 1.0).assign_attrs(units=""),
        "acceptance_off": xr.where(stacked_mask, acc_off_new, 1.0 / mean_alpha_safe).assign_attrs(units=""),
    }


def stack_spectra(datasets: xr.Dataset | Sequence[xr.Dataset], name: str = "stacked") -> xr.Dataset:
    """Stack 1D spectrum datasets (ON/OFF or with a known background) into one.

    Each observation's ``mask_safe`` is applied before summing (Gammapy semantics):

    * ``counts``, ``counts_off``, ``background``, ``acceptance``: sums over ``obs`` of the
      masked values; ``mask_safe`` = OR over ``obs``; ``mask_fit`` = OR where all have one;
    * ``acceptance_off = acceptance * sum(n_off) / sum(alpha * n_off)`` per bin, so the stacked
      ``alpha`` is the OFF-count weighted mean of the alphas; where the stacked OFF counts are
      zero, ``acceptance / <alpha>`` with ``<alpha> = sum(alpha * n_off) / sum(n_off)`` over all
      bins. Bins outside every mask get ``acceptance = 1`` and ``acceptance_off = 1 / <alpha>``
      (finite values that no masked statistic uses);
    * ``exposure`` (and ``exposure_irf``): sums over the observations with at least one safe bin;
    * ``edisp``: weighted mean, each observation's matrix masked in reco energy by its
      ``mask_safe``. The weights are ``exposure_irf`` (effective area x livetime, without the
      containment correction: Gammapy's weighting, which the reference fits reproduce) when the
      datasets carry it, else ``exposure``. With ``exposure`` weights (drop ``exposure_irf``
      before stacking) the stacked prediction equals the sum of the masked per-observation
      predictions exactly, for any spectrum; the two differ only through the containment
      fraction's variation between observations;
    * observations without a safe bin (no OFF region, outside the field of view: ``mask_safe``
      all False) contribute nothing and are left out first (logged), so ``livetime``,
      ``ontime`` and ``obs_id`` count the contributing observations only
      (:func:`contributing`);
    * attrs: ``livetime``/``ontime`` summed, ``obs_id`` the list, ``name``.

    Parameters
    ----------
    datasets : list of Dataset, or Dataset with an ``obs`` dim
        Datasets with the same energy binning.
    name : str
        Name of the stacked dataset.

    Returns
    -------
    xarray.Dataset
        The stacked dataset (no ``obs`` dim). Works on numpy- and dask-backed input.

    Raises
    ------
    ReductionError
        When no dataset has a safe bin (nothing to stack).

    Examples
    --------
    >>> import numpy as np, xarray as xr, xgamma as xg
    >>> e = xg.energy_axis(1, 10, 2)
    >>> def one(n_on, n_off, n_reg, mask):
    ...     return xr.Dataset({"counts": ("energy", n_on), "counts_off": ("energy", n_off),
    ...                        "acceptance": ("energy", [1.0, 1.0]),
    ...                        "acceptance_off": ("energy", [n_reg] * 2),
    ...                        "mask_safe": ("energy", mask)}, coords=e.coords)
    >>> st = stack_spectra([one([5.0, 3.0], [12.0, 6.0], 12.0, [True, True]),
    ...                     one([4.0, 2.0], [40.0, 20.0], 40.0, [False, True])])
    >>> st.counts.values.tolist(), st.counts_off.values.tolist()
    ([5.0, 5.0], [12.0, 26.0])
    >>> np.round((st.acceptance / st.acceptance_off).values, 6).tolist()  # alphas
    [0.083333, 0.038462]
    """
    if isinstance(datasets, xr.Dataset) and "obs" not in datasets.dims:
        datasets = [datasets]
    if not isinstance(datasets, xr.Dataset) and len(datasets) == 0:
        raise ValueError("stack_spectra: no datasets")
    datasets = contributing(datasets)
    if isinstance(datasets, xr.Dataset):
        ds = datasets
        common = dict(datasets.attrs)
    else:
        if len(datasets) == 0:
            raise ValueError("stack_spectra: no datasets")
        ref = datasets[0]
        for d in datasets[1:]:
            for dim in ("energy", "energy_true"):
                if dim in ref.dims and not _same_edges(xax.edges(ref, dim), xax.edges(d, dim)):
                    raise GeometryError(f"datasets differ in their {dim!r} binning")
        parts = [d.drop_attrs(deep=False) for d in datasets]
        ds = xr.concat(parts, dim="obs", data_vars="all", coords="minimal", compat="override",
                       join="override", combine_attrs="drop")
        common = {k: v for k, v in ref.attrs.items() if all(_same(d.attrs.get(k), v) for d in datasets)}
    obs_attrs = _obs_attrs(datasets)
    if "mask_safe" in ds:
        mask = ds["mask_safe"].astype(bool)
    else:
        mask = xr.ones_like(ds["counts"], dtype=bool)
    maskf = mask.astype(float)
    out = xr.Dataset(coords={k: v for k, v in ds.coords.items() if "obs" not in v.dims})

    for var in ("counts", "background"):
        if var in ds:
            out[var] = (ds[var].fillna(0) * maskf).sum("obs").assign_attrs(ds[var].attrs)
    if "counts_off" in ds:
        out.update(stack_onoff(ds, mask))
    if "exposure" in ds:
        any_mask = mask.any("energy").astype(float)
        exposure = (ds["exposure"] * any_mask).sum("obs")
        out["exposure"] = exposure.assign_attrs(ds["exposure"].attrs)
        weights = ds["exposure_irf"] * any_mask if "exposure_irf" in ds else ds["exposure"] * any_mask
        w_sum = weights.sum("obs")
        if "exposure_irf" in ds:
            out["exposure_irf"] = w_sum.assign_attrs(ds["exposure_irf"].attrs)
        if "edisp" in ds:
            num = (ds["edisp"] * weights * maskf).sum("obs")
            edisp = (num / w_sum.where(w_sum > 0)).fillna(0.0)
            out["edisp"] = edisp.transpose(*[d for d in ds["edisp"].dims if d != "obs"])
            out["edisp"].attrs = dict(ds["edisp"].attrs)
    out["mask_safe"] = mask.any("obs")
    if "mask_fit" in ds:
        out["mask_fit"] = ds["mask_fit"].astype(bool).any("obs")
    drop = ("obs_id", "livetime", "ontime", "deadc", "n_off_regions", "off_regions", "offset",
            "pointing_ra", "pointing_dec", "name", "tstart", "tstop", *GTI_ATTRS)
    keep = {k: v for k, v in common.items() if k not in drop}
    out.attrs = {**keep, "name": name, "geom": common.get("geom", "region"), **obs_attrs,
                 **_union_gti(datasets)}
    return out


# ----------------------------------------------------------------------------- summary
def spectrum_info(dataset: xr.Dataset, in_safe_range: bool = True) -> dict[str, Any]:
    """Summary numbers of a 1D dataset, as Gammapy's ``info_dict``.

    Sums run over the ``mask_safe`` bins (``in_safe_range=True``). For ON/OFF data:
    ``counts``, ``counts_off``, ``acceptance`` (summed), ``alpha = sum(alpha_i n_off_i) /
    sum(n_off_i)``, ``background = alpha * counts_off``, ``acceptance_off = acceptance /
    alpha``, ``excess``, ``sqrt_ts`` (signed Li & Ma / WStat significance of the summed
    counts); plus ``livetime``, ``ontime``, ``n_bins``, ``energy_range`` (TeV, the safe range)
    and ``n_off_regions`` if known.

    Examples
    --------
    >>> import xarray as xr, xgamma as xg
    >>> e = xg.energy_axis(1, 10, 2)
    >>> ds = xr.Dataset({"counts": ("energy", [95.0, 1.0]), "counts_off": ("energy", [80.0, 5.0]),
    ...                  "acceptance": ("energy", [1.0, 1.0]),
    ...                  "acceptance_off": ("energy", [12.0, 12.0]),
    ...                  "mask_safe": ("energy", [True, False])}, coords=e.coords)
    >>> info = spectrum_info(ds)
    >>> info["counts"], info["counts_off"], round(info["excess"], 4), round(info["sqrt_ts"], 4)
    (95.0, 80.0, 88.3333, 16.0883)
    """
    mask = dataset["mask_safe"].astype(bool) if ("mask_safe" in dataset and in_safe_range) \
        else xr.ones_like(dataset["counts"], dtype=bool)
    m = np.asarray(mask.values, dtype=bool)
    counts = np.asarray(dataset["counts"].values, dtype=float)
    info: dict[str, Any] = {"name": dataset.attrs.get("name", ""), "counts": float(counts[m].sum())}
    if "counts_off" in dataset:
        n_off = np.asarray(dataset["counts_off"].values, dtype=float)
        acc = np.asarray(dataset["acceptance"].values, dtype=float) if "acceptance" in dataset \
            else np.ones_like(n_off)
        acc_off = np.asarray(dataset["acceptance_off"].values, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha_bins = np.where(acc_off > 0, acc / np.where(acc_off > 0, acc_off, 1.0), np.nan)
        n_off_sum = float(n_off[m].sum())
        if not m.any() or np.any(np.isnan(alpha_bins[m])):
            alpha = np.nan  # no OFF measurement (no reflected region)
        elif n_off_sum > 0:
            alpha = float(np.sum((alpha_bins * n_off)[m])) / n_off_sum
        else:
            alpha = float(np.mean(alpha_bins[m]))
        acc_sum = float(acc[m].sum())
        info.update(
            counts_off=n_off_sum,
            acceptance=acc_sum,
            alpha=alpha,
            acceptance_off=acc_sum / alpha if np.isfinite(alpha) and alpha > 0 else np.nan,
            background=alpha * n_off_sum,
            excess=info["counts"] - alpha * n_off_sum,
            sqrt_ts=_li_ma(info["counts"], n_off_sum, alpha),
        )
    elif "background" in dataset:
        bkg = float(np.asarray(dataset["background"].values, dtype=float)[m].sum())
        info.update(background=bkg, excess=info["counts"] - bkg,
                    sqrt_ts=_cash_sig(info["counts"], bkg))
    for key in ("livetime", "ontime", "n_off_regions", "obs_id"):
        if key in dataset.attrs:
            info[key] = dataset.attrs[key]
    info["n_bins"] = int(m.sum())
    if m.any():
        e = _energy_edges(dataset, "energy")
        idx = np.nonzero(m)[0]
        info["energy_range"] = (float(e[idx[0]]), float(e[idx[-1] + 1]))
    else:
        info["energy_range"] = (np.nan, np.nan)
    return info


def _li_ma(n_on: float, n_off: float, alpha: float) -> float:
    """Signed Li & Ma (1983) eq. 17 significance (= sqrt of the WStat TS); NaN without alpha."""

    if not np.isfinite(alpha) or alpha <= 0:
        return np.nan
    return float(li_ma_significance(n_on, n_off, alpha))


def _cash_sig(n_on: float, mu_bkg: float) -> float:
    """Signed significance of ``n_on`` over a known background ``mu_bkg`` (Cash)."""

    if not mu_bkg > 0:
        return np.nan
    return float(cash_significance(n_on, mu_bkg))
