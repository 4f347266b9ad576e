"""HAWC: drift-scan observations with map-based IRFs, reduced per event type (nHit bin).

HAWC does not point: the sky drifts over the detector once per sidereal day, so an
observation has no pointing position and its IRFs are maps on the sky, given **per transit**
(one pass of the source over the array):

- ``aeff`` (class ``map``): exposure per transit ``(energy_true, y, x)`` [cm2 s] on a coarse grid
- ``edisp`` (class ``edisp_kernel_map``): ``(energy_true, energy, y, x)`` kernel on the coarse grid
- ``psf`` (class ``psf_map_reco``): ``(energy, rad, y, x)`` [sr-1] in **reconstructed** energy
- ``bkg`` (class ``map``): expected background counts per transit per pixel ``(energy, y, x)``

The pass-4 Crab data (``hawc/crab_events_pass4``) come with one HDU-index table per event
type (the nHit bins ``fHitbin1`` ... ``fHitbin9``, for the ``GP`` and ``NN`` energy
estimators) in one index file. :func:`reduce_hawc` reduces one of them onto a WCS geometry:

- counts: the events binned on the geometry;
- exposure, background: the per-transit maps (bilinear on their grids at the pixel centres; the
  background as a density per sr times the pixel solid angle) times the number of transits,
  by default ``livetime / sidereal day`` (a drift-scan instrument sees each source once per
  sidereal day);
- edisp, psf: kept on their coarse sky grid (dims ``y_irf``, ``x_irf``; the folding interpolates
  them at the source position). The PSF, given in reconstructed energy, is used at the
  true energy equal to it (interpolated in log energy between the reco bins): a point source's
  shape in a reco bin is then that of the photons of that energy;
- ``mask_safe``: the pixels covered by the background map, in the reco bins where it predicts
  events (HAWC gives no background, hence no model, where an event type has no events).

:func:`reduce_hawc_event_types` reduces several event types and concatenates them along an
``event_type`` dim: the fit sums the likelihood over it (as over ``obs``), and stacking over
``obs`` keeps event types apart (``xg.stack(..., event_types="sum")`` sums them).

Examples
--------
>>> import xgamma as xg
>>> d = xg.data_dir(required=False)
>>> if d is not None:
...     types = hawc_event_types(d / "hawc/crab_events_pass4")
...     assert types == list(range(1, 10))
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from astropy.io import fits

from xgamma import sky
from xgamma.axes import edges
from xgamma.errors import ReductionError, XgammaIOError
from xgamma.io.store import DataStore, open_store
from xgamma.obs import gti_list_attrs
from xgamma.reduction.binning import bin_events

__all__ = ["SIDEREAL_DAY", "hawc_event_types", "hawc_store", "hawc_transits", "reduce_hawc",
           "reduce_hawc_event_types"]

#: Seconds per sidereal day: one transit of a source over a drift-scan instrument.
SIDEREAL_DAY = 86164.0905


def _index_files(path: Path, event_class: str, which: str) -> Path:
    cands = sorted(path.glob(f"{which}-index-table-{event_class}-*.fits*"))
    cands = [c for c in cands if "no-events" not in c.name] or cands
    if not cands:
        raise XgammaIOError(f"no {which} index for event class {event_class!r}", path=path,
                            expected=f"{which}-index-table-{event_class}-*.fits.gz")
    return cands[0]


def hawc_event_types(path: str | Path, event_class: str = "GP") -> list[int]:
    """The event types (nHit bins) of a HAWC data folder: one HDU-index table each.

    Examples
    --------
    >>> hawc_event_types("/nonexistent")
    Traceback (most recent call last):
    ...
    xgamma.errors.XgammaIOError: /nonexistent: no hdu index for event class 'GP' (expected: hdu-index-table-GP-*.fits.gz)
    """
    hp = _index_files(Path(path), event_class, "hdu")
    out = []
    with fits.open(hp, memmap=False) as h:
        for k, hdu in enumerate(h[1:], start=1):
            if isinstance(hdu, fits.BinTableHDU) and "EVENT_TYPE" in hdu.columns.names and len(hdu.data):
                out.append(int(str(hdu.data["EVENT_TYPE"][0]).strip() or k))
    return out


def hawc_store(path: str | Path, event_type: int, event_class: str = "GP") -> DataStore:
    """The data store of one event type (``hdu_index_hdu`` = the event type's table).

    Examples
    --------
    >>> import xgamma as xg
    >>> d = xg.data_dir(required=False)
    >>> if d is not None:
    ...     s = hawc_store(d / "hawc/crab_events_pass4", 5)
    ...     assert s.obs_ids == [103000133]
    """
    folder = Path(path)
    types = hawc_event_types(folder, event_class)
    if event_type not in types:
        raise XgammaIOError(f"event type {event_type} not in the {event_class} HDU index", path=folder,
                            expected=f"one of {types}")
    return open_store(folder, obs_index=_index_files(folder, event_class, "obs"),
                      hdu_index=_index_files(folder, event_class, "hdu"), hdu_index_hdu=types.index(event_type) + 1)


def hawc_transits(livetime: float) -> float:
    """Number of transits of a source in ``livetime`` seconds of drift scanning.

    Examples
    --------
    >>> round(hawc_transits(4884384.67), 2)
    56.69
    """
    return float(livetime) / SIDEREAL_DAY


def _bilinear(values: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """``values[..., ny, nx]`` at fractional pixel positions (clamped to the grid)."""
    ny, nx = values.shape[-2:]
    x = np.clip(px, 0, nx - 1)
    y = np.clip(py, 0, ny - 1)
    x0 = np.clip(np.floor(x).astype(int), 0, max(nx - 2, 0))
    y0 = np.clip(np.floor(y).astype(int), 0, max(ny - 2, 0))
    x1, y1 = np.minimum(x0 + 1, nx - 1), np.minimum(y0 + 1, ny - 1)
    wx, wy = x - x0, y - y0
    return (values[..., y0, x0] * (1 - wx) * (1 - wy) + values[..., y0, x1] * wx * (1 - wy)
            + values[..., y1, x0] * (1 - wx) * wy + values[..., y1, x1] * wx * wy)


def _grid_pixels(irf: xr.DataArray, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w = sky.wcs_from_header(irf.attrs["wcs"])
    px, py = w.world_to_pixel_values(lon, lat)
    return np.asarray(px, float), np.asarray(py, float)


def _match_bins(have: np.ndarray, want: np.ndarray, what: str, obs: Any) -> np.ndarray:
    """Indices of the bins of edges ``have`` equal (0.5 %) to the bins of edges ``want``."""
    lo = np.array([np.argmin(np.abs(np.log(have[:-1] / w))) for w in want[:-1]])
    ok = (np.abs(np.log(have[lo] / want[:-1])) < 5e-3) & (np.abs(np.log(have[lo + 1] / want[1:])) < 5e-3)
    if not ok.all():
        raise ReductionError(f"observation {obs}: the {what} energy bins {np.round(have, 4).tolist()} do not "
                             f"contain the geometry's bins {np.round(want, 4).tolist()}")
    return lo


def reduce_hawc(observation: Any, geom: xr.Dataset | xr.DataArray, transits: float | None = None,
                energy_true_range: tuple[float, float] | None = None, rad_max: float = 5.0,
                name: str | None = None, event_type: int | None = None) -> xr.Dataset:
    """Reduce a HAWC observation (map-based IRFs, drift-scan) onto a WCS geometry.

    Parameters
    ----------
    observation : Observation
        From :func:`hawc_store` (``aeff``, ``edisp``, ``psf``, ``bkg`` maps, events).
    geom : Dataset or DataArray
        WCS geometry with an ``energy`` axis whose bins are bins of the background map
        (HAWC's reco bins, e.g. ``xg.energy_axis(1, 316, 10)``).
    transits : float, optional
        Number of transits the per-transit exposure and background are scaled by; default
        :func:`hawc_transits` of the livetime.
    energy_true_range : (float, float), optional
        True-energy range [TeV] of the dataset; default: the true-energy bins of the effective
        area that the energy dispersion sends into the geometry's reco bins (> 1e-6).
    rad_max : float
        PSF profile kept up to this radius [deg].
    name : str, optional
        Dataset name (default ``"hawc"``, with the event type when given).
    event_type : int, optional
        Recorded in ``attrs["event_type"]``.

    Returns
    -------
    xarray.Dataset
        A map dataset (``counts``, ``exposure``, ``background``, ``psf``, ``edisp`` on the
        coarse grid ``y_irf``/``x_irf``, ``mask_safe``).

    Raises
    ------
    ReductionError
        An IRF is missing or its energy bins do not match the geometry's.

    Examples
    --------
    >>> import xgamma as xg
    >>> d = xg.data_dir(required=False)
    >>> if d is not None:
    ...     obs = hawc_store(d / "hawc/crab_events_pass4", 9).observation(103000133)
    ...     g = xg.wcs_geom((83.63, 22.0), width=2.0, binsz=0.1, axes=[xg.energy_axis(1, 316, 10)])
    ...     ds = reduce_hawc(obs, g)
    ...     assert ds.counts.dims == ("energy", "y", "x") and float(ds.attrs["transits"]) > 56
    """
    oid = getattr(observation, "obs_id", "?")
    missing = [k for k in ("aeff", "edisp", "psf", "bkg") if getattr(observation, k) is None]
    if missing:
        raise ReductionError(f"observation {oid}: no {', '.join(missing)} map (HAWC needs map-based IRFs)")
    if sky.geom_kind(geom) not in ("wcs", "healpix") or "energy" not in geom.dims:
        raise ReductionError(f"observation {oid}: reduce_hawc needs a WCS or HEALPix geometry with an energy axis")
    aeff, edisp, psf, bkg = observation.aeff, observation.edisp, observation.psf, observation.bkg
    n_tr = hawc_transits(observation.livetime) if transits is None else float(transits)
    g = sky.geom_of(geom) if isinstance(geom, xr.DataArray) else geom
    lon_name, lat_name = ("ra", "dec") if sky.frame_of(g) == "icrs" else ("glon", "glat")
    sdims = sky.sky_dims(g)  # ("y", "x") or ("pix",)
    lon = np.asarray(g[lon_name].values, float)
    lat = np.asarray(g[lat_name].values, float)
    e_edges = edges(g, "energy")
    # counts
    counts = bin_events(observation.events, g)
    # reco bins of edisp / psf / bkg matching the geometry
    ie = _match_bins(edges(edisp, "energy"), e_edges, "edisp", oid)
    ip = _match_bins(edges(psf, "energy"), e_edges, "psf", oid)
    ib = _match_bins(edges(bkg, "energy"), e_edges, "background", oid)
    ed = np.asarray(edisp.transpose("energy_true", "energy", "y", "x").values, float)[:, ie]
    if energy_true_range is None:
        rows = np.flatnonzero(ed.max(axis=(1, 2, 3)) > 1e-6)
        t0, t1 = int(rows.min()), int(rows.max()) + 1
    else:
        et_c = np.asarray(aeff["energy_true"].values, float)
        sel = np.flatnonzero((et_c >= energy_true_range[0]) & (et_c <= energy_true_range[1]))
        t0, t1 = int(sel.min()), int(sel.max()) + 1
    aeff_s = aeff.isel(energy_true=slice(t0, t1))
    if not np.allclose(edges(aeff_s, "energy_true"), edges(edisp.isel(energy_true=slice(t0, t1)), "energy_true"),
                       rtol=1e-5):
        raise ReductionError(f"observation {oid}: aeff and edisp true-energy axes differ")
    et = aeff_s["energy_true"]
    # exposure on the pixels
    apx, apy = _grid_pixels(aeff, lon, lat)
    expo = _bilinear(np.asarray(aeff_s.transpose("energy_true", "y", "x").values, float), apx, apy) * n_tr
    # background: counts per pixel per transit -> density -> our pixels
    bpx, bpy = _grid_pixels(bkg, lon, lat)
    b_geom = sky.geom_from_wcs(sky.wcs_from_header(bkg.attrs["wcs"]), (bkg.sizes["y"], bkg.sizes["x"]))
    b_omega = np.asarray(sky.solid_angle(b_geom).transpose("y", "x").values, float)
    dens = np.asarray(bkg.transpose("energy", "y", "x").values, float)[ib] / b_omega
    omega = np.asarray(sky.solid_angle(g).transpose(*sdims).values, float)
    background = _bilinear(dens, bpx, bpy) * omega * n_tr
    ny_b, nx_b = dens.shape[-2:]
    inside = (bpx >= -0.5) & (bpx <= nx_b - 0.5) & (bpy >= -0.5) & (bpy <= ny_b - 0.5)
    # PSF (reco energy) at the true energies, and edisp, on the coarse grid
    keep_rad = np.flatnonzero(np.asarray(psf["rad"].values) <= rad_max)
    p = np.asarray(psf.transpose("energy", "rad", "y", "x").values, float)[ip][:, keep_rad]
    pe = np.log(np.asarray(psf["energy"].values, float)[ip])
    # reco bins where an event type has no PSF (all zero: no events there) take the PSF of the
    # nearest bin that has one (a zero kernel would lose, or spread, the flux of those energies)
    valid = np.flatnonzero(p.reshape(len(pe), -1).max(axis=1) > 0)
    if valid.size == 0:
        raise ReductionError(f"observation {oid}: the PSF map is zero in all the geometry's energy bins")
    nearest = valid[np.argmin(np.abs(np.arange(len(pe))[:, None] - valid[None, :]), axis=1)]
    p = p[nearest]
    lt = np.log(np.asarray(et.values, float))
    k = np.clip(np.searchsorted(pe, lt) - 1, 0, len(pe) - 2) if len(pe) > 1 else np.zeros(len(lt), int)
    if len(pe) > 1:
        w = np.clip((lt - pe[k]) / (pe[k + 1] - pe[k]), 0.0, 1.0)[:, None, None, None]
        p_true = p[k] * (1 - w) + p[k + 1] * w
    else:
        p_true = np.repeat(p, len(lt), axis=0)
    if psf.attrs.get("wcs") != edisp.attrs.get("wcs") or psf.sizes["y"] != edisp.sizes["y"]:
        raise ReductionError(f"observation {oid}: psf and edisp maps are on different sky grids")
    irf_geom = sky.geom_from_wcs(sky.wcs_from_header(psf.attrs["wcs"]), (psf.sizes["y"], psf.sizes["x"]))
    coords: dict[str, Any] = {str(c): v.variable for c, v in g.coords.items()}
    coords.update({str(c): v.variable for c, v in et.coords.items() if str(c).startswith("energy_true")})
    rad = psf["rad"].isel(rad=keep_rad)
    coords.update({str(c): v.variable for c, v in rad.coords.items() if str(c).startswith("rad")})
    coords["y_irf"] = ("y_irf", np.arange(psf.sizes["y"]))
    coords["x_irf"] = ("x_irf", np.arange(psf.sizes["x"]))
    coords[f"{lon_name}_irf"] = (("y_irf", "x_irf"), np.asarray(irf_geom[lon_name].values), {"units": "deg"})
    coords[f"{lat_name}_irf"] = (("y_irf", "x_irf"), np.asarray(irf_geom[lat_name].values), {"units": "deg"})
    ed_sel = ed[t0:t1]
    ds = xr.Dataset(
        {
            "counts": (("energy", *sdims), np.asarray(counts.transpose("energy", *sdims).values, float), {"units": ""}),
            "exposure": (("energy_true", *sdims), expo, {"units": "cm2 s"}),
            "background": (("energy", *sdims), background, {"units": ""}),
            "psf": (("energy_true", "rad", "y_irf", "x_irf"), p_true, {"units": "sr-1"}),
            "edisp": (("energy_true", "energy", "y_irf", "x_irf"), ed_sel, {"units": ""}),
            "mask_safe": (("energy", *sdims), inside[None] & (background > 0), {}),
        },
        coords=coords,
        attrs={**sky.geom_attrs(g), "wcs_irf": irf_geom.attrs["wcs"],
               "name": name or ("hawc" if event_type is None else f"hawc-nhit{event_type}"),
               "instrument": "HAWC", "obs_id": oid, "livetime": float(observation.livetime),
               "transits": n_tr, **({} if event_type is None else {"event_type": int(event_type)})},
    )
    gti = getattr(observation, "gti", None)
    if gti is not None and len(gti):
        ds.attrs["tstart"] = float(np.min(gti["start"]))
        ds.attrs["tstop"] = float(np.max(gti["stop"]))
        ds.attrs.update(gti_list_attrs(gti))  # transits with gaps between them
        mjd = observation.events.attrs.get("mjdref")
        if mjd is not None:
            ds.attrs["mjdref"] = float(mjd)
    return ds


def reduce_hawc_event_types(path: str | Path, geom: xr.Dataset | xr.DataArray, event_types: Sequence[int],
                            event_class: str = "GP", obs_id: int | None = None, name: str = "hawc",
                            **kwargs: Any) -> xr.Dataset:
    """Reduce several event types (nHit bins) of a HAWC data folder into one dataset with an
    ``event_type`` dim (fits sum the likelihood over it).

    All event types share the geometry and the true-energy range (the union of the default
    ranges, unless ``energy_true_range`` is given).

    Raises
    ------
    XgammaIOError
        A file that the HDU index names is absent (named in the message), or an unknown event type.

    Examples
    --------
    >>> import xgamma as xg
    >>> d = xg.data_dir(required=False)
    >>> if d is not None:
    ...     g = xg.wcs_geom((83.63, 22.0), width=1.0, binsz=0.1, axes=[xg.energy_axis(1, 316, 10)])
    ...     ds = reduce_hawc_event_types(d / "hawc/crab_events_pass4", g, [8, 9])
    ...     assert ds.sizes["event_type"] == 2 and ds.event_type.values.tolist() == [8, 9]
    """
    folder = Path(path)
    types = [int(t) for t in event_types]
    if not types or len(set(types)) != len(types):
        raise ReductionError(f"event types must be distinct and at least one, got {types}")
    obs = []
    for et in event_types:
        store = hawc_store(folder, int(et), event_class)
        oid = store.obs_ids[0] if obs_id is None else obs_id
        obs.append(store.observation(oid))
    if "energy_true_range" not in kwargs:
        lo, hi = np.inf, 0.0
        for o in obs:
            d = reduce_hawc(o, _small(geom), **kwargs)
            lo, hi = min(lo, float(d.energy_true.min())), max(hi, float(d.energy_true.max()))
        kwargs["energy_true_range"] = (lo, hi)
    parts = [reduce_hawc(o, geom, event_type=int(et), name=name, **kwargs) for o, et in zip(obs, event_types, strict=True)]
    keep = {"name": name, "instrument": "HAWC", "event_class": event_class}
    out = xr.concat(parts, dim="event_type", data_vars="all", coords="minimal", compat="override", join="exact",
                    combine_attrs="drop")
    out = out.assign_coords(event_type=("event_type", np.asarray(event_types, int)),
                            transits=("event_type", [p.attrs["transits"] for p in parts]))
    attrs = {k: v for k, v in parts[0].attrs.items() if k not in ("event_type", "transits", "name")}
    return out.assign_attrs({**attrs, **keep})


def _small(geom: xr.Dataset | xr.DataArray) -> xr.Dataset | xr.DataArray:
    """A 1-pixel cut of the geometry (the true-energy range does not depend on the pixels)."""
    if "pix" in geom.dims:
        return geom.isel(pix=slice(0, 1))
    return geom.isel(y=slice(0, 1), x=slice(0, 1))
