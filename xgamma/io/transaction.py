"""An output folder written as a transaction: never a mix of two runs.

:class:`OutputTransaction` gives a run a fresh sibling folder (``.NAME.xgamma-tmp-*``) that
carries an ``.incomplete`` marker while products are written into it; :meth:`~OutputTransaction.commit`
writes ``manifest.json`` (the SHA-256 of every file), removes the marker and swaps the folder
into place in one atomic ``renameat2(RENAME_EXCHANGE)`` (two renames where the system has no
exchange; the next run repairs a swap cut in half). Until the swap the old folder stays whole.
A lock (``.NAME.xgamma-lock``, an ``flock`` that the kernel releases when the process dies)
makes a second run into the same folder fail at once; the next run removes the temporary folders
that a killed run left. :meth:`~OutputTransaction.resume_datasets` finds a verified
``datasets.zarr`` (manifest checksums and the same reduction settings) in the old folder or in a
killed run's folder.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from xgamma.io.transaction import OutputTransaction
>>> out = Path(tempfile.mkdtemp()) / "results"
>>> with OutputTransaction(out) as tx:
...     _ = (tx.path / "a.txt").write_text("new")
...     (tx.path / ".incomplete").exists()
...     tx.commit()
True
>>> sorted(p.name for p in out.iterdir())
['a.txt', 'manifest.json']
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from xgamma.errors import XgammaError, XgammaIOError

__all__ = ["OutputTransaction", "OutputLockedError", "MARKER", "MANIFEST", "sha256_tree",
           "verify_manifest", "folder_state"]

#: Marker file present in a folder whose products are still being written.
MARKER = ".incomplete"
#: Checksums of every product file, written last.
MANIFEST = "manifest.json"
_TMP = ".xgamma-tmp-"
_OLD = ".xgamma-old-"
_LOCK = ".xgamma-lock"


class OutputLockedError(XgammaError, OSError):
    """Another run holds the lock of the output folder."""

    def __str__(self) -> str:  # OSError would otherwise format (errno, strerror)
        return str(self.args[0])


def sha256_tree(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (relative POSIX paths), markers and manifest excluded.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "x").write_bytes(b"")
    >>> sha256_tree(d)["x"][:8]
    'e3b0c442'
    """
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name not in (MARKER, MANIFEST):
            h = hashlib.sha256()
            with p.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            out[p.relative_to(folder).as_posix()] = h.hexdigest()
    return out


def verify_manifest(folder: Path, prefix: str = "") -> dict[str, Any] | None:
    """The manifest of ``folder`` if every listed file under ``prefix`` has its checksum, else None.

    Examples
    --------
    >>> import tempfile
    >>> verify_manifest(Path(tempfile.mkdtemp())) is None
    True
    """
    try:
        man = json.loads((folder / MANIFEST).read_text())
        files = {k: v for k, v in man["files"].items() if k.startswith(prefix)}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not files:
        return None
    sub = folder / prefix if prefix else folder
    have = sha256_tree(sub) if sub.is_dir() else {}
    have = {(f"{prefix}/{k}" if prefix else k): v for k, v in have.items()}
    return man if have == files else None


def folder_state(folder: str | os.PathLike[str]) -> str:
    """``"complete"`` (the manifest verifies every file, no marker), ``"incomplete"`` (marker),
    ``"empty"``, ``"missing"`` or ``"unverified"`` (files without a valid manifest).

    Examples
    --------
    >>> import tempfile
    >>> folder_state(Path(tempfile.mkdtemp()) / "nothing")
    'missing'
    """
    p = Path(folder)
    if not p.is_dir():
        return "missing"
    if (p / MARKER).exists():
        return "incomplete"
    if not any(p.iterdir()):
        return "empty"
    man = verify_manifest(p)
    if man is None or set(man["files"]) != set(sha256_tree(p)):
        return "unverified"
    return "complete"


def _remove(folder: Path) -> None:
    """Delete a folder so that a kill at any moment leaves it marked ``.incomplete`` or empty."""
    if not folder.is_dir():
        return
    try:
        (folder / MARKER).write_text("being removed\n")
    except OSError:
        pass
    for child in folder.iterdir():
        if child.name == MARKER:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
    (folder / MARKER).unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2``); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a))


class OutputTransaction:
    """Write the products of one run into ``target`` all at once (see the module docstring).

    Parameters
    ----------
    target : str or Path
        The output folder.
    key : str, optional
        What produced the reusable products (e.g. a hash of the reduction settings); stored in
        the manifest and compared by :meth:`resume_datasets`.

    Raises
    ------
    OutputLockedError
        On entry, when another run holds the folder.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "r"
    >>> with OutputTransaction(out) as a:
    ...     try:
    ...         OutputTransaction(out).__enter__()
    ...     except OutputLockedError as err:
    ...         print(str(err).split(":")[0] == str(out))
    True
    """

    def __init__(self, target: str | os.PathLike[str], key: str = "") -> None:
        self.target = Path(target).absolute()
        self.key = key
        self.path = self.target  # replaced on entry
        self._fd: int | None = None
        self._manifest: dict[str, str] = {}
        #: Extra entries of the manifest (e.g. the order of the datasets).
        self.meta: dict[str, Any] = {}
        self.committed = False

    # -- names -----------------------------------------------------------------------------
    def _sibling(self, kind: str, tag: str = "") -> Path:
        return self.target.parent / f".{self.target.name}{kind}{tag}"

    def leftovers(self) -> list[Path]:
        """Temporary and old folders of earlier runs beside the target."""
        par = self.target.parent
        if not par.is_dir():
            return []
        pre = (f".{self.target.name}{_TMP}", f".{self.target.name}{_OLD}")
        return sorted(p for p in par.iterdir() if p.name.startswith(pre) and p != self.path)

    # -- entry / exit ----------------------------------------------------------------------
    def __enter__(self) -> OutputTransaction:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        if self.target.exists() and not self.target.is_dir():
            raise XgammaIOError("the output path exists and is not a folder", path=self.target)
        self._lock()
        self._repair()
        tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.path = self._sibling(_TMP, tag)
        self.path.mkdir()
        (self.path / MARKER).write_text(
            f"xgamma run in progress or killed: pid {os.getpid()}, started "
            f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, for {self.target}\n")
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self.committed:
            # a failed run: keep the old folder, drop the partial one (a kill leaves it to the
            # next run, which removes it)
            _remove(self.path)
        self._unlock()

    def _lock(self) -> None:
        lock = self._sibling(_LOCK)
        while True:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                try:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
                finally:
                    os.close(fd)
                raise OutputLockedError(
                    f"{self.target}: another xgamma run is writing this folder"
                    f"{f' (pid {holder})' if holder else ''}; wait for it or choose another --out"
                ) from None
            try:  # the file may have been removed by the previous holder after we opened it
                same = os.stat(lock).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.pwrite(fd, str(os.getpid()).encode(), 0)
                self._fd = fd
                return
            os.close(fd)

    def _unlock(self) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(self._sibling(_LOCK))
        except FileNotFoundError:
            pass
        os.close(self._fd)
        self._fd = None

    def _repair(self) -> None:
        """Finish a swap cut in half by a kill (only with two renames); forget nothing else."""
        if self.target.exists():
            return
        olds = sorted((p for p in self.leftovers() if _OLD in p.name), key=lambda p: p.stat().st_mtime)
        done = [p for p in self.leftovers() if _TMP in p.name and (p / MANIFEST).is_file()
                and not (p / MARKER).exists()]
        if done:  # the new set was complete: finish its swap
            os.rename(done[-1], self.target)
        elif olds:  # put the old set back
            os.rename(olds[-1], self.target)

    def clean(self) -> list[Path]:
        """Remove the temporary/old folders of killed runs (the lock is held); returns them."""
        gone = self.leftovers()
        for p in gone:
            _remove(p)
        return gone

    # -- products --------------------------------------------------------------------------
    def record(self, name: str) -> None:
        """Checksum the product ``name`` (file or folder) now and rewrite the manifest, so that
        a later ``--resume`` can verify it even if this run is killed."""
        p = self.path / name
        if p.is_dir():
            self._manifest.update({f"{name}/{k}": v for k, v in sha256_tree(p).items()})
        elif p.is_file():
            self._manifest[name] = sha256_tree(self.path).get(name, "")
        self._write_manifest()

    def _write_manifest(self) -> None:
        tmp = self.path / f".{MANIFEST}.tmp"
        tmp.write_text(json.dumps({"key": self.key, "meta": self.meta, "files": self._manifest}, indent=1, sort_keys=True))
        os.replace(tmp, self.path / MANIFEST)

    def commit(self) -> None:
        """Write the manifest of every file, remove the marker and swap the folder into place."""
        self._manifest = sha256_tree(self.path)
        self._write_manifest()
        (self.path / MARKER).unlink()
        if not self.target.exists():
            os.rename(self.path, self.target)
        elif not _exchange(self.path, self.target):
            old = self._sibling(_OLD, self.path.name.rsplit(_TMP, 1)[1])
            os.rename(self.target, old)
            os.rename(self.path, self.target)
            self.path = old
        # self.path now holds the old set (or nothing)
        _remove(self.path)
        self.path = self.target
        self.committed = True
        self.clean()

    # -- resume ----------------------------------------------------------------------------
    def resume_datasets(self, reader: Callable[[Path, dict[str, Any]], Any],
                        name: str = "datasets.zarr") -> Any:
        """``reader(path, manifest_meta)`` of ``name`` in the old folder or a killed run's folder
        whose manifest has this transaction's key and whose checksums match; None otherwise.

        A candidate whose ``reader`` raises (``OSError`` — e.g.
        :class:`~xgamma.io.zarr.ArchiveIntegrityError` when a child of a zarr tree fails its
        own manifest or chunk checksums —, ``ValueError``, ``KeyError``) is logged and skipped."""
        for folder in self._candidates():
            man = verify_manifest(folder, name)
            if man is None or man.get("key") != self.key:
                continue
            try:
                return reader(folder / name, dict(man.get("meta") or {}))
            except (OSError, ValueError, KeyError) as exc:  # e.g. a tree child fails its checksums
                logging.getLogger("xgamma.analysis").warning(
                    "resume: %s not reused: %s", folder / name, exc)
                continue
        return None

    def _candidates(self) -> Iterator[Path]:
        if self.target.is_dir() and not (self.target / MARKER).exists():
            yield self.target
        yield from (p for p in reversed(self.leftovers()) if _TMP in p.name)
