"""What the map evaluators share: which model components predict counts on a dataset, the
parameter vector, the background norm and a source's flux per true-energy bin.

:class:`xgamma.fitting.fold_map.MapEvaluator` (WCS) and
:class:`xgamma.fitting.fold_hpx.HpxMapEvaluator` (HEALPix) differ in how they put a source on the
sky; the rest is this one base.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from xgamma.axes import edges
from xgamma.fitting.gti import gti_mean
from xgamma.models.components import BackgroundModel, Models, SkyModel
from xgamma.models.spatial import as_spatial_model

__all__ = ["EvaluatorBase", "folding_arrays"]


class EvaluatorBase:
    """Parameter bookkeeping of a map evaluator.

    A subclass sets ``names`` (the parameter names of the models), ``shape`` (of the counts,
    energy first) and ``data`` (with ``name``, ``gti``, ``e_center`` and ``et_edges``), then calls
    :meth:`split_models`, which fills ``sources`` (one per sky model that applies, made by
    ``make_source(model, spatial, offset, n_spec, n_spat, n_temp)``), ``bkg_model`` /
    ``bkg_slice`` (the first background model that applies), and ``signal`` / ``bkg_models``
    (the parameter slices each prediction uses, as :func:`xgamma.fit` expects them).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from xgamma.models import BackgroundModel, Models, SkyModel, spectral_model
    >>> from xgamma.models.spatial import spatial_model
    >>> ev = EvaluatorBase()
    >>> models = Models([SkyModel("src", spectral_model("pl"), spatial_model("point", lon_0=0, lat_0=0)),
    ...                  BackgroundModel(("d",))])
    >>> ev.names, ev.shape = models.parameters.names, (2,)
    >>> ev.data = SimpleNamespace(name="d", gti=None, e_center=np.array([1.0, 3.0]),
    ...                           et_edges=np.array([0.5, 2.0, 6.0]))
    >>> src = lambda *a: SimpleNamespace(**dict(zip(
    ...     ("model", "spatial", "offset", "n_spec", "n_spat", "n_temp"), a)))
    >>> ev.split_models(models, src)
    >>> [name for name, _ in ev.signal], ev.bkg_models[0][0]
    (['src'], 'd-bkg')
    >>> ev.bkg_norm(models.parameters.values).tolist()
    [1.0, 1.0]
    """

    names: tuple[str, ...]
    shape: tuple[int, ...]
    data: Any
    sources: list[Any]
    bkg_model: BackgroundModel | None
    bkg_slice: slice | None
    signal: list[tuple[str, slice]]
    bkg_models: list[tuple[str, slice]]

    def split_models(self, models: Models, make_source: Callable[..., Any],
                     with_background: bool = True) -> None:
        """Sort ``models`` into the dataset's sources and its background model (see above);
        ``with_background=False`` (ON/OFF data: WStat profiles the background) takes none."""
        d = self.data
        self.sources, self.bkg_model, self.bkg_slice = [], None, None
        off = 0
        for comp in models:
            n = len(comp.parameters)
            applies = comp.applies_to(d.name) if d.name else True
            if isinstance(comp, BackgroundModel):
                if applies and with_background and self.bkg_model is None:
                    if comp.spatial is not None:
                        raise NotImplementedError("background models with a spatial part")
                    self.bkg_model, self.bkg_slice = comp, slice(off, off + n)
            elif isinstance(comp, SkyModel) and applies:
                if comp.spatial is None:
                    raise ValueError(f"sky model {comp.name!r} needs a spatial model for a map dataset")
                spatial = as_spatial_model(comp.spatial)
                if spatial.parameters.names != comp.spatial.parameters.names:
                    raise ValueError(f"sky model {comp.name!r}: spatial parameters "
                                     f"{comp.spatial.parameters.names} != {spatial.parameters.names}")
                ns, nsp = len(comp.spectral.parameters), len(spatial.parameters)
                nt = 0 if comp.temporal is None else len(comp.temporal.parameters)
                if comp.temporal is not None and d.gti is None:
                    warnings.warn(f"dataset {d.name!r} has no GTI (tstart/tstop/mjdref): the temporal "
                                  f"model of {comp.name!r} is ignored", stacklevel=3)
                self.sources.append(make_source(comp, spatial, off, ns, nsp, nt))
            off += n
        self.signal = [(s.model.name, slice(s.offset, s.offset + s.n_spec + s.n_spat + s.n_temp))
                       for s in self.sources]
        self.bkg_models = [] if self.bkg_slice is None or self.bkg_model is None else [
            (self.bkg_model.name, self.bkg_slice)]

    def values(self, values: Any) -> np.ndarray:
        """The flat parameter vector of ``values`` (a vector or a :class:`Models`), checked."""
        if isinstance(values, Models):
            if values.parameters.names != self.names:
                raise ValueError("models do not match the evaluator's parameter names")
            return values.parameters.values
        v = np.asarray(values, dtype=float)
        if v.shape != (len(self.names),):
            raise ValueError(f"need {len(self.names)} parameter values, got shape {v.shape}")
        return v

    def bkg_norm(self, v: np.ndarray) -> np.ndarray:
        """The background model's factor per reconstructed energy (ones without one)."""
        if self.bkg_model is None or self.bkg_slice is None:
            return np.ones(self.shape[0])
        vals = list(v[self.bkg_slice])
        return np.asarray(self.bkg_model.spectral.evaluate_values(self.data.e_center, vals), dtype=float) \
            * np.ones(self.shape[0])

    def source_flux(self, s: Any, v: Sequence[float] | np.ndarray) -> np.ndarray:
        """A source's flux integrated over each true-energy bin, times its temporal model's mean
        over the dataset's GTIs."""
        d = self.data
        v = np.asarray(v)
        f = np.asarray(s.model.spectral.integral_values(d.et_edges[:-1], d.et_edges[1:],
                                                        list(v[s.offset: s.offset + s.n_spec])), dtype=float)
        if s.model.temporal is not None and d.gti is not None:
            i0 = s.offset + s.n_spec + s.n_spat
            f = f * float(gti_mean(s.model.temporal, list(v[i0: i0 + s.n_temp]), d.gti, 1)[0])
        return f


def folding_arrays(ds: xr.Dataset, sky_dims: tuple[str, ...]) -> dict[str, Any]:
    """The numpy arrays a map evaluator folds with: ``counts``, ``background`` (energy + sky),
    ``exposure`` (energy_true + sky), ``mask`` (``mask_safe`` and ``mask_fit`` broadcast), ``psf``
    (energy_true, rad[, y_irf, x_irf]) with ``rad`` and ``rad_edges``, ``edisp`` (energy_true,
    energy[, y_irf, x_irf]); ``psf``/``edisp`` are None where the dataset has none.

    Examples
    --------
    >>> ds = xr.Dataset({"counts": (("energy", "pix"), np.ones((2, 3))),
    ...                  "exposure": (("energy_true", "pix"), np.ones((4, 3))),
    ...                  "mask_safe": (("energy", "pix"), [[True] * 3, [False] * 3])})
    >>> a = folding_arrays(ds, ("pix",))
    >>> a["mask"].sum(), a["background"].shape, a["psf"] is None
    (np.int64(3), (2, 3), True)
    """
    def arr(name: str, dims: tuple[str, ...]) -> np.ndarray:
        return np.asarray(ds[name].transpose(*dims).values, dtype=float)

    counts = arr("counts", ("energy", *sky_dims))
    out: dict[str, Any] = {
        "counts": counts, "exposure": arr("exposure", ("energy_true", *sky_dims)),
        "background": arr("background", ("energy", *sky_dims)) if "background" in ds else np.zeros_like(counts),
    }
    mask = np.ones(counts.shape, dtype=bool)
    for m in ("mask_safe", "mask_fit"):
        if m in ds:
            mdims = [d for d in ("energy", *sky_dims) if d in ds[m].dims]
            mask &= np.broadcast_to(np.asarray(ds[m].transpose(*mdims).values, dtype=bool), counts.shape)
    out["mask"] = mask
    out["psf"] = out["edisp"] = None
    out["rad"] = out["rad_edges"] = np.array([0.0, 1.0])
    if "psf" in ds:
        p = ds["psf"]
        dims = ("energy_true", "rad", "y_irf", "x_irf") if "y_irf" in p.dims else ("energy_true", "rad")
        out["psf"] = np.asarray(p.transpose(*dims).values, dtype=float)
        rad = out["rad"] = np.asarray(p["rad"].values, dtype=float)
        out["rad_edges"] = edges(p, "rad") if "rad_min" in p.coords else np.concatenate(
            [[0.0], 0.5 * (rad[1:] + rad[:-1]), [rad[-1] + 0.5 * (rad[-1] - rad[-2])]])
    if "edisp" in ds:
        k = ds["edisp"]
        dims = ("energy_true", "energy", "y_irf", "x_irf") if "y_irf" in k.dims else ("energy_true", "energy")
        out["edisp"] = np.asarray(k.transpose(*dims).values, dtype=float)
    return out
