"""Flux profiles: counts, excess, significance and flux in a sequence of sky regions.

:func:`flux_profile` measures, in each region of a list (boxes along a line from
:func:`box_profile_regions`, concentric annuli from :func:`annulus_regions`, or any regions)
and each energy band, what :func:`~xgamma.estimators.excess_map.excess_map` measures in its
correlation disk (Gammapy's ``FluxProfileEstimator`` with the norm of the excess):

- ``counts`` and ``map_npred_background`` summed over the region's pixels (pixel centres inside the
  region, :func:`xgamma.sky.region_mask`) and the band's reco-energy bins inside ``mask_safe``
  (and ``mask_fit``); the background is the dataset's ``background`` (or the predicted counts of
  a ``model`` with its background); ON/OFF datasets use ``alpha x counts_off``;
- ``npred_excess = counts - map_npred_background``, ``sqrt_ts`` (Cash significance; Li & Ma for
  ON/OFF), ``ts``, profile-likelihood errors ``norm_errn``/``norm_errp`` and upper limit
  ``norm_ul`` (:func:`xgamma.stats.counts_errn` etc.), ``norm_err = sqrt(counts)``;
- the norm relative to a reference spectrum (power law, index 2, by default):
  ``norm = npred_excess / npred_ref`` where ``npred_ref`` is the counts the reference
  spectrum gives when all its flux falls in the region (exposure x spectrum folded with the
  energy dispersion, averaged over the region's safe pixels), so that
  :func:`~xgamma.estimators.core.to_sed_type` gives the flux *in the region*;
- ``solid_angle`` of each region [sr] (sum over its pixels) for surface brightness.

The result is the common estimator Dataset (:mod:`xgamma.estimators.core`) with dims
``(region, energy)``; the ``region`` dim carries the region strings (coordinate ``region``,
:func:`xgamma.sky.region_to_string`) and the distance along the profile (``distance``,
``distance_min``, ``distance_max`` [deg]: the radii of concentric annuli, or the offset of
each region's centre from the start of a box profile).

Examples
--------
>>> import xgamma as xg
>>> from xgamma import testing
>>> ds = xg.reduce(testing.make_observation(n_events=2000), testing.make_wcs_geom(width=2.0, binsz=0.1))
>>> c = xg.sky.center(ds)
>>> prof = flux_profile(ds, annulus_regions(c, [0, 0.2, 0.4, 0.6]))
>>> dict(prof.npred_excess.sizes), prof.distance.values.round(2).tolist()
({'region': 3, 'energy': 1}, [0.1, 0.3, 0.5])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from astropy import units as u
from astropy.coordinates import SkyCoord

from xgamma import sky, stats
from xgamma.estimators.core import estimator_result, to_sed_type
from xgamma.estimators.excess_map import (
    band_images,
    default_reference,
    energy_groups,
    reference_npred,
)
from xgamma.estimators.images import (
    dataset_mask,
    geometry_attrs,
    is_onoff,
    map_npred_background,
    map_values,
)
from xgamma.fitting.fold_map import npred_map
from xgamma.models.spectral import SpectralModelBase

__all__ = ["flux_profile", "box_profile_regions", "annulus_regions", "profile_distances", "plot_profile"]


def _coord(position: Any, frame: str) -> SkyCoord:
    if isinstance(position, SkyCoord):
        return position
    lon, lat = position
    return SkyCoord(float(u.Quantity(lon, "deg").value), float(u.Quantity(lat, "deg").value),
                    unit="deg", frame=frame)


def box_profile_regions(start: Any, stop: Any, n: int, width: float, frame: str = "icrs") -> list[Any]:
    """``n`` adjacent rectangles along the great circle from ``start`` to ``stop``.

    Each box is ``L / n`` long along the line (``L`` the angular distance start-stop; the
    box's ``width`` in astropy-regions' terms) and ``width`` [deg] across it; box ``i`` is
    centred at ``(i + 1/2) L / n`` from ``start`` and turned along the local direction of the
    great circle (position angle towards ``stop``).

    Parameters
    ----------
    start, stop : SkyCoord or (lon, lat) [deg]
        End points of the profile (tuples in ``frame``).
    n : int
        Number of boxes.
    width : float
        Width of the boxes across the profile [deg].
    frame : {"icrs", "galactic"}
        Frame of the boxes (and of tuple end points).

    Returns
    -------
    list of regions.RectangleSkyRegion

    Examples
    --------
    >>> boxes = box_profile_regions((83.63, 21.5), (83.63, 22.5), 4, 0.2)
    >>> [round(float(b.center.dec.deg), 3) for b in boxes], round(float(boxes[0].width.value), 3)
    ([21.625, 21.875, 22.125, 22.375], 0.25)
    """
    from regions import RectangleSkyRegion

    if int(n) < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    fr = sky.frame_name(frame)
    a = _coord(start, fr).transform_to(fr)
    b = _coord(stop, fr).transform_to(fr)
    length = float(a.separation(b).deg)
    if length <= 0:
        raise ValueError("start and stop must differ")
    step = length / int(n)
    pa = a.position_angle(b)
    out = []
    for i in range(int(n)):
        c = a.directional_offset_by(pa, (i + 0.5) * step * u.deg)
        c = SkyCoord(c.spherical.lon.deg % 360.0, c.spherical.lat.deg, unit="deg", frame=fr)
        pa_i = float(c.position_angle(b).deg)
        # astropy-regions: angle 0 puts the box's ``width`` along the longitude axis (PA 90 deg)
        out.append(RectangleSkyRegion(c, width=step * u.deg, height=float(width) * u.deg,
                                      angle=((pa_i - 90.0) % 360.0) * u.deg))
    return out


def annulus_regions(center: Any, radii: Sequence[float], frame: str = "icrs") -> list[Any]:
    """Concentric annuli between consecutive ``radii`` [deg] (a circle where the inner radius is 0).

    Examples
    --------
    >>> rs = annulus_regions((83.63, 22.01), [0, 0.1, 0.3])
    >>> [type(r).__name__ for r in rs]
    ['CircleSkyRegion', 'CircleAnnulusSkyRegion']
    """
    from regions import CircleAnnulusSkyRegion, CircleSkyRegion

    r = np.asarray(getattr(radii, "to_value", lambda _: radii)("deg"), float)
    if r.ndim != 1 or r.size < 2 or np.any(np.diff(r) <= 0) or r[0] < 0:
        raise ValueError(f"radii must be >= 0 and strictly increasing, got {r.tolist()}")
    c = _coord(center, sky.frame_name(frame))
    return [CircleSkyRegion(c, r1 * u.deg) if r0 == 0 else CircleAnnulusSkyRegion(c, r0 * u.deg, r1 * u.deg)
            for r0, r1 in zip(r[:-1], r[1:], strict=True)]


def _regions(regions: Any) -> list[Any]:
    from regions import SkyRegion

    if isinstance(regions, str | SkyRegion):
        regions = [regions]
    out = [sky.region_from_string(r) if isinstance(r, str) else r for r in regions]
    if not out:
        raise ValueError("flux_profile needs at least one region")
    return out


def profile_distances(regions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distance along a profile of each region: ``(distance, distance_min, distance_max)`` [deg].

    Concentric circles/annuli: the mid radius and the inner/outer radii. Rectangles: the
    separation of each centre from the first centre plus half the first box's length (the
    offset from the start of a :func:`box_profile_regions` line), +- half its length. Other
    regions: the separation of the centres from the first centre.

    Examples
    --------
    >>> d, lo, hi = profile_distances(box_profile_regions((0, 0), (0, 1), 4, 0.1))
    >>> d.round(3).tolist(), lo.round(3).tolist()
    ([0.125, 0.375, 0.625, 0.875], [0.0, 0.25, 0.5, 0.75])
    """
    from regions import CircleAnnulusSkyRegion, CircleSkyRegion, RectangleSkyRegion

    regs = _regions(regions)
    centres = [sky.leaf_center(sky.region_leaves(r)[0]) for r in regs]
    c0 = centres[0]
    sep = np.array([float(c0.separation(c).deg) for c in centres])
    if all(isinstance(r, CircleSkyRegion | CircleAnnulusSkyRegion) for r in regs) and np.all(sep < 1e-9):
        lo = np.array([0.0 if isinstance(r, CircleSkyRegion) else r.inner_radius.to_value("deg") for r in regs])
        hi = np.array([(r.radius if isinstance(r, CircleSkyRegion) else r.outer_radius).to_value("deg")
                       for r in regs])
        return 0.5 * (lo + hi), lo, hi
    if all(isinstance(r, RectangleSkyRegion) for r in regs):
        half = np.array([0.5 * r.width.to_value("deg") for r in regs])
        d = sep + half[0]
        return d, d - half, d + half
    return sep, sep.copy(), sep.copy()


def flux_profile(dataset: xr.Dataset, regions: Any, energy_edges: Any = None, n_sigma: float = 1.0,
                 n_sigma_ul: float = 2.0, model: Any = None,
                 spectral_model: SpectralModelBase | None = None) -> xr.Dataset:
    """Counts, background, excess, significance, errors, upper limits and flux per region.

    Parameters
    ----------
    dataset : xarray.Dataset
        3D reduced dataset (``counts``, ``background``, ``exposure``, ``mask_safe``, ...) or an
        ON/OFF map dataset (``counts_off``, ``alpha``); no ``obs`` dim (stack first).
    regions : sequence of regions or region strings
        The profile's regions (:func:`box_profile_regions`, :func:`annulus_regions`, ...).
    energy_edges : array-like, optional
        Band edges [TeV] (snapped to the dataset's bins); default one band.
    n_sigma, n_sigma_ul : float
        Confidence of the errors and of the upper limits (profile likelihood).
    model : Models or SkyModel, optional
        Sky models whose predicted counts (with the background model) replace the background:
        the excess over the model.
    spectral_model : SpectralModel, optional
        Reference spectrum of the norm (default power law, index 2, 1e-12 cm-2 s-1 TeV-1 at
        1 TeV).

    Returns
    -------
    xarray.Dataset
        Estimator result with dims ``(region, energy)``: ``counts``, ``npred``,
        ``map_npred_background``, ``npred_excess``, ``ts``, ``sqrt_ts``, ``norm``, ``norm_err``,
        ``norm_errn``, ``norm_errp``, ``norm_ul``, ``npred_ref``, ``n_pixels``, ``valid``,
        ``is_ul`` (+ ``counts_off``, ``alpha`` for ON/OFF), ``solid_angle`` (region) and the
        reference fluxes; coordinates ``region`` (strings), ``distance``, ``distance_min``,
        ``distance_max`` [deg]. Regions without safe pixels are NaN with ``valid = False``.

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma import testing
    >>> ds = xg.reduce(testing.make_observation(n_events=2000), testing.make_wcs_geom(width=2.0, binsz=0.1))
    >>> prof = flux_profile(ds, box_profile_regions((83.63, 21.3), (83.63, 22.7), 7, 0.4))
    >>> bool(prof.sqrt_ts.max() > 3), prof.region.values[0][:8]
    (True, 'icrs;box')
    """
    if "obs" in dataset.dims:
        raise ValueError("flux_profile needs a single dataset: stack the observations first (xgamma.stack)")
    regs = _regions(regions)
    spec = default_reference() if spectral_model is None else spectral_model
    groups, axis = energy_groups(dataset, energy_edges)
    mask = dataset_mask(dataset)
    mask_img = np.stack([mask[g].any(axis=0) for g in groups]).astype(float)  # (band, y, x)
    geom = sky.drop_axes(dataset)
    rmask = np.stack([np.asarray(sky.region_mask(geom, r).transpose("y", "x").values, float) for r in regs])

    def total(cube: np.ndarray) -> np.ndarray:  # (energy, y, x) -> (region, band)
        return np.einsum("ryx,byx->rb", rmask, band_images(cube, groups, mask))

    n_on = total(map_values(dataset["counts"]))
    n_pix = np.einsum("ryx,byx->rb", rmask, mask_img)
    extra: dict[str, Any] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        if is_onoff(dataset):
            off = map_values(dataset["counts_off"])
            a_cube = map_values(dataset["alpha"]) if "alpha" in dataset else map_values(dataset["acceptance"]) / np.where(
                map_values(dataset["acceptance_off"]) > 0, map_values(dataset["acceptance_off"]), np.inf)
            n_off = total(off)
            background = total(np.where(off > 0, a_cube * off, 0.0))
            alpha = np.where(n_off > 0, background / n_off, 0.0)
            if model is not None:

                background = background + total(map_values(npred_map(dataset, model, component=None))
                                                - map_values(dataset["background"]))
            has_off = (alpha > 0) & (n_off > 0)
            sig = np.asarray(stats.li_ma_significance(n_on, n_off, np.where(has_off, alpha, 1.0)), float)
            sqrt_ts = np.where(has_off & (model is None), sig,
                               np.asarray(stats.cash_significance(n_on, background), float))
            err = np.sqrt(n_on + alpha**2 * n_off)
            errn = np.asarray(stats.counts_errn(n_on, n_off, alpha, n_sigma=n_sigma), float)
            errp = np.asarray(stats.counts_errp(n_on, n_off, alpha, n_sigma=n_sigma), float)
            ul = np.asarray(stats.counts_ul(n_on, n_off, alpha, n_sigma=n_sigma_ul), float)
            extra = {"counts_off": n_off, "alpha": alpha}
        else:
            background = total(map_npred_background(dataset, model))
            sqrt_ts = np.asarray(stats.cash_significance(n_on, background), float)
            err = np.sqrt(n_on)
            errn = np.asarray(stats.counts_errn(n_on, mu_bkg=background, n_sigma=n_sigma), float)
            errp = np.asarray(stats.counts_errp(n_on, mu_bkg=background, n_sigma=n_sigma), float)
            ul = np.asarray(stats.counts_ul(n_on, mu_bkg=background, n_sigma=n_sigma_ul), float)
        excess = n_on - background
        ref = total(reference_npred(dataset, spec)) / n_pix
        data = {
            "counts": n_on, "npred": n_on, "npred_background": background, "npred_excess": excess,
            "ts": sqrt_ts**2, "sqrt_ts": sqrt_ts, "norm": excess / ref, "norm_err": n_sigma * err / ref,
            "norm_errn": errn / ref, "norm_errp": errp / ref, "norm_ul": ul / ref, "npred_ref": ref, **extra,
        }
    valid = n_pix > 0
    data = {k: np.where(valid, v, np.nan) for k, v in data.items()}
    data["n_pixels"] = n_pix
    data["valid"] = valid
    dist, dmin, dmax = profile_distances(regs)
    coords = {
        "region": xr.Variable("region", np.array([sky.region_to_string(r) for r in regs], dtype=object)),
        "distance": xr.Variable("region", dist, attrs={"units": "deg"}),
        "distance_min": xr.Variable("region", dmin, attrs={"units": "deg"}),
        "distance_max": xr.Variable("region", dmax, attrs={"units": "deg"}),
    }
    res = estimator_result(data, axis, spec, dims=("region", "energy"), coords=coords, n_sigma=n_sigma,
                           n_sigma_ul=n_sigma_ul,
                           attrs={"frame": sky.frame_of(dataset), "estimator": "flux_profile",
                                  **{k: v for k, v in geometry_attrs(dataset).items() if k == "wcs"}})
    res["is_ul"] = res["is_ul"] & res["valid"]
    omega = np.asarray(sky.solid_angle(geom).transpose("y", "x").values, float)
    res["solid_angle"] = xr.Variable("region", np.einsum("ryx,yx->r", rmask, omega), attrs={"units": "sr"})
    res["n_pixels"].attrs["units"] = ""
    return res


_LABELS = {"norm": "norm", "excess": "excess counts", "sqrt_ts": "significance"}


def plot_profile(result: xr.Dataset, quantity: str = "flux", energy_index: int = 0, ax: Any = None,
                 **kwargs: Any) -> Any:
    """Plot a flux profile against the distance along it.

    ``quantity``: an SED type (``"flux"``, ``"dnde"``, ``"e2dnde"``, ``"eflux"``: values with
    asymmetric errors, upper limits as arrows where ``is_ul``), ``"norm"``, ``"excess"``
    (counts with ``errn``/``errp``) or ``"sqrt_ts"``. Horizontal bars: ``distance_min`` to
    ``distance_max``.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import xgamma as xg
    >>> from xgamma import testing
    >>> ds = xg.reduce(testing.make_observation(n_events=2000), testing.make_wcs_geom(width=2.0, binsz=0.1))
    >>> prof = flux_profile(ds, annulus_regions(xg.sky.center(ds), [0, 0.2, 0.4, 0.6]))
    >>> ax = plot_profile(prof, "excess")
    >>> ax.get_xlabel()
    'distance [deg]'
    """
    import matplotlib.pyplot as plt

    r = result.isel(energy=energy_index)
    if ax is None:
        ax = plt.figure().add_subplot()
    x = np.asarray(r.distance.values, float)
    xerr = np.abs(np.stack([x - np.asarray(r.distance_min.values, float),
                            np.asarray(r.distance_max.values, float) - x]))
    ul = np.asarray(r.is_ul.values, bool)
    if quantity == "sqrt_ts":
        y = np.asarray(r.sqrt_ts.values, float)
        yerr = np.ones((2, y.size))
        ul = np.zeros_like(ul)
        unit = ""
    else:
        if quantity in ("norm", "excess"):
            scale = np.asarray(r.npred_ref.values, float) if quantity == "excess" else 1.0
            vals = {k: np.asarray(r[f"norm{k}"].values, float) * scale for k in ("", "_errn", "_errp", "_ul")}
            unit = ""
        else:
            s = to_sed_type(r, quantity)
            vals = {k: np.asarray(s[f"{quantity}{k}"].values, float) for k in ("", "_errn", "_errp", "_ul")}
            unit = s[quantity].attrs["units"]
        y = np.where(ul, vals["_ul"], vals[""])
        yerr = np.stack([np.where(ul, 0.3 * np.abs(y), vals["_errn"]), np.where(ul, 0.0, vals["_errp"])])
    kwargs.setdefault("fmt", "o")
    kwargs.setdefault("ms", 4)
    ax.errorbar(x, y, xerr=xerr, yerr=yerr, uplims=ul, **kwargs)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xlabel("distance [deg]")
    label = _LABELS.get(quantity, quantity)
    ax.set_ylabel(f"{label} [{u.Unit(unit).to_string()}]" if unit else label)
    return ax
