"""``xgamma download``: fetch the public data files with checksums and a cache (pooch).

The registry ``xgamma/data_registry.txt`` lists every file of the shared data folder (the one
the tests, examples and notebooks use) with its SHA-256, as ``<relative path> sha256:<hex>``;
:func:`make_registry` writes it from a folder. :func:`download` fetches the files from a base
URL into a destination folder: files already there with the right checksum are not fetched
again (the cache), a file whose checksum differs is fetched anew, and a download whose checksum
does not match the registry is an error. The base URL is ``url=``, else the environment
variable ``XGAMMA_DATA_URL``, else :data:`DEFAULT_URL` (the folder layout of the shared data
follows the gammapy-data repository; that mapping has not been checked file by file here, so a
file missing upstream fails with a one-line error naming it).

Point ``XGAMMA_DATA`` at the destination afterwards.

Examples
--------
>>> reg = registry()
>>> "cta-caldb/Prod5-South-20deg-AverageAz-14MSTs37SSTs.180000s-v0.1.fits.gz" in reg
True
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from xgamma.errors import XgammaError, XgammaIOError

__all__ = ["download", "registry", "make_registry", "default_destination", "DEFAULT_URL", "REGISTRY_FILE"]

#: Base URL of the public data (overridden by ``XGAMMA_DATA_URL`` or ``url=``).
DEFAULT_URL = "https://raw.githubusercontent.com/gammapy/gammapy-data/main/"
#: The registry of the shared data files and their SHA-256.
REGISTRY_FILE = Path(__file__).with_name("data_registry.txt")


def registry(path: str | Path | None = None) -> dict[str, str]:
    """The file registry ``{relative path: "sha256:<hex>"}``.

    Examples
    --------
    >>> len(registry()) > 100
    True
    """
    p = Path(path) if path is not None else REGISTRY_FILE
    out: dict[str, str] = {}
    for line in p.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, h = line.rpartition(" ")
            out[name] = h
    return out


def make_registry(folder: str | Path) -> str:
    """Registry text (``<relative path> sha256:<hex>`` per line, sorted) of every file under
    ``folder``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a.txt").write_text("x")
    >>> make_registry(d).split()[0]
    'a.txt'
    """
    root = Path(folder)
    lines = [f"{p.relative_to(root).as_posix()} sha256:{hashlib.sha256(p.read_bytes()).hexdigest()}"
             for p in sorted(root.rglob("*")) if p.is_file()]
    return "\n".join(lines) + "\n"


def default_destination() -> Path:
    """Where :func:`download` writes without a destination: ``$XGAMMA_DATA`` if set, else
    ``~/.cache/xgamma/data``.

    Examples
    --------
    >>> default_destination().name in ("data",) or "XGAMMA_DATA" in __import__("os").environ
    True
    """
    env = os.environ.get("XGAMMA_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "xgamma" / "data"


def download(dest: str | Path | None = None, url: str | None = None, only: Iterable[str] | None = None,
             files: Mapping[str, str] | None = None) -> Path:
    """Fetch the public data files into ``dest`` (checksummed, cached).

    Parameters
    ----------
    dest : str or Path, optional
        Destination folder (default :func:`default_destination`).
    url : str, optional
        Base URL (default ``$XGAMMA_DATA_URL``, else :data:`DEFAULT_URL`).
    only : iterable of str, optional
        Path prefixes to fetch (e.g. ``["cta-caldb/", "hess-dl3-dr1/"]``).
    files : mapping, optional
        A registry to use instead of the shipped one.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    XgammaIOError
        A file cannot be fetched or its checksum differs from the registry (one line naming it).

    Examples
    --------
    >>> download(only=["no-such-folder/"])
    Traceback (most recent call last):
    ...
    xgamma.errors.XgammaError: download: no registry file matches ['no-such-folder/']
    """
    reg = dict(files) if files is not None else registry()
    prefixes = list(only) if only is not None else None
    names = [n for n in reg if prefixes is None or any(n.startswith(p) for p in prefixes)]
    if not names:
        raise XgammaError(f"download: no registry file matches {prefixes}")
    try:
        import pooch
    except ImportError as exc:  # pragma: no cover - optional dependency
        raise XgammaError("download needs pooch: pip install 'xgamma[download]'") from exc
    base = (url or os.environ.get("XGAMMA_DATA_URL") or DEFAULT_URL).rstrip("/") + "/"
    target = Path(dest) if dest is not None else default_destination()
    fetcher = pooch.create(path=target, base_url=base, registry=reg, retry_if_failed=1)
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        for name in names:
            try:
                fetcher.fetch(name)
            except Exception as exc:  # noqa: BLE001 - network, HTTP and checksum errors alike
                text = str(exc).strip().splitlines()
                raise XgammaIOError(f"download failed: {text[0] if text else type(exc).__name__}",
                                    path=base + name) from exc
    finally:
        logger.setLevel(level)
    return target
