"""Evaluate instrument response functions: pure, vectorised functions on IRF DataArrays.

IRFs are the DataArrays :mod:`xgamma.io.gadf` reads (schemas in
:data:`xgamma.conventions.IRF_SCHEMAS`). Coordinates may be numbers, numpy arrays (a 1D array
becomes a new coordinate along the dim of the same name), astropy Quantities or DataArrays
(broadcast with xarray rules, e.g. a ``(y, x)`` offset map; converted from their
``attrs["units"]`` to the internal unit), numpy- or dask-backed.

Interpolation (:func:`evaluate`) follows the data-format conventions: linear in
``log(energy)`` and linear in the other coordinates, between bin centres; the background is
interpolated in ``log(value)``. Between the outermost bin centre and the outer bin edge the
values are extrapolated linearly (in the same scales); beyond the outer edges the result is 0.
Values of effective area, PSF, energy dispersion and background are clipped at 0.

Examples
--------
>>> import numpy as np, xarray as xr, xgamma as xg
>>> from xgamma.irf import aeff_at
>>> e = xg.energy_axis(0.1, 100, 3, name="energy_true")
>>> o = xg.linear_axis(0, 2, 2, unit="deg", name="offset")
>>> aeff = xr.DataArray([[1e8, 5e7], [2e9, 1e9], [3e9, 2e9]], dims=("energy_true", "offset"),
...                     coords={**e.coords, **o.coords}, attrs={"units": "cm2", "irf": "aeff"})
>>> float(aeff_at(aeff, energy_true=1.0, offset=0.5))
1050000000.0
"""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr

from xgamma.axes import axis_from_edges, edges, interp_axis
from xgamma.conventions import UNITS
from xgamma.errors import ConventionError
from xgamma.irf.interp import interp_rows, invert_rows

__all__ = [
    "evaluate",
    "aeff_at",
    "edisp_at",
    "psf_at",
    "bkg_at",
    "psf_containment",
    "psf_containment_radius",
    "psf_integral",
    "edisp_matrix",
    "psf_from_params",
    "rad_axis_default",
]

_DEG2_TO_SR = float((np.pi / 180.0) ** 2)
_NONNEG = {"aeff", "edisp", "psf", "bkg", "rad_max"}


def _coord(val: Any, dim: str) -> Any:
    """Turn an evaluation coordinate into a float or a DataArray (numpy arrays: along ``dim``)."""
    if isinstance(val, xr.DataArray):
        unit, internal = val.attrs.get("units"), UNITS.get(dim)
        if unit and internal is not None and u.Unit(unit) != u.Unit(internal):
            f = u.Unit(unit).to(internal)  # e.g. an energy axis in GeV
            out = (val.astype(float) * f).assign_attrs(units=internal)
            for c in (dim, f"{dim}_min", f"{dim}_max"):
                if c in out.coords:
                    at = {**out.coords[c].attrs, "units": internal}
                    out = out.assign_coords({c: (out.coords[c].dims, out.coords[c].values * f, at)})
            return out
        return val.astype(float)
    if isinstance(val, str):
        val = u.Quantity(val)
    if isinstance(val, u.Quantity):
        val = val.to_value(UNITS.get(dim, val.unit))
    arr = np.asarray(val, dtype=float)
    if arr.ndim == 0:
        return float(arr)
    if arr.ndim == 1:
        return xr.DataArray(arr, dims=(dim,), coords={dim: arr})
    raise ConventionError(f"coordinate {dim!r}: pass a DataArray for multi-dimensional values")


def evaluate(irf: xr.DataArray, log_values: bool | None = None, **coords: Any) -> xr.DataArray:
    """Interpolate an IRF at the given coordinates (see the module docstring for the scheme).

    Parameters
    ----------
    irf : xarray.DataArray
        An IRF with binned dims (``<dim>_min``/``<dim>_max`` coordinates).
    log_values : bool, optional
        Interpolate ``log(value)``; default: True for ``attrs["irf"] == "bkg"``.
    **coords
        ``dim=values``; dims not given keep their grid.

    Returns
    -------
    xarray.DataArray
        With the IRF's attrs; 0 outside the outer bin edges.

    Examples
    --------
    >>> import xarray as xr, xgamma as xg
    >>> e = xg.energy_axis(1, 100, 2)
    >>> bkg = xr.DataArray([1e-2, 1e-6], dims="energy", coords=e.coords,
    ...                    attrs={"units": "s-1 TeV-1 sr-1", "irf": "bkg"})
    >>> float(evaluate(bkg, energy=10.0))  # geometric mean of the two nodes
    0.0001
    >>> float(evaluate(bkg, energy=1000.0))
    0.0
    """
    kind = irf.attrs.get("irf", "")
    if log_values is None:
        log_values = kind == "bkg"
    bad = [d for d in coords if d not in irf.dims]
    if bad:
        raise ConventionError(f"{kind or 'IRF'}: no dim(s) {bad}; dims are {list(irf.dims)}")
    vals = {d: _coord(v, d) for d, v in coords.items()}
    work = irf
    inside: Any = True
    interp: dict[str, Any] = {}
    for d, v in vals.items():
        lo = float(np.min(irf.coords[f"{d}_min"].values)) if f"{d}_min" in irf.coords else -np.inf
        hi = float(np.max(irf.coords[f"{d}_max"].values)) if f"{d}_max" in irf.coords else np.inf
        inside = inside & (v >= lo) & (v <= hi)
        if irf.sizes[d] == 1:  # a single node: constant inside the bin
            work = work.isel({d: 0}, drop=True)
            if isinstance(v, xr.DataArray):
                work = work.broadcast_like(v) if d in v.dims else work
        else:
            interp[d] = v
    work = work.drop_vars([c for c in work.coords if c not in work.dims and set(work.coords[c].dims)
                           & set(vals)], errors="ignore")
    out = interp_axis(work, interp, log_values=log_values, fill_value=None) if interp else work
    if kind in _NONNEG:
        out = out.clip(min=0)
    if inside is not True:
        out = out.where(inside, 0.0)
    out = out.transpose(*[d for d in irf.dims if d in out.dims], ...)
    out.attrs = dict(irf.attrs)
    out.name = irf.name
    return out


def aeff_at(aeff: xr.DataArray, energy_true: Any, offset: Any = 0.0) -> xr.DataArray:
    """Effective area (cm2) at true energy (TeV) and offset (deg).

    Examples
    --------
    >>> import xarray as xr, xgamma as xg
    >>> e = xg.energy_axis(0.1, 10, 2, name="energy_true")
    >>> o = xg.linear_axis(0, 2, 2, unit="deg", name="offset")
    >>> a = xr.DataArray([[1e8, 5e7], [1e9, 5e8]], dims=("energy_true", "offset"),
    ...                  coords={**e.coords, **o.coords}, attrs={"units": "cm2", "irf": "aeff"})
    >>> aeff_at(a, [0.3162, 3.162], 0.5).values.round(-6)
    array([1.e+08, 1.e+09])
    >>> float(aeff_at(a, "3162 GeV", 3.0))  # beyond the last offset edge
    0.0
    """
    return evaluate(aeff, energy_true=energy_true, offset=offset)


def edisp_at(edisp: xr.DataArray, energy_true: Any, migra: Any, offset: Any = 0.0) -> xr.DataArray:
    """Energy-dispersion probability density in ``migra = E_reco / E_true``.

    Examples
    --------
    >>> import numpy as np, xarray as xr, xgamma as xg
    >>> et = xg.energy_axis(1, 10, 1, name="energy_true")
    >>> m = xg.linear_axis(0, 2, 4, name="migra")
    >>> o = xg.linear_axis(0, 1, 1, unit="deg", name="offset")
    >>> ed = xr.DataArray(np.full((1, 4, 1), 0.5), dims=("energy_true", "migra", "offset"),
    ...                   coords={**et.coords, **m.coords, **o.coords}, attrs={"irf": "edisp"})
    >>> float(edisp_at(ed, 3.0, 1.0, 0.5))
    0.5
    """
    return evaluate(edisp, energy_true=energy_true, migra=migra, offset=offset)


def psf_at(psf: xr.DataArray, energy_true: Any, offset: Any, rad: Any) -> xr.DataArray:
    """PSF probability density (sr-1) at angular distance ``rad`` (deg) from the source.

    Examples
    --------
    >>> p = psf_from_params(_gauss_params(0.1))
    >>> peak = 1 / (2 * np.pi * 0.1**2) / _DEG2_TO_SR  # a 0.1 deg Gaussian at its centre
    >>> bool(abs(float(psf_at(p, 1.0, 0.5, 0.0)) / peak - 1) < 1e-3)
    True
    """
    return evaluate(psf, energy_true=energy_true, offset=offset, rad=rad)


def bkg_at(bkg: xr.DataArray, energy: Any, fov_lon: Any = None, fov_lat: Any = None,
           offset: Any = None) -> xr.DataArray:
    """Background rate (s-1 TeV-1 sr-1) at reconstructed energy and FoV position.

    A BKG_3D takes ``fov_lon``/``fov_lat`` (deg); a BKG_2D takes ``offset`` (or computes it
    as ``hypot(fov_lon, fov_lat)``).

    Examples
    --------
    >>> import numpy as np, xarray as xr, xgamma as xg
    >>> e = xg.energy_axis(1, 100, 2)
    >>> o = xg.linear_axis(0, 2, 2, unit="deg", name="offset")
    >>> b = xr.DataArray([[1e-2, 1e-2], [1e-6, 1e-6]], dims=("energy", "offset"),
    ...                  coords={**e.coords, **o.coords}, attrs={"irf": "bkg"})
    >>> round(float(bkg_at(b, 10.0, fov_lon=0.3, fov_lat=0.4)), 12)
    0.0001
    """
    if "offset" in bkg.dims:
        if offset is None:
            if fov_lon is None or fov_lat is None:
                raise ConventionError("bkg_at: give offset or fov_lon and fov_lat")
            lon, lat = _coord(fov_lon, "fov_lon"), _coord(fov_lat, "fov_lat")
            offset = np.hypot(lon, lat)
        return evaluate(bkg, energy=energy, offset=offset)
    if offset is not None:
        raise ConventionError("bkg_at: a BKG_3D is evaluated at fov_lon and fov_lat, not offset")
    kw = {k: v for k, v in (("fov_lon", fov_lon), ("fov_lat", fov_lat)) if v is not None}
    return evaluate(bkg, energy=energy, **kw)


# ---------------------------------------------------------------------------------------------
# vectorised helpers
# ---------------------------------------------------------------------------------------------


def _psf_cumulative(psf: xr.DataArray) -> tuple[xr.DataArray, np.ndarray]:
    """Containment at the rad bin edges (dim ``rad_edge``, first value 0) and those edges."""
    lo = np.asarray(psf.coords["rad_min"].values, dtype=float)
    hi = np.asarray(psf.coords["rad_max"].values, dtype=float)
    w = xr.DataArray(np.pi * (hi**2 - lo**2) * _DEG2_TO_SR, dims="rad")
    cum = (psf.drop_vars(["rad", "rad_min", "rad_max"], errors="ignore") * w).cumsum("rad")
    zero = xr.zeros_like(cum.isel(rad=[0]))
    cum = xr.concat([zero, cum], dim="rad").rename(rad="rad_edge")
    return cum, np.append(lo[:1], hi)


def psf_integral(psf: xr.DataArray) -> xr.DataArray:
    """Integral of the PSF over the rad grid, ``sum psf * pi (rad_max**2 - rad_min**2)``.

    Should be 1 for a normalised PSF whose grid covers its tails.

    Examples
    --------
    >>> p = psf_from_params(_gauss_params(0.1))
    >>> round(float(psf_integral(p).squeeze()), 4)
    1.0
    """
    cum, _ = _psf_cumulative(psf)
    return cum.isel(rad_edge=-1, drop=True).assign_attrs(units="")


def psf_containment(psf: xr.DataArray, rad_max: Any, energy_true: Any = None,
                    offset: Any = None) -> xr.DataArray:
    """Fraction of the PSF within ``rad_max`` (deg) at ``energy_true`` (TeV) and ``offset`` (deg).

    The PSF is interpolated in energy and offset, then integrated over ``2 pi r dr`` on its rad
    bins; the cumulative curve is interpolated linearly at ``rad_max`` (any broadcastable array).

    Examples
    --------
    >>> p = psf_from_params(_gauss_params(0.1))
    >>> round(float(psf_containment(p, 0.1).squeeze()), 3)  # 1 - exp(-1/2) for a Gaussian
    0.393
    """
    kw = {k: v for k, v in (("energy_true", energy_true), ("offset", offset)) if v is not None}
    p = evaluate(psf, **kw) if kw else psf
    cum, x = _psf_cumulative(p)
    r = _coord(rad_max, "rad")
    if isinstance(r, xr.DataArray) and "rad" in r.dims:
        r = r.drop_vars("rad", errors="ignore").rename(rad="rad_q")
    out = xr.apply_ufunc(lambda y, q: interp_rows(y, x, q), cum, r,
                         input_core_dims=[["rad_edge"], []], dask="parallelized",
                         output_dtypes=[float], dask_gufunc_kwargs={"allow_rechunk": True})
    if isinstance(out, xr.DataArray) and "rad_q" in out.dims:
        out = out.rename(rad_q="rad")
    return out.assign_attrs(units="")


def psf_containment_radius(psf: xr.DataArray, energy_true: Any = None, offset: Any = None,
                           fraction: Any = 0.68) -> xr.DataArray:
    """Radius (deg) containing ``fraction`` of the PSF (NaN where the grid never reaches it).

    Examples
    --------
    >>> p = psf_from_params(_gauss_params(0.1))
    >>> r = psf_containment_radius(p, fraction=0.68).squeeze()
    >>> bool(abs(float(r) - 0.1 * np.sqrt(-2 * np.log(1 - 0.68))) < 1e-3)
    True
    """
    kw = {k: v for k, v in (("energy_true", energy_true), ("offset", offset)) if v is not None}
    p = evaluate(psf, **kw) if kw else psf
    cum, x = _psf_cumulative(p)
    return xr.apply_ufunc(lambda c, f: invert_rows(c, x, f), cum, fraction,
                          input_core_dims=[["rad_edge"], []], dask="parallelized",
                          output_dtypes=[float], dask_gufunc_kwargs={"allow_rechunk": True},
                          ).assign_attrs(units="deg")


# ---------------------------------------------------------------------------------------------
# energy dispersion matrix
# ---------------------------------------------------------------------------------------------


def edisp_matrix(edisp: xr.DataArray, energy_true_axis: xr.DataArray, energy_axis: xr.DataArray,
                 offset: Any = 0.0) -> xr.DataArray:
    """Redistribution matrix: probability that an event of true energy (at the centres of
    ``energy_true_axis``) is reconstructed in each bin of ``energy_axis``.

    The EDISP_2D density is interpolated to the true energies and offset (linear in log
    energy and in offset, on its own migra bins), integrated to a cumulative distribution
    over the migra bin edges (piecewise-constant density, so the CDF is piecewise linear) and
    differenced at ``migra = E_reco_edge / E_true``; a CDF whose total exceeds 1 (float32
    rounding, ~1e-5) is rescaled to 1. Rows sum to at most 1 (less where the
    reco axis does not cover the dispersion). ``offset`` may be a DataArray (e.g. along
    ``obs``); its dims are kept.

    Returns
    -------
    xarray.DataArray
        ``(energy_true, energy[, offset dims])`` with both axes' coordinates.

    Examples
    --------
    >>> import numpy as np, xarray as xr, xgamma as xg
    >>> et = xg.energy_axis(0.1, 100, 6, name="energy_true")
    >>> m = xg.linear_axis(0.5, 1.5, 2, name="migra")
    >>> o = xg.linear_axis(0, 2, 1, unit="deg", name="offset")
    >>> ed = xr.DataArray(np.ones((6, 2, 1)), dims=("energy_true", "migra", "offset"),
    ...                   coords={**et.coords, **m.coords, **o.coords}, attrs={"irf": "edisp"})
    >>> mat = edisp_matrix(ed, et, xg.energy_axis(0.1, 100, 6))
    >>> np.allclose(mat.sum("energy")[1:-1], 1.0)
    True
    """
    if "migra" not in edisp.dims:
        raise ConventionError("edisp_matrix: need an EDISP_2D with a migra dim")
    et = np.asarray(energy_true_axis.coords["energy_true"].values if isinstance(
        energy_true_axis, xr.DataArray) and "energy_true" in energy_true_axis.coords
        else energy_true_axis, dtype=float)
    e_edges = edges(energy_axis, "energy") if isinstance(energy_axis, xr.DataArray) else np.asarray(
        energy_axis, dtype=float)
    kw: dict[str, Any] = {"energy_true": et}
    if "offset" in edisp.dims:
        kw["offset"] = offset
    pdf = evaluate(edisp, **kw)
    m_lo = np.asarray(edisp.coords["migra_min"].values, dtype=float)
    m_hi = np.asarray(edisp.coords["migra_max"].values, dtype=float)
    dm = xr.DataArray(m_hi - m_lo, dims="migra")
    cdf = (pdf.drop_vars(["migra", "migra_min", "migra_max"], errors="ignore") * dm).cumsum("migra")
    cdf = xr.concat([xr.zeros_like(cdf.isel(migra=[0])), cdf], dim="migra")
    total = cdf.isel(migra=-1)
    cdf = cdf / total.where(total > 1.0, 1.0)
    xm = np.append(m_lo[:1], m_hi)
    mq = e_edges[None, :] / et[:, None]  # (energy_true, energy_edge)

    def _probs(c: np.ndarray) -> np.ndarray:
        # c: (..., n_et, n_medges) -> (..., n_et, n_e)
        cq = interp_rows(c[..., None, :], xm, mq)
        return np.diff(cq, axis=-1)

    core = ["energy_true", "migra"]
    out = xr.apply_ufunc(_probs, cdf.drop_vars([c for c in cdf.coords if "energy_true" in
                                                cdf.coords[c].dims], errors="ignore"),
                         input_core_dims=[core], output_core_dims=[["energy_true", "energy"]],
                         dask="parallelized", output_dtypes=[float],
                         dask_gufunc_kwargs={"output_sizes": {"energy": e_edges.size - 1},
                                             "allow_rechunk": True})
    et_ax = (energy_true_axis if isinstance(energy_true_axis, xr.DataArray) and
             "energy_true_min" in energy_true_axis.coords else None)
    e_ax = energy_axis if isinstance(energy_axis, xr.DataArray) else axis_from_edges(
        e_edges, "energy", unit="TeV")
    coords = {k: v.variable for k, v in e_ax.coords.items()}
    if et_ax is not None:
        coords.update({k: v.variable for k, v in et_ax.coords.items()})
    else:
        coords["energy_true"] = xr.Variable("energy_true", et)
    out = out.assign_coords(coords)
    dims = ["energy_true", "energy", *[d for d in out.dims if d not in ("energy_true", "energy")]]
    return out.transpose(*dims).assign_attrs(units="", irf="edisp_kernel")


# ---------------------------------------------------------------------------------------------
# parametric PSFs
# ---------------------------------------------------------------------------------------------


def rad_axis_default(rmax: float = 1.5, nbins: int = 300) -> xr.DataArray:
    """A rad axis from 0 to ``rmax`` deg, bins growing quadratically (fine near 0).

    Examples
    --------
    >>> ax = rad_axis_default(1.0, 100)
    >>> float(ax.rad_max[-1]), round(float(ax.rad_max[0]), 6)
    (1.0, 0.0001)
    """
    return axis_from_edges(rmax * np.linspace(0.0, 1.0, nbins + 1) ** 2, "rad", unit="deg",
                           interp="lin")


def psf_from_params(params: xr.Dataset, rad: xr.DataArray | None = None) -> xr.DataArray:
    """Evaluate a PSF_3GAUSS or PSF_KING parameter Dataset to the table form (sr-1).

    PSF_3GAUSS (GADF): ``f(r) = exp(-r²/2σ₁²) + A₂ exp(-r²/2σ₂²) + A₃ exp(-r²/2σ₃²)``
    normalised to unit integral, ``2π (σ₁² + A₂σ₂² + A₃σ₃²)`` (components with σ = 0 are
    dropped; SCALE is not used, as in other implementations). PSF_KING:
    ``1/(2πσ²) (1 - 1/γ) (1 + r²/(2γσ²))^-γ``. The default rad axis goes to
    ``max(1.5, 6 σ_max)`` deg (at most 10) in 300 quadratically growing bins.

    Examples
    --------
    >>> p = psf_from_params(_gauss_params(0.2))
    >>> p.dims, p.attrs["psf_class"]
    (('energy_true', 'offset', 'rad'), 'PSF_3GAUSS')
    """
    cls = str(params.attrs.get("psf_class", "PSF_3GAUSS")).upper()
    sig_names = [n for n in ("sigma_1", "sigma_2", "sigma_3", "sigma") if n in params]
    smax = max(float(np.nanmax(params[n].values, initial=0.0)) for n in sig_names)
    if rad is None:
        rad = rad_axis_default(float(min(max(1.5, 6.0 * smax), 10.0)))
    r = xr.DataArray(np.asarray(rad.values, float), dims="rad")
    r2 = r**2
    if cls == "PSF_KING":
        g, s = params["gamma"], params["sigma"]
        ok = (s > 0) & (g > 1)
        s2 = xr.where(ok, s**2, 1.0)
        val = (1 / (2 * np.pi * s2) * (1 - 1 / xr.where(ok, g, 2.0))
               * (1 + r2 / (2 * xr.where(ok, g, 2.0) * s2)) ** (-xr.where(ok, g, 2.0)))
        val = xr.where(ok, val, 0.0)
    else:
        num = xr.zeros_like(params["sigma_1"]) * r
        norm = xr.zeros_like(params["sigma_1"])
        for i in (1, 2, 3):
            s = params[f"sigma_{i}"]
            a = xr.ones_like(s) if i == 1 else params[f"ampl_{i}"]
            a = xr.where(s > 0, a, 0.0)
            s2 = xr.where(s > 0, s**2, 1.0)
            num = num + a * np.exp(-r2 / (2 * s2))
            norm = norm + a * 2 * np.pi * xr.where(s > 0, s**2, 0.0)
        val = xr.where(norm > 0, num / xr.where(norm > 0, norm, 1.0), 0.0)
    val = (val / _DEG2_TO_SR).transpose("energy_true", "offset", "rad")
    out = val.drop_vars([c for c in val.coords if "rad" in val.coords[c].dims], errors="ignore")
    out = out.assign_coords({k: v.variable for k, v in rad.coords.items()})
    out.name = "psf"
    out.attrs = {"units": "sr-1", "irf": "psf", "hdu_class": cls, "psf_class": cls,
                 "point_like": False}
    return out


def _gauss_params(sigma: float) -> xr.Dataset:
    """A one-bin single-Gaussian PSF_3GAUSS parameter set (for examples and tests)."""
    e = axis_from_edges([0.1, 100.0], "energy_true", unit="TeV")
    o = axis_from_edges([0.0, 2.0], "offset", unit="deg", interp="lin")
    dims = ("energy_true", "offset")
    one = np.ones((1, 1))
    data = {"scale": (dims, one), "sigma_1": (dims, sigma * one),
            "ampl_2": (dims, 0 * one), "sigma_2": (dims, 0 * one),
            "ampl_3": (dims, 0 * one), "sigma_3": (dims, 0 * one)}
    return xr.Dataset(data, coords={**e.coords, **o.coords}, attrs={"psf_class": "PSF_3GAUSS"})
