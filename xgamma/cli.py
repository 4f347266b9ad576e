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
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main"]

_DEPENDENCIES = (
    "numpy", "scipy", "pandas", "xarray", "dask", "distributed", "astropy", "astropy_healpix",
    "regions", "iminuit", "zarr", "yaml", "pydantic", "tqdm", "matplotlib",
)


def _info() -> int:
    import xgamma
    from xgamma._paths import data_dir

    print(f"xgamma {xgamma.__version__}")
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


def _check(path: str) -> int:
    from .config import AnalysisConfig, ConfigError

    try:
        cfg = AnalysisConfig.read(path)
        store = cfg.datastore_path()
    except ConfigError as exc:
        print(f"xgamma: error: {path}: {exc}", file=sys.stderr)
        return 1
    print(f"{path}: valid ({cfg.datasets.type} analysis, data store {store})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``xgamma`` command line; returns the exit code."""
    parser = argparse.ArgumentParser(prog="xgamma", description="Gamma-ray analysis with xgamma.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="version, dependencies and the data location found")
    sub.add_parser("config", help="print the default analysis configuration with comments")
    p_check = sub.add_parser("check", help="validate a configuration file without running it")
    p_check.add_argument("config", help="YAML configuration file")
    args = parser.parse_args(argv)
    if args.command == "info":
        return _info()
    if args.command == "config":
        from .config import AnalysisConfig

        print(AnalysisConfig().to_yaml(comments=True))
        return 0
    if args.command == "check":
        return _check(args.config)
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover
    return 2  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
