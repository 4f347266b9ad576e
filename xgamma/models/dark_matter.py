"""Dark-matter halo density profiles and J-factor (D-factor) maps.

Profiles use Gammapy's parameterisations and default scale radii (those of the PPPC4DMID
cookbook, Cirelli et al. 2011, for the Milky Way), with the characteristic density ``rho_s``
(default 1 GeV cm-3) usually rescaled so that the density at the Sun's distance is the local
density (:meth:`DMProfile.scaled_to_local_density`, 0.3 GeV cm-3 at 8.33 kpc):

- ``nfw``: ``rho_s / ((r/r_s) (1 + r/r_s)^2)``, default r_s 24.42 kpc
- ``einasto``: ``rho_s exp(-2/alpha ((r/r_s)^alpha - 1))``, alpha = 0.17, r_s 28.44 kpc
- ``isothermal``: ``rho_s / (1 + (r/r_s)^2)``, r_s 4.38 kpc
- ``burkert``: ``rho_s / ((1 + r/r_s) (1 + (r/r_s)^2))``, r_s 12.67 kpc
- ``moore``: ``rho_s (r_s/r)^1.16 (1 + r/r_s)^-1.84``, r_s 30.28 kpc
- ``zhao``: ``rho_s (r_s/r)^gamma (1 + (r/r_s)^(1/alpha))^-((beta-gamma) alpha)``, r_s 24.42 kpc

The J factor of a direction at angle ``psi`` from the halo centre, seen from a distance ``D``,
is the line-of-sight integral ``J(psi) = int rho^2(r(l)) dl`` with ``r^2 = D^2 + l^2 - 2 D l
cos(psi)``, out to the halo radius ``r_max`` (D factor: ``rho`` instead of ``rho^2``, for
decay). It is computed by Gauss-Legendre quadrature in the logarithm of the distance to the
point of closest approach, on both sides of it (the integrand peaks there), and :func:`jfactor_map`
integrates it over the pixels of a WCS geometry (sub-pixel sampling; the sub-pixel centres
avoid the cusp at the halo centre). Units: GeV2 cm-5 (per pixel) or GeV2 cm-5 sr-1
(``differential=True``); D factors GeV cm-2 (sr-1).

Examples
--------
>>> nfw = dm_profile("nfw").scaled_to_local_density()
>>> round(float(nfw(8.33)), 6)                         # GeV cm-3 at the Sun
0.3
>>> j = jfactor(np.array([1.0, 10.0]), nfw)            # GeV2 cm-5 sr-1, 1 and 10 deg from the GC
>>> bool(j[0] > j[1] > 1e21)
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import xarray as xr

from xgamma import sky

__all__ = [
    "DMProfile",
    "dm_profile",
    "PROFILES",
    "LOCAL_DENSITY",
    "DISTANCE_GC",
    "KPC_CM",
    "N_PSI",
    "jfactor",
    "jfactor_map",
]

#: Local dark-matter density [GeV cm-3] (PPPC4DMID).
LOCAL_DENSITY = 0.3
#: Distance of the Sun from the Galactic centre [kpc] (PPPC4DMID).
DISTANCE_GC = 8.33
#: One kpc in cm.
KPC_CM = 3.0856775814913673e21
_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)
#: Angles at which :func:`jfactor_map` computes the line-of-sight integral (log spaced from the
#: smallest to the largest angle of the map), interpolated in log-log between them.
N_PSI = 2000


def _nfw(x: Any, p: dict[str, float]) -> Any:
    return 1.0 / (x * (1 + x) ** 2)


def _einasto(x: Any, p: dict[str, float]) -> Any:
    a = p["alpha"]
    return np.exp(-2.0 / a * (x**a - 1))


def _isothermal(x: Any, p: dict[str, float]) -> Any:
    return 1.0 / (1 + x**2)


def _burkert(x: Any, p: dict[str, float]) -> Any:
    return 1.0 / ((1 + x) * (1 + x**2))


def _moore(x: Any, p: dict[str, float]) -> Any:
    return x**-1.16 * (1 + x) ** -1.84


def _zhao(x: Any, p: dict[str, float]) -> Any:
    a, b, g = p["alpha"], p["beta"], p["gamma"]
    return x**-g * (1 + x ** (1 / a)) ** (-(b - g) * a)


#: name -> (shape function of r / r_s, default r_s [kpc], default shape parameters)
PROFILES: dict[str, tuple[Callable[[Any, dict[str, float]], Any], float, dict[str, float]]] = {
    "nfw": (_nfw, 24.42, {}),
    "einasto": (_einasto, 28.44, {"alpha": 0.17}),
    "isothermal": (_isothermal, 4.38, {}),
    "burkert": (_burkert, 12.67, {}),
    "moore": (_moore, 30.28, {}),
    "zhao": (_zhao, 24.42, {"alpha": 1.0, "beta": 3.0, "gamma": 1.0}),
}


@dataclass(frozen=True)
class DMProfile:
    """A dark-matter density profile ``rho(r)`` [GeV cm-3], ``r`` in kpc (immutable).

    Examples
    --------
    >>> p = DMProfile("burkert", r_s=12.67, rho_s=2.0)
    >>> float(p(0.0))
    2.0
    """

    name: str
    r_s: float
    rho_s: float = 1.0
    alpha: float = math.nan
    beta: float = math.nan
    gamma: float = math.nan

    def __post_init__(self) -> None:
        if self.name not in PROFILES:
            raise ValueError(f"unknown dark-matter profile {self.name!r}; known: {sorted(PROFILES)}")
        if not self.r_s > 0:
            raise ValueError(f"{self.name} profile: r_s must be > 0, got {self.r_s}")

    @property
    def shape_parameters(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in PROFILES[self.name][2]}

    def __call__(self, radius: Any) -> Any:
        """Density [GeV cm-3] at ``radius`` [kpc] (numpy arrays or DataArrays)."""
        fn = PROFILES[self.name][0]
        x = np.asarray(radius, dtype=float) / self.r_s if not isinstance(radius, xr.DataArray) else radius / self.r_s
        with np.errstate(divide="ignore"):
            return self.rho_s * fn(x, self.shape_parameters)

    def scaled_to_local_density(self, distance: float = DISTANCE_GC,
                                local_density: float = LOCAL_DENSITY) -> DMProfile:
        """The same profile with ``rho_s`` set so that ``rho(distance) = local_density``.

        Examples
        --------
        >>> round(float(dm_profile("einasto").scaled_to_local_density()(8.33)), 12)
        0.3
        """
        return replace(self, rho_s=self.rho_s * local_density / float(self(distance)))


def dm_profile(name: str, r_s: float | None = None, rho_s: float = 1.0, **shape: float) -> DMProfile:
    """A profile by name with Gammapy's default scale radius [kpc] and shape parameters.

    Examples
    --------
    >>> dm_profile("einasto").alpha, dm_profile("moore").r_s
    (0.17, 30.28)
    """
    key = name.lower()
    if key not in PROFILES:
        raise ValueError(f"unknown dark-matter profile {name!r}; known: {sorted(PROFILES)}")
    _, rs0, defaults = PROFILES[key]
    unknown = set(shape) - set(defaults)
    if unknown:
        raise ValueError(f"{key} profile has no parameters {sorted(unknown)}; shape parameters: {sorted(defaults)}")
    pars = {**defaults, **shape}
    return DMProfile(key, float(rs0 if r_s is None else r_s), float(rho_s), **{k: float(v) for k, v in pars.items()})


def _los_integral(psi: np.ndarray, profile: DMProfile, distance: float, r_max: float, power: int,
                  n_decades: float = 8.0, n_pieces: int = 16) -> np.ndarray:
    """``int rho^power dl`` [GeV^power cm-3 power kpc] along the lines of sight at angles ``psi`` [rad]."""
    psi = np.asarray(psi, dtype=float)
    b = distance * np.sin(psi)  # impact parameter
    l0 = distance * np.cos(psi)  # distance to closest approach (< 0: behind the observer)
    reach = np.sqrt(np.maximum(r_max**2 - b**2, 0.0))  # half chord inside r_max
    # l = l0 + s (after the closest approach) and l = l0 - s (before it), s >= 0, 0 <= l;
    # each side integrated from s_start to s_end in log(s)
    sides = ((np.clip(-l0, 0.0, None), reach), (np.zeros_like(psi), np.clip(np.minimum(reach, l0), 0.0, None)))
    total = np.zeros_like(psi)
    tiny = np.maximum(np.minimum(b, profile.r_s), 1e-12 * profile.r_s) * 10.0**-n_decades
    for s_start, s_end in sides:
        ok = s_end > s_start
        lo = np.log(np.maximum(s_start, tiny))
        hi = np.log(np.where(ok, np.maximum(s_end, np.exp(lo) * 1.0001), 1.0))
        # [lo, hi] in n_pieces, 16-point Gauss-Legendre each; where the side starts at the
        # closest approach, plus [0, tiny] with the integrand taken constant (r = b there)
        edges = lo[..., None] + (hi - lo)[..., None] * np.linspace(0, 1, n_pieces + 1)
        a, c = edges[..., :-1], edges[..., 1:]
        t = (a + c)[..., None] / 2 + (c - a)[..., None] / 2 * _GL_X
        s = np.exp(t)
        r = np.sqrt(b[..., None, None] ** 2 + s**2)
        f = profile(r) ** power * s  # ds = s dlog(s)
        part = np.sum(np.sum(f * _GL_W, axis=-1) * (c - a) / 2, axis=-1)
        part = part + np.where(s_start > 0, 0.0, profile(np.maximum(b, 1e-300)) ** power * tiny)
        total = total + np.where(ok, part, 0.0)
    return total


def jfactor(psi_deg: Any, profile: DMProfile, distance: float = DISTANCE_GC, r_max: float | None = None,
            annihilation: bool = True) -> np.ndarray:
    """Differential J factor [GeV2 cm-5 sr-1] (D factor [GeV cm-2 sr-1] with
    ``annihilation=False``) at angles ``psi_deg`` [deg] from the halo centre at ``distance``
    [kpc]; the halo is cut at ``r_max`` [kpc] (default: 100 scale radii beyond the observer).

    Examples
    --------
    >>> iso = dm_profile("isothermal", r_s=5.0)
    >>> float(jfactor(90.0, iso, annihilation=False)) > float(jfactor(120.0, iso, annihilation=False))
    True
    """
    rmax = float(distance + 100 * profile.r_s) if r_max is None else float(r_max)
    psi = np.radians(np.asarray(psi_deg, dtype=float))
    power = 2 if annihilation else 1
    return _los_integral(psi, profile, float(distance), rmax, power) * KPC_CM


def jfactor_map(geom: xr.Dataset | xr.DataArray, profile: DMProfile, distance: float = DISTANCE_GC,
                center: Any = None, r_max: float | None = None, annihilation: bool = True,
                differential: bool = False, oversampling: int = 4) -> xr.DataArray:
    """J factor per pixel [GeV2 cm-5] of a WCS geometry (``differential``: per sr, the mean
    over each pixel); D factor [GeV cm-2] with ``annihilation=False``.

    ``center``: the halo centre (SkyCoord, ``(lon, lat)`` in the geometry's frame, default the
    Galactic centre for galactic geometries, else the map centre). Each pixel is sampled at
    ``oversampling x oversampling`` sub-pixel centres, the pixels within 3 pixels of the
    centre 8x finer (even numbers avoid a sample on the centre, where cuspy profiles diverge;
    NFW's ``J ~ 1/psi`` there holds ~10 % of the J of a distant halo in its central pixels).

    Examples
    --------
    >>> import xgamma as xg
    >>> g = xg.wcs_geom((0, 0), 2.0, 0.5, frame="galactic")
    >>> j = jfactor_map(g, dm_profile("nfw").scaled_to_local_density())
    >>> j.dims, j.attrs["units"]
    (('y', 'x'), 'GeV2 cm-5')
    """
    from astropy.coordinates import SkyCoord

    frame = sky.frame_of(geom)
    if center is None:
        c = SkyCoord(0.0, 0.0, unit="deg", frame="galactic") if frame == "galactic" else sky.center(geom)
    elif isinstance(center, SkyCoord):
        c = center
    else:
        c = SkyCoord(float(center[0]), float(center[1]), unit="deg", frame=frame)
    c = c.transform_to(frame)
    w = sky.wcs_of(geom)
    ny, nx = int(geom.sizes["y"]), int(geom.sizes["x"])
    lon0, lat0 = c.spherical.lon.deg, c.spherical.lat.deg

    def psi_of(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        lon, lat = w.pixel_to_world_values(xs, ys)
        lo, la, lo0, la0 = (np.radians(v) for v in (np.asarray(lon, float), np.asarray(lat, float), lon0, lat0))
        hav = np.sin((la - la0) / 2) ** 2 + np.cos(la) * np.cos(la0) * np.sin((lo - lo0) / 2) ** 2
        return np.degrees(2 * np.arcsin(np.sqrt(np.clip(hav, 0, 1))))

    def sub(n: int, iy: np.ndarray, ix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        off = (np.arange(n) + 0.5) / n - 0.5
        return ((ix[:, None, None] + off[None, None, :]) + 0 * off[None, :, None],
                (iy[:, None, None] + off[None, :, None]) + 0 * off[None, None, :])

    n = max(int(oversampling), 1)
    iy, ix = (a.ravel() for a in np.mgrid[0:ny, 0:nx])
    psi = psi_of(*sub(n, iy, ix))  # (pixel, n, n)
    # the pixels around the halo centre (cusp): 8x finer sampling
    pc = psi_of(ix.astype(float), iy.astype(float))
    pix = float(min(abs(float(v.to_value("deg"))) for v in w.proj_plane_pixel_scales()))
    near = np.flatnonzero(pc < 3 * pix)
    psi_near = psi_of(*sub(8 * n, iy[near], ix[near])) if near.size else np.zeros((0, 1, 1))
    # J depends on psi only: compute it on a fine log grid of angles and interpolate (log-log)
    every = np.concatenate([psi.ravel(), psi_near.ravel()])
    lo_psi = max(float(np.min(every)), 1e-7)
    grid = np.geomspace(lo_psi, max(float(np.max(every)), lo_psi * 1.001), N_PSI)
    jg = jfactor(grid, profile, distance, r_max, annihilation)

    def interp(x: np.ndarray) -> np.ndarray:
        pos = jg > 0
        if pos.sum() < 2:
            return np.interp(x, grid, jg)
        lj = np.interp(np.log(np.maximum(x, lo_psi)), np.log(grid[pos]), np.log(jg[pos]))
        return np.where(x > grid[pos][-1] * (1 + 1e-9), np.interp(x, grid, jg), np.exp(lj))

    mean = interp(psi).mean(axis=(1, 2))
    if near.size:
        mean[near] = interp(psi_near).mean(axis=(1, 2))
    mean = mean.reshape(ny, nx)
    unit = "GeV2 cm-5" if annihilation else "GeV cm-2"
    g = sky.drop_axes(geom)
    coords = {k: v.variable for k, v in g.coords.items()}
    attrs = dict(g.attrs)
    if differential:
        attrs["units"] = unit + " sr-1"
        vals = mean
    else:
        attrs["units"] = unit
        vals = mean * np.asarray(sky.solid_angle(geom).transpose("y", "x").values, dtype=float)
    return xr.DataArray(vals, dims=("y", "x"), coords=coords, attrs=attrs,
                        name="jfactor" if annihilation else "dfactor")
