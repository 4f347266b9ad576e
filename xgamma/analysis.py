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
from xgamma.estimators.core import plot_light_curve, plot_sed
from xgamma.estimators.excess_map import excess_map
from xgamma.estimators.flux_points import flux_points
from xgamma.estimators.light_curve import light_curve
from xgamma.estimators.sed import write_sed
from xgamma.fitting.fitter import fit
from xgamma.fitting.fold import npred, with_fit_range
from xgamma.fitting.plots import plot_significance_map
from xgamma.io.store import open_store
from xgamma.io.yaml import read_models, write_models
from xgamma.io.zarr import to_zarr
from xgamma.models import BackgroundModel, Models
from xgamma.reduction.background import ring_background
from xgamma.reduction.many import reduce_many
from xgamma.reduction.spectrum import reduce_spectrum, spectrum_info, stack_spectra
from xgamma.reduction.stacking import stack

__all__ = ["Analysis"]

log = logging.getLogger("xgamma.analysis")


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
        _setup_logging(self.config)

    # ------------------------------------------------------------------ observations
    def get_observations(self) -> list[Any]:
        """Open the data store and select observations (ids, file, cone, time, required IRFs)."""

        oc = self.config.observations
        store = open_store(self.config.datastore_path())
        ids: list[int] = list(oc.obs_ids)
        if oc.obs_file:
            ids += _read_obs_file(oc.obs_file)
        sel = store.select(obs_ids=ids) if ids else store
        cone = oc.obs_cone
        if cone.lon is not None and cone.lat is not None and cone.radius is not None:
            sel = sel.select(cone=(_deg(cone.lon), _deg(cone.lat), _deg(cone.radius), cone.frame or "icrs"))
        if oc.obs_time.start is not None or oc.obs_time.stop is not None:
            sel = sel.select(time=(oc.obs_time.start, oc.obs_time.stop))
        if len(sel.obs_ids) == 0:
            raise ConfigError("observations: the selection (obs_ids, obs_file, obs_cone, obs_time) is empty")
        required = oc.required_irf
        self.observations = sel.observations(required_irf=required if required != "all-optional" else None)
        if not self.observations:
            raise ConfigError(f"observations.required_irf: no selected observation has {required}")
        livetime = sum(float(o.livetime) for o in self.observations)
        log.info("selected %d observations (%.2f h livetime): %s", len(self.observations),
                 livetime / 3600, [o.obs_id for o in self.observations])
        return self.observations

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
        out = []
        for obs in _progress(self.observations, "reduce 1d"):
            out.append(reduce_spectrum(obs, geom, name=f"obs_{obs.obs_id}", **kwargs))
        if d.stack:
            return [stack_spectra(out, name="stacked")]
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
                      offset_max=_deg(d.geom.selection.offset_max), psf_binsz=_deg(w.binsize_irf))
        self._geom, self._reduce_kwargs = geom, kwargs
        out = reduce_many(self.observations, geom, progress=log.isEnabledFor(logging.INFO), **kwargs)
        datasets = [out.isel(obs=i) for i in range(out.sizes["obs"])] if "obs" in out.dims else [out]
        if d.stack:
            datasets = [stack(out if "obs" in out.dims else datasets, name="stacked")]
        if method == "ring":
            r_in = float(u.Quantity(params.get("r_in", "0.7 deg")).to_value("deg"))
            width = float(u.Quantity(params.get("width", "0.3 deg")).to_value("deg"))
            datasets = [ring_background(ds, r_in=r_in, width=width, exclusion_mask=exclusion)
                        for ds in datasets]
        return datasets

    # ------------------------------------------------------------------ models and fit
    def set_models(self, models: Any) -> Any:
        """Set the models from a YAML file, YAML text, a dict or a Models object.

        For 3D datasets a background model (``FoVBackgroundModel``-like norm) is added for each
        dataset that has none, as Gammapy does.
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
            extra = [BackgroundModel(name=f"{ds.attrs['name']}-bkg", datasets_names=(ds.attrs["name"],))
                     for ds in self.datasets if f"{ds.attrs['name']}-bkg" not in have]
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
    def run(self, models: Any = None, steps: Any = None) -> Analysis:
        """Run every configured step: observations, datasets, fit (if models), flux points,
        light curve, excess map."""
        self.get_observations()
        self.get_datasets()
        models = models or self.config.general.models_file
        if models is not None:
            self.set_models(models)
            self.run_fit()
            if self.config.flux_points.energy.nbins:
                self.get_flux_points()
            if self.config.light_curve.time_intervals.start is not None:
                self.get_light_curve()
        if self.config.datasets.type == "3d":
            self.get_excess_map()
        return self

    # ------------------------------------------------------------------ outputs
    def write(self, outdir: str | os.PathLike[str], plots: bool = True) -> list[Path]:
        """Write every product that exists into ``outdir`` (created), atomically per file."""
        out = Path(outdir)
        out.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []

        def put(name: str, writer: Callable[[Path], Any]) -> None:
            with _atomic(out / name) as tmp:
                writer(tmp)
            written.append(out / name)

        put("config.yaml", lambda p: p.write_text(self.config.to_yaml()))
        if self.models is not None:

            put("models.yaml", lambda p: write_models(self.models, p, write_covariance_file=False))
        if self.fit_result is not None:
            put("fit_result.yaml", lambda p: p.write_text(yaml.safe_dump(_fit_summary(self.fit_result),
                                                                         sort_keys=False)))
        if self.datasets and self.config.output.datasets == "zarr":

            def write_ds(p: Path) -> None:  # one zarr group per dataset under one root group
                to_zarr({str(ds.attrs.get("name", i)): ds for i, ds in enumerate(self.datasets)}, p)

            put("datasets.zarr", write_ds)
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
            written += self._plots(out)
        log.info("wrote %d products to %s", len(written), out)
        return written

    def _plots(self, out: Path) -> list[Path]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        files = []
        if self.flux_points is not None:

            with _atomic(out / "sed.png") as tmp:
                ax = plot_sed(self.flux_points, model=self.models[self.config.flux_points.source])
                ax.figure.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
                plt.close(ax.figure)
            files.append(out / "sed.png")
        elif self.fit_result is not None and self.config.datasets.type == "1d":
            with _atomic(out / "spectrum.png") as tmp:
                fig = _plot_spectrum_fit(self.datasets, self.models)
                fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
                plt.close(fig)
            files.append(out / "spectrum.png")
        if self.light_curve is not None:

            with _atomic(out / "light_curve.png") as tmp:
                ax = plot_light_curve(self.light_curve)
                ax.figure.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
                plt.close(ax.figure)
            files.append(out / "light_curve.png")
        if self.excess_map is not None:
            with _atomic(out / "significance_map.png") as tmp:
                ax = plot_significance_map(self.excess_map["sqrt_ts"])  # +-5 sigma, 3/5 sigma contours
                ax.set_title(f"significance, correlation radius {self.config.excess_map.correlation_radius}")
                ax.figure.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
                plt.close(ax.figure)
            files.append(out / "significance_map.png")
        return files


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


def _progress(items: list[Any], desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, disable=not log.isEnabledFor(logging.INFO) or len(items) < 2)


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


def _fit_summary(res: Any) -> dict[str, Any]:
    r = res.result
    params = {}
    for name in r["param"].values:
        params[str(name)] = {"value": float(r["value"].sel(param=name)),
                             "error": float(r["error"].sel(param=name))}
    cov = r["covariance"].values.tolist() if "covariance" in r else None
    return {
        "success": bool(res.success),
        "message": str(r.attrs.get("message", "")),
        "stat_sum": float(r.attrs.get("stat_sum", np.nan)),
        "nfev": int(r.attrs.get("nfev", -1)),
        "backend": str(r.attrs.get("backend", "")),
        "parameters": params,
        "covariance": {"param": [str(p) for p in r["param"].values], "matrix": cov},
    }


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
