"""Simulation recovery of the model families of issue 13 (as test_spectral_pulls.py and
test_spatial_pulls.py do for the others): seeded Poisson fakes fitted back from the truth with
:func:`xgamma.fit`; the pulls ``(fit - truth) / error`` of the free parameters must have mean 0
and width 1.

To keep the file under a minute the numbers of fakes are smaller than the 200 of the other pull
tests, and the tolerances are set from them: with ``n`` fakes the standard error of a mean pull is
``1 / sqrt(n)`` and that of a width ``1 / sqrt(2 n)``; the cuts are 3.5 standard errors (a family
whose errors are 30 % off, or whose estimates are biased by half an error, still fails).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_spatial_pulls import make_dataset

import xgamma as xg
from xgamma.fitting.fold import alpha, example_dataset, fake
from xgamma.fitting.fold_map import npred_map
from xgamma.models import Models, SkyModel, spectral_model
from xgamma.models.spatial import spatial_model
from xgamma.models.spatial_extra import piecewise_norm_spatial_model, template_nd_spatial_model
from xgamma.models.spectral_extra import dark_matter_model

HOUR = 3600.0


def check_pulls(pulls: np.ndarray, n_ok: int, n: int) -> None:
    assert n_ok >= n - max(2, n // 20), n_ok
    assert np.all(np.isfinite(pulls))
    mean, std = pulls.mean(axis=0), pulls.std(axis=0, ddof=1)
    assert np.all(np.abs(mean) < 3.5 / math.sqrt(n_ok)), mean
    assert np.all(np.abs(std - 1) < 3.5 / math.sqrt(2 * n_ok)), std


# ------------------------------------------------------------------------------ spectral (1D ON/OFF)


def spectral_pulls(spectral, livetime: float, n: int, seed: int) -> tuple[np.ndarray, int]:
    ds = example_dataset(livetime=livetime)
    mu_b = alpha(ds) * ds.counts_off
    truth = Models([SkyModel("s", spectral)])
    x_true = truth.parameters.free_vector()
    rng = np.random.default_rng(seed)
    pulls = []
    for _ in range(n):
        res = xg.fit(fake(ds, truth, seed=rng, background=mu_b), truth)
        if res.success:
            pulls.append((res.result["value"].values - x_true) / res.result["error"].values)
    return np.array(pulls), len(pulls)


def _dm(process: str, mass: float, channel: str) -> object:
    """A dark-matter spectrum with the astrophysical factor set for 3e-12 cm-2 s-1 in 0.1-100 TeV
    (a few thousand counts in 10 h of the example dataset); ``scale`` free."""
    unit = dark_matter_model(process, mass, channel, 1.0)
    factor = 3e-12 / float(unit.integral(0.1, 100.0))
    return dark_matter_model(process, mass, channel, factor)


SPECTRAL_CASES = {
    # 4FGL-DR1 shape with b = 1/2 frozen (as the catalog does): cutoff where k sqrt(E) = 1, k =
    # expfactor * 1e3 MeV^0.5 per sqrt(TeV): 10 TeV for expfactor = 3.16e-4
    "secpl-4fgl": (lambda: spectral_model("secpl-4fgl", amplitude=4e-11, expfactor=3.16e-4, index_1=2.0,
                                          index_2=0.5).with_frozen("index_2"), 40 * HOUR, 60),
    "meyer-crab": (lambda: spectral_model("MeyerCrabSpectralModel").with_frozen("norm", frozen=False),
                   2 * HOUR, 100),
    "dm-annihilation": (lambda: _dm("annihilation", 20000.0, "b"), 10 * HOUR, 60),
    "dm-decay": (lambda: _dm("decay", 20000.0, "tau"), 10 * HOUR, 60),
}


@pytest.mark.parametrize("family", list(SPECTRAL_CASES))
def test_spectral_family_pulls(family):
    factory, livetime, n = SPECTRAL_CASES[family]
    pulls, n_ok = spectral_pulls(factory(), livetime, n, seed=21)
    check_pulls(pulls, n_ok, n)


# ------------------------------------------------------------------------------ spatial (3D)


def map_pulls(datasets, truth: Models, names: list[str], n: int, seed: int) -> tuple[np.ndarray, int]:
    datasets = datasets if isinstance(datasets, list) else [datasets]
    true = np.array([truth.parameters[k].value for k in names])
    mus = [npred_map(d, truth).values for d in datasets]
    rng = np.random.default_rng(seed)
    pulls = []
    for _ in range(n):
        fakes = [d.assign(counts=(d.counts.dims, rng.poisson(mu).astype(float))) for d, mu in zip(datasets, mus,
                                                                                                    strict=True)]
        res = xg.fit(fakes, truth, optimize_opts={"strategy": 0})
        if res.success:
            r = res.result.sel(param=names)
            pulls.append((r["value"].values - true) / r["error"].values)
    return np.array(pulls), len(pulls)


def _centre(ds) -> tuple[float, float]:
    c = ds.sizes["x"] // 2
    return float(ds.ra.values[c, c]), float(ds.dec.values[c, c])


def test_shell2_pulls():
    """Shell2, outer radius 6 pixels, eta = 0.5 frozen (the thickness as a fraction of the
    radius, the catalog-like use), ~2000 source counts on 400 background counts."""
    ds = make_dataset()
    lon, lat = _centre(ds)
    src = SkyModel("src", spectral_model("pl", index=2.5, amplitude=3e-10).with_frozen("index"),
                   spatial_model("shell2", lon_0=lon + 0.004, lat_0=lat - 0.003, r_0=0.12, eta=0.5)
                   .with_frozen("eta"))
    truth = Models([src])
    names = ["src.spatial.lon_0", "src.spatial.lat_0", "src.spatial.r_0", "src.spectral.amplitude"]
    pulls, n_ok = map_pulls(ds, truth, names, 30, seed=31)
    check_pulls(pulls, n_ok, 30)


def test_constant_flux_pulls():
    """Constant flux per pixel: amplitude and index from two energy bins (~1000 source counts)."""
    ds = make_dataset(n_energy=2, bkg=[1.6, 0.4])
    src = SkyModel("src", spectral_model("pl", index=2.5, amplitude=2e-10 / 400), spatial_model("const-flux"))
    truth = Models([src])
    n_src = npred_map(ds, truth, component="src").sum(("y", "x")).values
    assert 800 < n_src.sum() < 1500, n_src
    pulls, n_ok = map_pulls(ds, truth, ["src.spectral.index", "src.spectral.amplitude"], 60, seed=32)
    check_pulls(pulls, n_ok, 60)


def test_piecewise_norm_spatial_pulls():
    """Norms at the four corners (just outside the map): a smooth gradient over the map; the
    spectral amplitude (per sr: the model is a norm) frozen, the four norms free."""
    ds = make_dataset()
    lon, lat = _centre(ds)
    h = 0.22
    k = 1 / math.cos(math.radians(lat))
    pw = piecewise_norm_spatial_model(lon + np.array([-h * k, h * k, -h * k, h * k]),
                                      lat + np.array([-h, -h, h, h]), [1.0, 1.5, 0.7, 1.2])
    amp = 1e-10 / (0.4 * 0.4 * (math.pi / 180) ** 2)
    src = SkyModel("src", spectral_model("pl", index=2.5, amplitude=amp).with_frozen(), pw)
    truth = Models([src])
    names = [f"src.spatial.norm_{i}" for i in range(4)]
    pulls, n_ok = map_pulls(ds, truth, names, 30, seed=33)
    check_pulls(pulls, n_ok, 30)


def test_template_nd_pulls():
    """A Gaussian-blob template with its width as the parameter axis (nodes 0.03, 0.06, 0.12
    deg), width (true 0.08, between nodes: the interpolation has kinks at the nodes) and
    amplitude free (~1300 source counts)."""
    from xgamma import sky

    ds = make_dataset()
    lon, lat = _centre(ds)
    g = xg.wcs_geom((lon, lat), 0.6, 0.01)
    dx = (g.ra.values - lon) * math.cos(math.radians(lat))
    r2 = dx**2 + (g.dec.values - lat) ** 2
    nodes = np.array([0.03, 0.06, 0.12])
    cube = np.stack([np.exp(-0.5 * r2 / s**2) / (2 * math.pi * math.radians(s) ** 2) for s in nodes])
    t = template_nd_spatial_model(cube, sky.wcs_of(g), {"sigma": nodes}).with_values(sigma=0.08)
    src = SkyModel("src", spectral_model("pl", index=2.5, amplitude=2e-10).with_frozen("index"), t)
    truth = Models([src])
    pulls, n_ok = map_pulls(ds, truth, ["src.spatial.sigma", "src.spectral.amplitude"], 30, seed=34)
    check_pulls(pulls, n_ok, 30)
