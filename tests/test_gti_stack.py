"""Stacked datasets keep the union of their runs' GTIs, and the temporal factor of the folds
(1D, 3D, HEALPix) averages a temporal model over the GTIs only, per observation along ``obs``.

Two runs: A = [0, 1] d and B = [2, 4] d after MJD 55000, exposure proportional to the run
length. The light curve is 1 during A, 3 during B and peaks at 100 in the gap between them, so
the per-run factors are 1 and 3, the stacked one (1 * 1 + 3 * 2) / 3 = 7/3 (the npred of the
stack is the sum of the runs' npreds), while the gap-inclusive mean would be
(1 + 0.5 * (1 + 100) * 0.5 + 0.5 * (100 + 3) * 0.5 + 6) / 4 = 14.75 / 4.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xgamma as xg
from xgamma import testing
from xgamma.fitting.fold import example_dataset, fake, npred, npred_signal, temporal_norm
from xgamma.fitting.fold_hpx import example_hpx_dataset, npred_hpx
from xgamma.fitting.fold_map import npred_map
from xgamma.fitting.gti import gti_intervals_mjd
from xgamma.io.dl4 import read_dl4, write_dl4
from xgamma.io.zarr import open_zarr, to_zarr
from xgamma.models import Models, SkyModel, spatial_model, spectral_model
from xgamma.models.temporal import lightcurve_template_model, temporal_model
from xgamma.obs import concat_obs, gti_table, merge_gti, stacked_gti
from xgamma.reduction.spectrum import stack_spectra
from xgamma.reduction.stacking import stack, stack_obs, stack_pair

DAY = 86400.0
LC = lightcurve_template_model([55000.0, 55001.0, 55001.5, 55002.0, 55004.0], [1.0, 1.0, 100.0, 3.0, 3.0])
GAP_MEAN = (1.0 + 0.25 * 101.0 + 0.25 * 103.0 + 6.0) / 4.0


def _times(ds, oid, t1, t2):
    return ds.assign_attrs(obs_id=oid, name=f"run{oid}", mjdref=55000.0, tstart=t1 * DAY, tstop=t2 * DAY,
                           livetime=(t2 - t1) * DAY, ontime=(t2 - t1) * DAY)


def _runs_1d(onoff):
    a = _times(example_dataset(livetime=DAY, onoff=onoff), 1, 0.0, 1.0)
    b = _times(example_dataset(livetime=2 * DAY, onoff=onoff), 2, 2.0, 4.0)
    return a, b


def _runs_3d():
    counts = np.ones((2, 5, 5))
    a = _times(testing.make_map_dataset(counts, 0.5, exposure=1e10), 1, 0.0, 1.0)
    b = _times(testing.make_map_dataset(counts, 1.0, exposure=2e10), 2, 2.0, 4.0)
    return a, b


def _first_last(ds):
    """The dataset as stacking kept it before: first start .. last stop only."""
    out = ds.copy()
    out.attrs = {k: v for k, v in ds.attrs.items() if not k.startswith("gti_")}
    return out


def _source(temporal):
    return SkyModel(name="src", spectral=spectral_model("pl", amplitude=1e-11),
                    spatial=spatial_model("point", lon_0=83.633, lat_0=22.014), temporal=temporal)


def test_merge_gti_union():
    s, e = merge_gti([5.0, 0.0, 30.0, 8.0, 40.0], [10.0, 6.0, 35.0, 12.0, 40.0])
    assert s.tolist() == [0.0, 30.0] and e.tolist() == [12.0, 35.0]


def test_stacked_attrs_keep_the_union():
    a, b = _runs_3d()
    c = _times(a, 3, 0.5, 1.5)  # overlaps A
    st = stack([a, b, c])
    assert st.attrs["gti_start"] == [0.0, 2 * DAY] and st.attrs["gti_stop"] == [1.5 * DAY, 4 * DAY]
    assert (st.attrs["tstart"], st.attrs["tstop"]) == (0.0, 4 * DAY)
    # the same through stack_obs, the pairwise stack and a stack of stacks
    assert stack_obs(concat_obs([a, b, c]), "s").attrs["gti_start"] == st.attrs["gti_start"]
    pair = stack_pair(stack_pair(a, b), c)
    assert (pair.attrs["gti_start"], pair.attrs["gti_stop"]) == (st.attrs["gti_start"], st.attrs["gti_stop"])
    assert pair.attrs["obs_id"] == [1, 2, 3]


@pytest.mark.parametrize("onoff", [False, True])
def test_1d_stacked_npred_is_the_sum_over_runs(onoff):
    a, b = _runs_1d(onoff)
    st = stack_spectra([a, b]) if onoff else stack([a, b])
    assert st.attrs["gti_start"] == [0.0, 2 * DAY]
    assert temporal_norm(a, LC)[0] == pytest.approx(1.0, rel=1e-12)
    assert temporal_norm(b, LC)[0] == pytest.approx(3.0, rel=1e-12)
    assert temporal_norm(st, LC)[0] == pytest.approx(7.0 / 3.0, rel=1e-12)
    # the first start .. last stop would give the gap's flare
    gap = _first_last(st)
    assert temporal_norm(gap, LC)[0] == pytest.approx(GAP_MEAN, rel=1e-12)
    sig = [npred_signal(d, spectral_model("pl")) * temporal_norm(d, LC)[0] for d in (a, b, st)]
    np.testing.assert_allclose(sig[2].values, (sig[0] + sig[1]).values, rtol=1e-12, atol=0)
    if not onoff:  # background-model datasets: the npred of the fold itself
        model = [SkyModel(name="src", spectral=spectral_model("pl"), temporal=LC)]
        total = npred(a, model) + npred(b, model)
        np.testing.assert_allclose(npred(st, model).values, total.values, rtol=1e-12, atol=0)
    const = temporal_model("const")
    assert temporal_norm(st, const)[0] == pytest.approx(1.0, rel=1e-12)


def test_1d_obs_dim_factors_per_observation():
    a, b = _runs_1d(False)
    both = concat_obs([a, b])
    np.testing.assert_allclose(temporal_norm(both, LC), [1.0, 3.0], rtol=1e-12)
    # a stack next to a run along obs keeps the stack's own GTIs
    c = _times(a, 3, 2.5, 3.5)
    mixed = concat_obs([stack([a, b], name="ab"), c])
    assert gti_table(mixed)[2].tolist() == [0, 0, 1]
    np.testing.assert_allclose(temporal_norm(mixed, LC), [7.0 / 3.0, 3.0], rtol=1e-12)
    np.testing.assert_allclose(temporal_norm(mixed.isel(obs=[1]), LC), [3.0], rtol=1e-12)
    np.testing.assert_allclose(temporal_norm(mixed.isel(obs=[0]), LC), [7.0 / 3.0], rtol=1e-12)
    st = stack(mixed)
    assert (st.attrs["gti_start"], st.attrs["gti_stop"]) == ([0.0, 2 * DAY], [DAY, 4 * DAY])


def test_3d_stacked_and_per_obs_npred():
    a, b = _runs_3d()
    models = [_source(LC)]
    st = stack([a, b])
    na, nb = npred_map(a, models), npred_map(b, models)
    np.testing.assert_allclose(npred_map(st, models).values, (na + nb).values, rtol=1e-12, atol=0)
    # gap-inclusive: the signal part would be GAP_MEAN / (7/3) times larger
    gap = _first_last(st)
    sig_st = npred_map(st, models) - npred_map(st, [])
    sig_gap = npred_map(gap, models) - npred_map(gap, [])
    assert float(sig_gap.sum() / sig_st.sum()) == pytest.approx(GAP_MEAN / (7.0 / 3.0), rel=1e-10)
    # constant model: unchanged by the GTI list
    const = [_source(temporal_model("const"))]
    np.testing.assert_allclose(npred_map(st, const).values, npred_map(st, [_source(None)]).values, rtol=1e-12)
    # obs dim: one factor per observation, as the separate datasets
    both = npred_map(concat_obs([a, b]), models)
    np.testing.assert_allclose(both.isel(obs=0).values, na.values, rtol=1e-12, atol=0)
    np.testing.assert_allclose(both.isel(obs=1).values, nb.values, rtol=1e-12, atol=0)


def test_hpx_stacked_npred_is_the_sum_over_runs():
    base = example_hpx_dataset(nside=64)
    a = _times(base, 1, 0.0, 1.0)
    b = _times(base.assign(exposure=2 * base["exposure"]), 2, 2.0, 4.0)
    models = [_source(LC)]
    # the example's single PSF does not stack: sum by hand, the GTIs as stacking does
    both = concat_obs([a, b])
    st = a.assign(exposure=a.exposure + b.exposure, background=a.background + b.background)
    st.attrs = {**a.attrs, **stacked_gti(both)}
    assert st.attrs["gti_start"] == [0.0, 2 * DAY]
    na, nb = npred_hpx(a, models), npred_hpx(b, models)
    np.testing.assert_allclose(npred_hpx(st, models).values, (na + nb).values, rtol=1e-10, atol=1e-12)
    per_obs = npred_hpx(both, models)
    np.testing.assert_allclose(per_obs.isel(obs=0).values, na.values, rtol=1e-12, atol=0)
    np.testing.assert_allclose(per_obs.isel(obs=1).values, nb.values, rtol=1e-12, atol=0)


def test_gti_list_round_trip(tmp_path):
    a, b = _runs_3d()
    st = stack([a, b])
    write_dl4(st, tmp_path / "st.fits")
    back = read_dl4(tmp_path / "st.fits")
    assert back.attrs["gti_start"] == [0.0, 2 * DAY] and back.attrs["gti_stop"] == [DAY, 4 * DAY]
    np.testing.assert_allclose(npred_map(back, [_source(LC)]).values, npred_map(st, [_source(LC)]).values,
                               rtol=1e-12)
    to_zarr(st, tmp_path / "st.zarr")
    z = open_zarr(tmp_path / "st.zarr")
    assert list(z.attrs["gti_start"]) == [0.0, 2 * DAY] and list(z.attrs["gti_stop"]) == [DAY, 4 * DAY]
    assert [x.tolist() for x in gti_intervals_mjd(z)] == [[55000.0, 55002.0], [55001.0, 55004.0], [0, 0]]
    # an obs-dim dataset keeps the owner of each interval through zarr
    mixed = concat_obs([st, _times(a, 3, 5.0, 6.0).assign_attrs(obs_id="c")])
    to_zarr(mixed, tmp_path / "m.zarr")
    zm = open_zarr(tmp_path / "m.zarr")
    assert [x.tolist() for x in gti_table(zm)] == [x.tolist() for x in gti_table(mixed)]
    assert isinstance(zm, xr.Dataset)


def test_1d_fit_on_stack_uses_the_gti_list():
    a, b = _runs_1d(True)
    st = stack_spectra([a, b])
    data = fake(st, Models([SkyModel(name="src", spectral=spectral_model("pl", amplitude=4e-11))]), seed=5)

    def amp(ds, temporal):
        res = xg.fit(ds, Models([SkyModel(name="src", spectral=spectral_model("pl", amplitude=2e-11),
                                          temporal=temporal)]))
        assert res.success
        return res.models["src"].spectral.parameters["amplitude"].value

    plain = amp(data, None)
    # the fitted amplitude times the mean of the light curve over the good time is the plain one
    assert amp(data, LC) * 7.0 / 3.0 == pytest.approx(plain, rel=1e-4)
    assert amp(_first_last(data), LC) * GAP_MEAN == pytest.approx(plain, rel=1e-4)


def test_reduced_run_with_a_gap_keeps_its_gti_list():
    o = testing.make_observation(n_events=50)
    t0, t1 = float(o.gti.start.iloc[0]), float(o.gti.stop.iloc[0])
    mid = 0.5 * (t0 + t1)
    run = dataclasses.replace(o, gti=pd.DataFrame({"start": [mid + 100.0, t0], "stop": [t1, mid]}))
    ds = xg.reduce(run, testing.make_wcs_geom(width=1.0, binsz=0.5))
    assert ds.attrs["gti_start"] == [t0, mid + 100.0] and ds.attrs["gti_stop"] == [mid, t1]
    # one interval: tstart/tstop only
    assert "gti_start" not in xg.reduce(o, testing.make_wcs_geom(width=1.0, binsz=0.5)).attrs
