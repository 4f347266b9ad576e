"""Where xgamma finds the shared public data."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dir"]


def data_dir(required: bool = True) -> Path | None:
    """The folder of public gamma-ray data.

    Looked up in this order: the environment variable ``XGAMMA_DATA``; ``GAMMAPY_DATA``
    (so Gammapy users' settings work unchanged); ``../shared/data`` relative to the
    repository root (the development layout).

    Examples
    --------
    >>> from xgamma._paths import data_dir
    >>> data_dir(required=False) is None or data_dir().is_dir()
    True
    """
    for var in ("XGAMMA_DATA", "GAMMAPY_DATA"):
        val = os.environ.get(var)
        if val:
            p = Path(val).expanduser()
            if p.is_dir():
                return p
    repo = Path(__file__).resolve().parent.parent
    for cand in (repo.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"):
        if cand.is_dir():
            return cand
    if required:
        raise FileNotFoundError(
            "no gamma-ray data found: set XGAMMA_DATA to the data folder "
            "(or keep it at ../shared/data beside the repository)"
        )
    return None
