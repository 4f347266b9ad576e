"""Simulation recovery of the extended spatial model families (issue "Modeling and fitting"):
200 seeded Poisson fakes of a small synthetic 3D dataset per family, each fitted back with
:func:`xgamma.fit` from the true values; the pulls ``(fit - truth) / error`` of position, size
and amplitude must have mean 0 (within 0.15) and width 1 (within 0.15)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import xgamma as xg
from xgamma.axes import edges, linear_axis
from xgamma.fitting.fold import fake
from xgamma.fitting.fold_map import npred_map
from xgamma.models import BackgroundModel, Models, SkyModel, spectral_model
from xgamma.models.spatial import spatial_model
from xgamma.reduction.products import irf_geom

N_FAKES = 200
PSF_SIGMA = 0.03  # deg
BINSZ = 0.02  # deg


def make_dataset(nx: int = 20, exposure: float = 1e13, bkg: float | list[float] = 1.0,
                 n_energy: int = 1) -> xr.Dataset:
    """``n_energy`` bins over 1-10 TeV (true = reco, no dispersion), flat exposure, a flat
    background (per bin: ``bkg``) and a Gaussian PSF."""
    e_axis = xg.energy_axis(1, 10, n_energy)
    et_axis = e_axis.rename({"energy": "energy_true", "energy_min": "energy_true_min",
                             "energy_max": "energy_true_max"})
    geom = xg.wcs_geom((83.633, 22.014), nx * BINSZ, BINSZ, axes=[e_axis])
    gi = irf_geom(geom, 0.2)
    ny_i, nx_i = gi.sizes["y_irf"], gi.sizes["x_irf"]
    rad = linear_axis(0.0, 0.3, 150, unit="deg", name="rad")
    r, dr = np.radians(rad.values), np.radians(np.diff(edges(rad)))
    prof = np.exp(-0.5 * (r / np.radians(PSF_SIGMA)) ** 2)
    prof /= (2 * np.pi * r * dr * prof).sum()
    shape = (n_energy, nx, nx)
    coords = {k: v.variable for k, v in geom.coords.items()}
    for axis in (et_axis, gi, rad):
        coords.update({k: v.variable for k, v in axis.coords.items()})
    b = np.broadcast_to(np.asarray(bkg, dtype=float).reshape(-1, 1, 1), shape).copy()
    return xr.Dataset(
        {
            "counts": (("energy", "y", "x"), np.zeros(shape)),
            "exposure": (("energy_true", "y", "x"), np.full(shape, exposure), {"units": "cm2 s"}),
            "background": (("energy", "y", "x"), b),
            "psf": (("energy_true", "rad", "y_irf", "x_irf"),
                    np.broadcast_to(prof[None, :, None, None], (n_energy, rad.size, ny_i, nx_i)).copy(),
                    {"units": "sr-1"}),
            "edisp": (("energy_true", "energy", "y_irf", "x_irf"),
                      np.broadcast_to(np.eye(n_energy)[:, :, None, None], (n_energy, n_energy, ny_i, nx_i)).copy()),
            "mask_safe": (("energy", "y", "x"), np.ones(shape, dtype=bool)),
        },
        coords=coords,
        attrs={**geom.attrs, "wcs_irf": gi.attrs["wcs_irf"], "name": "synth"},
    )


@pytest.fixture(scope="module")
def dataset() -> xr.Dataset:
    return make_dataset()


def pulls_of_fakes(ds: xr.Dataset, family: str, sizes: str | tuple[str, ...], seed: int,
                   frozen: tuple[str, ...] = (), amplitude: float = 1e-10, n_src: float = 640,
                   **shape: float) -> tuple[np.ndarray, int]:
    """Pulls of (lon_0, lat_0, sizes..., amplitude) over ``N_FAKES`` fakes (by default ~640
    source counts on 400 background counts), and the number of converged fits."""
    c = ds.sizes["x"] // 2
    lon = float(ds.ra.values[c, c]) + 0.005  # off the pixel centre
    lat = float(ds.dec.values[c, c]) - 0.003
    bkg = BackgroundModel(("synth",))
    src = SkyModel("src", spectral_model("pl", index=2.5, amplitude=amplitude).with_frozen("index"),
                   spatial_model(family, lon_0=lon, lat_0=lat, **shape))
    if frozen:
        src = src.with_parameters(src.parameters.with_frozen(list(frozen)))
    truth = Models([src, bkg.with_parameters(bkg.parameters.with_frozen("spectral.norm"))])
    assert float(npred_map(ds, truth, component="src").sum()) == pytest.approx(n_src, rel=0.02)
    sizes = (sizes,) if isinstance(sizes, str) else sizes
    names = ["src.spatial.lon_0", "src.spatial.lat_0", *(f"src.spatial.{s}" for s in sizes),
             "src.spectral.amplitude"]
    true = np.array([truth.parameters[n].value for n in names])
    # xgamma.fold.fake draws Poisson(npred); draw from the expectation computed once (faster)
    mu = npred_map(ds, truth).values
    np.testing.assert_array_equal(fake(ds, truth, seed=seed).counts.values,
                                  np.random.default_rng(seed).poisson(mu).astype(float))
    rng = np.random.default_rng(seed)
    pulls = []
    for _ in range(N_FAKES):
        res = xg.fit(ds.assign(counts=(ds.counts.dims, rng.poisson(mu).astype(float))), truth,
                     optimize_opts={"strategy": 0})
        if not res.success:
            continue
        r = res.result.sel(param=names)
        pulls.append((r["value"].values - true) / r["error"].values)
    return np.array(pulls), len(pulls)


def check_pulls(p: np.ndarray, n_ok: int) -> None:
    assert n_ok >= N_FAKES - 5
    assert np.all(np.isfinite(p))
    np.testing.assert_array_less(np.abs(p.mean(axis=0)), 0.15)
    np.testing.assert_array_less(np.abs(p.std(axis=0) - 1), 0.15)


def test_gaussian_pulls(dataset):
    """Gaussian, sigma = 2 PSF sigma = 3 pixels (the boundary of the model's 1 -> 2 sub-pixel
    sampling: a sampling switched during the fit made MIGRAD fail here)."""
    p, n_ok = pulls_of_fakes(dataset, "gauss", "sigma", seed=11, sigma=0.06)
    check_pulls(p, n_ok)


def test_disk_pulls(dataset):
    """Disk, r_0 = 5 pixels, with the default sharp edge (95 % -> 5 % over a tenth of a pixel).
    Sampled at points, such an edge left the statistic piecewise flat in r_0 and the position
    and the fits stalled; the band-averaged sub-pixels (:mod:`xgamma.models._radial`) fix it."""
    p, n_ok = pulls_of_fakes(dataset, "disk", "r_0", seed=12, r_0=0.1, edge_width=0.01)
    check_pulls(p, n_ok)


def test_shell_pulls():
    """Shell, radius 10 and width 5 pixels (PSF sigma 1.5 pixels), radius and width both free
    (~6500 source counts: radius and width are strongly anti-correlated and need them to reach
    the Gaussian regime). Point-sampled, the shell's sqrt rims made most fits fail (16 of 20 for
    a smaller shell, radius 4 and width 2 pixels, 640 counts, the same dataset)."""
    ds = make_dataset(nx=40)
    p, n_ok = pulls_of_fakes(ds, "shell", ("radius", "width"), seed=14, amplitude=1e-9, n_src=6454,
                             radius=0.2, width=0.1)
    check_pulls(p, n_ok)


def test_generalized_gaussian_pulls(dataset):
    """Generalized Gaussian, r_0 = 2 pixels, eta = 0.5 (its Gaussian-like shape) frozen."""
    p, n_ok = pulls_of_fakes(dataset, "GeneralizedGaussianSpatialModel", "r_0", seed=13,
                             frozen=("spatial.eta",), r_0=0.04, eta=0.5)
    check_pulls(p, n_ok)


@pytest.mark.parametrize("family", ["template", "const"])
def test_template_and_constant_pulls(family):
    """Models without a position: a Gaussian-blob template (its own 0.01 deg grid, bilinearly
    interpolated) and the isotropic constant model; the spectral amplitude and index are free."""
    from xgamma import sky
    from xgamma.models.spatial_template import template_spatial_model

    ds = make_dataset(n_energy=2, bkg=[1.6, 0.4])  # two bins: the index is measured too
    if family == "template":
        c = ds.sizes["x"] // 2
        g = xg.wcs_geom((float(ds.ra.values[c, c]), float(ds.dec.values[c, c])), 0.4, 0.01)
        r2 = (g.ra - g.ra.mean()) ** 2 + (g.dec - g.dec.mean()) ** 2
        spatial = template_spatial_model(sky.make_map(np.exp(-0.5 * r2.values / 0.05**2), g))
        amplitude = 1e-10
    else:  # the same flux in the map, spread over it (the model is 1 / (4 pi) sr-1)
        spatial = spatial_model("const")
        amplitude = 1e-10 * 4 * np.pi / float(sky.solid_angle(ds).sum())
    src = SkyModel("src", spectral_model("pl", index=2.5, amplitude=amplitude), spatial)
    bkg = BackgroundModel(("synth",))
    truth = Models([src, bkg.with_parameters(bkg.parameters.with_frozen("spectral.norm"))])
    names = ["src.spectral.index", "src.spectral.amplitude"]
    true = np.array([truth.parameters[n].value for n in names])
    mu = npred_map(ds, truth).values
    n_src = npred_map(ds, truth, component="src").sum(("y", "x")).values
    assert n_src.sum() > 500 and n_src[0] > 2 * n_src[1], n_src
    rng = np.random.default_rng(15)
    pulls = []
    for _ in range(N_FAKES):
        res = xg.fit(ds.assign(counts=(ds.counts.dims, rng.poisson(mu).astype(float))), truth,
                     optimize_opts={"strategy": 0})
        if res.success:
            r = res.result.sel(param=names)
            pulls.append((r["value"].values - true) / r["error"].values)
    check_pulls(np.array(pulls), len(pulls))
