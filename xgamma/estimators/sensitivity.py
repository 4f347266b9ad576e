"""Differential sensitivity of a 1D dataset: the weakest detectable flux per energy bin.

Per reco-energy bin, for a live time ``T`` (default the dataset's), the expected background in
the ON region is ``b`` (the ``background`` variable, or ``alpha * counts_off`` for ON/OFF data,
scaled by ``T / livetime``) with ``alpha`` (ON/OFF exposure ratio; ``alpha = 0.2`` assumed for
datasets with a known background, i.e. five OFF regions). The minimal excess is the largest of

- the excess ``s`` with a Li & Ma (1983, eq. 17) significance of ``n_sigma``
  (``n_on = s + b``, ``n_off = b / alpha``),
- ``gamma_min`` counts,
- ``bkg_syst_fraction * b`` (background systematics).

It is converted to flux with a reference spectrum (default a power law of index 2): the norm
``s / npred_ref`` (``npred_ref`` the reference's predicted counts in the bin, through exposure and
energy dispersion, scaled to ``T``) times the reference ``e2dnde``/``dnde``/``flux`` of the bin.
The Crab fraction uses the HEGRA Crab power law (Aharonian et al. 2004, ApJ 614, 897):
``dN/dE = 2.83e-11 (E / 1 TeV)^-2.62 cm-2 s-1 TeV-1`` (:func:`crab_reference`).

Examples
--------
>>> from xgamma.fold import example_dataset
>>> s = sensitivity(example_dataset())
>>> bool((s.e2dnde > 0).all()), s.e2dnde.attrs["units"]
(True, 'TeV cm-2 s-1')
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.optimize import brentq

from xgamma.estimators.core import reference_fluxes
from xgamma.fitting.fold import as_array, fit_mask, npred_signal
from xgamma.models.spectral import SpectralModelBase, spectral_model
from xgamma.stats import li_ma_significance

__all__ = ["sensitivity", "crab_reference", "excess_for_significance"]


def crab_reference() -> SpectralModelBase:
    """The HEGRA Crab power law (Aharonian et al. 2004): index 2.62, ``2.83e-11`` at 1 TeV.

    Examples
    --------
    >>> round(float(crab_reference().evaluate_values(np.array([1.0]), list(crab_reference().parameters.values))[0]), 13)
    2.83e-11
    """
    return spectral_model("pl", index=2.62, amplitude=2.83e-11, reference=1.0)


def excess_for_significance(background: float, alpha: float, n_sigma: float = 5.0) -> float:
    """Excess counts whose Li & Ma significance is ``n_sigma`` for ON background ``background``.

    Examples
    --------
    >>> s = excess_for_significance(100.0, 0.2)
    >>> round(float(li_ma_significance(s + 100.0, 100.0 / 0.2, 0.2)), 6)
    5.0
    """
    b = float(background)
    if b <= 0:
        return 0.0  # no background: any excess is significant, gamma_min decides

    def f(s: float) -> float:
        return float(li_ma_significance(s + b, b / alpha, alpha)) - n_sigma

    hi = max(n_sigma * np.sqrt(b * (1 + alpha)), 1.0)
    while f(hi) < 0:
        hi *= 2
    return float(brentq(f, 1e-12, hi, xtol=1e-10 * hi, rtol=1e-12))


def sensitivity(dataset: xr.Dataset, livetime: float | None = None, n_sigma: float = 5.0, gamma_min: float = 10.0,
                bkg_syst_fraction: float = 0.05, spectrum: SpectralModelBase | None = None,
                alpha_known_background: float = 0.2) -> xr.Dataset:
    """Differential sensitivity per reco-energy bin (see the module docstring).

    Parameters
    ----------
    dataset : xarray.Dataset
        A 1D dataset (ON/OFF or with a ``background``); an ``obs`` dim is summed.
    livetime : float, optional
        Live time [s]; default the dataset's ``livetime`` attr.
    n_sigma, gamma_min, bkg_syst_fraction : float
        The three criteria.
    spectrum : spectral model, optional
        Reference spectrum (default a power law of index 2).
    alpha_known_background : float
        ``alpha`` assumed for datasets with a known ``background``.

    Returns
    -------
    xarray.Dataset
        ``excess``, ``background``, ``criterion`` (``"significance"``, ``"gamma"``, ``"bkg"``),
        ``dnde``, ``e2dnde``, ``flux``, ``crab_fraction`` (of ``e2dnde``) over ``energy``
        (safe bins only); attrs ``livetime`` and the criteria.

    Examples
    --------
    >>> from xgamma.fold import example_dataset
    >>> ds = example_dataset()
    >>> s1 = sensitivity(ds)
    >>> s4 = sensitivity(ds, livetime=4 * ds.attrs["livetime"])
    >>> r = s1.e2dnde / s4.e2dnde    # background-dominated bins: 1 / sqrt(T)
    >>> round(float(r[2]), 1), str(s1.criterion[-1].values)
    (2.0, 'gamma')
    """
    spec = spectrum if spectrum is not None else spectral_model("pl", index=2.0, amplitude=1e-12)
    lt0 = float(dataset.attrs.get("livetime", np.nan))
    if "obs" in dataset.dims and "livetime" in dataset.coords:
        lt0 = float(dataset.coords["livetime"].sum())
    T = lt0 if livetime is None else float(livetime)
    if not np.isfinite(lt0) or lt0 <= 0:
        raise ValueError("the dataset needs a positive 'livetime' attr")
    scale = T / lt0
    sizes = {"obs": 1, **{str(k): int(v) for k, v in dataset.sizes.items()}}
    if "counts_off" in dataset:
        a_o = as_array(dataset["acceptance"], ["energy"], sizes) / as_array(dataset["acceptance_off"], ["energy"], sizes)
        off = as_array(dataset["counts_off"], ["energy"], sizes)
        bkg = (a_o * off).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            alpha = np.where(off.sum(axis=0) > 0, bkg / off.sum(axis=0), a_o.mean(axis=0))
    elif "background" in dataset:
        bkg = as_array(dataset["background"], ["energy"], sizes).sum(axis=0)
        alpha = np.full(bkg.shape, alpha_known_background)
    else:
        raise ValueError("sensitivity needs ON/OFF counts or a background")
    bkg = bkg * scale
    mask = np.asarray(as_array(fit_mask(dataset), ["energy"], sizes).any(axis=0), bool)
    npred_ref = as_array(npred_signal(dataset, spec), ["energy"], sizes).sum(axis=0) * scale
    n = bkg.size
    excess = np.full(n, np.nan)
    crit = np.full(n, "", dtype=object)
    for i in range(n):
        if not mask[i]:
            continue
        cands = {"significance": excess_for_significance(bkg[i], alpha[i], n_sigma), "gamma": gamma_min,
                 "bkg": bkg_syst_fraction * bkg[i]}
        key = max(cands, key=lambda k: cands[k])
        excess[i], crit[i] = cands[key], key
    e = dataset["energy"]
    lo, hi = np.asarray(e.energy_min.values, float), np.asarray(e.energy_max.values, float)
    ref = reference_fluxes(spec, lo, hi)
    crab = reference_fluxes(crab_reference(), lo, hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        norm = excess / npred_ref
    coords = {k: e.coords[k].variable for k in ("energy", "energy_min", "energy_max")}
    out = xr.Dataset({
        "excess": ("energy", excess, {"units": ""}),
        "background": ("energy", bkg, {"units": ""}),
        "criterion": ("energy", crit.astype(str)),
        "dnde": ("energy", norm * ref["ref_dnde"], {"units": "cm-2 s-1 TeV-1"}),
        "e2dnde": ("energy", norm * ref["ref_e2dnde"], {"units": "TeV cm-2 s-1"}),
        "flux": ("energy", norm * ref["ref_flux"], {"units": "cm-2 s-1"}),
        "crab_fraction": ("energy", norm * ref["ref_e2dnde"] / crab["ref_e2dnde"], {"units": ""}),
    }, coords=coords, attrs={"livetime": T, "n_sigma": n_sigma, "gamma_min": gamma_min,
                             "bkg_syst_fraction": bkg_syst_fraction,
                             "crab_reference": "HEGRA power law (Aharonian et al. 2004): 2.83e-11 (E/TeV)^-2.62"})
    return out.isel(energy=np.flatnonzero(mask))
