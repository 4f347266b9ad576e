"""Forward folding: source flux -> exposure -> energy dispersion -> predicted counts.

The 1D spectrum dataset (the contract)
--------------------------------------
A 1D ("region") dataset is an ``xarray.Dataset`` with no sky dims:

- ``counts(energy)``: ON counts.
- ON/OFF: ``counts_off(energy)``, ``acceptance(energy)``, ``acceptance_off(energy)``;
  ``alpha = acceptance / acceptance_off``. The statistic is WStat (background profiled).
- Known background: ``background(energy)`` [counts]; the statistic is Cash, with a
  :class:`~xgamma.models.sky.BackgroundModel` (if one applies) scaling it.
- ``exposure(energy_true)`` [cm2 s]: effective area times livetime.
- ``edisp(energy_true, energy)``: probability that an event of true-energy bin i is
  reconstructed in reco bin j (rows sum to <= 1).
- ``mask_safe(energy)`` bool; optional ``mask_fit(energy)`` bool (absent = all True). The
  statistic is summed where ``mask_safe & mask_fit``.
- Coordinates: the binned axes of :mod:`xgamma.axes` (``energy``, ``energy_min``,
  ``energy_max``, ``energy_true``, ``energy_true_min``, ``energy_true_max``; units TeV, log).
- attrs: ``name``, ``livetime`` [s], ``obs_id`` (or list), ``instrument``, ``region`` (string, if
  known), ``geom = "region"``.
- Several observations with the same binning stack along an ``obs`` dim (coordinates ``obs`` =
  observation ids and ``livetime(obs)``); every variable may then carry ``obs``; the joint
  likelihood is the sum over ``obs``. Datasets with different binnings are passed as a list.

Predicted counts::

    npred_signal(energy) = sum_energy_true edisp * exposure * int_{bin} dN/dE dE_true * T
    npred = npred_signal + npred_background

``T`` is 1 for a sky model without a temporal model; with one, it is the temporal model's mean
over the observation's good time (:func:`temporal_norm`: ``int_GTI f dt / sum(GTI lengths)``,
attrs or ``obs`` coordinates ``tstart``/``tstop`` [s since ``mjdref``], or the list of GTIs
``gti_start``/``gti_stop`` of a stacked dataset), as in the 3D fold and Gammapy's temporal
models: a flux norm half as large during the GTI halves npred. A stacked dataset keeps the
union of its runs' GTIs, so the gaps between runs are not good time.

The flux integral over each true-energy bin is analytic where the model has one, otherwise
Gauss-Legendre quadrature in log E. For ON/OFF data the background is the WStat profile
``alpha * mu_bkg(counts, counts_off, alpha, npred_signal)``.

Examples
--------
>>> from xgamma.fold import example_dataset, npred_signal
>>> from xgamma.models import spectral_model
>>> ds = example_dataset()
>>> sig = npred_signal(ds, spectral_model("pl", amplitude=1e-11, index=2.5))
>>> sig.dims, bool(sig.sum() > 0)
(('energy',), True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from xgamma.axes import energy_axis
from xgamma.fitting.fold_map import npred_map
from xgamma.fitting.gti import gti_intervals_mjd, gti_mean
from xgamma.models.components import BackgroundModel, Models, SkyModel, as_models
from xgamma.models.spectral import SpectralModelBase, spectral_model
from xgamma.obs import concat_obs
from xgamma.stats import wstat_profile_background

__all__ = [
    "npred_signal",
    "npred_background",
    "npred",
    "fake",
    "concat_obs",
    "fit_mask",
    "with_fit_range",
    "alpha",
    "spectrum_dataset",
    "example_dataset",
    "gti_mjd",
    "temporal_norm",
]


def alpha(dataset: xr.Dataset) -> xr.DataArray:
    """ON/OFF exposure ratio ``acceptance / acceptance_off``.

    Examples
    --------
    >>> float(alpha(example_dataset()).max())
    0.2
    """
    return dataset["acceptance"] / dataset["acceptance_off"]


def fit_mask(dataset: xr.Dataset) -> xr.DataArray:
    """``mask_safe & mask_fit`` (missing masks count as all True).

    Examples
    --------
    >>> int(fit_mask(example_dataset()).sum())
    20
    """
    m = xr.ones_like(dataset["counts"], dtype=bool)
    for k in ("mask_safe", "mask_fit"):
        if k in dataset:
            m = m & dataset[k].astype(bool)
    return m


def with_fit_range(dataset: xr.Dataset, energy_min: float | None = None, energy_max: float | None = None,
                   select: str = "contained") -> xr.Dataset:
    """Dataset with ``mask_fit`` set from an energy range ``[energy_min, energy_max]`` [TeV].

    ``select="contained"`` (default) keeps the reco bins lying entirely inside the range:
    Gammapy's energy mask (relative tolerance 1e-6 at the range ends). ``select="centre"`` keeps
    the bins whose log-centre is inside (the convention of older tools, e.g. the joint-Crab
    paper's fits).

    Examples
    --------
    >>> ds = with_fit_range(example_dataset(), 1.0, 10.0)
    >>> int(ds.mask_fit.sum())
    6
    """
    c = dataset["energy"]
    m = xr.ones_like(c, dtype=bool)
    if select not in ("contained", "centre"):
        raise ValueError(f"select must be 'contained' or 'centre', got {select!r}")
    lo_edge, hi_edge = (dataset["energy_min"], dataset["energy_max"]) if select == "contained" else (c, c)
    if energy_min is not None:
        m = m & (lo_edge >= energy_min * (1 - 1e-6))
    if energy_max is not None:
        m = m & (hi_edge <= energy_max * (1 + 1e-6))
    return dataset.assign(mask_fit=m.reset_coords(drop=True).assign_coords(dataset["energy"].coords))


def npred_signal(dataset: xr.Dataset, spectral: SpectralModelBase) -> xr.DataArray:
    """Predicted signal counts of one spectral model in a 1D dataset (dims ``[obs,] energy``).

    Examples
    --------
    >>> from xgamma.models import spectral_model
    >>> ds = example_dataset()
    >>> s1 = npred_signal(ds, spectral_model("pl", amplitude=1e-11))
    >>> s2 = npred_signal(ds, spectral_model("pl", amplitude=2e-11))
    >>> bool(abs(float(s2.sum() / s1.sum()) - 2) < 1e-12)
    True
    """
    lo = np.asarray(dataset.coords["energy_true_min"].values, dtype=float)
    hi = np.asarray(dataset.coords["energy_true_max"].values, dtype=float)
    flux = xr.DataArray(spectral.integral_values(lo, hi, list(spectral.parameters.values)), dims="energy_true")
    out = xr.dot(dataset["exposure"] * flux, dataset["edisp"], dim="energy_true")
    return out.assign_attrs(units="").rename("npred_signal")


def gti_mjd(dataset: xr.Dataset) -> tuple[np.ndarray, np.ndarray] | None:
    """The good time of each observation of a dataset as MJD (TT) ``(start, stop)`` arrays of
    length ``obs`` (1 without an ``obs`` dim), from ``tstart``/``tstop`` [s since ``mjdref``]
    (``obs`` coordinates or attrs); None when one of them is missing.

    Examples
    --------
    >>> ds = example_dataset().assign_attrs(mjdref=55000.0, tstart=0.0, tstop=43200.0)
    >>> [a.tolist() for a in gti_mjd(ds)]
    [[55000.0], [55000.5]]
    """
    vals = {}
    n = dataset.sizes.get("obs", 1)
    for key in ("tstart", "tstop", "mjdref"):
        v = dataset.coords[key].values if key in dataset.coords else dataset.attrs.get(key)
        if v is None:
            return None
        vals[key] = np.broadcast_to(np.asarray(v, dtype=float).reshape(-1), (n,))
    return (vals["mjdref"] + vals["tstart"] / 86400.0, vals["mjdref"] + vals["tstop"] / 86400.0)


def temporal_norm(dataset: xr.Dataset, temporal: Any, values: Sequence[Any] | None = None) -> np.ndarray:
    """Mean of a temporal model over each observation's good time (:func:`gti_mjd`):
    ``int f dt / (stop - start)``, one value per ``obs`` (length 1 without an ``obs`` dim), the
    factor on a sky model's predicted counts. Ones when ``temporal`` is None or the dataset has
    no GTI.

    Examples
    --------
    >>> from xgamma.models.temporal import temporal_model
    >>> ds = example_dataset().assign_attrs(mjdref=55000.0, tstart=0.0, tstop=86400.0)
    >>> ramp = temporal_model("linear", alpha=1.0, beta=1.0, t_ref=55000.0)  # 1 + (t - t_ref) / day
    >>> temporal_norm(ds, ramp).round(6).tolist()
    [1.5]
    """
    n = dataset.sizes.get("obs", 1)
    gti = gti_intervals_mjd(dataset)
    if temporal is None or gti is None:
        return np.ones(n)
    vals = list(temporal.parameters.values) if values is None else list(values)
    return gti_mean(temporal, vals, gti, n)


def _signal(dataset: xr.Dataset, models: Models) -> xr.DataArray:
    name = str(dataset.attrs.get("name", ""))
    total = xr.zeros_like(dataset["counts"], dtype=float)
    for m in models:
        if isinstance(m, SkyModel) and m.applies_to(name):
            sig = npred_signal(dataset, m.spectral)
            if m.temporal is not None:
                norm = temporal_norm(dataset, m.temporal)
                sig = sig * (xr.DataArray(norm, dims="obs") if "obs" in dataset.dims else float(norm[0]))
            total = total + sig
    return total


def npred_background(dataset: xr.Dataset, models: Any = None, npred_sig: xr.DataArray | None = None) -> xr.DataArray:
    """Predicted background counts.

    ON/OFF datasets: ``alpha * mu_bkg`` profiled for the given signal. Datasets with a
    ``background`` variable: that background times the spectral model of a
    :class:`~xgamma.models.sky.BackgroundModel` applying to the dataset (evaluated at the reco
    bin centres), if any. Otherwise zero.

    Examples
    --------
    >>> ds = example_dataset()   # no source model: alpha (n_on + n_off) / (1 + alpha)
    >>> expected = alpha(ds) * (ds.counts + ds.counts_off) / (1 + alpha(ds))
    >>> bool(abs(npred_background(ds) - expected).max() < 1e-9)
    True
    """
    models = as_models(models if models is not None else [])
    if "counts_off" in dataset:
        sig = npred_sig if npred_sig is not None else _signal(dataset, models)
        a = alpha(dataset)
        mu_bkg = wstat_profile_background(dataset["counts"], dataset["counts_off"], a, sig)
        return (a * mu_bkg).rename("npred_background")
    if "background" in dataset:
        bkg = dataset["background"]
        name = str(dataset.attrs.get("name", ""))
        for m in models:
            if isinstance(m, BackgroundModel) and m.applies_to(name):
                energy = dataset.coords["energy"].reset_coords(drop=True)
                bkg = bkg * m.spectral(energy)
        return bkg.rename("npred_background")
    return xr.zeros_like(dataset["counts"], dtype=float).rename("npred_background")


def npred(dataset: xr.Dataset, models: Any) -> xr.DataArray:
    """Total predicted counts ``npred_signal + npred_background`` of a 1D dataset.

    ``models``: a :class:`~xgamma.models.sky.Models` (or list of components, or a single spectral
    model). Sky models with ``datasets_names`` apply only to those datasets.

    Examples
    --------
    >>> from xgamma.models import spectral_model
    >>> ds = example_dataset()
    >>> bool((npred(ds, spectral_model("pl")) > 0).all())
    True
    """
    models = as_models(models)
    if "y" in dataset.dims and "x" in dataset.dims:

        return npred_map(dataset, models).rename("npred")
    sig = _signal(dataset, models)
    return (sig + npred_background(dataset, models, sig)).rename("npred")


def fake(dataset: xr.Dataset, models: Any, seed: int | np.random.Generator | None = 0,
         background: Any = None) -> xr.Dataset:
    """Poisson realisation of a dataset under ``models`` (pure; seeded).

    ``counts ~ Poisson(npred_signal + mu_bkg_on)`` with ``mu_bkg_on`` the expected ON-region
    background: ``background`` if given, else the dataset's ``background`` variable (times the
    background model), else (ON/OFF) ``alpha * counts_off``. For ON/OFF datasets also
    ``counts_off ~ Poisson(mu_bkg_on / alpha)``.

    Examples
    --------
    >>> from xgamma.models import spectral_model
    >>> ds = example_dataset()
    >>> a = fake(ds, spectral_model("pl"), seed=1)
    >>> b = fake(ds, spectral_model("pl"), seed=1)
    >>> bool((a.counts == b.counts).all()), a is ds
    (True, False)
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    models = as_models(models)
    if "y" in dataset.dims and "x" in dataset.dims:

        mu = npred_map(dataset, models)
        if background is not None:
            mu = mu - npred_map(dataset, models, component="background") + background
        out = dataset.copy(deep=False)
        out["counts"] = (mu.dims, rng.poisson(np.asarray(mu.values, dtype=float)).astype(float),
                         dataset["counts"].attrs)
        return out
    name = str(dataset.attrs.get("name", ""))
    dims = ("obs", "energy") if "obs" in dataset.dims else ("energy",)
    sizes = {"obs": 1, **{str(k): int(v) for k, v in dataset.sizes.items()}}
    expo = as_array(dataset["exposure"], ["energy_true"], sizes)
    edisp = as_array(dataset["edisp"], ["energy_true", "energy"], sizes)
    lo = np.asarray(dataset.coords["energy_true_min"].values, dtype=float)
    hi = np.asarray(dataset.coords["energy_true_max"].values, dtype=float)
    flux = np.zeros((sizes["obs"], len(lo)))
    for m in models:
        if isinstance(m, SkyModel) and m.applies_to(name):
            f = np.asarray(m.spectral.integral_values(lo, hi, list(m.spectral.parameters.values)))
            flux = flux + temporal_norm(dataset, m.temporal)[:, None] * f
    sig = np.einsum("ot,ot,otr->or", flux, expo, edisp)
    if background is not None:
        bk = background if isinstance(background, xr.DataArray) else xr.DataArray(np.asarray(background), dims=dims[-np.ndim(background):] if np.ndim(background) else ())
        b = as_array(bk, ["energy"], sizes)
    elif "background" in dataset:
        b = as_array(npred_background(dataset.drop_vars([v for v in ("counts_off",) if v in dataset]), models),
                      ["energy"], sizes)
    elif "counts_off" in dataset:
        b = as_array(dataset["acceptance"], ["energy"], sizes) / as_array(dataset["acceptance_off"], ["energy"], sizes)
        b = b * as_array(dataset["counts_off"], ["energy"], sizes)
    else:
        b = np.zeros_like(sig)
    counts = rng.poisson(sig + b).astype(float)
    new = {"counts": counts}
    if "counts_off" in dataset:
        a = as_array(dataset["acceptance"], ["energy"], sizes) / as_array(dataset["acceptance_off"], ["energy"], sizes)
        new["counts_off"] = rng.poisson(b / a).astype(float)
    out = dataset.copy(deep=False)  # new Variable objects: the input stays untouched
    for var, arr in new.items():
        arr = arr if "obs" in dataset.dims else arr[0]
        if out[var].dims == dims:
            out.variables[var].values = arr
        else:
            out[var] = (dims, arr, dataset[var].attrs)
    return out


def as_array(da: xr.DataArray, dims: Sequence[str], sizes: dict[str, int]) -> np.ndarray:
    """``da`` as a numpy array of dims ``("obs", *dims)`` (size-1 ``obs`` when absent; broadcast)."""
    want = ("obs", *dims)
    extra = [d for d in da.dims if d not in want]
    if extra:
        raise ValueError(f"{da.name!r} has unexpected dims {extra} for a 1D dataset")
    present = [d for d in want if d in da.dims]
    arr = np.asarray(da.transpose(*present).values)
    for i, d in enumerate(want):
        if d not in da.dims:
            arr = np.expand_dims(arr, i)
    return np.broadcast_to(arr, tuple(sizes[d] for d in want))


def spectrum_dataset(energy: xr.DataArray, energy_true: xr.DataArray, exposure: Any, edisp: Any = None,
                     counts: Any = None, counts_off: Any = None, acceptance: Any = 1.0,
                     acceptance_off: Any = None, background: Any = None, mask_safe: Any = None,
                     name: str = "dataset", livetime: float = 1.0, **attrs: Any) -> xr.Dataset:
    """Build a 1D dataset from arrays on the given axes (see the module docstring).

    ``edisp`` defaults to the identity (same binning needed); ``counts`` to zeros. ON/OFF
    variables are added when ``counts_off`` is given.

    Examples
    --------
    >>> import xgamma as xg
    >>> e = xg.energy_axis(1, 10, 2)
    >>> ds = spectrum_dataset(e, e.rename({"energy": "energy_true"}).rename("energy_true")
    ...                       .assign_coords(energy_true_min=("energy_true", e.energy_min.values),
    ...                                      energy_true_max=("energy_true", e.energy_max.values)),
    ...                       exposure=1e10)
    >>> ds.edisp.values.tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    ne, nt = energy.sizes["energy"], energy_true.sizes["energy_true"]
    coords = {**energy.coords, **energy_true.coords}
    ed = np.eye(nt, ne) if edisp is None else np.asarray(edisp, dtype=float)
    data: dict[str, Any] = {
        "counts": (("energy",), np.zeros(ne) if counts is None else np.asarray(counts, float), {"units": ""}),
        "exposure": (("energy_true",), np.broadcast_to(np.asarray(exposure, float), (nt,)).copy(), {"units": "cm2 s"}),
        "edisp": (("energy_true", "energy"), ed, {"units": ""}),
        "mask_safe": (("energy",), np.ones(ne, bool) if mask_safe is None else np.asarray(mask_safe, bool)),
    }
    if counts_off is not None:
        data["counts_off"] = (("energy",), np.broadcast_to(np.asarray(counts_off, float), (ne,)).copy(), {"units": ""})
        data["acceptance"] = (("energy",), np.broadcast_to(np.asarray(acceptance, float), (ne,)).copy(), {"units": ""})
        aoff = 1.0 if acceptance_off is None else acceptance_off
        data["acceptance_off"] = (("energy",), np.broadcast_to(np.asarray(aoff, float), (ne,)).copy(), {"units": ""})
    if background is not None:
        data["background"] = (("energy",), np.broadcast_to(np.asarray(background, float), (ne,)).copy(), {"units": ""})
    at = {"name": name, "livetime": float(livetime), "obs_id": attrs.pop("obs_id", 1), "instrument": "",
          "geom": "region", **attrs}
    return xr.Dataset(data, coords=coords, attrs=at)


def example_dataset(livetime: float = 36000.0, onoff: bool = True, alpha_value: float = 0.2,
                    bkg_rate: float = 1e-3) -> xr.Dataset:
    """A small synthetic ON/OFF dataset: 20 reco bins 0.1-100 TeV, 30 true bins 0.05-200 TeV.

    Effective area ``1e9 cm2 (1 - exp(-E / 0.3 TeV))``, log-normal dispersion (15 % resolution,
    95 % of the events reconstructed), background ``bkg_rate * livetime * (E/1 TeV)^-2.7`` counts
    per bin (scaled by the bin's log width), ``alpha = alpha_value``; counts are the rounded
    expectation of a Crab-like power law (so fits recover it closely).

    Examples
    --------
    >>> ds = example_dataset()
    >>> ds.sizes["energy"], ds.sizes["energy_true"], ds.attrs["livetime"]
    (20, 30, 36000.0)
    """
    e = energy_axis(0.1, 100, 20)
    et = energy_axis(0.05, 200, 30, name="energy_true")
    ctr = np.asarray(et.values)
    aeff = 1e9 * (1 - np.exp(-ctr / 0.3))
    lo, hi = np.log(np.asarray(e.energy_min)), np.log(np.asarray(e.energy_max))
    from scipy.special import ndtr

    s = 0.15
    z_hi = (hi[None, :] - np.log(ctr)[:, None]) / s
    z_lo = (lo[None, :] - np.log(ctr)[:, None]) / s
    edisp = 0.95 * (ndtr(z_hi) - ndtr(z_lo))
    bkg_on = bkg_rate * livetime * np.asarray(e.values) ** -2.7 * np.log(10) * 0.15
    ds = spectrum_dataset(e, et, aeff * livetime, edisp, counts_off=bkg_on / alpha_value if onoff else None,
                          acceptance=alpha_value, acceptance_off=1.0, background=None if onoff else bkg_on,
                          name="example", livetime=livetime)
    crab = spectral_model("pl", index=2.6, amplitude=4e-11)
    sig = npred_signal(ds, crab)
    counts = np.round(np.asarray(sig) + bkg_on)
    ds = ds.assign(counts=("energy", counts, {"units": ""}))
    if onoff:
        ds = ds.assign(counts_off=("energy", np.round(bkg_on / alpha_value), {"units": ""}))
    return ds

