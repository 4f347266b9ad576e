"""A small, fast FITS reader for the binary tables of DL3 files.

Each file (gzip or plain) is read once, as a stream: headers are parsed card by card and
binary-table columns are viewed with ``numpy.frombuffer``; reading stops once the requested HDUs
are found. Exotic column formats (variable-length arrays, bit columns) fall back to
:mod:`astropy.io.fits`. :mod:`xgamma.io.gadf` builds events, GTIs and IRFs on top of it.

Examples
--------
>>> import xgamma as xg
>>> from xgamma.io.fits import read_header
>>> d = xg.data_dir(required=False)
>>> if d is not None:
...     h = read_header(d / "hess-dl3-dr1/data/hess_dl3_dr1_obs_id_023523.fits.gz", "EVENTS")
...     assert h["OBS_ID"] == 23523
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import astropy.units as u
import fsspec
import numpy as np
import pandas as pd

from xgamma.errors import XgammaIOError

__all__ = ["RawHDU", "Table", "is_url", "read_hdus", "read_header", "read_table", "table_from_hdu", "unit_factor"]

_BLOCK = 2880
STRUCTURAL_KEYS = re.compile(
    r"^(XTENSION|SIMPLE|BITPIX|NAXIS\d*|PCOUNT|GCOUNT|TFIELDS|EXTEND|END|"
    r"T(TYPE|FORM|UNIT|DIM|SCAL|ZERO|NULL|DISP)\d+)$"
)


class RawHDU(NamedTuple):
    """One HDU as read from the file: parsed header and the raw (big-endian) data bytes.

    Examples
    --------
    >>> RawHDU._fields[:2]
    ('number', 'name')
    """

    number: int
    name: str
    header: dict[str, Any]
    header_bytes: bytes
    data: bytes | memoryview
    path: str


class Table(NamedTuple):
    """Decoded binary table: native-endian column arrays and units by column name.

    Examples
    --------
    >>> Table._fields[:2]
    ('names', 'columns')
    """

    names: list[str]
    columns: dict[str, np.ndarray]
    units: dict[str, str]
    nrows: int


# ---------------------------------------------------------------------------------------------
# low-level FITS stream reading
# ---------------------------------------------------------------------------------------------


def _card_value(s: str) -> Any:
    s = s.lstrip()
    if not s:
        return None
    if s[0] == "'":
        parts, i = [], 1
        while True:
            j = s.find("'", i)
            if j < 0:
                parts.append(s[i:])
                break
            if s[j + 1 : j + 2] == "'":
                parts.append(s[i : j + 1])
                i = j + 2
                continue
            parts.append(s[i:j])
            break
        return "".join(parts).rstrip()
    v = s.split("/", 1)[0].strip()
    if v == "T":
        return True
    if v == "F":
        return False
    if v.lstrip("+-").isdigit():
        return int(v)
    try:
        return float(v.replace("D", "E"))
    except ValueError:
        return v or None


def _parse_cards(block: bytes, header: dict[str, Any]) -> bool:
    """Parse the 80-char cards of ``block`` into ``header``; True once END is seen."""
    text = block.decode("latin-1")
    for i in range(0, len(text), 80):
        card = text[i : i + 80]
        key = card[:8].rstrip()
        if key == "END":
            return True
        if card[8:10] == "= ":
            if key not in header:
                header[key] = _card_value(card[10:])
        elif key == "CONTINUE" and header:
            last = next(reversed(header))
            prev = header[last]
            if isinstance(prev, str) and prev.endswith("&"):
                more = _card_value(card[8:])
                header[last] = prev[:-1] + (more if isinstance(more, str) else "")
        elif key == "HIERARCH" and "=" in card:
            k, v = card[9:].split("=", 1)
            header.setdefault(k.strip(), _card_value(v))
    return False


class _Stream:
    """Sequential reader of a plain or gzip-compressed file, decompressing on demand.

    The compressed bytes are read at once; they are inflated in chunks only as far as needed,
    so reading the first HDUs of a file does not decompress the rest.
    """

    _CHUNK = 1 << 18

    def __init__(self, path: Path | str, whole: bool = False) -> None:
        self.path = path
        try:
            with (fsspec.open(str(path), "rb") if is_url(path) else open(path, "rb")) as fh:
                raw = fh.read()
        except FileNotFoundError:
            raise XgammaIOError("file not found", path=path,
                                expected="an existing FITS file") from None
        except OSError as exc:
            raise XgammaIOError(f"cannot read file ({exc})", path=path) from exc
        self.gz = raw[:2] == b"\x1f\x8b"
        self.raw = memoryview(raw)
        self.pos = 0  # input position (gzip) / output position (plain)
        self.buf = bytearray()
        self.off = 0
        self.dec = zlib.decompressobj(31) if self.gz else None
        if whole and self.gz:  # one call per member: zlib releases the GIL meanwhile
            self.raw, self.gz, self.dec = memoryview(self._inflate_all(raw)), False, None

    def _inflate_all(self, data: bytes) -> bytes:
        parts = []
        while True:
            dec = zlib.decompressobj(31)
            try:
                parts.append(dec.decompress(data))
            except zlib.error as exc:
                raise self._error(str(exc)) from exc
            if not dec.eof:
                raise self._error("compressed data end before the end-of-stream marker")
            data = dec.unused_data
            if not data.strip(b"\x00"):
                return parts[0] if len(parts) == 1 else b"".join(parts)

    def _error(self, why: str) -> XgammaIOError:
        return XgammaIOError(f"corrupt or truncated gzip stream ({why})", path=self.path,
                             expected="a complete gzip-compressed FITS file")

    def _fill(self, n: int) -> None:
        while len(self.buf) - self.off < n:
            assert self.dec is not None
            if self.dec.eof:
                rest = self.dec.unused_data + bytes(self.raw[self.pos:])
                if not rest.strip(b"\x00"):
                    return  # end of the last gzip member (possibly zero-padded)
                self.dec, self.raw, self.pos = zlib.decompressobj(31), memoryview(rest), 0
            if self.pos >= len(self.raw):
                raise self._error("compressed data end before the end-of-stream marker")
            step = max(self._CHUNK, (n - len(self.buf) + self.off) // 4)
            try:
                self.buf += self.dec.decompress(self.raw[self.pos : self.pos + step])
            except zlib.error as exc:
                raise self._error(str(exc)) from exc
            self.pos += step
            if self.off > (1 << 22):
                del self.buf[: self.off]
                self.off = 0

    def read(self, n: int) -> bytes | memoryview:
        """Up to ``n`` bytes (fewer only at the end of the file); a zero-copy view if plain."""
        if not self.gz:
            view = self.raw[self.pos : self.pos + n]
            self.pos += len(view)
            return view
        self._fill(n)
        out = bytes(self.buf[self.off : self.off + n])
        self.off += len(out)
        return out

    def skip(self, n: int) -> int:
        """Skip ``n`` bytes; returns how many were skipped."""
        if not self.gz:
            k = min(n, len(self.raw) - self.pos)
            self.pos += k
            return k
        self._fill(n)
        k = min(n, len(self.buf) - self.off)
        self.off += k
        return k


def _data_size(h: Mapping[str, Any]) -> int:
    naxis = int(h.get("NAXIS", 0) or 0)
    if naxis == 0:
        return 0
    n = 1
    for i in range(1, naxis + 1):
        n *= int(h.get(f"NAXIS{i}", 0) or 0)
    return abs(int(h.get("BITPIX", 8))) // 8 * int(h.get("GCOUNT", 1) or 1) * (
        int(h.get("PCOUNT", 0) or 0) + n
    )


def _hdu_name(h: Mapping[str, Any], index: int) -> str:
    name = h.get("EXTNAME")
    if isinstance(name, str) and name.strip():
        return name.strip().upper()
    return "PRIMARY" if index == 0 else ""


def _matches(wanted: set[Any], name: str, index: int) -> bool:
    return index in wanted or (bool(name) and name in wanted)


def is_url(path: Any) -> bool:
    """True for an fsspec URL other than a local file (``s3://``, ``https://``, ``memory://``).

    Remote files are read whole through :func:`fsspec.open`; credentials and endpoints come from
    fsspec's configuration (e.g. ``FSSPEC_S3_ENDPOINT_URL`` or the usual ``AWS_*`` variables).

    Examples
    --------
    >>> is_url("s3://bucket/run.fits.gz"), is_url("/data/run.fits"), is_url("file:///data/run.fits")
    (True, False, False)
    """
    s = str(path)
    return isinstance(path, str) and "://" in s and not s.startswith("file://")


def read_hdus(path: str | Path, hdus: Iterable[str | int] | None = None,
              whole: bool | None = None) -> list[RawHDU]:
    """Read the headers and raw data of (some of) the HDUs of a FITS file, in one pass.

    Parameters
    ----------
    path : str or Path
        FITS file, plain or gzip-compressed.
    hdus : iterable of str or int, optional
        HDU names (case-insensitive EXTNAME) or indices to return; reading stops once all are
        found. Default: all HDUs.
    whole : bool, optional
        Decompress the whole file in one go (faster when most of it is needed, and lets other
        threads run meanwhile); default: True when all HDUs are read.

    Returns
    -------
    list of RawHDU
        In file order.

    Raises
    ------
    XgammaIOError
        Missing file, corrupt or truncated file, or a requested HDU that is absent.

    Examples
    --------
    >>> import xgamma as xg
    >>> d = xg.data_dir(required=False)
    >>> if d is not None:
    ...     hs = read_hdus(d / "hess-dl3-dr1/data/hess_dl3_dr1_obs_id_023523.fits.gz", ["EVENTS"])
    ...     assert hs[0].header["OBS_ID"] == 23523
    """
    path = path if is_url(path) else Path(path)
    wanted: set[Any] | None = None
    if hdus is not None:
        wanted = {h.strip().upper() if isinstance(h, str) else int(h) for h in hdus}
    found: list[RawHDU] = []
    names: list[str] = []
    stream = _Stream(path, whole=hdus is None if whole is None else whole)
    index = 0
    while True:
        header: dict[str, Any] = {}
        blocks: list[bytes] = []
        while True:
            block = bytes(stream.read(_BLOCK))
            if not blocks and (not block or not block.strip(b"\x00 ")):
                block = b""
                break
            if len(block) < _BLOCK:
                raise XgammaIOError(f"file ends inside the header of HDU {index}", path=path,
                                    expected="a complete FITS file")
            if not blocks and not block.startswith(b"SIMPLE" if index == 0 else b"XTENSION"):
                if index == 0:
                    raise XgammaIOError("not a FITS file", path=path, expected="FITS (SIMPLE = T)")
                block = b""  # trailing bytes after the last HDU: ignored
                break
            blocks.append(block)
            if _parse_cards(block, header):
                break
        if not blocks:
            if index == 0:
                raise XgammaIOError("not a FITS file (empty)", path=path, expected="FITS data")
            break
        name = _hdu_name(header, index)
        names.append(name or str(index))
        size = _data_size(header)
        padded = size + (-size) % _BLOCK
        if wanted is None or _matches(wanted, name, index):
            data = stream.read(size)
            stream.skip(padded - size)
            found.append(RawHDU(index, name, header, b"".join(blocks), data, str(path)))
        else:
            data = b""
            if stream.skip(size) == size:
                stream.skip(padded - size)
                size = 0
        if len(data) < size:
            raise XgammaIOError(
                f"file ends inside the data of HDU {name or index} ({len(data)} of {size} bytes)",
                path=path, hdu=name or index, expected="a complete FITS file")
        if wanted is not None and all(any(_matches({w}, h.name, h.number) for h in found)
                                      for w in wanted):
            break
        index += 1
    if wanted is not None:
        missing = [w for w in wanted if not any(_matches({w}, h.name, h.number) for h in found)]
        if missing:
            raise XgammaIOError(
                f"no HDU {', '.join(map(str, missing))}", path=path, hdu=missing[0],
                expected=f"one of {names}",
            )
    return found


def read_header(path: str | Path, hdu: str | int = 1) -> dict[str, Any]:
    """The header of one HDU as a dict (first occurrence of a keyword wins).

    Examples
    --------
    >>> import xgamma as xg
    >>> d = xg.data_dir(required=False)
    >>> if d is not None:
    ...     h = read_header(d / "hess-dl3-dr1/data/hess_dl3_dr1_obs_id_023523.fits.gz", "AEFF")
    ...     assert h["HDUCLAS2"] == "EFF_AREA"
    """
    return read_hdus(path, [hdu])[0].header


# ---------------------------------------------------------------------------------------------
# binary tables
# ---------------------------------------------------------------------------------------------

_TFORM = re.compile(r"^\s*(\d*)([LXBIJKAEDCMPQ])")
_FMT = {"L": "i1", "B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "E": ">f4", "D": ">f8",
        "C": ">c8", "M": ">c16"}
_SIZE = {"L": 1, "B": 1, "I": 2, "J": 4, "K": 8, "A": 1, "E": 4, "D": 8, "C": 8, "M": 16,
         "P": 8, "Q": 16}


def _tdim(s: Any) -> tuple[int, ...] | None:
    if not isinstance(s, str):
        return None
    try:
        return tuple(int(v) for v in s.strip().strip("()").split(",") if v.strip())
    except ValueError:
        return None


def _scaled(arr: np.ndarray, code: str, scale: Any, zero: Any) -> np.ndarray:
    scale = 1 if scale is None else scale
    zero = 0 if zero is None else zero
    if scale == 1 and zero == 0:
        return arr
    if scale == 1 and isinstance(zero, int | float) and float(zero).is_integer():
        if code == "K" and zero == 2**63:
            return arr.view(np.uint64) ^ np.uint64(2**63)
        if code in "BIJK":
            return arr.astype(np.int64) + int(zero)
    return arr * float(scale) + float(zero)


def _astropy_columns(hdu: RawHDU, names: list[str]) -> dict[str, np.ndarray]:
    from astropy.io import fits

    raw = hdu.header_bytes + hdu.data + b"\x00" * ((-len(hdu.data)) % _BLOCK)
    tab = fits.BinTableHDU.fromstring(raw)
    return {n: np.asarray(tab.data[n]) for n in names}


def table_from_hdu(hdu: RawHDU, columns: Iterable[str] | None = None) -> Table:
    """Decode a BINTABLE HDU into native-endian numpy columns.

    Numeric columns with a repeat count get shape ``(nrows, *reversed(TDIM))`` (C order);
    ``A`` columns become arrays of ``str``; ``L`` become bool; TSCAL/TZERO are applied.

    Examples
    --------
    >>> import xgamma as xg
    >>> d = xg.data_dir(required=False)
    >>> if d is not None:
    ...     h = read_hdus(d / "hess-dl3-dr1/data/hess_dl3_dr1_obs_id_023523.fits.gz", ["AEFF"])[0]
    ...     assert table_from_hdu(h).columns["EFFAREA"].shape == (1, 6, 96)
    """
    h = hdu.header
    if h.get("XTENSION", "").strip() not in ("BINTABLE", "A3DTABLE"):
        raise XgammaIOError("not a binary table", path=hdu.path, hdu=hdu.name or hdu.number,
                            expected="XTENSION = BINTABLE")
    nrows, width = int(h.get("NAXIS2", 0)), int(h.get("NAXIS1", 0))
    nfields = int(h.get("TFIELDS", 0))
    want = None if columns is None else {c.upper() for c in columns}
    names: list[str] = []
    units: dict[str, str] = {}
    spec: list[tuple[str, str, int, int, tuple[int, ...] | None, int]] = []
    fallback: list[str] = []
    offset = 0
    for i in range(1, nfields + 1):
        name = str(h.get(f"TTYPE{i}", f"COL{i}")).strip()
        m = _TFORM.match(str(h.get(f"TFORM{i}", "")))
        if not m:
            raise XgammaIOError(f"unreadable TFORM{i} {h.get(f'TFORM{i}')!r}", path=hdu.path,
                                hdu=hdu.name, expected="a FITS binary-table format")
        rep, code = int(m.group(1) or 1), m.group(2)
        size = (rep + 7) // 8 if code == "X" else rep * _SIZE[code]
        names.append(name)
        if want is None or name.upper() in want:
            units[name] = str(h.get(f"TUNIT{i}", "") or "").strip()
            if code in "PQX":
                fallback.append(name)
            else:
                spec.append((name, code, rep, offset, _tdim(h.get(f"TDIM{i}")), i))
        offset += size
    if offset != width:
        raise XgammaIOError(f"row width {offset} from TFORMs does not match NAXIS1 = {width}",
                            path=hdu.path, hdu=hdu.name, expected="a consistent table header")
    if len(hdu.data) < nrows * width:
        raise XgammaIOError("table data shorter than NAXIS1 * NAXIS2", path=hdu.path, hdu=hdu.name)
    out: dict[str, np.ndarray] = {}
    if spec and nrows:
        formats: list[Any] = []
        for _, code, rep, _, _, _ in spec:
            base = f"S{rep}" if code == "A" else _FMT[code]
            formats.append(base if (rep == 1 or code == "A") else (base, (rep,)))
        dt = np.dtype({"names": [f"c{k}" for k in range(len(spec))], "formats": formats,
                       "offsets": [s[3] for s in spec], "itemsize": width})
        rec = np.frombuffer(hdu.data, dtype=dt, count=nrows)
    for k, (name, code, rep, _, tdim, i) in enumerate(spec):
        if not nrows:
            empty = np.dtype("U1") if code == "A" else np.dtype(_FMT[code]).newbyteorder("=")
            out[name] = np.empty((0,) if rep == 1 or code == "A" else (0, rep), dtype=empty)
            continue
        col = rec[f"c{k}"]
        if code == "A":
            arr = np.char.rstrip(np.char.decode(col, "latin-1")).astype(object)
        elif code == "L":
            arr = col == ord("T")
        else:
            arr = col.astype(col.dtype.base.newbyteorder("="))
            arr = _scaled(arr, code, h.get(f"TSCAL{i}"), h.get(f"TZERO{i}"))
            if rep > 1 and tdim and int(np.prod(tdim)) == rep:
                arr = arr.reshape((nrows, *tdim[::-1]))
        out[name] = arr
    if fallback:
        out.update(_astropy_columns(hdu, fallback))
    if want is not None:
        names = [n for n in names if n.upper() in want]
    return Table(names, out, units, nrows)


def read_table(path: str | Path, hdu: str | int = 1) -> pd.DataFrame:
    """Read a FITS binary table as a DataFrame with lower-case columns.

    Multi-dimensional columns are dropped (listed in ``attrs["dropped_columns"]``); units
    are in ``attrs["units"]`` and the header cards in ``attrs["meta"]``.

    Examples
    --------
    >>> import xgamma as xg
    >>> d = xg.data_dir(required=False)
    >>> if d is not None:
    ...     t = read_table(d / "hess-dl3-dr1/obs-index.fits.gz")
    ...     assert len(t) == 105
    """
    raw = read_hdus(path, [hdu])[0]
    return _frame(table_from_hdu(raw), raw)


def lower_names(names: list[str]) -> dict[str, str]:
    """Lower-case column names; on a clash the upper-case (GADF) column keeps the name."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    order = sorted(names, key=lambda n: n != n.upper())
    for n in order:
        low = n.lower()
        new, k = low, 1
        while new in taken:
            new, k = f"{low}_{k}", k + 1
        out[n] = new
        taken.add(new)
    return {n: out[n] for n in names}


def header_meta(header: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in header.items() if not STRUCTURAL_KEYS.match(k)}


def _frame(tab: Table, raw: RawHDU) -> pd.DataFrame:
    rename = lower_names(tab.names)
    data: dict[str, Any] = {}
    dropped: list[str] = []
    for n in tab.names:
        arr = tab.columns[n]
        if arr.ndim > 1:
            dropped.append(n)
            continue
        data[rename[n]] = arr
    df = pd.DataFrame(data, copy=False)
    df.attrs["units"] = {rename[n]: tab.units.get(n, "") for n in tab.names if n not in dropped}
    df.attrs["meta"] = header_meta(raw.header)
    if dropped:
        df.attrs["dropped_columns"] = dropped
    return df


# ---------------------------------------------------------------------------------------------
# units
# ---------------------------------------------------------------------------------------------


def _parse_unit(s: str) -> u.UnitBase:
    s = s.strip()
    for fmt in ("generic", "ogip", "cds"):
        try:
            return u.Unit(s, format=fmt)
        except ValueError:
            pass
    if "/" in s:  # e.g. "1/s/MeV/sr"
        num, *den = s.split("/")
        return u.Unit(num or "1") / u.Unit(" ".join(den))
    raise ValueError(s)


#: Unit strings of the GADF/OGIP files at hand, parsed once at import (an immutable table, not a
#: cache): parsing a unit string costs ~50 us, and a DL3 file has a dozen of them.
_KNOWN_UNITS: Mapping[str, u.UnitBase] = {
    s: _parse_unit(s) for s in (
        "", "s", "deg", "TeV", "GeV", "MeV", "keV", "m2", "cm2", "sr-1", "sr^-1", "1/sr", "sr**-1",
        "MeV-1 s-1 sr-1", "1 / (MeV s sr)", "s-1 MeV-1 sr-1", "s^-1 MeV^-1 sr^-1", "1/s/MeV/sr",
        "s-1 TeV-1 sr-1", "1 / (TeV s sr)", "cm2 s", "m2 s", "rad", "m", "arcmin",
    )
}


def parse_unit(s: str) -> u.UnitBase:
    known = _KNOWN_UNITS.get(s) or _KNOWN_UNITS.get(s.strip())
    return known if known is not None else _parse_unit(s)


def _factor(src: str, dst: str) -> float:
    return float(parse_unit(src).to(parse_unit(dst)))


def unit_factor(src: str, dst: str, path: Any = None, hdu: Any = None, what: str = "") -> float:
    """Scale factor from unit string ``src`` to ``dst`` (raises XgammaIOError).

    Examples
    --------
    >>> unit_factor("m2", "cm2")
    10000.0
    >>> unit_factor("1/s/MeV/sr", "s-1 TeV-1 sr-1")
    1000000.0
    """
    try:
        return _factor(src, dst)
    except (ValueError, u.UnitsError, TypeError) as exc:
        raise XgammaIOError(
            f"unparseable or incompatible unit {src!r}{' of ' + what if what else ''}",
            path=path, hdu=hdu, expected=f"a unit convertible to {dst!r}",
        ) from exc
