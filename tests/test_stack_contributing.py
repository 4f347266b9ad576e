"""Map stacks count livetime, ontime and obs ids of the contributing observations only (issue 15)."""

import logging

import numpy as np
import pytest
import xarray as xr

import xgamma as xg
from xgamma import testing
from xgamma.errors import ReductionError
from xgamma.obs import concat_obs
from xgamma.reduction.many import reduce_many
from xgamma.reduction.stacking import stack, stack_obs, stack_pair


def _three(drop_mask_of=(2,)):
    rng = np.random.default_rng(3)
    out = []
    for i, lt in zip((1, 2, 3), (100.0, 250.0, 50.0), strict=True):
        d = testing.make_map_dataset(rng.poisson(4.0, (2, 4, 5)).astype(float), 0.5)
        d = d.assign_attrs(obs_id=i, name=f"obs{i}", livetime=lt, ontime=lt * 1.05,
                           tstart=1000.0 * i, tstop=1000.0 * i + lt)
        m = d.mask_safe.values.copy()
        m[0, :, :2] = False  # a partly excluded run still counts
        if i in drop_mask_of:
            m[:] = False  # nothing safe: e.g. all outside offset_max or fully excluded
        out.append(d.assign(mask_safe=(d.mask_safe.dims, m)))
    return out


def _check_13(st, dss):
    assert st.attrs["obs_id"] == [1, 3]
    assert st.attrs["livetime"] == 150.0 and st.attrs["ontime"] == pytest.approx(157.5)
    assert st.attrs["tstart"] == 1000.0 and st.attrs["tstop"] == 3050.0
    want = sum((d.counts * d.mask_safe).values for d in dss)
    np.testing.assert_allclose(st.counts.values, want)
    np.testing.assert_allclose(st.exposure.values, 2e10)


def test_map_stack_leaves_out_observations_without_safe_bin(caplog):
    dss = _three()
    with caplog.at_level(logging.INFO, logger="xgamma.reduction.spectrum"):
        st = stack(dss)
    assert "left out: [2]" in caplog.text
    _check_13(st, dss)
    # the same along obs, via stack_obs, and on dask input: identical results
    _check_13(stack(concat_obs(dss)), dss)
    _check_13(stack_obs(concat_obs(dss), "s"), dss)
    lazy = stack([d.chunk({"energy": 1}) for d in dss])
    assert lazy.counts.chunks is not None
    _check_13(lazy.compute(), dss)
    xr.testing.assert_identical(lazy.compute(), st)


def test_map_stack_all_without_safe_bin_raises():
    dss = _three(drop_mask_of=(1, 2, 3))
    with pytest.raises(ReductionError, match=r"no dataset has a safe bin.*\[1, 2, 3\]"):
        stack(dss)
    with pytest.raises(ReductionError, match=r"\[1, 2, 3\]"):
        stack_obs(concat_obs(dss), "s")


@pytest.mark.parametrize("drop", [(1,), (2,), (3,), (1, 2)])
def test_stack_pair_never_lists_a_dropped_run(drop):
    dss = _three(drop_mask_of=drop)
    keep = [d for d in dss if d.attrs["obs_id"] not in drop]
    run = dss[0]
    for d in dss[1:]:
        run = stack_pair(run, d)
    tree = stack_pair(stack_pair(dss[0], dss[1]), dss[2])
    for st in (run, tree):
        assert st.attrs["obs_id"] == [d.attrs["obs_id"] for d in keep]
        assert st.attrs["livetime"] == pytest.approx(sum(d.attrs["livetime"] for d in keep))
        assert st.attrs["ontime"] == pytest.approx(sum(d.attrs["ontime"] for d in keep))
        np.testing.assert_allclose(st.counts.values, sum((d.counts * d.mask_safe).values for d in keep))
    # a pair of non-contributing runs is an empty stack that the next pair leaves out
    empty = stack_pair(dss[1].assign(mask_safe=dss[1].mask_safe & False),
                       dss[0].assign(mask_safe=dss[0].mask_safe & False))
    assert empty.attrs["obs_id"] == [] and empty.attrs["livetime"] == 0.0
    assert not bool(empty.mask_safe.any())
    assert stack_pair(empty, dss[2]).attrs["obs_id"] == ([3] if 3 not in drop else [])


@pytest.mark.filterwarnings("ignore:observation 2. the geometry lies entirely outside")
def test_reduce_many_stack_drops_run_outside_offset_max():
    geom = testing.make_wcs_geom(width=1.0, binsz=0.1)
    obs = [testing.make_observation(obs_id=1, seed=1, n_events=300),
           testing.make_observation(obs_id=2, seed=2, n_events=300, pointing=(95.0, 21.5)),  # 10 deg off
           testing.make_observation(obs_id=3, seed=3, n_events=300)]
    kw = dict(offset_max=2.5, safe_mask=["offset-max"], products=["counts", "exposure", "background"])
    one = [xg.reduce(o, geom, **kw) for o in obs]
    assert not bool(one[1].mask_safe.any()) and bool(one[0].mask_safe.any())
    st = reduce_many(obs, geom, stack=True, **kw)
    assert st.attrs["obs_id"] == [1, 3]
    assert st.attrs["livetime"] == pytest.approx(one[0].attrs["livetime"] + one[2].attrs["livetime"])
    np.testing.assert_allclose(st.counts.values, (one[0].counts * one[0].mask_safe + one[2].counts
                                                  * one[2].mask_safe).values)
    with pytest.raises(ReductionError, match=r"no observation has a safe bin.*\[2\]"):
        reduce_many([obs[1]], geom, stack=True, **kw)
