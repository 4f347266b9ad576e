"""The core functions give identical results on eager (numpy/pandas) and dask-chunked inputs:
one fixture (``backend`` in conftest) runs each test both ways, as cf-xarray's suite does."""

import numpy as np
import xarray as xr

import xgamma as xg
from xgamma import irf, stats, testing
from xgamma.fitting.fold import example_dataset
from xgamma.models import spectral_model
from xgamma.reduction.binning import bin_events


def _values(x):
    return np.asarray(x.compute() if hasattr(x, "compute") else x)


def test_irf_evaluation(backend):
    obs = testing.make_observation()
    offsets = xr.DataArray(np.linspace(0.0, 2.0, 6), dims="offset_q")
    energies = xr.DataArray(np.geomspace(0.5, 50, 5), dims="e_q")
    ref = irf.aeff_at(obs.aeff, energies, offsets)
    out = irf.aeff_at(backend(obs.aeff), backend(energies), backend(offsets))
    np.testing.assert_array_equal(_values(out), ref.values)
    assert float(ref.max()) > 0


def test_spectral_model_evaluation(backend):
    e = xr.DataArray(np.geomspace(0.1, 100, 8), dims="energy", attrs={"units": "TeV"})
    m = spectral_model("ecpl", index=2.2, lambda_=0.1)
    ref = m(e)
    np.testing.assert_array_equal(_values(m(backend(e))), _values(ref))
    assert _values(ref)[0] > _values(ref)[-1] > 0


def test_binning_events(backend):
    obs = testing.make_observation(n_events=500, seed=3)
    geom = testing.make_wcs_geom(width=2.0, binsz=0.2)
    ref = bin_events(obs.events, geom)
    out = bin_events(backend(obs.events), geom)
    np.testing.assert_array_equal(_values(out), ref.values)
    assert int(ref.sum()) > 10


def test_npred_and_statistic(backend):
    ds = example_dataset()
    m = spectral_model("pl", index=2.5)
    ref = xg.npred(ds, m)
    out = xg.npred(backend(ds), m)
    np.testing.assert_allclose(_values(out), ref.values, rtol=1e-12)
    n = np.asarray(ds.counts.values, float)
    c_ref = stats.cash(n, ref.values)
    c_out = stats.cash(_values(backend(ds.counts)), _values(out))
    np.testing.assert_allclose(c_out, c_ref, rtol=1e-12)


def test_stack_over_obs(backend):
    g = testing.make_wcs_geom(width=1.0, binsz=0.2)
    dss = [xg.reduce(testing.make_observation(obs_id=i, n_events=80, seed=i), g,
                     products=["counts", "exposure"]) for i in (1, 2, 3)]
    cat = xg.concat_obs(dss)
    ref = xg.stack(cat)
    out = xg.stack(backend(cat))
    for v in ("counts", "exposure"):
        np.testing.assert_allclose(_values(out[v]), ref[v].values, rtol=1e-12)
    assert int(ref.counts.sum()) == sum(int(d.counts.sum()) for d in dss)


def test_fit_result(backend):
    ds = xg.fake(example_dataset(), spectral_model("pl", index=2.4), seed=2)
    ref = xg.fit(ds, spectral_model("pl"))
    out = xg.fit(backend(ds), spectral_model("pl"))
    np.testing.assert_allclose(out.models.parameters.values, ref.models.parameters.values,
                               rtol=1e-9)
    assert abs(ref.models.parameters.values[0] - 2.4) < 0.3
