"""The high-level workflow: a whole analysis from one :class:`~xgamma.config.AnalysisConfig`.

Each step can be run alone in a notebook and keeps its result on the :class:`Analysis`
object; :meth:`Analysis.run` runs every configured step and :meth:`Analysis.write` stores the
products (config, models, fit result, reduced datasets, flux points, light curve, maps, plots)
in a folder, each file written to a temporary name first and then moved, so that a failure never
leaves a half-written output.

Examples
--------
>>> import xgamma as xg
>>> config = xg.AnalysisConfig.read(xg.data_dir().parent / "reference" / "crab_1d_config.yaml")
>>> analysis = xg.Analysis(config)
>>> obs = analysis.get_observations()
>>> sorted(o.obs_id for o in obs)
[23523, 23526, 23559, 23592]
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
import yaml

from xgamma import sky
from xgamma.axes import energy_axis
from xgamma.config import AnalysisConfig, ConfigError
from xgamma.errors import ReductionError, XgammaError, XgammaIOError
from xgamma.estimators.core import plot_light_curve, plot_sed
from xgamma.estimators.excess_map import excess_map
from xgamma.estimators.flux_points import flux_points
from xgamma.estimators.light_curve import light_curve
from xgamma.estimators.sed import write_sed
from xgamma.fitting.fitter import fit, fit_summary
from xgamma.fitting.fold import npred, with_fit_range
from xgamma.fitting.plots import plot_significance_map
from xgamma.io.store import open_store
from xgamma.io.yaml import read_models, write_models
from xgamma.io.zarr import open_zarr, to_zarr, verify_zarr
from xgamma.models import BackgroundModel, GenericModel, Models
from xgamma.reduction.background import ring_background
from xgamma.reduction.checks import check_memory, check_observation
from xgamma.reduction.many import SkippedObservation, reduce_many, skipped_from_error
from xgamma.reduction.slices import reduce_spectra
from xgamma.reduction.spectrum import spectrum_info, stack_spectra
from xgamma.reduction.stacking import stack

__all__ = ["Analysis", "AnalysisStepError"]

log = logging.getLogger("xgamma.analysis")


class AnalysisStepError(XgammaError, RuntimeError):
    """Steps of :meth:`Analysis.run` (or writes) failed; the products that were computed are written."""


def _tev(q: u.Quantity | None) -> float | None:
    return None if q is None else float(q.to_value("TeV"))


def _deg(q: u.Quantity | None) -> float | None:
    return None if q is None else float(q.to_value("deg"))


class Analysis:
    """Run a configured analysis step by step.

    Parameters
    ----------
    config : AnalysisConfig, dict, str or Path
        The configuration (a path is read as YAML).

    Attributes
    ----------
    observations : list of Observation
    datasets : list of xarray.Dataset
        Reduced datasets (one stacked dataset when ``datasets.stack`` is true).
    models : Models
    fit_result : FitResult
    flux_points, light_curve, excess_map : xarray.Dataset

    Examples
    --------
    >>> import xgamma as xg
    >>> ana = xg.Analysis({"datasets": {"type": "1d"}})
    >>> ana.config.datasets.type, ana.datasets
    ('1d', [])
    """

    def __init__(self, config: AnalysisConfig | Mapping[str, Any] | str | os.PathLike[str]) -> None:
        if isinstance(config, AnalysisConfig):
            self.config = config
        elif isinstance(config, Mapping):
            self.config = AnalysisConfig.from_dict(config)
        else:
            self.config = AnalysisConfig.read(config)
        self.observations: list[Any] = []
        self.datasets: list[xr.Dataset] = []
        self.models: Any = None
        self.fit_result: Any = None
        self.flux_points: xr.Dataset | None = None
        self.light_curve: xr.Dataset | None = None
        self.excess_map: xr.Dataset | None = None
        self._geom: xr.Dataset | None = None
        self._reduce_kwargs: dict[str, Any] = {}
        #: steps that failed in :meth:`run` (step name -> one-line message)
        self.step_errors: dict[str, str] = {}
        #: Observations left out by ``observations.on_error: skip`` (obs id, file, HDU, reason).
        self.skipped: list[SkippedObservation] = []
        _setup_logging(self.config)

    # ------------------------------------------------------------------ observations
    def get_observations(self) -> list[Any]:
        """Open the data store and select observations (ids, file, cone, time, required IRFs)."""

        return self._get_observations(self._select())

    def _get_observations(self, sel: Any) -> list[Any]:
        oc = self.config.observations
        required = oc.required_irf
        self.observations = sel.observations(required_irf=required if required != "all-optional" else None)
        intervals = oc.obs_time.intervals()
        if not self.observations:
            what = f"{required}" if not intervals else f"{required} and GTIs inside obs_time"
            raise ConfigError(f"observations.required_irf: no selected observation has {what}")
        livetime = 0.0
        for o in list(self.observations):
            try:
                livetime += float(o.livetime)  # reads the EVENTS header: a broken file shows here
            except Exception as exc:
                if self.config.observations.on_error != "skip":
                    raise ReductionError(_about(o.obs_id, exc)) from exc
                self._skip(skipped_from_error(o, exc))
        if not self.observations:
            raise ReductionError("observations: every selected observation failed to read "
                                 "(see the skipped observations above)")
        ids = sorted({o.obs_id for o in self.observations})
        if intervals:
            log.info("selected %d time slices of %d observations in %d obs_time intervals (%.2f h livetime): %s",
                     len(self.observations), len(ids), len(intervals), livetime / 3600, ids)
        else:
            log.info("selected %d observations (%.2f h livetime): %s", len(self.observations),
                     livetime / 3600, ids)
        return self.observations

    def _select(self) -> Any:
        """The selected part of the data store (index files only); named errors for ids that
        are not in the store and for an empty selection."""
        oc = self.config.observations
        path = self.config.datastore_path()
        store = open_store(path)
        if len(store.obs_ids) == 0:
            raise ConfigError(f"observations.datastore: the data store {path} lists no observations")
        sel = store
        for key, ids in (("obs_ids", list(oc.obs_ids)),
                         ("obs_file", _read_obs_file(oc.obs_file) if oc.obs_file else [])):
            if not ids:
                continue
            have = set(store.obs_ids)
            missing = [i for i in ids if i not in have]
            if missing:
                more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
                raise ConfigError(f"observations.{key}: {missing[:5]}{more} not in the data store "
                                  f"{path} ({len(have)} observations)")
            sel = sel.select(obs_ids=ids)
        cone = oc.obs_cone
        if cone.lon is not None and cone.lat is not None and cone.radius is not None:
            sel = sel.select(cone=(_deg(cone.lon), _deg(cone.lat), _deg(cone.radius), cone.frame or "icrs"))
        elif any(v is not None for v in (cone.lon, cone.lat, cone.radius)):
            raise ConfigError("observations.obs_cone: give lon, lat and radius together")
        intervals = oc.obs_time.intervals()
        if intervals:
            # the established tool's select_time: one time slice per (interval, run)
            sel = sel.select(time=intervals)
        if len(sel.obs_ids) == 0:
            raise ConfigError("observations: the selection (obs_ids, obs_file, obs_cone, obs_time) is empty")
        return sel

    def validate(self, models: Any = None) -> list[Any]:
        """Every check that reads no events and no IRFs, made by :meth:`run` first and by
        ``xgamma check``: map sizes against ``datasets.max_memory``, the data store and the
        selection (unknown ids, empty selection), the regions and background method, the
        models file and the sources named by ``flux_points`` and ``light_curve``.

        ``models`` (a file path, as for :meth:`run`) replaces ``general.models_file``.
        Returns the selected observation ids; raises :class:`~xgamma.config.ConfigError`
        naming the key.
        """
        return [int(i) if isinstance(i, np.integer) else i for i in self._validate(models).obs_ids]

    def _validate(self, models: Any = None) -> Any:
        """:meth:`validate`; returns the selection (read once for :meth:`run`)."""
        cfg = self.config
        check_memory(cfg)
        d = cfg.datasets
        if d.type == "1d":
            on = d.on_region
            if on.lon is None or on.lat is None or on.radius is None:
                raise ConfigError("datasets.on_region: a 1d analysis needs lon, lat and radius")
            if d.background.method not in (None, "reflected"):
                raise ConfigError(f"datasets.background.method: a 1d analysis supports 'reflected', "
                                  f"got {d.background.method!r}")
            if d.background.oversampling is not None:
                raise ConfigError("datasets.background.oversampling: a 1d analysis has no IRF background "
                                  "map to oversample (it applies to datasets.type: 3d)")
        else:
            self._center()
            if d.background.method == "reflected":
                raise ConfigError("datasets.background.method: 'reflected' needs datasets.type: 1d")
        exc = d.background.exclusion
        if exc and not Path(os.path.expandvars(exc)).expanduser().is_file():
            try:
                sky.region_from_string(exc)
            except Exception as err:  # noqa: BLE001 - re-raised with the key path
                raise ConfigError(f"datasets.background.exclusion: expected a region string such as "
                                  f"'icrs;circle(83.63,22.01,0.3)' or a FITS mask file, got {exc!r} "
                                  f"({_first_line(err)})") from None
        fr = cfg.fit.fit_range
        ea = d.geom.axes.energy
        if fr.min is not None and fr.max is not None and fr.min >= fr.max:
            raise ConfigError(f"fit.fit_range: min ({fr.min}) must be below max ({fr.max})")
        if (fr.max is not None and ea.min is not None and fr.max <= ea.min) or (
                fr.min is not None and ea.max is not None and fr.min >= ea.max):
            raise ConfigError(f"fit.fit_range: [{fr.min}, {fr.max}] does not overlap the energy axis "
                              f"datasets.geom.axes.energy [{ea.min}, {ea.max}]")
        mf = models if isinstance(models, str | os.PathLike) else cfg.general.models_file
        if mf is not None:
            path = Path(os.path.expandvars(str(mf))).expanduser()
            key = "--models" if mf is models else "general.models_file"
            if not path.is_file():
                raise ConfigError(f"{key}: file not found: {path}")
            try:
                text = yaml.safe_load(path.read_text())
                if isinstance(text, Mapping) and not isinstance(text.get("components", []), list):
                    raise ConfigError("components: expected a list of model components")
                with warnings.catch_warnings():
                    if cfg.datasets.type == "3d":  # a 3D fit evaluates every spatial model
                        warnings.simplefilter("error", UserWarning)
                    models = read_models(path)
            except Exception as err:  # noqa: BLE001 - re-raised naming the key and the file
                raise ConfigError(f"{key}: {path}: {_model_error(err)}") from None
            for comp in models:
                for part in ("spectral", "spatial", "temporal")[:1 if cfg.datasets.type == "1d" else 3]:
                    sub = getattr(comp, part, None)
                    if isinstance(sub, GenericModel):
                        raise ConfigError(f"{key}: {path}: component {getattr(comp, 'name', '?')!r}: "
                                          f"unknown {part} model type {getattr(sub, 'type', '?')!r}")
            if "flux_points" in cfg.model_fields_set:
                _need_source(models, cfg.flux_points.source, "flux_points.source")
            if cfg.light_curve.time_intervals.start is not None:
                _need_source(models, cfg.light_curve.source, "light_curve.source")
        return self._select()

    # ------------------------------------------------------------------ datasets
    def _energy_axes(self) -> tuple[xr.DataArray, xr.DataArray]:

        ax = self.config.datasets.geom.axes
        e = energy_axis(_tev(ax.energy.min), _tev(ax.energy.max), ax.energy.nbins, name="energy")
        et = energy_axis(_tev(ax.energy_true.min), _tev(ax.energy_true.max), ax.energy_true.nbins,
                         name="energy_true")
        return e, et

    def _exclusion_mask(self, geom: xr.Dataset | None) -> xr.DataArray | None:

        exc = self.config.datasets.background.exclusion
        if not exc:
            return None
        if geom is None:
            ra, dec = self._center()
            geom = sky.wcs_geom((ra, dec), width=8.0, binsz=0.02, frame="icrs")
        path = Path(os.path.expandvars(exc)).expanduser()
        if path.is_file():
            from astropy.io import fits
            from astropy.wcs import WCS

            with fits.open(path) as hdul:
                hdu = next(h for h in hdul if getattr(h, "data", None) is not None and h.data.ndim >= 2)
                mask = np.asarray(hdu.data, dtype=bool)
                while mask.ndim > 2:
                    mask = mask[0]
                mgeom = sky.geom_from_wcs(WCS(hdu.header).celestial, shape=mask.shape)
            return sky.make_map(mask, mgeom, name="exclusion_mask")
        try:
            return sky.exclusion_mask(geom, [sky.region_from_string(exc)])
        except Exception as exc_err:  # noqa: BLE001 - re-raised with the key path
            raise ConfigError(
                f"datasets.background.exclusion: expected a region string such as "
                f"'icrs;circle(83.63,22.01,0.3)' or a FITS mask file, got {exc!r} ({exc_err})"
            ) from None

    def _center(self) -> tuple[float, float]:
        d = self.config.datasets
        for c in (d.geom.wcs.skydir, d.on_region):
            if c.lon is not None and c.lat is not None:
                from astropy.coordinates import SkyCoord

                s = SkyCoord(_deg(c.lon), _deg(c.lat), unit="deg", frame=c.frame or "icrs").icrs
                return float(s.ra.deg), float(s.dec.deg)
        raise ConfigError("datasets.geom.wcs.skydir: a sky position is needed (lon, lat, frame)")

    def get_datasets(self) -> list[xr.Dataset]:
        """Reduce the observations to 1D ON/OFF spectra or 3D cubes, stacked if configured."""
        if not self.observations:
            self.get_observations()
        d = self.config.datasets
        if d.type == "1d":
            datasets = self._datasets_1d()
        else:
            datasets = self._datasets_3d()
        fr = self.config.fit.fit_range
        lo, hi = _tev(fr.min), _tev(fr.max)
        if lo is not None or hi is not None:

            datasets = [with_fit_range(ds, lo, hi) for ds in datasets]
        self.datasets = datasets
        for ds in datasets:
            log.info("dataset %s: %s", ds.attrs.get("name"), _summary(ds))
        return datasets

    def _datasets_1d(self) -> list[xr.Dataset]:

        d = self.config.datasets
        on = d.on_region
        if on.lon is None or on.lat is None or on.radius is None:
            raise ConfigError("datasets.on_region: a 1d analysis needs lon, lat and radius")
        region = f"{on.frame or 'icrs'};circle({_deg(on.lon)},{_deg(on.lat)},{_deg(on.radius)})"
        e, et = self._energy_axes()
        geom = sky.region_geom(region, axes=[e])
        method = d.background.method
        if method not in (None, "reflected"):
            raise ConfigError(f"datasets.background.method: a 1d analysis supports 'reflected', got {method!r}")
        exclusion = self._exclusion_mask(None)
        params = dict(d.background.parameters)
        kwargs = dict(energy_true=et, containment_correction=d.containment_correction,
                      background="reflected" if method == "reflected" else None,
                      exclusion_mask=exclusion, safe_mask=list(d.safe_mask.methods),
                      safe_mask_params=dict(d.safe_mask.parameters), **params)
        self._geom, self._reduce_kwargs = geom, kwargs
        ok = []
        for obs in self.observations:
            try:
                for warning in check_observation(obs):
                    log.warning("%s", warning)
                ok.append(obs)
            except Exception as exc:
                if isinstance(exc, ConfigError):
                    raise
                if self.config.observations.on_error != "skip":
                    raise ReductionError(_about(obs.obs_id, exc)) from exc
                self._skip(skipped_from_error(obs, exc))
        names = _dataset_names(ok)
        out = []
        try:
            # each run reduced and searched for OFF regions once, whatever the number of its slices
            out = reduce_spectra(ok, geom, names=names, **kwargs)
        except ConfigError:
            raise
        except Exception as exc:
            if self.config.observations.on_error != "skip":
                oid = getattr(exc, "obs_id", None)
                raise ReductionError(_about(oid, exc) if oid is not None else _first_line(exc)) from exc
            # isolate the failing runs: one reduction per run, its slices together
            for oid in dict.fromkeys(o.obs_id for o in ok):
                part = [(o, n) for o, n in zip(ok, names, strict=True) if o.obs_id == oid]
                try:
                    out += reduce_spectra([o for o, _ in part], geom, names=[n for _, n in part], **kwargs)
                except ConfigError:
                    raise
                except Exception as err:  # noqa: BLE001 - reported as skipped
                    self._skip(skipped_from_error(part[0][0], err))
        if not out:
            raise ReductionError("every observation failed; see the skipped observations above")
        if d.stack:
            # stack_spectra leaves out the observations without a safe bin (no OFF region, or
            # outside the field of view): they add neither counts nor livetime
            try:
                return [stack_spectra(out, name="stacked")]
            except ReductionError as exc:
                raise ConfigError(f"datasets: {exc}") from exc
        return out

    def _datasets_3d(self) -> list[xr.Dataset]:

        d = self.config.datasets
        w = d.geom.wcs
        ra, dec = self._center()
        frame = w.skydir.frame or "icrs"
        lon, lat = (_deg(w.skydir.lon), _deg(w.skydir.lat)) if w.skydir.lon is not None else (ra, dec)
        e, et = self._energy_axes()
        # the pixels of Gammapy's WcsGeom.create (reference point at the map centre)
        geom = sky.wcs_geom((lon, lat), width=(_deg(w.width.width), _deg(w.width.height)),
                            binsz=_deg(w.binsize), frame=frame, proj=w.projection, axes=[e],
                            car_reference="center")
        exclusion = self._exclusion_mask(geom)
        method = d.background.method
        params = dict(d.background.parameters)
        safe: dict[str, Any] = {"methods": list(d.safe_mask.methods),
                                **_safe_kwargs(d.safe_mask.parameters)}
        if "offset-max" in safe["methods"] and "offset_max" not in safe:
            safe["offset_max"] = _deg(d.geom.selection.offset_max)
        background_method: Any = None
        if method == "fov_background":
            background_method = {"method": params.get("method", "scale"),
                                 "spectral_tilt": bool(params.get("spectral_tilt", False))}
        kwargs = dict(energy_true=et, products=list(d.map_selection), safe_mask=safe,
                      background_method=background_method, exclusion_mask=exclusion,
                      offset_max=_deg(d.geom.selection.offset_max), psf_binsz=_deg(w.binsize_irf),
                      background_oversampling=d.background.oversampling)
        self._geom, self._reduce_kwargs = geom, kwargs
        # stacked: the list of datasets is summed in place (no concatenated copy of every map)
        out = reduce_many(self.observations, geom, progress=log.isEnabledFor(logging.INFO),
                          on_error=self.config.observations.on_error, as_list=d.stack, **kwargs)
        if d.stack:
            good = [r for r in out if not isinstance(r, SkippedObservation)]
            failed = [r for r in out if isinstance(r, SkippedObservation)]
            for sk in failed:
                self._skip(sk, logged=True)
            if not good:
                first = failed[0]
                raise ReductionError(f"every observation failed; first: observation {first.obs_id}: "
                                     f"{first.reason}")
            datasets = good
        else:
            for sk in out.attrs.pop("skipped", []):
                self._skip(SkippedObservation(**sk), logged=True)
            datasets = [out.isel(obs=i) for i in range(out.sizes["obs"])] if "obs" in out.dims else [out]
        if method == "ring":
            # per observation, before stacking (as Gammapy's RingBackgroundMaker in the
            # observation loop): each run's OFF counts and acceptances, then the ON/OFF stack
            r_in = float(u.Quantity(params.get("r_in", "0.7 deg")).to_value("deg"))
            width = float(u.Quantity(params.get("width", "0.3 deg")).to_value("deg"))
            datasets = [ring_background(ds, r_in=r_in, width=width, exclusion_mask=exclusion,
                                        off_pixels=str(params.get("off_pixels", "safe")))
                        for ds in datasets]
        if d.stack:
            datasets = [stack(datasets, name="stacked")]
        return datasets

    def _skip(self, sk: SkippedObservation, logged: bool = False) -> None:
        self.skipped.append(sk)
        self.observations = [o for o in self.observations if o.obs_id != sk.obs_id]
        if not logged:
            log.warning("skipped observation %s (file %s, HDU %s): %s", sk.obs_id, sk.file,
                        sk.hdu, sk.reason)

    # ------------------------------------------------------------------ models and fit
    def set_models(self, models: Any) -> Any:
        """Set the models from a YAML file, YAML text, a dict or a Models object.

        For 3D datasets a background model (``FoVBackgroundModel``-like norm) is added for each
        dataset that has none, as Gammapy does; not for ON/OFF (ring background) datasets, whose
        background WStat profiles.
        """

        if isinstance(models, Models):
            m = models
        elif isinstance(models, os.PathLike):
            m = read_models(Path(models))
        elif isinstance(models, str | Mapping):
            m = read_models(models)
        else:
            m = Models(models)
        if self.config.datasets.type == "3d" and self.datasets:
            have = {getattr(c, "name", "") for c in m}
            # ON/OFF (ring) datasets profile their background (WStat): no background model
            extra = [BackgroundModel(name=f"{ds.attrs['name']}-bkg", datasets_names=(ds.attrs["name"],))
                     for ds in self.datasets if f"{ds.attrs['name']}-bkg" not in have and "counts_off" not in ds]
            if extra:
                m = Models([*m, *extra])
        self.models = m
        log.info("models: %s", [getattr(c, "name", "?") for c in m])
        return m

    def run_fit(self) -> Any:
        """Fit the models to the datasets (iminuit MIGRAD + HESSE)."""

        if not self.datasets:
            self.get_datasets()
        if self.models is None:
            raise ConfigError("models: call set_models() (or pass --models) before fitting")
        res = fit(self.datasets, self.models)
        self.fit_result = res
        self.models = res.models
        log.info("fit: success=%s, stat=%.3f, nfev=%s", res.success,
                 float(res.result.attrs.get("stat_sum", np.nan)), res.result.attrs.get("nfev"))
        for name in res.result["param"].values:
            v = float(res.result["value"].sel(param=name))
            err = float(res.result["error"].sel(param=name))
            log.debug("  %-40s %12.5g +- %.3g", name, v, err)  # the CLI prints them once, with units
        return res

    # ------------------------------------------------------------------ estimators
    def get_flux_points(self) -> xr.Dataset:
        """Flux points of ``flux_points.source`` in the configured energy bins."""

        fp = self.config.flux_points
        if self.models is None:
            raise ConfigError("flux_points: fit models first (set_models / run_fit)")
        _need_source(self.models, fp.source, "flux_points.source")
        fp_edges = fp.energy.edges_tev()
        if fp_edges is None:
            raise ConfigError("flux_points.energy: set min, max and nbins")
        self.flux_points = flux_points(self.datasets, self.models, source=fp.source,
                                       energy_edges=fp_edges)
        log.info("flux points: %d bins for %s", self.flux_points.sizes.get("energy", 0), fp.source)
        return self.flux_points

    def get_excess_map(self) -> xr.Dataset:
        """Correlated excess and significance maps of the (stacked) 3D dataset."""

        if self.config.datasets.type != "3d":
            raise ConfigError("excess_map: needs datasets.type: 3d")
        em = self.config.excess_map
        radius = _deg(em.correlation_radius)
        self.excess_map = excess_map(self.datasets[0], correlation_radius=0.1 if radius is None else radius,
                                     energy_edges=em.energy_edges.edges_tev())
        log.info("excess map: max significance %.1f",
                 float(np.nanmax(self.excess_map["sqrt_ts"].values)))
        return self.excess_map

    def get_light_curve(self) -> xr.Dataset:
        """Light curve of ``light_curve.source``: flux points per configured time interval (one
        bin per observation when none is given) and energy band, reducing each time slice of the
        observations as the datasets were reduced."""

        lc = self.config.light_curve
        if self.models is None:
            raise ConfigError("light_curve: set models first (set_models / run_fit)")
        _need_source(self.models, lc.source, "light_curve.source")
        if self._geom is None:
            self.get_datasets()
        ax = self.config.datasets.geom.axes.energy
        lc_edges = lc.energy_edges.edges_tev()
        if lc_edges is None:  # Gammapy's null energy_edges: one band over the dataset's range
            lc_edges = np.array([_tev(ax.min), _tev(ax.max)])
        ti = lc.time_intervals
        intervals: Any = "observation"
        if ti.start is not None and ti.stop is not None:
            intervals = [(a.tt.mjd, b.tt.mjd) for a, b in zip(ti.start, ti.stop, strict=True)]
        self.light_curve = light_curve(self.observations, self.models, lc.source, lc_edges,
                                       geom=self._geom, time_intervals=intervals,
                                       reduce_kwargs=self._reduce_kwargs,
                                       progress=log.isEnabledFor(logging.INFO))
        log.info("light curve: %d time bins for %s", self.light_curve.sizes.get("time", 0), lc.source)
        return self.light_curve

    # ------------------------------------------------------------------ all steps
    def run(self, models: Any = None, steps: Any = None,
            checkpoint: Callable[[Analysis], Any] | None = None) -> Analysis:
        """Run every configured step: observations, datasets, fit (if models), flux points,
        light curve, excess map.

        Observations and datasets are needed by everything else: their errors are raised. From
        the models on, a step with nothing to do (no models, no model named as the step's
        ``source``, no light-curve intervals, a 1d analysis for the excess map) is skipped with
        a message, and a step that fails is logged and recorded in :attr:`step_errors` while the
        others still run; :meth:`write` writes every product computed and then raises
        :class:`AnalysisStepError` naming the failed steps.

        Datasets already present (reduced earlier, or reused by ``xgamma run --resume``) are
        not reduced again; ``checkpoint(self)`` is called right after a reduction (the command
        line stores the datasets there, so that a killed run can resume from them).
        """
        self.step_errors = {}
        self._get_observations(self._validate(models))  # the data store's index read once
        if not self.datasets:
            self.get_datasets()
            if checkpoint is not None:
                checkpoint(self)
        models = models or self.config.general.models_file
        fitted = False
        if models is None:
            log.info("fit, flux points, light curve: skipped (no models: general.models_file or --models)")
        else:
            fitted = self._step("models", lambda: self.set_models(models)) and self._step("fit", self.run_fit)
            if fitted:
                self._source_step("flux_points", self.config.flux_points.source, self.get_flux_points,
                                  bool(self.config.flux_points.energy.nbins),
                                  "no flux_points.energy: set min, max and nbins")
                ti = self.config.light_curve.time_intervals
                self._source_step("light_curve", self.config.light_curve.source, self.get_light_curve,
                                  ti.start is not None, "no light_curve.time_intervals")
        if self.config.datasets.type == "3d":
            self._step("excess_map", self.get_excess_map)
        return self

    def _step(self, name: str, func: Callable[[], Any]) -> bool:
        try:
            func()
        except Exception as exc:  # noqa: BLE001 - recorded, logged and raised again by write()
            text = str(exc).strip().splitlines()
            msg = text[0] if text else type(exc).__name__
            if not isinstance(exc, XgammaError):
                msg = f"{type(exc).__name__}: {msg}"
            self.step_errors[name] = msg
            log.error("%s: failed: %s (the other products are still written)", name, msg)
            return False
        return True

    def _source_step(self, name: str, source: str, func: Callable[[], Any], configured: bool,
                     why: str = "") -> bool:
        if not configured:
            log.info("%s: skipped (%s)", name, why or "not configured")
            return False
        names = [getattr(c, "name", None) for c in (self.models or [])]
        if source not in names:
            log.warning("%s: skipped: %s.source is %r but the models are %s", name, name, source,
                        [n for n in names if n])
            return False
        return self._step(name, func)

    # ------------------------------------------------------------------ outputs
    def write_datasets(self, path: str | os.PathLike[str]) -> list[str]:
        """Write the reduced datasets as one zarr group each under one root group at ``path``
        (``xr.open_datatree(path, engine="zarr")`` and ``xg.open_zarr`` open it); returns their
        names in order (see :meth:`read_datasets`)."""
        named = {str(ds.attrs.get("name", i)): ds for i, ds in enumerate(self.datasets)}
        to_zarr(named, Path(path))
        return list(named)

    @staticmethod
    def read_datasets(path: str | os.PathLike[str], names: list[str] | None = None) -> list[xr.Dataset]:
        """Read (into memory) datasets written by :meth:`write_datasets`, in the order of
        ``names`` (default: sorted folder names).

        The tree's manifest is checked first (every child, variable and chunk present:
        :func:`~xgamma.io.zarr.verify_zarr`), then every child is read through its crc32c
        checksums; a damaged tree raises :class:`~xgamma.io.zarr.ArchiveIntegrityError` naming
        the dataset and the variable (``--resume`` then reduces again)."""
        folder = Path(path)
        verify_zarr(folder)
        if names is None:
            names = sorted(p.name for p in folder.iterdir() if p.is_dir())
        out = []
        for name in names:
            if not (folder / name).is_dir():
                raise XgammaIOError("dataset missing", path=folder / name)
            ds = open_zarr(folder / name)
            if not isinstance(ds, xr.Dataset):
                raise XgammaIOError("not a dataset", path=folder / name)
            out.append(ds.load())
        return out

    def write(self, outdir: str | os.PathLike[str], plots: bool = True,
              skip: tuple[str, ...] = ()) -> list[Path]:
        """Write every product that exists into ``outdir`` (created), atomically per file;
        products named in ``skip`` (e.g. ``"datasets.zarr"`` already written) are left alone.

        A product that fails to write does not stop the others. Raises
        :class:`AnalysisStepError` at the end when a step of :meth:`run` or a write failed.
        """
        out = Path(outdir)
        out.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        failed: dict[str, str] = {}

        def put(name: str, writer: Callable[[Path], Any]) -> None:
            if name in skip:
                return
            try:
                with _atomic(out / name) as tmp:
                    writer(tmp)
            except Exception as exc:  # noqa: BLE001 - reported once all products are written
                text = str(exc).strip().splitlines()
                failed[name] = f"{type(exc).__name__}: {text[0] if text else ''}"
                log.error("writing %s failed: %s", name, failed[name])
                return
            written.append(out / name)

        put("config.yaml", lambda p: p.write_text(self.config.to_yaml()))
        if self.models is not None:

            put("models.yaml", lambda p: write_models(self.models, p, write_covariance_file=False))
        skipped = [sk.as_dict() for sk in self.skipped]
        if self.fit_result is not None:
            summary = {**fit_summary(self.fit_result), "skipped_observations": skipped}
            put("fit_result.yaml", lambda p: p.write_text(yaml.safe_dump(summary, sort_keys=False)))
        if self.config.observations.on_error == "skip" or skipped:
            put("skipped.yaml", lambda p: p.write_text(yaml.safe_dump(
                {"skipped_observations": skipped}, sort_keys=False)))
        if self.datasets and self.config.output.datasets == "zarr":
            put("datasets.zarr", self.write_datasets)
        if self.flux_points is not None:

            fp = self.flux_points
            put("flux_points.ecsv", lambda p: write_sed(fp, p, format="ecsv"))
        if self.light_curve is not None:

            lcurve = self.light_curve
            put("light_curve.ecsv", lambda p: write_sed(lcurve, p, format="ecsv"))
        if self.excess_map is not None:

            emap = self.excess_map
            put("excess_map.zarr", lambda p: to_zarr(emap, p))
        if plots and self.config.output.plots:
            self._plots(put)
        log.info("wrote %d products to %s", len(written), out)
        problems = {**self.step_errors, **{f"writing {k}": v for k, v in failed.items()}}
        if problems:
            steps = "; ".join(f"{k}: {v}" for k, v in problems.items())
            raise AnalysisStepError(f"{steps} (the {len(written)} other products are in {out})")
        return written

    def _plots(self, put: Callable[[str, Callable[[Path], Any]], None]) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        def save(fig_of: Callable[[], Any], tight: bool = True) -> Callable[[Path], None]:
            def writer(p: Path) -> None:
                fig = fig_of()
                try:
                    # zlib level 1: a third of the PNG encoding time for a slightly larger file;
                    # tight=False keeps the figure's own margins (bbox_inches="tight" lays out
                    # every text twice) where the labels are known to fit in them
                    fig.savefig(p, dpi=100, bbox_inches="tight" if tight else None, format="png",
                                pil_kwargs={"compress_level": 1})
                finally:
                    plt.close(fig)
            return writer

        fpts, lcurve = self.flux_points, self.light_curve
        if fpts is not None:
            src = self.config.flux_points.source
            put("sed.png", save(lambda: plot_sed(fpts, model=self.models[src]).figure))
        elif self.fit_result is not None and self.config.datasets.type == "1d":
            put("spectrum.png", save(lambda: _plot_spectrum_fit(self.datasets, self.models)))
        if lcurve is not None:
            put("light_curve.png", save(lambda: plot_light_curve(lcurve).figure))
        if self.excess_map is not None:
            def sig() -> Any:
                assert self.excess_map is not None
                ax = plot_significance_map(self.excess_map["sqrt_ts"])  # +-5 sigma, 3/5 sigma contours
                ax.set_title(f"significance, correlation radius {self.config.excess_map.correlation_radius}")
                return ax.figure
            # the sky map, its colour bar and title lie inside the default figure margins
            put("significance_map.png", save(sig, tight=False))


# ---------------------------------------------------------------------------- helpers

def _setup_logging(config: AnalysisConfig) -> None:
    lc = config.general.log
    level = getattr(logging, lc.level.upper())
    log.setLevel(level)
    if lc.filename:
        handler: logging.Handler = logging.FileHandler(lc.filename, mode=lc.filemode or "a")
        handler.setFormatter(logging.Formatter(lc.format or "%(asctime)s %(levelname)s %(message)s",
                                               lc.datefmt))
        if not any(isinstance(h, logging.FileHandler) for h in log.handlers):
            log.addHandler(handler)


def _dataset_names(observations: list[Any]) -> list[str]:
    """``obs_<id>`` per run; ``obs_<id>_<k>`` (k counting from 0) when a run is cut into slices."""
    counts: dict[Any, int] = {}
    for o in observations:
        counts[o.obs_id] = counts.get(o.obs_id, 0) + 1
    seen: dict[Any, int] = {}
    names = []
    for o in observations:
        if counts[o.obs_id] == 1 and not hasattr(o, "t_start"):
            names.append(f"obs_{o.obs_id}")
            continue
        k = seen.get(o.obs_id, 0)
        seen[o.obs_id] = k + 1
        names.append(f"obs_{o.obs_id}_{k}")
    return names


def _need_source(models: Any, name: str, key: str) -> None:
    names = [getattr(c, "name", None) for c in models]
    if name not in names:
        raise ConfigError(f"{key}: no model component {name!r} in the models; have "
                          f"{[n for n in names if n and not str(n).endswith('-bkg')]}")


def _model_error(err: BaseException) -> str:
    if isinstance(err, KeyError):
        return f"a model component lacks the key {err.args[0]!r}"
    msg = _first_line(err)
    return msg.split(": ", 1)[1] if msg.startswith("/") and ": " in msg else msg


def _about(oid: Any, exc: BaseException) -> str:
    msg = _first_line(exc)
    return msg if msg.startswith(f"observation {oid}") else f"observation {oid}: {msg}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    msg = text[0] if text else ""
    if not isinstance(exc, XgammaError | OSError):
        msg = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
    return msg


def _read_obs_file(path: str) -> list[int]:
    p = Path(os.path.expandvars(path)).expanduser()
    if not p.is_file():
        raise ConfigError(f"observations.obs_file: file not found: {p}")
    ids = []
    for line in p.read_text().splitlines():
        tok = line.split("#")[0].replace(",", " ").split()
        for t in tok:
            if t.lower() == "obs_id":
                continue
            try:
                ids.append(int(t))
            except ValueError:
                raise ConfigError(f"observations.obs_file: {p}: not an observation id: {t!r}") from None
    return ids


def _safe_kwargs(params: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in params.items():
        if isinstance(v, str):
            try:
                q = u.Quantity(v)
                v = float(q.to_value("deg")) if q.unit.physical_type == "angle" else float(q.value)
            except (TypeError, ValueError):
                pass
        out[k] = v
    return out


def _summary(ds: xr.Dataset) -> str:
    mask = ds["mask_safe"] if "mask_safe" in ds else True
    counts = float(ds["counts"].where(mask, 0).sum())
    parts = [f"counts {counts:.0f}"]
    if "counts_off" in ds:

        info = spectrum_info(ds)
        parts += [f"counts_off {info['counts_off']:.0f}", f"excess {info['excess']:.1f}",
                  f"sqrt_ts {info['sqrt_ts']:.1f}"]
    elif "background" in ds:
        bkg = float(ds["background"].where(mask, 0).sum())
        parts += [f"background {bkg:.1f}", f"excess {counts - bkg:.1f}"]
    return ", ".join(parts)


def _plot_spectrum_fit(datasets: list[xr.Dataset], models: Any) -> Any:
    """Counts, predicted counts and residuals of 1D datasets (summed over datasets)."""
    import matplotlib.pyplot as plt

    fig, (ax, axr) = plt.subplots(2, 1, sharex=True, figsize=(6, 5), height_ratios=(3, 1))
    for ds in datasets:
        mask = ds["mask_safe"] & ds.get("mask_fit", True)
        counts = ds["counts"].where(mask)
        pred = npred(ds, models).where(mask)
        extra = [d for d in counts.dims if d != "energy"]
        if extra:
            counts, pred = counts.sum(extra, min_count=1), pred.sum(extra, min_count=1)
        e = ds["energy"].values
        ax.errorbar(e, counts, yerr=np.sqrt(counts), fmt="o", label=f"{ds.attrs.get('name')} counts")
        ax.step(e, pred, where="mid", label="predicted")
        axr.errorbar(e, (counts - pred) / np.sqrt(pred), yerr=1, fmt="o")
    ax.set(xscale="log", yscale="log", ylabel="counts")
    ax.legend()
    axr.axhline(0, color="k", lw=0.5)
    axr.set(xlabel="energy [TeV]", ylabel="residual [sigma]")
    return fig


@contextmanager
def _atomic(target: Path) -> Any:
    """Yield a temporary path beside ``target``; move it into place only if the block succeeds."""
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    tmp = tmpdir / target.name
    try:
        yield tmp
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
