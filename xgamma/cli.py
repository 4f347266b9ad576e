"""The ``xgamma`` command.

Examples
--------
>>> from xgamma.cli import main
>>> main(["info"])  # doctest: +ELLIPSIS
xgamma ...
0
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from xgamma._paths import data_dir
from xgamma.config import AnalysisConfig, ConfigError
from xgamma.download import download
from xgamma.errors import XgammaError
from xgamma.io.transaction import OutputTransaction
from xgamma.version import __version__

if TYPE_CHECKING:
    from xgamma.analysis import Analysis

__all__ = ["main"]

_DEPENDENCIES = (
    "numpy", "scipy", "pandas", "xarray", "dask", "distributed", "astropy", "astropy_healpix",
    "regions", "iminuit", "zarr", "yaml", "pydantic", "tqdm", "matplotlib",
)


def _info() -> int:
    print(f"xgamma {__version__}")
    print(f"python {sys.version.split()[0]}")
    for name in _DEPENDENCIES:
        try:
            mod = importlib.import_module(name)
            version = getattr(mod, "__version__", "?")
        except ImportError:
            version = "not installed"
        print(f"  {name:16s} {version}")
    d = data_dir(required=False)
    print(f"data: {d if d is not None else 'not found (set XGAMMA_DATA)'}")
    return 0


def _check(path: str, models: str | None = None) -> int:
    from xgamma.analysis import Analysis  # lazy: --help, info, config skip the analysis stack

    try:
        cfg = AnalysisConfig.read(path)
        store = cfg.datastore_path()
        ids = Analysis(cfg).validate(models)
    except Exception as exc:  # noqa: BLE001 - the command line reports every failure in one line
        print(f"xgamma: error: {path}: {_one_line(exc)}", file=sys.stderr)
        return 1
    print(f"{path}: valid ({cfg.datasets.type} analysis, {len(ids)} observation(s) selected in "
          f"data store {store})")
    return 0


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    msg = text.splitlines()[0] if text else ""
    if not isinstance(exc, XgammaError | OSError):
        msg = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
    return msg


def _run(args: argparse.Namespace) -> int:
    import logging

    from xgamma.analysis import Analysis, AnalysisStepError  # lazy: as in _check

    level = logging.ERROR if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    logging.basicConfig(level=level, format="%(message)s")
    try:
        cfg = AnalysisConfig.read(args.config)
        if args.verbose:
            cfg = cfg.update({"general": {"log": {"level": "debug"}}})
        elif args.quiet:
            cfg = cfg.update({"general": {"log": {"level": "error"}}})
        if args.models is not None and not Path(args.models).is_file():
            raise ConfigError(f"--models: file not found: {args.models}")
        out = Path(args.out or cfg.general.outdir)
        with OutputTransaction(out, key=_reduction_key(cfg)) as tx, \
                _scheduler(args.scheduler or cfg.dask.scheduler, cfg.dask.n_workers,
                           cfg.dask.threads_per_worker):
            analysis = Analysis(cfg)
            if args.resume:
                reused = tx.resume_datasets(
                    lambda p, meta: Analysis.read_datasets(p, meta.get("datasets")))
                if reused:
                    analysis.datasets = reused
                    logging.getLogger("xgamma.analysis").info(
                        "resume: reusing %d verified reduced dataset(s)", len(reused))
            tx.clean()

            def checkpoint(a: Analysis) -> None:
                if cfg.output.datasets == "zarr":
                    tx.meta["datasets"] = a.write_datasets(tx.path / "datasets.zarr")
                    tx.record("datasets.zarr")

            analysis.run(models=args.models, checkpoint=checkpoint)
            skip = ("datasets.zarr",) if (tx.path / "datasets.zarr").is_dir() else ()
            if analysis.datasets and not skip and cfg.output.datasets == "zarr":
                checkpoint(analysis)  # reused datasets: copied into the new set
                skip = ("datasets.zarr",)
            try:
                analysis.write(tx.path, skip=skip)
                failed = None
            except AnalysisStepError as exc:
                # every product that was computed is written: the new set goes in, with the
                # failed steps listed beside them, and the run still exits non-zero
                failed = exc
                (tx.path / "failed_steps.yaml").write_text(
                    yaml.safe_dump({"failed_steps": dict(analysis.step_errors)}, sort_keys=False))
            tx.commit()
            if failed is not None:
                raise failed
    except Exception as exc:  # noqa: BLE001 - the command line reports every failure in one line
        if args.verbose:
            import traceback

            traceback.print_exc()
        text = str(exc).strip()
        msg = text.splitlines()[0] if text else ""
        if not isinstance(exc, XgammaError | OSError):
            msg = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
        print(f"xgamma: error: {msg}", file=sys.stderr)
        return 1
    if not args.quiet:
        _print_result(analysis, out)
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from xgamma.simulation.run import simulate_from_config  # lazy: as in _check


    try:
        out = simulate_from_config(args.config, args.out, overwrite=args.overwrite)
    except Exception as exc:  # noqa: BLE001 - the command line reports every failure in one line
        text = str(exc).strip()
        msg = text.splitlines()[0] if text else ""
        if not isinstance(exc, XgammaError | OSError):
            msg = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
        print(f"xgamma: error: {msg}", file=sys.stderr)
        return 1
    print(f"DL3 data store written to {out}/")
    return 0


def _download(args: argparse.Namespace) -> int:

    try:
        dest = download(args.dest, url=args.url, only=args.only)
    except (XgammaError, OSError) as exc:
        text = str(exc).strip()
        print(f"xgamma: error: {text.splitlines()[0] if text else type(exc).__name__}", file=sys.stderr)
        return 1
    print(f"data in {dest}/ (set XGAMMA_DATA={dest})")
    return 0


def _reduction_key(cfg: AnalysisConfig) -> str:
    """A hash of everything that decides the reduced datasets (``--resume`` reuses only
    datasets with the same key)."""
    d = cfg.to_dict()
    obs = dict(d["observations"])
    try:
        store = cfg.datastore_path()
        obs["datastore"] = str(store)
        # the index files and the obs_file: a changed store or id list is another reduction
        if isinstance(store, Path):  # a local store (remote URLs: the path alone)
            obs["indexes"] = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns)
                                    for p in store.glob("*index*.fits*"))
    except ConfigError:
        pass
    if cfg.observations.obs_file and Path(cfg.observations.obs_file).is_file():
        obs["obs_file_text"] = Path(cfg.observations.obs_file).read_text()
    text = json.dumps([__version__, obs, d["datasets"], d["fit"]], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _print_result(analysis: Any, out: Path) -> None:
    res = analysis.fit_result
    if res is not None:
        r = res.result
        print(f"fit: {'converged' if res.success else 'FAILED'}, stat = {float(r.attrs['stat_sum']):.3f}")
        units = r["unit"].values if "unit" in r.coords else [""] * r.sizes["param"]
        for name, unit in zip(r["param"].values, units, strict=True):
            print(f"  {name:35s} {float(r['value'].sel(param=name)):12.5g} "
                  f"+- {float(r['error'].sel(param=name)):.3g} {unit}".rstrip())
    print(f"outputs in {out}/")


@contextmanager
def _scheduler(address: str | None, n_workers: int | None, threads: int | None) -> Iterator[None]:
    """Use a dask.distributed client when asked for; otherwise the default threaded scheduler."""
    if address is None and n_workers is None:
        yield
        return
    from distributed import Client, LocalCluster

    if address is not None:
        with Client(address):
            yield
        return
    with LocalCluster(n_workers=n_workers, threads_per_worker=threads or 1, processes=False) as cluster, \
            Client(cluster):
        yield


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``xgamma`` command line; returns the exit code.

    A closed output pipe (``xgamma config | head``) ends quietly; Ctrl-C ends with one line
    (``xgamma: interrupted``) and exit code 130.

    Examples
    --------
    >>> main(["check", "/nonexistent.yaml"])
    1
    """
    try:
        code = _main(argv)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # the reader went away (``| head``): silence the flush at exit, as Python's docs advise
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("xgamma: interrupted", file=sys.stderr)
        return 130


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xgamma", description="Gamma-ray analysis with xgamma.")
    parser.add_argument("--version", action="version", version=f"xgamma {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="version, dependencies and the data location found")
    sub.add_parser("config", help="print the default analysis configuration with comments")
    p_check = sub.add_parser("check", help="validate a configuration file without running it")
    p_check.add_argument("config", help="YAML configuration file")
    p_check.add_argument("--models", help="model YAML file to check with it")
    p_run = sub.add_parser("run", help="run the analysis of a configuration file")
    p_run.add_argument("config", help="YAML configuration file (Gammapy AnalysisConfig keys accepted)")
    p_run.add_argument("--models", help="model YAML file (Gammapy format accepted)")
    p_run.add_argument("--out", help="output folder (default: general.outdir of the config)")
    p_run.add_argument("--resume", action="store_true",
                       help="reuse the verified reduced datasets of the last run into --out (same "
                            "observations and reduction settings; checksums checked)")
    p_run.add_argument("--scheduler", help="dask.distributed scheduler address (default: threads)")
    verbosity = p_run.add_mutually_exclusive_group()
    verbosity.add_argument("--quiet", "-q", action="store_true", help="only errors")
    verbosity.add_argument("--verbose", "-v", action="store_true", help="debug messages")
    p_sim = sub.add_parser("simulate", help="simulate observations and write a GADF DL3 data store")
    p_sim.add_argument("config", help="YAML file with a 'simulation' section")
    p_sim.add_argument("--out", help="output store folder (default: simulation.outdir)")
    p_sim.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p_dl = sub.add_parser("download", help="fetch the public data files (checksummed, cached)")
    p_dl.add_argument("dest", nargs="?", help="destination folder (default: $XGAMMA_DATA or ~/.cache/xgamma/data)")
    p_dl.add_argument("--url", help="base URL (default: $XGAMMA_DATA_URL or the gammapy-data repository)")
    p_dl.add_argument("--only", nargs="+", help="path prefixes to fetch, e.g. cta-caldb/ hess-dl3-dr1/")
    args = parser.parse_args(argv)
    if args.command == "download":
        return _download(args)
    if args.command == "simulate":
        return _simulate(args)
    if args.command == "run":
        return _run(args)
    if args.command == "info":
        return _info()
    if args.command == "config":

        print(AnalysisConfig().to_yaml(comments=True))
        return 0
    if args.command == "check":
        return _check(args.config, args.models)
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover
    return 2  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
