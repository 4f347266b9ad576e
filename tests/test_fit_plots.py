"""Fit plots and tables: residuals, plot_fit (1D and 3D), significance maps, FitResult.to_dataframe
and the HTML reprs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import xgamma as xg  # noqa: E402
from xgamma import sky, testing  # noqa: E402
from xgamma.fitting import example_dataset, fake, fit  # noqa: E402
from xgamma.fitting.fold import npred  # noqa: E402
from xgamma.fitting.plots import plot_fit, plot_significance_map, residuals  # noqa: E402
from xgamma.models import Models, SkyModel, spectral_model  # noqa: E402

PL = spectral_model("pl", index=2.5, amplitude=2e-11)


def test_residuals_1d_values():
    ds = example_dataset(onoff=False)  # a known background: npred does not depend on the counts
    pred = npred(ds, PL)
    exact = ds.assign(counts=pred)
    np.testing.assert_allclose(residuals(exact, PL).fillna(0).values, 0, atol=1e-12)
    plus = ds.assign(counts=pred + 4.0)
    mask = ds.mask_safe.values
    r = residuals(plus, PL, "diff")
    np.testing.assert_allclose(r.values[mask], 4.0)
    assert np.isnan(r.values[~mask]).all()
    np.testing.assert_allclose(residuals(plus, PL).values[mask], 4.0 / np.sqrt(pred.values[mask]))
    np.testing.assert_allclose(residuals(plus, PL, "diff/model").values[mask], 4.0 / pred.values[mask])
    with pytest.raises(ValueError, match="method must be one of"):
        residuals(ds, PL, "ratio")


def test_plot_fit_1d_and_3d():
    ds = fake(example_dataset(), PL, seed=2)
    fig = plot_fit(ds, PL)
    assert len(fig.axes) == 2 and fig.axes[0].get_yscale() == "log"
    plt.close(fig)
    cube = xg.reduce(testing.make_observation(n_events=400), testing.make_wcs_geom(width=1.0, binsz=0.1))
    r = residuals(cube, [])
    assert r.dims == ("y", "x")
    # no model: npred is the background, so the summed residual is (counts - background)
    diff = residuals(cube, [], "diff", spatial=False)
    m = cube.mask_safe
    np.testing.assert_allclose(float(diff.sum()), float(cube.counts.where(m).sum() - cube.background.where(m).sum()),
                               rtol=1e-9)
    fig = plot_fit(cube, [])
    assert len(fig.axes) >= 3
    plt.close(fig)


def test_significance_map_symmetric_with_contours():
    g = xg.wcs_geom((83.6, 22.0), 1.0, 0.05)
    yy, xx = np.mgrid[:20, :20]
    m = sky.make_map(7 * np.exp(-((xx - 10) ** 2 + (yy - 10) ** 2) / 8.0) - 1.0, g, name="sqrt_ts")
    ax = plot_significance_map(m)
    assert ax.images[0].get_clim() == (-5.0, 5.0)
    assert len(ax.collections) >= 1            # the 3 and 5 sigma contours
    plt.close(ax.figure)
    ax = plot_significance_map(m, vmax=3, levels=())
    assert ax.images[0].get_clim() == (-3.0, 3.0)
    plt.close(ax.figure)


def test_fit_result_table_and_html():
    ds = fake(example_dataset(), PL, seed=3)
    res = fit(ds, Models([SkyModel("src", spectral_model("pl"))]))
    df = res.to_dataframe()
    assert list(df.index) == ["src.spectral.index", "src.spectral.amplitude", "src.spectral.reference"]
    for name in res.result["param"].values:
        assert df.loc[name, "value"] == float(res.result["value"].sel(param=name))
        assert df.loc[name, "error"] == pytest.approx(float(res.result["error"].sel(param=name)))
    assert not df.loc["src.spectral.reference", "free"] and df.loc["src.spectral.reference", "frozen"]
    assert df.loc["src.spectral.amplitude", "unit"] == "cm-2 s-1 TeV-1"
    html = res._repr_html_()
    assert "converged" in html and "src.spectral.index" in html
    assert "src.spectral.amplitude" in res.models._repr_html_()
    assert "<" in ds._repr_html_()                 # datasets: xarray's own HTML repr
