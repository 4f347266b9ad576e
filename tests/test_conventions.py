import numpy as np
import pytest
import xarray as xr

import xgamma as xg
from xgamma.conventions import IRF_SCHEMAS, to_internal, unit_of, validate
from xgamma.errors import ConventionError


def _aeff(units="m2"):
    e = xg.energy_axis(0.1, 100, 4, name="energy_true")
    o = xg.linear_axis(0, 2, 2, unit="deg", name="offset")
    return xr.DataArray(
        np.ones((4, 2)), dims=("energy_true", "offset"), coords={**e.coords, **o.coords},
        attrs={"units": units},
    )


def test_validate_accepts_good_irf():
    validate(_aeff(), "aeff")


def test_validate_names_wrong_dims_and_units():
    with pytest.raises(ConventionError, match="dims"):
        validate(_aeff().transpose(), "aeff")
    with pytest.raises(ConventionError, match="does not convert"):
        validate(_aeff("s"), "aeff")
    with pytest.raises(ConventionError, match="unparseable"):
        validate(_aeff("furlongs per fortnight"))
    with pytest.raises(ConventionError, match="unknown kind"):
        validate(_aeff(), "psf_king")


def test_validate_broken_edges():
    da = _aeff().drop_vars("offset_max")
    with pytest.raises(ConventionError, match="only one of"):
        validate(da)
    bad = _aeff().assign_coords(offset_min=("offset", [0.0, 5.0]))
    with pytest.raises(ConventionError, match="offset_min >= offset_max"):
        validate(bad)


def test_to_internal_converts_and_keeps_attrs():
    a = to_internal(_aeff(), "cm2")
    assert float(a[0, 0]) == pytest.approx(1e4)
    assert a.attrs["units"] == "cm2"
    assert unit_of(a).to("m2") == pytest.approx(1e-4)
    with pytest.raises(ConventionError):
        to_internal(_aeff(), "s")


def test_every_schema_has_known_dims():
    for schema in IRF_SCHEMAS.values():
        for dims in schema.all_dims:
            assert set(dims) <= set(xg.conventions.DIMS)
