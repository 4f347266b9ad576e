"""Safe data-range masks for reduced datasets (3D maps and 1D spectra).

Gammapy's ``SafeMaskMaker`` semantics; every method gives a boolean mask and
:func:`make_safe_mask` combines the chosen ones with a logical AND:

``aeff-default``
    Reco-energy bins inside the IRF's default thresholds ``LO_THRES``/``HI_THRES``
    (``aeff.attrs["lo_threshold"]``, ``["hi_threshold"]``).
``aeff-max``
    Reco-energy bins whose lower edge is at or above the true energy where the effective area
    (the dataset's exposure / livetime at the position, as a function of the ``energy_true``
    bin centres, interpolated log-log) first reaches ``aeff_percent`` % of its maximum,
    searched between the first positive value and the maximum (no cut if it starts above).
``edisp-bias``
    Reco-energy bins whose lower edge is at or above ``E_true (1 + b)`` where ``E_true`` is the
    true energy (searched above the peak of the bias) at which the bias ``b`` of the mean
    reconstructed energy (from the dataset's ``edisp`` kernel at the position) falls to
    ``bias_percent`` %.
``offset-max``
    Pixels (or the region centre of a 1D dataset) closer than ``offset_max`` to the pointing.
``bkg-peak``
    Reco-energy bins above the bin where the background spectrum peaks.

A bin is kept by an energy threshold only when it lies entirely inside it. If the dataset has
a non-zero ``background``, bins where it is not finite or not positive are masked too
(Gammapy's ``bkg-invalid``). The position of ``aeff-max``/``edisp-bias`` is the region centre
(1D), the map centre (3D) or ``position``; ``fixed_offset`` takes the point at that offset
north of the pointing instead.

Examples
--------
>>> import xgamma as xg
>>> from xgamma import testing
>>> obs = testing.make_observation(n_events=100)
>>> geom = testing.make_wcs_geom(width=2.0, binsz=0.2, energy=xg.energy_axis(0.1, 100, 12))
>>> ds = make_safe_mask(xg.reduce(obs, geom), obs, methods=["aeff-default"])
>>> ds.mask_safe.any(["y", "x"]).values.astype(int).tolist()  # LO_THRES 0.5, HI_THRES 50 TeV
[0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0]
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from astropy.coordinates import SkyCoord

from xgamma import sky
from xgamma.axes import edges
from xgamma.reduction.observation import pointing_radec
from xgamma.reduction.products import pixel_offsets

__all__ = [
    "METHODS",
    "make_safe_mask",
    "energy_mask",
    "aeff_default",
    "aeff_max",
    "edisp_bias",
    "offset_max",
    "bkg_peak",
    "bkg_invalid",
    "safe_energy_range",
]

#: Available safe-mask methods.
METHODS = ("aeff-default", "aeff-max", "edisp-bias", "offset-max", "bkg-peak")
_TINY = float(np.finfo(np.float32).tiny)


def _edges(dataset: xr.Dataset) -> np.ndarray:
    return edges(dataset, "energy")


def energy_mask(dataset: xr.Dataset, energy_min: float | None = None,
                energy_max: float | None = None) -> xr.DataArray:
    """Reco-energy bins entirely inside ``[energy_min, energy_max]`` (TeV), along ``energy``.

    Examples
    --------
    >>> import xarray as xr, xgamma as xg
    >>> ds = xr.Dataset(coords=xg.energy_axis(1, 100, 4).coords)
    >>> energy_mask(ds, 3.0).values.tolist()
    [False, True, True, True]
    """
    m = range_mask(_edges(dataset), energy_min, energy_max)
    return xr.DataArray(m, dims=("energy",), coords={"energy": dataset.coords["energy"]})


def range_mask(e: np.ndarray, energy_min: float | None, energy_max: float | None) -> np.ndarray:
    """numpy core of :func:`energy_mask` on the bin edges ``e``."""
    lo, hi = e[:-1], e[1:]
    m = np.ones(lo.size, dtype=bool)
    if energy_min is not None and np.isfinite(energy_min):
        m &= lo >= float(energy_min) * (1 - 1e-10)
    if energy_max is not None and np.isfinite(energy_max):
        m &= hi <= float(energy_max) * (1 + 1e-10)
    return m


def _loglog(x: np.ndarray, y: np.ndarray) -> Any:
    lx = np.log(x)
    ly = np.log(np.clip(y, _TINY, None))

    def f(e: Any) -> Any:
        return np.exp(np.interp(np.log(e), lx, ly))

    return f


def _first_root(x: np.ndarray, y: np.ndarray, value: float, xmin: float, xmax: float) -> float:
    """First energy in ``[xmin, xmax]`` where the log-log interpolation of ``y(x)`` equals
    ``value`` (sign changes on a 100-step log grid, then Brent), NaN if none."""
    from scipy.optimize import brentq

    f = _loglog(x, y)
    grid = np.geomspace(xmin, xmax, 101) if xmax > xmin else np.array([xmin])
    sign = np.sign(f(grid) - value)
    idx = np.flatnonzero(sign[:-1] != sign[1:])
    if idx.size == 0:
        return float("nan")
    a, b = grid[idx[0]], grid[idx[0] + 1]
    if sign[idx[0]] == 0:
        return float(a)
    return float(brentq(lambda e: float(f(e)) - value, a, b, xtol=1e-12, rtol=1e-12))


def _is_region(dataset: xr.Dataset) -> bool:
    return "y" not in dataset.dims and "x" not in dataset.dims


def _as_skycoord(position: Any) -> SkyCoord:
    if isinstance(position, SkyCoord):
        return position
    return SkyCoord(float(position[0]), float(position[1]), unit="deg", frame="icrs")


def _position(dataset: xr.Dataset, observation: Any, position: Any,
              fixed_offset: float | None) -> SkyCoord:
    if fixed_offset is not None:

        if observation is None:
            raise ValueError("fixed_offset needs the observation")
        ra, dec = pointing_radec(observation)
        return SkyCoord(ra, dec + float(fixed_offset), unit="deg", frame="icrs")
    if position is not None:
        return _as_skycoord(position)
    return sky.center(dataset)


def _sky_index(dataset: xr.Dataset, c: SkyCoord, suffix: str = "") -> tuple[int, int]:
    """Nearest pixel (iy, ix) of position ``c`` on the main or the coarse (``_irf``) grid."""
    if suffix:

        w = sky.wcs_from_header(dataset.attrs["wcs_irf"])
        frame = dataset.attrs.get("frame", "icrs")
        s = c.transform_to(frame).spherical
        px, py = w.world_to_pixel_values(s.lon.deg, s.lat.deg)
        ny, nx = dataset.sizes["y_irf"], dataset.sizes["x_irf"]
    else:
        px, py = sky.sky_to_pix(dataset, c)
        ny, nx = dataset.sizes["y"], dataset.sizes["x"]
    ix = int(np.clip(np.floor(float(px) + 0.5), 0, nx - 1))
    iy = int(np.clip(np.floor(float(py) + 0.5), 0, ny - 1))
    return iy, ix


def _livetime(dataset: xr.Dataset, observation: Any) -> float:
    lt = dataset.attrs.get("livetime")
    if lt is None and observation is not None:
        lt = getattr(observation, "livetime", None)
    if lt is None or not float(lt) > 0:
        raise ValueError("aeff-max needs a positive livetime (dataset attrs or observation)")
    return float(lt)


def aeff_default(dataset: xr.Dataset, observation: Any) -> xr.DataArray:
    """Mask from the IRF default thresholds (``lo_threshold``/``hi_threshold`` of the aeff).

    Examples
    --------
    >>> import xarray as xr, xgamma as xg
    >>> from xgamma import testing
    >>> ds = xr.Dataset(coords=xg.energy_axis(0.1, 100, 3).coords)
    >>> aeff_default(ds, testing.make_observation(n_events=1)).values.tolist()
    [False, True, False]
    """
    lo, hi = default_thresholds(observation)
    return energy_mask(dataset, lo, hi)


def default_thresholds(observation: Any) -> tuple[Any, Any]:
    aeff = getattr(observation, "aeff", None) if observation is not None else None
    attrs = aeff.attrs if aeff is not None else {}
    lo, hi = attrs.get("lo_threshold"), attrs.get("hi_threshold")
    if lo is None and hi is None:
        warnings.warn(f"no default thresholds for observation "
                      f"{getattr(observation, 'obs_id', None)}", stacklevel=3)
    return lo, hi


def aeff_max(dataset: xr.Dataset, observation: Any = None, aeff_percent: float = 10.0,
             position: Any = None, fixed_offset: float | None = None) -> xr.DataArray:
    """Mask below the true energy where the effective area reaches ``aeff_percent`` % of its max.

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma import testing
    >>> obs = testing.make_observation(n_events=10)
    >>> geom = testing.make_wcs_geom(width=1.0, binsz=0.2, energy=xg.energy_axis(0.01, 100, 8))
    >>> ds = xg.reduce(obs, geom, energy_true=xg.energy_axis(0.01, 100, 40, name="energy_true"))
    >>> aeff_max(ds, obs, aeff_percent=10).values.astype(int).tolist()
    [0, 0, 1, 1, 1, 1, 1, 1]
    """
    if "exposure" not in dataset:
        raise ValueError("aeff-max needs the dataset's exposure")
    exp = dataset["exposure"]
    if not _is_region(dataset):
        c = _position(dataset, observation, position, fixed_offset)
        iy, ix = _sky_index(dataset, c)
        exp = exp.isel(y=iy, x=ix)
    aeff = np.asarray(exp.values, dtype=float) / _livetime(dataset, observation)
    et = np.asarray(dataset["energy_true"].values, dtype=float)
    pos = np.flatnonzero(aeff > 0)
    if pos.size == 0:
        return energy_mask(dataset) & False
    # search the rising part only: from the first positive value to the maximum
    emin, emax = et[pos[0]], et[int(np.argmax(aeff))]
    root = _first_root(et, aeff, aeff_percent / 100 * aeff.max(), emin, emax)
    return energy_mask(dataset, emin if np.isnan(root) else root)


def _edisp_kernel(dataset: xr.Dataset, observation: Any, position: Any,
                  fixed_offset: float | None) -> xr.DataArray:
    if "edisp" not in dataset:
        raise ValueError("edisp-bias needs the dataset's edisp")
    k = dataset["edisp"]
    if "y_irf" in k.dims:
        c = _position(dataset, observation, position, fixed_offset)
        iy, ix = _sky_index(dataset, c, suffix="_irf")
        k = k.isel(y_irf=iy, x_irf=ix)
    return k.transpose("energy_true", "energy")


def edisp_bias(dataset: xr.Dataset, observation: Any = None, bias_percent: float = 10.0,
               position: Any = None, fixed_offset: float | None = None) -> xr.DataArray:
    """Mask below the reco energy where the energy bias falls to ``bias_percent`` %.

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma import testing
    >>> obs = testing.make_observation(n_events=10, edisp={"bias_energy": 1.0})
    >>> geom = testing.make_wcs_geom(width=1.0, binsz=0.2, energy=xg.energy_axis(0.1, 100, 30))
    >>> ds = xg.reduce(obs, geom, energy_true=xg.energy_axis(0.05, 100, 60, name="energy_true"))
    >>> m = edisp_bias(ds, obs, bias_percent=10)  # mean migra 1 + 0.1 TeV / E_true
    >>> round(float(ds.energy_min.where(m).min()), 3)  # first bin above E_true 1 TeV x 1.1
    1.259
    """
    k = np.asarray(_edisp_kernel(dataset, observation, position, fixed_offset).values, float)
    et = np.asarray(dataset["energy_true"].values, dtype=float)
    er = np.asarray(dataset["energy"].values, dtype=float)
    norm = k.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nan_to_num((k * er[None, :]).sum(axis=1) / norm)
    bias = (mean - et) / et
    emin = et[int(np.nanargmax(bias))]
    root = _first_root(et, bias, bias_percent / 100, emin, et[-1])
    if np.isnan(root):
        warnings.warn("edisp-bias: the bias never reaches the threshold; no energy cut applied",
                      stacklevel=2)
        return energy_mask(dataset)
    return energy_mask(dataset, root * (1 + bias_percent / 100))


def offset_max(dataset: xr.Dataset, observation: Any, offset_max: float = 3.0) -> xr.DataArray:
    """Pixels (3D) or the region centre (1D) closer than ``offset_max`` deg to the pointing.

    Examples
    --------
    >>> from xgamma import testing
    >>> obs = testing.make_observation(n_events=1, pointing=(83.633, 22.014))
    >>> g = testing.make_wcs_geom(width=1.0, binsz=0.5)
    >>> offset_max(g, obs, 0.3).values.tolist()
    [[False, False], [False, False]]
    """

    if observation is None:
        raise ValueError("offset-max needs the observation")
    pnt = pointing_radec(observation)
    if _is_region(dataset):
        c = sky.center(dataset).icrs
        sep = SkyCoord(*pnt, unit="deg").separation(c).deg
        return xr.DataArray(bool(sep < offset_max))
    off = pixel_offsets(dataset, pnt)
    return xr.DataArray(off < float(offset_max), dims=("y", "x"))


_offset_max = offset_max


def _background_spectrum(dataset: xr.Dataset) -> xr.DataArray | None:
    if "background" in dataset:
        b = dataset["background"]
    elif "counts_off" in dataset and "acceptance_off" in dataset:
        acc = dataset["acceptance"] if "acceptance" in dataset else 1.0
        b = dataset["counts_off"] * acc / dataset["acceptance_off"].where(
            dataset["acceptance_off"] > 0)
    else:
        return None
    other = [d for d in b.dims if d != "energy"]
    return b.fillna(0).sum(other) if other else b.fillna(0)


def bkg_peak(dataset: xr.Dataset) -> xr.DataArray:
    """Mask the bins up to the peak of the background spectrum (keep those above it).

    Examples
    --------
    >>> import numpy as np, xarray as xr, xgamma as xg
    >>> e = xg.energy_axis(0.1, 10, 4)
    >>> ds = xr.Dataset({"background": ("energy", np.array([1.0, 5.0, 3.0, 1.0]))}, coords=e.coords)
    >>> bkg_peak(ds).values.tolist()
    [False, False, True, True]
    """
    spec = _background_spectrum(dataset)
    if spec is None:
        raise ValueError("bkg-peak needs a background (or counts_off) in the dataset")
    idx = int(np.argmax(np.asarray(spec.values, dtype=float)))
    return energy_mask(dataset, float(_edges(dataset)[idx + 1]))


def bkg_invalid(dataset: xr.Dataset) -> xr.DataArray:
    """True where the background is finite and positive.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> bkg_invalid(xr.Dataset({"background": ("energy", [0.0, 1.0, np.nan])})).values.tolist()
    [False, True, False]
    """
    b = dataset["background"]
    return xr.apply_ufunc(np.isfinite, b) & (b > 0)


def make_safe_mask(
    dataset: xr.Dataset,
    observation: Any = None,
    methods: Sequence[str] = ("aeff-default",),
    aeff_percent: float = 10.0,
    bias_percent: float = 10.0,
    offset_max: float = 3.0,
    position: Any = None,
    fixed_offset: float | None = None,
    bkg_invalid: bool = True,
) -> xr.Dataset:
    """Set ``mask_safe`` from the chosen methods (ANDed with an existing ``mask_safe``).

    Parameters
    ----------
    dataset : Dataset
        A 3D map dataset or a 1D spectrum dataset (no ``obs`` dim).
    observation : Observation, optional
        Needed by ``aeff-default``, ``offset-max`` and ``fixed_offset``.
    methods : sequence of str
        Any of :data:`METHODS`.
    aeff_percent, bias_percent : float
        Thresholds of ``aeff-max`` and ``edisp-bias`` in percent.
    offset_max : float
        Maximum offset (deg) of ``offset-max``.
    position : SkyCoord or (ra, dec), optional
        Where ``aeff-max``/``edisp-bias`` are evaluated (default: region or map centre).
    fixed_offset : float, optional
        Evaluate them at this offset (deg) north of the pointing instead.
    bkg_invalid : bool
        Also mask bins where a non-zero ``background`` is not finite or not positive
        (Gammapy applies this whenever the dataset has a background).

    Returns
    -------
    Dataset
        A new dataset with ``mask_safe`` on the dims of ``counts`` (or ``energy`` and the sky
        dims).

    Examples
    --------
    >>> import xgamma as xg
    >>> from xgamma import testing
    >>> obs = testing.make_observation(n_events=10)
    >>> ds = xg.reduce(obs, testing.make_wcs_geom(width=6.0, binsz=0.2))
    >>> out = make_safe_mask(ds, obs, methods=["offset-max"], offset_max=2.0)
    >>> int(out.mask_safe.isel(energy=0).sum()) < int(ds.mask_safe.isel(energy=0).sum())
    True
    """
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown safe-mask methods {sorted(unknown)}; choose from {METHODS}")
    if "obs" in dataset.dims:
        raise ValueError("make_safe_mask works on one observation's dataset (no obs dim)")
    if "counts" in dataset:
        dims: tuple[str, ...] = tuple(str(d) for d in dataset["counts"].dims)
    else:
        dims = ("energy", *(d for d in ("y", "x") if d in dataset.dims))
    shape = tuple(int(dataset.sizes[d]) for d in dims)
    mask = np.ones(shape, dtype=bool)
    if "mask_safe" in dataset:
        mask &= _broadcastable(dataset["mask_safe"].astype(bool), dims)
    if bkg_invalid and "background" in dataset:
        b = np.asarray(dataset["background"].transpose(*dims).values)
        if b.any():
            mask &= (b > 0) & (b < np.inf)
    parts: list[xr.DataArray] = []
    if "offset-max" in methods:
        parts.append(_offset_max(dataset, observation, offset_max))
    if "aeff-default" in methods:
        parts.append(aeff_default(dataset, observation))
    if "aeff-max" in methods:
        parts.append(aeff_max(dataset, observation, aeff_percent, position, fixed_offset))
    if "edisp-bias" in methods:
        parts.append(edisp_bias(dataset, observation, bias_percent, position, fixed_offset))
    if "bkg-peak" in methods:
        parts.append(bkg_peak(dataset))
    for part in parts:
        mask &= _broadcastable(part, dims)
    return dataset.assign(mask_safe=(dims, mask))


def _broadcastable(da: xr.DataArray, dims: tuple[str, ...]) -> np.ndarray:
    """Values of ``da`` (dims a subset of ``dims``) reshaped to broadcast against ``dims``."""
    own = [d for d in dims if d in da.dims]
    extra = set(da.dims) - set(dims)
    if extra:
        raise ValueError(f"mask dims {sorted(map(str, extra))} are not dataset dims {dims}")
    vals = np.asarray(da.transpose(*own).values, dtype=bool)
    return vals.reshape([int(da.sizes[d]) if d in da.dims else 1 for d in dims])


def safe_energy_range(dataset: xr.Dataset) -> tuple[float, float]:
    """Lowest and highest reco-energy edge (TeV) of the bins in ``mask_safe`` (any pixel).

    Examples
    --------
    >>> import numpy as np, xarray as xr, xgamma as xg
    >>> e = xg.energy_axis(1, 100, 4)
    >>> ds = xr.Dataset({"mask_safe": ("energy", np.array([False, True, True, False]))},
    ...                 coords=e.coords)
    >>> [round(v, 4) for v in safe_energy_range(ds)]
    [3.1623, 31.6228]
    """
    m = dataset["mask_safe"]
    other = [d for d in m.dims if d != "energy"]
    anym = np.asarray((m.any(other) if other else m).values, dtype=bool)
    if not anym.any():
        return float("nan"), float("nan")
    e = _edges(dataset)
    idx = np.flatnonzero(anym)
    return float(e[idx[0]]), float(e[idx[-1] + 1])
