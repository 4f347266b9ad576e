"""Forward folding on HEALPix map datasets: sky models -> predicted counts ``npred(energy, pix)``.

The dataset is a reduced map dataset on a HEALPix geometry (sky dim ``pix``, see
:func:`xgamma.sky.healpix_geom`; partial sky allowed): ``counts``, ``exposure``,
``background`` on ``(energy[_true], pix)``, ``psf(energy_true, rad[, y_irf, x_irf])``,
``edisp(energy_true, energy[, y_irf, x_irf])`` (on a coarse WCS grid ``attrs["wcs_irf"]``, as
:func:`xgamma.reduction.hawc.reduce_hawc` makes them), ``mask_safe``, optional ``mask_fit``.

The PSF is applied on the sphere, with the HEALPix pixels of the **whole sphere** around the
source (not only the dataset's, so a source near the edge of a partial-sky map loses the flux
that falls outside it, as on a WCS map):

- a **point source**: the radial PSF profile (interpolated bilinearly on the coarse IRF grid at
  the source position; a natural cubic spline in ``rad^2``, tapered smoothly to 0 between 80 %
  and 100 % of the radius containing :data:`PSF_CONTAINMENT`) is evaluated at the angular
  separations of the pixels within that radius, averaged over ``n^2`` nested sub-pixels
  (``n`` a power of 2 so that the PSF's 68 % radius spans >= ~3 sub-pixels, at most 8), and
  normalised to sum 1 per true energy; times the exposure interpolated at the source position
  (HEALPix bilinear weights), so npred varies smoothly with the position. PSFs narrower than a
  quarter pixel: the bilinear weights are the kernel.
- an **extended source**: the surface brightness is averaged over nested sub-pixels of the
  pixels within ``evaluation radius + PSF radius``, times the pixel solid angle and the
  exposure, and convolved with a sparse pixel-to-pixel kernel: for every pair of pixels closer
  than the PSF radius, the PSF at their separation, normalised to 1 per source pixel (flux is
  conserved pixel by pixel).

Then the energy dispersion (at the source position) folds true into reco energy, and the
background model (norm, tilt) scales the background. :meth:`HpxMapEvaluator.stat` is the Cash
statistic over the mask, with the same interface as :class:`xgamma.fitting.fold_map.MapEvaluator`
(which :func:`xgamma.fit` and :func:`xgamma.npred_map` use for HEALPix datasets).

Examples
--------
>>> import numpy as np, xgamma as xg
>>> from xgamma.models import SkyModel, Models, spectral_model
>>> from xgamma.models.spatial import spatial_model
>>> ds = example_hpx_dataset()
>>> src = SkyModel("src", spectral_model("pl", amplitude=1e-12), spatial_model("point", lon_0=83.63, lat_0=22.01))
>>> ev = HpxMapEvaluator(ds, Models([src]))
>>> npred = ev.npred_sources(Models([src]).parameters.values)
>>> npred.shape, bool(abs(npred.sum() / expected_counts(ds, src) - 1) < 0.01)
((2, 957), True)
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr

from xgamma import sky
from xgamma.axes import edges, energy_axis
from xgamma.fitting.evaluator import EvaluatorBase, folding_arrays
from xgamma.fitting.gti import gti_intervals_mjd
from xgamma.models.components import Models, SkyModel, as_models
from xgamma.models.spatial import SpatialModel, convert_lonlat

__all__ = ["HpxMapEvaluator", "PSF_CONTAINMENT", "npred_hpx", "is_hpx_dataset", "example_hpx_dataset",
           "expected_counts"]

#: PSF containment fraction that sets the kernel radius (as on WCS maps).
PSF_CONTAINMENT = 0.999
_TRUNC = 1e-25
_D2R = math.pi / 180.0


def is_hpx_dataset(dataset: xr.Dataset) -> bool:
    """True for a map dataset on a HEALPix geometry (sky dim ``pix``).

    Examples
    --------
    >>> is_hpx_dataset(example_hpx_dataset())
    True
    """
    return "pix" in dataset.dims


def _healpix(nside: int, order: str) -> Any:
    from astropy_healpix import HEALPix

    return HEALPix(nside=int(nside), order=order)


def _unit(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lo, la = np.radians(lon), np.radians(lat)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)


def _sep_deg(v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Angular separation [deg] of unit vectors (robust at small angles)."""
    cross = np.linalg.norm(np.cross(v, w), axis=-1)
    dot = np.sum(v * w, axis=-1)
    return np.degrees(np.arctan2(cross, dot))


def _containment(profile: np.ndarray, rad_edges: np.ndarray, fraction: float) -> np.ndarray:
    rc = 0.5 * (rad_edges[1:] + rad_edges[:-1]) * _D2R
    cum = np.cumsum(profile * 2 * np.pi * rc * np.diff(rad_edges) * _D2R, axis=-1)
    total = cum[..., -1:]
    idx = np.argmax(cum >= fraction * np.where(total > 0, total, 1.0), axis=-1)
    return np.asarray(rad_edges[1:][idx], dtype=float)


def _children(nested: np.ndarray, n: int) -> np.ndarray:
    """Nested indices at ``nside * n`` of the ``n^2`` sub-pixels of each nested pixel: ``(npix, n^2)``."""
    k = n * n
    return nested[:, None] * k + np.arange(k)[None, :]


class _Psf:
    """Radial PSF profiles ``(n_et, n_rad)`` as natural cubic splines in ``rad^2``, cut at ``r_max``."""

    def __init__(self, rad: np.ndarray, profile: np.ndarray, r_max: float) -> None:
        from scipy.interpolate import CubicSpline

        keep = rad <= r_max * 1.0001
        keep[: min(3, keep.size)] = True
        self.rad = rad[keep]
        self.r_max = min(float(r_max), float(self.rad[-1]))
        self.spline = CubicSpline(self.rad**2, profile[:, keep].T, bc_type="natural")

    def __call__(self, r: np.ndarray) -> np.ndarray:
        """``(n_et, *r.shape)``: 0 beyond ``r_max`` with a C1 taper from 80 %."""
        flat = np.asarray(r, float).ravel()
        val = np.maximum(np.asarray(self.spline(flat * flat), float), 0.0).T
        t = np.clip((flat / self.r_max - 0.8) / 0.2, 0.0, 1.0)
        val = val * (0.5 * (1 + np.cos(np.pi * t)))
        val[:, flat >= self.r_max] = 0.0
        return val.reshape(val.shape[0], *np.shape(r))


@dataclass
class _HpxData:
    counts: np.ndarray
    exposure: np.ndarray
    background: np.ndarray
    mask: np.ndarray
    e_edges: np.ndarray
    et_edges: np.ndarray
    frame: str
    nside: int
    order: str
    pix: np.ndarray
    omega: float
    psf: np.ndarray | None
    rad: np.ndarray
    rad_edges: np.ndarray
    edisp: np.ndarray | None
    wcs_irf: Any
    gti: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # GTIs: start, stop [MJD], obs index
    name: str

    @property
    def e_center(self) -> np.ndarray:
        return np.sqrt(self.e_edges[1:] * self.e_edges[:-1])

    @property
    def pix_size(self) -> float:
        return math.degrees(math.sqrt(self.omega))

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> _HpxData:
        f = folding_arrays(ds, ("pix",))
        wcs_irf = None
        if ds.attrs.get("wcs_irf"):
            wcs_irf = sky.wcs_from_header(ds.attrs["wcs_irf"])
        a = sky.geom_attrs(ds)
        nside = int(a["nside"])
        return cls(counts=f["counts"], exposure=f["exposure"], background=f["background"], mask=f["mask"],
                   e_edges=edges(ds, "energy"), et_edges=edges(ds, "energy_true"), frame=str(a["frame"]),
                   nside=nside, order=str(a["order"]), pix=np.asarray(ds["pix"].values, dtype=np.int64),
                   omega=4 * math.pi / (12 * nside**2), psf=f["psf"], rad=f["rad"], rad_edges=f["rad_edges"],
                   edisp=f["edisp"],
                   wcs_irf=wcs_irf, gti=gti_intervals_mjd(ds), name=str(ds.attrs.get("name", "")))

    def positions(self, hp_pix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions in the dataset's ``pix`` of HEALPix indices, and which are in it."""
        order = np.argsort(self.pix, kind="stable")
        srt = self.pix[order]
        pos = np.clip(np.searchsorted(srt, hp_pix), 0, max(srt.size - 1, 0))
        ok = srt[pos] == hp_pix if srt.size else np.zeros(hp_pix.shape, bool)
        return order[pos], ok

    def irf_at(self, lon: float, lat: float) -> tuple[np.ndarray | None, np.ndarray]:
        """PSF profile ``(n_et, n_rad)`` and edisp ``(n_et, n_e)`` at a sky position (bilinear
        on the coarse IRF grid)."""
        n_et, n_e = self.exposure.shape[0], self.counts.shape[0]
        grid = self.psf if self.psf is not None and self.psf.ndim == 4 else (
            self.edisp if self.edisp is not None and self.edisp.ndim == 4 else None)
        jj = ii = ww = np.zeros(0, int)
        if grid is not None:
            ny, nx = grid.shape[-2:]
            x = y = 0.0
            if self.wcs_irf is not None:
                x, y = (float(v) for v in self.wcs_irf.world_to_pixel_values(lon, lat))
                x, y = (x if np.isfinite(x) else 0.0), (y if np.isfinite(y) else 0.0)
            x, y = min(max(x, 0.0), nx - 1.0), min(max(y, 0.0), ny - 1.0)
            i0, j0 = min(int(x), max(nx - 2, 0)), min(int(y), max(ny - 2, 0))
            fx, fy = x - i0, y - j0
            i1, j1 = min(i0 + 1, nx - 1), min(j0 + 1, ny - 1)
            jj, ii = np.array([j0, j0, j1, j1]), np.array([i0, i1, i0, i1])
            ww = np.array([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy])
        psf = None
        if self.psf is not None:
            psf = (self.psf[:, :, jj, ii] * ww).sum(axis=-1) if self.psf.ndim == 4 else self.psf
        if self.edisp is None:
            if n_et != n_e:
                raise ValueError("the dataset has no edisp and energy_true differs from energy")
            ed = np.eye(n_e)
        else:
            ed = (self.edisp[:, :, jj, ii] * ww).sum(axis=-1) if self.edisp.ndim == 4 else self.edisp
        return psf, ed


@dataclass
class _Source:
    model: SkyModel
    spatial: SpatialModel
    offset: int
    n_spec: int
    n_spat: int
    n_temp: int
    last_spec: np.ndarray | None = None
    last_spat: np.ndarray | None = None
    last_temp: np.ndarray | None = None
    flux: np.ndarray | None = None
    # spatial response: A(energy_true, k) on dataset positions ``idx``, times edisp B(energy_true, energy)
    idx: np.ndarray | None = None
    a: np.ndarray | None = None
    b: np.ndarray | None = None
    kernel: dict[str, Any] = field(default_factory=dict)


class HpxMapEvaluator(EvaluatorBase):
    """Predicted counts and Cash statistic of one HEALPix map dataset for fixed models.

    Same interface as :class:`xgamma.fitting.fold_map.MapEvaluator`: :meth:`stat`,
    :meth:`npred`, :meth:`npred_sources`, :meth:`npred_background`, :meth:`with_counts` take
    the flat vector of ``models.parameters`` values (or a :class:`Models`); datasets with an
    ``obs`` or ``event_type`` dim get one evaluator per entry, summed.

    Parameters
    ----------
    dataset : xarray.Dataset
        A map dataset on a HEALPix geometry (sky dim ``pix``).
    models : Models
    psf_containment : float
        Containment fraction setting the PSF kernel radius.
    max_oversampling : int
        Largest sub-pixel factor per axis (a power of 2).

    Examples
    --------
    >>> from xgamma.models import SkyModel, Models, BackgroundModel, spectral_model
    >>> from xgamma.models.spatial import spatial_model
    >>> ds = example_hpx_dataset()
    >>> models = Models([SkyModel("src", spectral_model("pl", amplitude=1e-12),
    ...                           spatial_model("gauss", lon_0=83.63, lat_0=22.01, sigma=0.2)),
    ...                  BackgroundModel((ds.attrs["name"],))])
    >>> ev = HpxMapEvaluator(ds, models)
    >>> v = models.parameters.values
    >>> s1 = ev.stat(v); v[1] *= 2; s2 = ev.stat(v)
    >>> bool(np.isfinite(s1) and s2 != s1)
    True
    """

    def __init__(self, dataset: xr.Dataset, models: Any, psf_containment: float = PSF_CONTAINMENT,
                 max_oversampling: int = 8) -> None:
        models = as_models(models)
        self.names = models.parameters.names
        self.psf_containment = float(psf_containment)
        self.max_oversampling = int(max_oversampling)
        self.signal: list[tuple[str, slice]] = []
        self.bkg_models: list[tuple[str, slice]] = []
        self._subs: list[HpxMapEvaluator] = []
        split = next((d for d in ("obs", "event_type") if d in dataset.dims), None)
        if split is not None:
            self._subs = [HpxMapEvaluator(dataset.isel({split: i}), models, psf_containment, max_oversampling)
                          for i in range(dataset.sizes[split])]
            self.signal = [x for e in self._subs for x in e.signal]
            self.bkg_models = [x for e in self._subs for x in e.bkg_models]
            return
        if not is_hpx_dataset(dataset):
            raise ValueError("HpxMapEvaluator needs a dataset on a HEALPix geometry (sky dim 'pix')")
        self.data = d = _HpxData.from_dataset(dataset)
        self.shape = d.counts.shape
        self.hp = _healpix(d.nside, d.order)
        self.split_models(models, _Source)

    # ------------------------------------------------------------------ pieces
    def _nested(self, pix: np.ndarray) -> np.ndarray:
        if self.data.order == "nested":
            return pix
        return np.asarray(self.hp.ring_to_nested(pix), dtype=np.int64)

    def _sub_lonlat(self, pix: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Centres [deg] of the ``n^2`` nested sub-pixels of HEALPix pixels: ``(npix, n^2)``."""
        from astropy_healpix import healpix_to_lonlat

        kids = _children(self._nested(pix), n)
        lo, la = healpix_to_lonlat(kids.ravel(), self.data.nside * n, order="nested")
        return np.asarray(lo.deg).reshape(kids.shape), np.asarray(la.deg).reshape(kids.shape)

    def _cone(self, lon: float, lat: float, radius: float) -> np.ndarray:
        """All HEALPix pixels of the sphere whose centres may lie within ``radius`` [deg]."""
        r = min(radius + 1.5 * self.data.pix_size, 180.0)
        return np.sort(np.asarray(self.hp.cone_search_lonlat(lon * u.deg, lat * u.deg, r * u.deg), dtype=np.int64))

    def _oversampling(self, r68: float) -> int:
        need = 3 * self.data.pix_size / max(r68, 1e-6)
        n = 1
        while n < need and n < self.max_oversampling:
            n *= 2
        return n

    def _exposure_at(self, lon: float, lat: float) -> np.ndarray:
        from astropy_healpix import bilinear_interpolation_weights

        d = self.data
        ipix, w = bilinear_interpolation_weights(lon * u.deg, lat * u.deg, d.nside, order=d.order)
        pos, ok = d.positions(np.asarray(ipix, np.int64).ravel())
        w = np.asarray(w, float).ravel() * ok
        if w.sum() <= 0:
            return np.zeros(d.exposure.shape[0])
        return (d.exposure[:, pos] * w).sum(axis=1) / w.sum()

    def _update_spatial(self, s: _Source, v: np.ndarray) -> None:
        d = self.data
        spatial = s.spatial
        vals = v[s.offset + s.n_spec: s.offset + s.n_spec + s.n_spat]
        pos = spatial.position_values(vals)
        if pos is not None:
            lon, lat = (float(a) for a in convert_lonlat(pos[0], pos[1], spatial.frame, d.frame))
        else:
            lo, la = self.hp.healpix_to_lonlat(d.pix)
            m = _unit(np.asarray(lo.deg), np.asarray(la.deg)).mean(axis=0)
            lon = float(np.degrees(np.arctan2(m[1], m[0])) % 360)
            lat = float(np.degrees(np.arcsin(np.clip(m[2] / max(np.linalg.norm(m), 1e-12), -1, 1))))
        psf, ed = d.irf_at(lon, lat)
        n_et = d.exposure.shape[0]
        prof = None
        r_k = 0.0
        r68 = 0.0
        if psf is not None and np.any(psf > 0):
            r_k = min(float(np.max(_containment(psf, d.rad_edges, self.psf_containment))) / 0.8, float(d.rad[-1]))
            r68 = float(np.min(_containment(psf, d.rad_edges, 0.68)))
            if r68 >= 0.25 * d.pix_size:
                prof = _Psf(d.rad, psf, r_k)
        if spatial.is_point:
            from astropy_healpix import bilinear_interpolation_weights

            if prof is None:
                ipix, w = bilinear_interpolation_weights(lon * u.deg, lat * u.deg, d.nside, order=d.order)
                cand = np.asarray(ipix, np.int64).ravel()
                k = np.broadcast_to(np.asarray(w, float).ravel(), (n_et, cand.size))
            else:
                cand = self._cone(lon, lat, r_k)
                n = self._oversampling(r68)
                slo, sla = self._sub_lonlat(cand, n)
                sep = _sep_deg(_unit(slo, sla), _unit(np.array(lon), np.array(lat)))
                k = prof(sep).sum(axis=-1)  # (n_et, n_cand)
                tot = k.sum(axis=1, keepdims=True)
                k = k / np.where(tot > 0, tot, 1.0)
            posn, ok = d.positions(cand)
            s.idx, s.a = posn[ok], np.ascontiguousarray(k[:, ok])
            s.b = ed * self._exposure_at(lon, lat)[:, None]
            return
        radius = spatial.evaluation_radius_values(vals)
        if radius is None:
            cand = np.asarray(self.hp.cone_search_lonlat(lon * u.deg, lat * u.deg, 180 * u.deg), np.int64)
            cand = np.sort(cand)
        else:
            cand = self._extended_cone(s, lon, lat, radius + r_k)
        size = spatial.bin_size_min_values(vals)
        n = 1
        if size is not None and size > 0:
            while n * size < 2 * d.pix_size and n < self.max_oversampling:
                n *= 2
        kk = s.kernel
        if kk.get("sub_key") != (id(cand), n):  # sub-pixel centres, in the model frame, per cone
            slo, sla = self._sub_lonlat(cand, n)
            kk.update(sub_key=(id(cand), n), sub=convert_lonlat(slo, sla, d.frame, spatial.frame))
        mlo, mla = kk["sub"]
        if spatial.is_energy_dependent:
            ec = np.sqrt(d.et_edges[1:] * d.et_edges[:-1])
            dens = np.stack([np.asarray(spatial.evaluate_values(mlo, mla, vals, e, sample=d.pix_size / n), float)
                             .mean(axis=-1) for e in ec])
        else:
            dens = np.asarray(spatial.evaluate_values(mlo, mla, vals, sample=d.pix_size / n), float).mean(axis=-1)
            dens = np.broadcast_to(dens, (n_et, cand.size))
        posn, ok = d.positions(cand)
        expo = np.zeros((n_et, cand.size))
        expo[:, ok] = d.exposure[:, posn[ok]]
        cube = dens * d.omega * expo  # (n_et, n_cand)
        if prof is not None and psf is not None:
            cube = self._convolve(s, cand, cube, prof, psf)
        s.idx, s.a = posn[ok], np.ascontiguousarray(cube[:, ok])
        s.b = ed

    def _extended_cone(self, s: _Source, lon: float, lat: float, need: float) -> np.ndarray:
        """The pixels an extended source is drawn on: a cone of ``need`` plus a margin of 3
        pixels, kept (with its PSF kernel) while the source moves by less than a pixel and
        ``need`` fits in it without being less than half of it."""
        kk = s.kernel
        here = _unit(np.array(lon), np.array(lat))
        if "cone" in kk:
            moved = float(_sep_deg(here, kk["centre"]))
            r_cone = kk["r_cone"]
            if moved + need <= r_cone and need >= 0.5 * r_cone - 3 * self.data.pix_size:
                return np.asarray(kk["cone"])
        r_cone = need + 3 * self.data.pix_size
        cand = self._cone(lon, lat, r_cone)
        kk.clear()
        kk.update(cone=cand, centre=here, r_cone=r_cone)
        return cand

    def _convolve(self, s: _Source, cand: np.ndarray, cube: np.ndarray, prof: _Psf,
                  psf: np.ndarray) -> np.ndarray:
        """Sparse PSF convolution on the pixels ``cand``: each source pixel's flux spread over
        the pixels within the PSF radius, normalised to 1 per source pixel (rebuilt when the
        pixels or the PSF profile at the source change)."""
        from scipy.spatial import cKDTree

        kk = s.kernel
        if "pairs" not in kk or kk["pairs"][0] is not cand or kk["pairs"][1] != prof.r_max:
            lo, la = self.hp.healpix_to_lonlat(cand)
            vec = _unit(np.asarray(lo.deg), np.asarray(la.deg))
            chord = 2 * math.sin(math.radians(prof.r_max) / 2)
            pairs = cKDTree(vec).query_pairs(chord, output_type="ndarray")
            i = np.concatenate([pairs[:, 0], pairs[:, 1], np.arange(cand.size)])
            j = np.concatenate([pairs[:, 1], pairs[:, 0], np.arange(cand.size)])
            kk.update(pairs=(cand, prof.r_max), i=i, j=j, sep=_sep_deg(vec[i], vec[j]))
            kk.pop("psf", None)
        if "psf" not in kk or not np.array_equal(kk["psf"], psf):
            i, j = kk["i"], kk["j"]
            w = prof(kk["sep"])  # (n_et, n_pairs)
            norm = np.stack([np.bincount(j, weights=row, minlength=cand.size) for row in w])
            kk.update(psf=psf.copy(), w=w / np.where(norm > 0, norm, 1.0)[:, j])
        i, j, w = kk["i"], kk["j"], kk["w"]
        return np.stack([np.bincount(i, weights=w[e] * cube[e, j], minlength=cand.size) for e in range(cube.shape[0])])

    def _update(self, s: _Source, v: np.ndarray) -> None:
        i1 = s.offset + s.n_spec
        i2 = i1 + s.n_spat
        spec, spat, temp = v[s.offset:i1], v[i1:i2], v[i2:i2 + s.n_temp]
        if s.last_spat is None or not np.array_equal(spat, s.last_spat):
            self._update_spatial(s, v)
            s.last_spat = spat.copy()
        if (s.last_spec is None or not np.array_equal(spec, s.last_spec)
                or s.last_temp is None or not np.array_equal(temp, s.last_temp)):
            s.flux = self.source_flux(s, v)
            s.last_spec, s.last_temp = spec.copy(), temp.copy()

    # ------------------------------------------------------------------ public
    def npred_sources(self, values: Any) -> np.ndarray:
        """Predicted source counts ``(energy, pix)`` (``(obs, energy, pix)`` with a split dim)."""
        if self._subs:
            return np.stack([e.npred_sources(values) for e in self._subs])
        v = self.values(values)
        out = np.zeros(self.shape)
        for s in self.sources:
            self._update(s, v)
            assert s.a is not None and s.b is not None and s.flux is not None and s.idx is not None
            out[:, s.idx] += np.einsum("ke,kp->ep", s.b * s.flux[:, None], s.a)
        return out

    def npred_background(self, values: Any) -> np.ndarray:
        """Predicted background counts ``(energy, pix)``."""
        if self._subs:
            return np.stack([e.npred_background(values) for e in self._subs])
        return self.data.background * self.bkg_norm(self.values(values))[:, None]

    def npred(self, values: Any) -> np.ndarray:
        """Total predicted counts ``(energy, pix)``."""
        return self.npred_sources(values) + self.npred_background(values)

    def stat(self, values: Any) -> float:
        """Cash statistic ``2 sum(mu - n log mu)`` over the mask."""
        if self._subs:
            return float(sum(e.stat(values) for e in self._subs))
        mu = self.npred(values)[self.data.mask]
        n = self.data.counts[self.data.mask]
        pos = n > 0
        return float(2.0 * (mu.sum() - np.sum(n[pos] * np.log(np.maximum(mu[pos], _TRUNC)))))

    def with_counts(self, counts: Any) -> HpxMapEvaluator:
        """A new evaluator for other counts on the same dataset and models."""
        arr = np.asarray(counts.values if isinstance(counts, xr.DataArray) else counts, dtype=float)
        new = copy.copy(self)
        if self._subs:
            new._subs = [e.with_counts(arr[i]) for i, e in enumerate(self._subs)]
            return new
        if arr.shape != self.shape:
            raise ValueError(f"counts shape {arr.shape} != {self.shape}")
        new.data = copy.copy(self.data)
        new.data.counts = arr
        new.sources = [_Source(s.model, s.spatial, s.offset, s.n_spec, s.n_spat, s.n_temp) for s in self.sources]
        return new


def npred_hpx(dataset: xr.Dataset, models: Any, component: str | None = None, **kwargs: Any) -> xr.DataArray:
    """Predicted counts of a HEALPix map dataset: ``DataArray(energy, pix)`` on its geometry
    (``component``: one sky model, or ``"background"``).

    Examples
    --------
    >>> ds = example_hpx_dataset()
    >>> bool(np.allclose(npred_hpx(ds, []).values, ds.background.values))
    True
    """
    models = as_models(models)
    if component is not None and component != "background":
        models = Models([models[component]])
    ev = HpxMapEvaluator(dataset, models, **kwargs)
    v = models.parameters.values
    if component == "background":
        vals = ev.npred_background(v)
    elif component is not None:
        vals = ev.npred_sources(v)
    else:
        vals = ev.npred(v)
    split = next((d for d in ("obs", "event_type") if d in dataset.dims), None)
    dims: tuple[str, ...] = ("energy", "pix") if split is None else (split, "energy", "pix")
    coords = {k: c.variable for k, c in dataset.coords.items() if set(c.dims) <= set(dims)}
    attrs = {k: v for k, v in dataset.attrs.items() if k in sky.GEOM_KEYS}
    return xr.DataArray(vals, dims=dims, coords=coords, name="npred", attrs={**attrs, "units": ""})


def example_hpx_dataset(nside: int = 256, sigma_psf: float = 0.2) -> xr.Dataset:
    """A small synthetic HEALPix dataset around the Crab (2 energy bins, a Gaussian PSF of
    ``sigma_psf`` deg, exposure ``1e12 cm2 s``, flat background of 0.1 counts per pixel and
    bin, no edisp): for examples and tests.

    Examples
    --------
    >>> example_hpx_dataset().sizes["pix"]
    957
    """
    ax = energy_axis(1, 10, 2)
    g = sky.healpix_geom(nside, skydir=(83.63, 22.01), width=4.0, axes=[ax])
    npix = g.sizes["pix"]
    et = energy_axis(1, 10, 2, name="energy_true")
    rad = np.linspace(0.0, 2.0, 201)
    s = math.radians(sigma_psf)
    prof = np.exp(-0.5 * (np.radians(rad) / s) ** 2) / (2 * np.pi * s * s)
    coords = {k: c.variable for k, c in g.coords.items()}
    coords.update({k: c.variable for k, c in et.coords.items()})
    coords["rad"] = xr.Variable("rad", rad, {"units": "deg"})
    ds = xr.Dataset(
        {"counts": (("energy", "pix"), np.zeros((2, npix))),
         "exposure": (("energy_true", "pix"), np.full((2, npix), 1e12), {"units": "cm2 s"}),
         "background": (("energy", "pix"), np.full((2, npix), 0.1)),
         "psf": (("energy_true", "rad"), np.repeat(prof[None], 2, axis=0), {"units": "sr-1"}),
         "mask_safe": (("energy", "pix"), np.ones((2, npix), bool))},
        coords=coords, attrs={**g.attrs, "name": "hpx-example"})
    return ds


def expected_counts(dataset: xr.Dataset, model: SkyModel) -> float:
    """Total expected counts of a sky model on a dataset with a flat exposure and no edisp:
    the integral flux over the ``energy_true`` bins times the exposure at the source.

    Examples
    --------
    >>> from xgamma.models import SkyModel, spectral_model
    >>> round(expected_counts(example_hpx_dataset(), SkyModel("s", spectral_model("pl", amplitude=1e-12))), 3)
    0.9
    """
    e = edges(dataset, "energy_true")
    f = np.asarray(model.spectral.integral_values(e[:-1], e[1:], list(model.spectral.parameters.values)))
    return float(np.sum(f * dataset.exposure.isel(pix=0).values))
