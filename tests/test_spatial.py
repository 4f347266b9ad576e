"""Tests of the spatial models (xgamma.models.spatial): a contract test over the registry plus
analytic values, frames, pixel integration and FITS templates."""

from __future__ import annotations

import astropy.units as u
import dask.array as da
import numpy as np
import pytest
import xarray as xr
import yaml
from astropy.coordinates import SkyCoord
from scipy.special import erf

import xgamma as xg
from xgamma import sky
from xgamma.models import registry
from xgamma.models.spatial import (
    SpatialModel,
    convert_lonlat,
    example_spatial_model,
    integrate_pixels,
    spatial_from_dict,
    spatial_model,
    tent_weights,
)
from xgamma.models.spatial_template import read_spatial_template, template_spatial_model

#: families with their own tests in test_model_zoo.py: not normalised on the sky (a norm at
#: nodes, a flux per pixel) or needing a file to round-trip (N-dimensional template)
OWN_TESTS = ("ConstantFluxSpatialModel", "PiecewiseNormSpatialModel", "TemplateNDSpatialModel")
NAMES = [n for n in registry.names("spatial") if n not in OWN_TESTS]
EXTENDED = [n for n in NAMES if n != "PointSpatialModel"]


def fine_geom(model: SpatialModel, binsz: float | None = None) -> tuple[xr.Dataset, np.ndarray | None]:
    """A WCS grid that contains the whole model, fine compared to its size."""
    if model.tag == "ConstantSpatialModel":
        return xg.wcs_geom((0, 0), (360, 180), 1.0), None
    if model.tag == "TemplateSpatialModel":
        w = model.data["wcs"]
        lon, lat = w.pixel_to_world_values((model.data["shape"][-1] - 1) / 2, (model.data["shape"][-2] - 1) / 2)
        return xg.wcs_geom((float(lon), float(lat)), 1.6, 0.0125, frame="galactic"), model.data["energy"]
    r = model.evaluation_radius
    assert r is not None and model.position is not None
    r = max(r, 0.05)
    return xg.wcs_geom(model.position, 2.2 * r, binsz or r / 60, frame=model.frame, proj="TAN"), None


def sample_points(model: SpatialModel, n: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Points inside the model's extent (off-centre), in its frame."""
    if model.position is None:
        return np.linspace(184.2, 184.9, n), np.linspace(-6.1, -5.5, n)
    lon0, lat0 = model.position
    r = model.evaluation_radius or 1.0
    t = np.linspace(0.1, 0.7, n)
    return lon0 + r * t * np.cos(3 * t) / np.cos(np.radians(lat0)), lat0 + r * t * np.sin(3 * t)


# -------------------------------------------------------------------------------- contract tests


@pytest.mark.parametrize("name", NAMES)
def test_contract_normalisation(name):
    m = example_spatial_model(name)
    if name == "PointSpatialModel":
        g = xg.wcs_geom(m.position, 1.05, 0.05)  # 21 pixels: the source at a pixel centre
        f = m.integrate_geom(g)
        j, i = np.unravel_index(int(np.argmax(f.values)), f.shape)
        assert float(f.values[j, i]) == pytest.approx(1.0)  # all flux in the pixel holding it
        assert float(f.sum()) == pytest.approx(1.0)
        return
    g, energy = fine_geom(m)
    f = m.integrate_geom(g, energy=energy)
    totals = np.atleast_1d(f.sum(["y", "x"]).values)
    np.testing.assert_allclose(totals, 1.0, atol=1e-3)
    assert f.attrs["units"] == ""


@pytest.mark.parametrize("name", EXTENDED)
def test_contract_broadcasting(name):
    m = example_spatial_model(name)
    lon, lat = sample_points(m)
    lon_da = xr.DataArray(lon.reshape(1, -1) * np.ones((3, 1)), dims=("y", "x"))
    lat_da = xr.DataArray(lat.reshape(1, -1) * np.ones((3, 1)), dims=("y", "x"))
    if name == "TemplateSpatialModel":
        energy = xr.DataArray([0.01, 0.03, 0.1], dims="energy_true")
        out = m(lon_da, lat_da, energy)
        assert set(out.dims) == {"y", "x", "energy_true"}
        ref = m.evaluate_values(lon, lat, [], 0.03)
        np.testing.assert_allclose(out.isel(energy_true=1, y=1).transpose("x").values, ref, rtol=1e-12)
        return
    pname = m.parameters.names[0]
    p0 = m.parameters[pname].value
    samples = xr.DataArray(p0 + np.array([0.0, 0.01, 0.02]), dims="sample")
    out = m(lon_da, lat_da, **{pname: samples})
    assert set(out.dims) == {"y", "x", "sample"}
    assert out.attrs["units"] == "sr-1"
    for k, val in enumerate(samples.values):
        ref = m.with_values(**{pname: float(val)})(lon, lat)
        np.testing.assert_allclose(out.isel(sample=k, y=2).transpose("x").values, ref, rtol=1e-12)


@pytest.mark.parametrize("name", EXTENDED)
def test_contract_dask_laziness(name):
    m = example_spatial_model(name)
    g, energy = fine_geom(m, binsz=(m.evaluation_radius or 0.4) / 10)
    coord = "ra" if g.attrs["frame"] == "icrs" else "glon"
    lazy = g.chunk({"y": max(5, g.sizes["y"] // 3), "x": max(7, g.sizes["x"] // 3)})
    assert isinstance(lazy[coord].data, da.Array)
    en = None if energy is None else xr.DataArray(energy, dims="energy_true")
    out_lazy = m.evaluate_geom(lazy, energy=en)
    out = m.evaluate_geom(g, energy=en)
    assert isinstance(out_lazy.data, da.Array)
    np.testing.assert_allclose(out_lazy.compute().values, out.values, rtol=1e-12)
    assert float(out.max()) > 0


@pytest.mark.parametrize("name", EXTENDED)
def test_contract_finite_gradients(name):
    m = example_spatial_model(name)
    lon, lat = sample_points(m)
    if name == "DiskSpatialModel":  # add a point on the (smooth) edge, where the gradient lives
        p = m.parameters
        e_lon, e_lat = offset_point(*m.position, p["phi"].value, p["r_0"].value)
        lon, lat = np.append(lon, e_lon), np.append(lat, e_lat)
    energy = 0.05 if m.is_energy_dependent else None
    base = m(lon, lat, energy)
    assert np.all(np.isfinite(base)) and np.all(base >= 0) and np.any(base > 0)
    for p in m.parameters:
        h = 1e-5 * max(abs(p.value), 1.0)
        if p.name == "e":
            h = -h if p.value >= 1 - 1e-3 else h
        up = m(lon, lat, energy, **{p.name: p.value + h})
        grad = (up - base) / h
        assert np.all(np.isfinite(grad)), p.name
        if p.name in ("lon_0", "lat_0", "sigma", "r_0", "radius", "eta", "value", "width"):
            assert np.any(np.abs(grad) > 0), p.name


@pytest.mark.parametrize("name", [n for n in NAMES if n != "TemplateSpatialModel"])
def test_contract_yaml_roundtrip(name):
    m = example_spatial_model(name)
    text = yaml.safe_dump(m.to_dict(full=True))
    back = spatial_from_dict(yaml.safe_load(text))
    assert back == m
    assert back.to_dict() == m.to_dict()
    # Gammapy files give units and may omit parameters: defaults fill in, units convert
    d = {"type": m.tag, "frame": "galactic", "parameters": [{"name": p.name, "value": p.value, "unit": p.unit}
                                                           for p in m.parameters][:1]}
    if m.parameters.names and m.parameters[0].unit == "deg":
        d["parameters"][0].update(value=np.radians(m.parameters[0].value), unit="rad")
    short = spatial_from_dict(d)
    if len(m.parameters):
        assert short.parameters[0].value == pytest.approx(m.parameters[0].value)
    assert short.frame == "galactic"


def test_registry_names_and_aliases():
    for alias, tag in [("point", "PointSpatialModel"), ("gauss", "GaussianSpatialModel"),
                       ("gauss-general", "GeneralizedGaussianSpatialModel"), ("disk", "DiskSpatialModel"),
                       ("shell", "ShellSpatialModel"), ("const", "ConstantSpatialModel"),
                       ("template", "TemplateSpatialModel")]:
        assert registry.get_spec(alias, "spatial").tag == tag
    assert registry.get_spec("gauss", "spectral").tag == "GaussianSpectralModel"  # kinds kept apart


# -------------------------------------------------------------------------------- analytic values


def offset_point(lon0, lat0, pa_deg, sep_deg):
    c = SkyCoord(lon0, lat0, unit="deg").directional_offset_by(pa_deg * u.deg, sep_deg * u.deg)
    return float(c.ra.deg), float(c.dec.deg)


def test_gaussian_matches_gammapy_formula_and_ellipse():
    sigma = 0.3
    m = spatial_model("gauss", lon_0=83.6, lat_0=22.0, sigma=sigma)
    sep = np.array([0.0, 0.1, 0.3, 0.9])
    pts = [offset_point(83.6, 22.0, 40.0, s) for s in sep]
    v = m(np.array([p[0] for p in pts]), np.array([p[1] for p in pts]))
    a = 1 - np.cos(np.radians(sigma))
    ref = np.exp(-0.5 * (1 - np.cos(np.radians(sep))) / a) / (4 * np.pi * a)
    np.testing.assert_allclose(v, ref, rtol=1e-9)
    # elliptical: the 1-sigma contour is at sigma along phi and at sigma*sqrt(1-e^2) across
    e, phi = 0.8, 30.0
    me = spatial_model("gauss", lon_0=83.6, lat_0=22.0, sigma=sigma, e=e, phi=phi)
    p_major = offset_point(83.6, 22.0, phi, sigma)
    p_minor = offset_point(83.6, 22.0, phi + 90, sigma * np.sqrt(1 - e**2))
    v_major, v_minor = me(*p_major), me(*p_minor)
    assert float(v_major) == pytest.approx(float(v_minor), rel=1e-4)
    assert float(v_major / me(83.6, 22.0)) == pytest.approx(np.exp(-0.5), rel=1e-4)


def test_generalized_gaussian_special_cases():
    r0 = 0.2
    gg = spatial_model("gauss-general", lon_0=10, lat_0=-5, r_0=r0, eta=0.5)
    g = spatial_model("gauss", lon_0=10, lat_0=-5, sigma=r0 / np.sqrt(2))
    lon, lat = 10 + np.linspace(0, 0.5, 6), -5 + np.linspace(0, 0.2, 6)
    np.testing.assert_allclose(gg(lon, lat), g(lon, lat), rtol=1e-5)
    lap = spatial_model("gauss-general", lon_0=10, lat_0=-5, r_0=r0, eta=1.0)  # exp(-r / r0) / (2 pi r0^2)
    lon1, lat1 = offset_point(10, -5, 0.0, 0.3)
    a = 2 * np.sin(np.radians(r0) / 2)
    rho = 2 * np.sin(np.radians(0.3) / 2)
    assert float(lap(lon1, lat1)) == pytest.approx(np.exp(-rho / a) / (2 * np.pi * a**2), rel=1e-9)


def test_disk_and_shell_values():
    r0 = 0.5
    disk = spatial_model("disk", lon_0=0, lat_0=0, r_0=r0, edge_width=0.01)
    inside = float(disk(0.1, 0.1))
    assert inside == pytest.approx(1 / (2 * np.pi * (1 - np.cos(np.radians(r0)))), rel=1e-4)
    lon_e, lat_e = offset_point(0, 0, 0.0, r0)
    assert float(disk(lon_e, lat_e)) == pytest.approx(inside / 2, rel=1e-3)  # half height on the edge
    assert float(disk(*offset_point(0, 0, 0.0, 1.01 * r0))) < 1e-3 * inside
    shell = spatial_model("shell", lon_0=0, lat_0=0, radius=0.5, width=0.2)
    ri, ro = (2 * np.sin(np.radians(x) / 2) for x in (0.5, 0.7))
    norm = 3 / (2 * np.pi * (ro**3 - ri**3))
    assert float(shell(0.0, 0.0)) == pytest.approx(norm * (ro - ri), rel=1e-9)
    assert float(shell(*offset_point(0, 0, 45, 0.75))) == 0.0
    # brightest at the inner radius (limb brightening)
    seps = np.linspace(0.0, 0.69, 70)
    vals = [float(shell(*offset_point(0, 0, 45, s))) for s in seps]
    assert abs(seps[int(np.argmax(vals))] - 0.5) <= 0.011


def test_constant_model_is_normalised_on_the_sky():
    c = spatial_model("const")
    assert float(c(10.0, 20.0)) == pytest.approx(1 / (4 * np.pi))


def test_evaluation_radius_contains_the_model():
    for name in ("gauss", "gauss-general", "disk", "shell"):
        m = example_spatial_model(name)
        r = m.evaluation_radius
        g = xg.wcs_geom(m.position, 2.0 * r, r / 50, frame=m.frame, proj="TAN")
        f = m.integrate_geom(g)
        inside = sky.separation(g, m.position) <= r
        assert float(f.where(inside, 0).sum()) > 0.999, name
    assert spatial_model("point").evaluation_radius == 0.0
    assert spatial_model("const").evaluation_radius is None


# -------------------------------------------------------------------------------- pixels and frames


def test_point_source_weights_are_bilinear():
    w = tent_weights(2.3, 1.6, (4, 5))
    assert w.sum() == pytest.approx(1.0)
    yy, xx = np.mgrid[0:4, 0:5]
    assert float((w * xx).sum()) == pytest.approx(2.3) and float((w * yy).sum()) == pytest.approx(1.6)
    g = xg.wcs_geom((83.63, 22.01), 1.0, 0.1)
    x, y = sky.sky_to_pix(g, SkyCoord(83.6, 22.03, unit="deg"))
    f = spatial_model("point", lon_0=83.6, lat_0=22.03).integrate_geom(g).values
    np.testing.assert_allclose(f, tent_weights(float(x), float(y), f.shape), atol=1e-12)


def test_oversampling_integrates_small_gaussian_over_pixels():
    binsz = 0.05
    g = xg.wcs_geom((0, 0), 1.0, binsz, frame="galactic", proj="TAN")
    lon, lat = float(g.glon.values[10, 10]), float(g.glat.values[10, 10])
    sigma = 0.3 * binsz
    m = spatial_model("gauss", frame="galactic", lon_0=lon, lat_0=lat, sigma=sigma)
    f = m.integrate_geom(g).values
    assert f.sum() == pytest.approx(1.0, abs=1e-3)
    # central pixel of a Gaussian centred on it: erf(0.5 / (sqrt(2) sigma_pix))^2
    assert f[10, 10] == pytest.approx(erf(0.5 / (np.sqrt(2) * 0.3)) ** 2, rel=1e-2)
    # without oversampling the centre value times the pixel area is far off
    raw = integrate_pixels(m, m.parameters.values, sky.wcs_of(g), f.shape, "galactic",
                           sky.solid_angle(g).values, oversampling=1)
    assert raw.sum() > 1.5


def test_frame_conversion_matches_astropy_and_places_the_source():
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(0, 360, 50), np.degrees(np.arcsin(rng.uniform(-1, 1, 50)))
    glon, glat = convert_lonlat(lon, lat, "icrs", "galactic")
    c = SkyCoord(lon, lat, unit="deg", frame="icrs").galactic
    sep = SkyCoord(glon, glat, unit="deg", frame="galactic").separation(c).deg
    assert sep.max() < 1e-8
    back = convert_lonlat(glon, glat, "galactic", "icrs")
    np.testing.assert_allclose(back[1], lat, atol=1e-9)
    # a Gaussian defined in galactic coordinates on an ICRS map peaks at the right pixel
    crab = SkyCoord(83.633, 22.014, unit="deg").galactic
    gal = spatial_model("gauss", frame="galactic", lon_0=crab.l.deg, lat_0=crab.b.deg, sigma=0.1)
    icrs = spatial_model("gauss", frame="icrs", lon_0=83.633, lat_0=22.014, sigma=0.1)
    g = xg.wcs_geom((83.5, 22.1), 1.0, 0.02)
    v_gal, v_icrs = gal.evaluate_geom(g), icrs.evaluate_geom(g)
    np.testing.assert_allclose(v_gal.values, v_icrs.values, rtol=1e-7, atol=1e-12 * float(v_icrs.max()))
    j, i = np.unravel_index(int(np.argmax(v_gal.values)), v_gal.shape)
    x, y = sky.sky_to_pix(g, SkyCoord(83.633, 22.014, unit="deg"))
    assert (j, i) == (int(round(float(y))), int(round(float(x))))
    np.testing.assert_allclose(gal.integrate_geom(g).values, icrs.integrate_geom(g).values, atol=1e-9)


# -------------------------------------------------------------------------------- templates


def test_template_from_dataarray_and_values():
    g = xg.wcs_geom((0, 0), 1.0, 0.1, frame="galactic")
    vals = np.arange(100.0).reshape(10, 10) + 1
    t = template_spatial_model(sky.make_map(vals, g))
    omega = sky.solid_angle(g).values
    lon, lat = g.glon.values, g.glat.values
    np.testing.assert_allclose(t(lon, lat), vals / (vals * omega).sum(), rtol=1e-10)
    assert float(t(5.0, 5.0)) == 0.0  # outside the map
    raw = template_spatial_model(sky.make_map(vals, g), unit="cm-2 s-1 MeV-1 sr-1", normalize=False)
    assert u_equal(raw.unit, "cm-2 s-1 TeV-1 sr-1")
    np.testing.assert_allclose(raw(lon, lat), vals * 1e6, rtol=1e-10)


def u_equal(a, b):
    return u.Unit(a) == u.Unit(b)


def test_fermi_diffuse_template(data):
    path = data / "fermi-3fhl-crab" / "Fermi-LAT-3FHL_iem.fits"
    t = read_spatial_template(path)
    assert t.is_energy_dependent and t.frame == "galactic" and t.unit == "sr-1"
    en = t.data["energy"]
    assert en.size == 30 and en[0] == pytest.approx(58.473133e-6, rel=1e-6)  # MeV -> TeV
    from astropy.io import fits

    with fits.open(path) as h:
        cube = h[0].data.astype(float)
    wcs = t.data["wcs"]
    ny, nx = cube.shape[1:]
    yy, xx = np.mgrid[0:ny, 0:nx]
    lon, lat = wcs.pixel_to_world_values(xx, yy)
    omega = sky.solid_angle(sky.geom_from_wcs(wcs, (ny, nx))).values
    for k in (0, 12, 29):
        v = t(lon, lat, en[k])
        np.testing.assert_allclose((v * omega).sum(), 1.0, rtol=1e-9)  # normalised per plane
        np.testing.assert_allclose(v, cube[k] / (cube[k] * omega).sum(), rtol=1e-6)
    # log-log interpolation in energy between planes
    emid = np.sqrt(en[3] * en[4])
    np.testing.assert_allclose(t(lon, lat, emid), np.sqrt(t(lon, lat, en[3]) * t(lon, lat, en[4])), rtol=1e-6)
    raw = read_spatial_template(path, normalize=False)
    assert u_equal(raw.unit, "cm-2 s-1 TeV-1 sr-1")
    np.testing.assert_allclose(raw(lon, lat, en[5]), cube[5] * 1e6, rtol=1e-6)
    # round trip through YAML by file name
    back = spatial_from_dict(yaml.safe_load(yaml.safe_dump(t.to_dict())))
    assert back == t


def test_exclusion_mask_as_2d_template(data):
    t = read_spatial_template(data / "joint-crab" / "exclusion" / "exclusion_mask_crab.fits.gz")
    assert not t.is_energy_dependent and t.frame == "icrs"
    assert float(t(83.633, 22.014)) == 0.0  # the excluded Crab region
    g = xg.wcs_geom((83.633, 22.014), 5.0, 0.02, proj="TAN")
    f = t.integrate_geom(g)
    assert float(f.sum()) == pytest.approx(1.0, rel=2e-3)
    v = t(np.array([82.0, 85.0]), np.array([21.0, 23.0]))
    assert v[0] == pytest.approx(v[1]) and v[0] > 0  # uniform outside the exclusion


# --- band averages of sharp-edged models (xgamma.models._radial) ---------------------------------


@pytest.mark.parametrize("c", [2.0, 50.0, 1e4])
def test_disk_enclosed_matches_quadrature(c):
    from scipy.integrate import quad
    from scipy.special import erfc

    from xgamma.models._radial import disk_enclosed

    def integral(t: float) -> float:  # int_0^t erfc(c (x - 1)) x dx, the edge zone resolved
        knots = sorted({0.0, t, *(x for x in (1 - 20 / c, 1.0, 1 + 20 / c) if 0 < x < t)})
        return sum(quad(lambda x: erfc(c * (x - 1)) * x, a, b, limit=200)[0] for a, b in zip(knots[:-1], knots[1:], strict=True))

    total = integral(1 + 40 / c)
    for t in (0.3, 0.99, 1.0, 1.01, 1.5):
        assert float(disk_enclosed(t, c)) == pytest.approx(integral(t) / total, rel=1e-9, abs=1e-12)


def test_shell_enclosed_matches_quadrature():
    from scipy.integrate import quad

    from xgamma.models._radial import shell_enclosed

    ri, ro = 0.6, 1.0
    prof = lambda r: (np.sqrt(max(ro**2 - r**2, 0)) - np.sqrt(max(ri**2 - r**2, 0))) * 2 * np.pi * r  # noqa: E731
    total = quad(prof, 0, ro, points=[ri])[0]
    for r in (0.2, 0.6, 0.8, 1.0, 1.3):
        assert float(shell_enclosed(r, ri, ro)) == pytest.approx(quad(prof, 0, min(r, ro), points=[ri])[0] / total,
                                                                 rel=1e-8)


@pytest.mark.parametrize("name,size,shape,ix", [("shell", "radius", {"radius": 0.08, "width": 0.04}, 29),
                                                ("disk", "r_0", {"r_0": 0.1}, 30)])
def test_band_averaged_pixels_are_smooth_in_size(name, size, shape, ix):
    """One sample per pixel: point values make a pixel's flux jump (disk) or cusp (shell) as the
    edge crosses the pixel centre; the band averages vary smoothly and keep the flux."""
    from xgamma.models.spatial import integrate_pixels

    g = xg.wcs_geom((83.63, 22.01), 1.0, 0.02)
    w, om = sky.wcs_of(g), sky.solid_angle(g).values
    m = spatial_model(name, lon_0=83.63, lat_0=22.01, **shape)
    i = m.parameters.index(size)
    sizes = np.linspace(0.9, 1.1, 81) * shape[size]
    frac = []
    for s in sizes:
        v = np.array(m.parameters.values, dtype=float)
        v[i] = s
        frac.append(integrate_pixels(m, v, w, (50, 50), "icrs", om, oversampling=1)[25, ix])
    step = np.abs(np.diff(frac))
    assert np.max(step) < 5 * np.median(step)  # no jumps: the flux moves gradually
    assert float(m.integrate_geom(g, oversampling=1).sum()) == pytest.approx(1.0, abs=1e-2)
    assert float(m.integrate_geom(g, oversampling=8).sum()) == pytest.approx(1.0, abs=1e-3)
    # point sampling of the same pixel jumps
    lon, lat = w.pixel_to_world_values(ix, 25)
    pts = [float(m.evaluate_values(np.array(lon), np.array(lat), [83.63, 22.01, s, *m.parameters.values[3:]]))
           for s in sizes]
    step_pts = np.abs(np.diff(pts))
    assert np.max(step_pts) > 20 * np.median(step_pts)
