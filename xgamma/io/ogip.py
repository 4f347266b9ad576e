"""OGIP spectra (PHA + BKG + ARF + RMF) to and from 1D spectrum datasets.

:func:`read_ogip` returns the ON/OFF "region" dataset of :mod:`xgamma.fold`: ``counts``,
``counts_off``, ``acceptance``, ``acceptance_off`` (reco ``energy``), ``exposure``
(``energy_true``, cm2 s), ``edisp`` (``energy_true``, ``energy``) and ``mask_safe``.

Conventions and quirks handled:

- BACKFILE / ANCRFILE / RESPFILE header keys name the other files, relative to the PHA's folder;
  explicit paths override them. Without an RMF the dispersion is the identity.
- Energies are converted to TeV from the column units (keV when a column has no unit, as OGIP
  says); ARF units are converted (e.g. Gammapy's ``m2 s h-1``) to cm2.
- ``exposure = SPECRESP * EXPOSURE``: right also for Fermi-LAT spectra whose ``EXPOSURE`` is 1 and
  whose ARF holds the exposure.
- ``acceptance = BACKSCAL * AREASCAL`` of the PHA; ``acceptance_off = BACKSCAL * AREASCAL`` of the
  BKG times ``EXPOSURE_bkg / EXPOSURE``, so that ``alpha = acceptance / acceptance_off`` is the
  usual OGIP background scaling; BACKSCAL/AREASCAL may be header keys or columns.
- ``mask_safe``: ``QUALITY == 0`` (integer or logical column); without a QUALITY column, the
  ``LO_THRES``/``HI_THRES`` header keys [TeV] (kept as attrs ``energy_threshold_low/high``).
- Every ``OBS_ID`` card is read (stacked spectra carry hundreds of them).
- RMF ``MATRIX`` rows are variable-length groups (``N_GRP``, ``F_CHAN``, ``N_CHAN``), first channel
  from ``TLMIN`` of ``F_CHAN`` (default 1).

Examples
--------
>>> from xgamma._paths import data_dir
>>> from xgamma.io.ogip import read_ogip
>>> d = data_dir(required=False)
>>> if d is not None:
...     ds = read_ogip(d / "joint-crab/spectra/magic/pha_obs5029747.fits")
...     assert int(ds.counts.where(ds.mask_safe).sum()) == 429
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.io import fits

from xgamma.axes import axis_from_edges
from xgamma.errors import XgammaIOError
from xgamma.obs import concat_obs

__all__ = ["read_ogip", "write_ogip"]


def _hdu(hdul: fits.HDUList, names: Sequence[str], path: Path, clas1: str | None = None) -> Any:
    for n in names:
        if n in hdul:
            return hdul[n]
    if clas1 is not None:
        for h in hdul[1:]:
            if str(h.header.get("HDUCLAS1", "")).strip().upper() == clas1:
                return h
    raise XgammaIOError("HDU not found", path=path, hdu="/".join(names), expected=" or ".join(names))


def _col(hdu: Any, name: str, path: Path) -> np.ndarray:
    if name not in hdu.columns.names:
        raise XgammaIOError(f"missing column {name}", path=path, hdu=hdu.name, expected=name)
    return np.asarray(hdu.data[name])


def _energy_col(hdu: Any, name: str, path: Path) -> np.ndarray:
    unit = hdu.columns[name].unit or "keV"
    return np.asarray(_col(hdu, name, path), dtype=float) * u.Unit(unit).to("TeV")


def _scal(hdu: Any, key: str, n: int) -> np.ndarray:
    """A BACKSCAL/AREASCAL-like value: column, header key, or 1."""
    if hdu.columns is not None and key in hdu.columns.names:
        return np.asarray(hdu.data[key], dtype=float)
    return np.full(n, float(hdu.header.get(key, 1.0)))


def _obs_ids(header: fits.Header) -> list[Any]:
    ids: list[Any] = []
    for card in header.cards:
        if card.keyword == "OBS_ID":
            v = card.value
            try:
                v = int(v)
            except (TypeError, ValueError):
                v = str(v).strip()
            ids.append(v)
    return ids


def _resolve(path: Path, key: str, header: fits.Header, given: str | Path | None) -> Path | None:
    if given is not None:
        return Path(given)
    val = str(header.get(key, "") or "").strip()
    if not val or val.lower() == "none":
        return None
    p = Path(val.split("{")[0].split("[")[0])
    return p if p.is_absolute() else path.parent / p


def _read_spectrum(path: Path) -> dict[str, Any]:
    try:
        hdul = fits.open(path)
    except OSError as exc:
        raise XgammaIOError(f"cannot open: {exc}", path=path) from exc
    with hdul:
        hdu = _hdu(hdul, ["SPECTRUM"], path, clas1="SPECTRUM")
        n = len(hdu.data)
        exposure = float(hdu.header.get("EXPOSURE", 1.0))
        if "COUNTS" in hdu.columns.names:
            counts = np.asarray(hdu.data["COUNTS"], dtype=float)
        elif "RATE" in hdu.columns.names:
            counts = np.asarray(hdu.data["RATE"], dtype=float) * exposure
        else:
            raise XgammaIOError("no COUNTS or RATE column", path=path, hdu=hdu.name, expected="COUNTS")
        quality = None
        if "QUALITY" in hdu.columns.names:
            quality = np.asarray(hdu.data["QUALITY"]).astype(int)
        ebounds = None
        if "EBOUNDS" in hdul:
            eb = hdul["EBOUNDS"]
            ebounds = (_energy_col(eb, "E_MIN", path), _energy_col(eb, "E_MAX", path))
        head = hdu.header.copy()
        return {
            "counts": counts,
            "quality": quality,
            "backscal": _scal(hdu, "BACKSCAL", n),
            "areascal": _scal(hdu, "AREASCAL", n),
            "exposure": exposure,
            "ebounds": ebounds,
            "header": head,
        }


def _read_arf(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with fits.open(path) as hdul:
        hdu = _hdu(hdul, ["SPECRESP"], path, clas1="RESPONSE")
        lo = _energy_col(hdu, "ENERG_LO", path)
        hi = _energy_col(hdu, "ENERG_HI", path)
        unit = hdu.columns["SPECRESP"].unit or "cm2"
        area = np.asarray(_col(hdu, "SPECRESP", path), dtype=float) * u.Unit(unit).to("cm2")
    return lo, hi, area


def _read_rmf(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    with fits.open(path) as hdul:
        hdu = _hdu(hdul, ["MATRIX", "SPECRESP MATRIX"], path)
        lo = _energy_col(hdu, "ENERG_LO", path)
        hi = _energy_col(hdu, "ENERG_HI", path)
        n_grp = np.asarray(_col(hdu, "N_GRP", path), dtype=int)
        f_chan = hdu.data["F_CHAN"]
        n_chan = hdu.data["N_CHAN"]
        matrix = hdu.data["MATRIX"]
        icol = hdu.columns.names.index("F_CHAN") + 1
        tlmin = int(hdu.header.get(f"TLMIN{icol}", 1))
        ebounds = None
        if "EBOUNDS" in hdul:
            eb = hdul["EBOUNDS"]
            ebounds = (_energy_col(eb, "E_MIN", path), _energy_col(eb, "E_MAX", path))
        nchan = int(hdu.header.get("DETCHANS", 0)) or (len(ebounds[0]) if ebounds else 0)
        out = np.zeros((len(lo), nchan))
        for i in range(len(lo)):
            fc = np.atleast_1d(np.asarray(f_chan[i], dtype=int))
            nc = np.atleast_1d(np.asarray(n_chan[i], dtype=int))
            row = np.atleast_1d(np.asarray(matrix[i], dtype=float))
            k = 0
            for g in range(min(n_grp[i], len(fc))):
                start = fc[g] - tlmin
                out[i, start : start + nc[g]] = row[k : k + nc[g]]
                k += nc[g]
    return lo, hi, out, ebounds


def _region_from_hdu(path: Path) -> str | None:
    try:
        with fits.open(path) as hdul:
            if "REGION" not in hdul:
                return None
            from astropy.wcs import WCS

            hdu = hdul["REGION"]
            shape = str(hdu.data["SHAPE"][0]).strip().lower()
            wcs = WCS(hdu.header, naxis=2)
            sky = wcs.pixel_to_world(float(hdu.data["X"][0]), float(hdu.data["Y"][0]))
            frame = "galactic" if sky.frame.name == "galactic" else "icrs"
            lon, lat = (sky.l.deg, sky.b.deg) if frame == "galactic" else (sky.ra.deg, sky.dec.deg)
            if shape == "circle":
                r = float(hdu.data["R"][0]) * abs(float(wcs.wcs.cdelt[1]))
                return f"{frame};circle({lon:.6f},{lat:.6f},{r:.6f})"
            return f"{frame};{shape}({lon:.6f},{lat:.6f})"
    except Exception:  # the region is optional information: never fail the read for it
        return None


def _read_one(pha: Path, bkg: str | Path | None, arf: str | Path | None, rmf: str | Path | None,
              name: str | None) -> xr.Dataset:
    on = _read_spectrum(pha)
    head = on["header"]
    bkg_p = _resolve(pha, "BACKFILE", head, bkg)
    arf_p = _resolve(pha, "ANCRFILE", head, arf)
    rmf_p = _resolve(pha, "RESPFILE", head, rmf)
    if arf_p is None:
        raise XgammaIOError("no ARF (ANCRFILE empty and no arf= given)", path=pha, expected="ANCRFILE")
    et_lo, et_hi, area = _read_arf(arf_p)
    ebounds = on["ebounds"]
    if rmf_p is not None:
        rt_lo, rt_hi, matrix, rmf_eb = _read_rmf(rmf_p)
        if not np.allclose(rt_lo, et_lo, rtol=1e-5) or not np.allclose(rt_hi, et_hi, rtol=1e-5):
            raise XgammaIOError("RMF and ARF true-energy bins differ", path=rmf_p, hdu="MATRIX",
                                expected="the ARF's ENERG_LO/ENERG_HI")
        ebounds = ebounds or rmf_eb
    else:
        matrix = np.eye(len(et_lo))
        ebounds = ebounds or (et_lo, et_hi)
    if ebounds is None:
        raise XgammaIOError("no EBOUNDS in PHA or RMF", path=pha, hdu="EBOUNDS", expected="EBOUNDS")
    n = len(on["counts"])
    if len(ebounds[0]) != n or matrix.shape[1] != n:
        raise XgammaIOError(f"{n} channels but {len(ebounds[0])} EBOUNDS rows / {matrix.shape[1]} RMF channels",
                            path=pha, hdu="SPECTRUM", expected="matching channel counts")
    e_reco = axis_from_edges(np.append(ebounds[0], ebounds[1][-1]), "energy", unit="TeV")
    e_true = axis_from_edges(np.append(et_lo, et_hi[-1]), "energy_true", unit="TeV")
    livetime = on["exposure"]
    thr_lo = head.get("LO_THRES")
    thr_hi = head.get("HI_THRES")
    if on["quality"] is not None:
        mask = on["quality"] == 0
    else:
        mask = np.ones(n, dtype=bool)
        lo_e, hi_e = np.asarray(e_reco.energy_min), np.asarray(e_reco.energy_max)
        if thr_lo is not None:
            mask &= lo_e >= float(thr_lo) * (1 - 1e-6)
        if thr_hi is not None:
            mask &= hi_e <= float(thr_hi) * (1 + 1e-6)
    coords = {**e_reco.coords, **e_true.coords}
    data_vars: dict[str, Any] = {
        "counts": (("energy",), on["counts"], {"units": ""}),
        "acceptance": (("energy",), on["backscal"] * on["areascal"], {"units": ""}),
        "exposure": (("energy_true",), area * livetime, {"units": "cm2 s"}),
        "edisp": (("energy_true", "energy"), matrix, {"units": ""}),
        "mask_safe": (("energy",), mask),
    }
    if bkg_p is not None:
        off = _read_spectrum(bkg_p)
        if len(off["counts"]) != n:
            raise XgammaIOError(f"BKG has {len(off['counts'])} channels, PHA {n}", path=bkg_p, hdu="SPECTRUM")
        ratio = off["exposure"] / livetime if livetime else 1.0
        data_vars["counts_off"] = (("energy",), off["counts"], {"units": ""})
        data_vars["acceptance_off"] = (("energy",), off["backscal"] * off["areascal"] * ratio, {"units": ""})
    ids = _obs_ids(head)
    stem = pha.name.split(".")[0]
    if name is None:
        name = stem[4:] if stem.lower().startswith("pha_") else stem
    instrument = str(head.get("INSTRUME", head.get("TELESCOP", "")) or "").strip()
    attrs: dict[str, Any] = {
        "name": name,
        "livetime": livetime,
        "obs_id": ids[0] if len(ids) == 1 else ids,
        "instrument": instrument,
        "geom": "region",
    }
    region = str(head.get("XGREGION", "") or "") or _region_from_hdu(pha)
    if region:
        attrs["region"] = region
    if thr_lo is not None:
        attrs["energy_threshold_low"] = float(thr_lo)
    if thr_hi is not None:
        attrs["energy_threshold_high"] = float(thr_hi)
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def read_ogip(pha: str | Path | Sequence[str | Path], bkg: str | Path | None = None,
              arf: str | Path | None = None, rmf: str | Path | None = None,
              name: str | None = None) -> xr.Dataset:
    """Read an OGIP spectrum (PHA with its BKG, ARF and RMF) as a 1D ON/OFF dataset.

    Parameters
    ----------
    pha : str, Path or list of them
        PHA file(s). A list of spectra with the same binning is stacked along ``obs``.
    bkg, arf, rmf : str or Path, optional
        Override the BACKFILE/ANCRFILE/RESPFILE header keys (single file only).
    name : str, optional
        Dataset name (default: the PHA file name without ``pha_`` and extension).

    Returns
    -------
    xarray.Dataset
        See :mod:`xgamma.fold` for the layout.

    Examples
    --------
    >>> from xgamma._paths import data_dir
    >>> d = data_dir(required=False)
    >>> if d is not None:
    ...     files = sorted((d / "joint-crab/spectra/hess").glob("pha_*.fits"))
    ...     ds = read_ogip(files, name="hess")
    ...     assert ds.sizes["obs"] == 4 and ds.attrs["name"] == "hess"
    """
    if isinstance(pha, (str, Path)):
        return _read_one(Path(pha), bkg, arf, rmf, name)
    paths = [Path(p) for p in pha]
    if not paths:
        raise ValueError("read_ogip: empty list of files")
    if any(x is not None for x in (bkg, arf, rmf)) and len(paths) > 1:
        raise ValueError("bkg/arf/rmf overrides need a single PHA file")
    parts = [_read_one(p, bkg, arf, rmf, None) for p in paths]
    if len(parts) == 1:
        return parts[0] if name is None else parts[0].assign_attrs(name=name)

    return concat_obs(parts, name=name)


# --------------------------------------------------------------------------------------------
# writing


def _ebounds_hdu(lo: np.ndarray, hi: np.ndarray) -> fits.BinTableHDU:
    cols = [
        fits.Column("CHANNEL", "J", array=np.arange(len(lo))),
        fits.Column("E_MIN", "D", unit="keV", array=lo * 1e9),
        fits.Column("E_MAX", "D", unit="keV", array=hi * 1e9),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="EBOUNDS")
    hdu.header.update({"HDUCLASS": "OGIP", "HDUCLAS1": "RESPONSE", "HDUCLAS2": "EBOUNDS",
                       "CHANTYPE": "PHA", "DETCHANS": len(lo)})
    return hdu


def _spectrum_hdu(counts: np.ndarray, quality: np.ndarray, backscal: np.ndarray, exposure: float,
                  clas2: str, extra: dict[str, Any]) -> fits.BinTableHDU:
    is_int = np.all(np.mod(counts, 1) == 0)
    cols = [
        fits.Column("CHANNEL", "J", array=np.arange(len(counts))),
        fits.Column("COUNTS", "J" if is_int else "D", array=counts.astype(np.int64) if is_int else counts),
        fits.Column("QUALITY", "I", array=quality.astype(np.int16)),
        fits.Column("BACKSCAL", "D", array=backscal),
        fits.Column("AREASCAL", "D", array=np.ones(len(counts))),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="SPECTRUM")
    hdu.header.update({"HDUCLASS": "OGIP", "HDUCLAS1": "SPECTRUM", "HDUCLAS2": clas2,
                       "HDUCLAS3": "COUNT", "HDUCLAS4": "TYPE:1", "CHANTYPE": "PHA",
                       "DETCHANS": len(counts), "POISSERR": True, "EXPOSURE": exposure})
    for k, v in extra.items():
        if v is not None:
            hdu.header[k] = v
    return hdu


def _rmf_hdu(e_lo: np.ndarray, e_hi: np.ndarray, matrix: np.ndarray) -> fits.BinTableHDU:
    f_chan, n_chan, rows, n_grp = [], [], [], []
    for row in matrix:
        nz = np.flatnonzero(row != 0)
        starts, lengths = [], []
        if nz.size:
            breaks = np.flatnonzero(np.diff(nz) > 1)
            seg_start = np.concatenate([[0], breaks + 1])
            seg_end = np.concatenate([breaks, [nz.size - 1]])
            starts = [int(nz[a]) for a in seg_start]
            lengths = [int(nz[b] - nz[a] + 1) for a, b in zip(seg_start, seg_end, strict=True)]
        f_chan.append(np.array(starts, dtype=np.int16))
        n_chan.append(np.array(lengths, dtype=np.int16))
        rows.append(np.concatenate([row[s : s + n] for s, n in zip(starts, lengths, strict=True)]).astype(np.float32)
                    if starts else np.zeros(0, np.float32))
        n_grp.append(len(starts))
    cols = [
        fits.Column("ENERG_LO", "D", unit="keV", array=e_lo * 1e9),
        fits.Column("ENERG_HI", "D", unit="keV", array=e_hi * 1e9),
        fits.Column("N_GRP", "I", array=np.array(n_grp, dtype=np.int16)),
        fits.Column("F_CHAN", "PI()", array=np.array(f_chan, dtype=object)),
        fits.Column("N_CHAN", "PI()", array=np.array(n_chan, dtype=object)),
        fits.Column("MATRIX", "PE()", array=np.array(rows, dtype=object)),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="MATRIX")
    hdu.header.update({"HDUCLASS": "OGIP", "HDUCLAS1": "RESPONSE", "HDUCLAS2": "RSP_MATRIX",
                       "CHANTYPE": "PHA", "DETCHANS": matrix.shape[1], "TLMIN4": 0})
    return hdu


def write_ogip(dataset: xr.Dataset, folder: str | Path, overwrite: bool = False) -> list[Path]:
    """Write a 1D dataset as OGIP files ``pha_/bkg_/arf_/rmf_<stem>.fits`` (one set per ``obs``).

    The stem is ``obs<obs_id>`` (or the dataset name). Energies are written in keV, the ARF as
    ``exposure / livetime`` [cm2] with ``EXPOSURE = livetime``; ``read_ogip`` reads the files back
    to the same dataset (RMF values at float32 precision). Datasets without ``counts_off`` get no
    BKG file (a modelled ``background`` is not an OGIP quantity and is not written).

    Returns
    -------
    list of Path
        The PHA files written.

    Examples
    --------
    >>> import tempfile
    >>> from xgamma.fold import example_dataset
    >>> ds = example_dataset()
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     [p] = write_ogip(ds, tmp)
    ...     back = read_ogip(p)
    ...     assert (back.counts == ds.counts).all()
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if "obs" in dataset.dims:
        out: list[Path] = []
        for i in range(dataset.sizes["obs"]):
            part = dataset.isel(obs=i, drop=False)
            obs_val = part["obs"].values.item()
            lt = float(part["livetime"].values) if "livetime" in part.coords else float(dataset.attrs.get("livetime", 1.0))
            attrs = {**dataset.attrs, "obs_id": obs_val, "livetime": lt}
            part = part.drop_vars([c for c in ("obs", "livetime") if c in part.coords]).assign_attrs(attrs)
            out += write_ogip(part, folder, overwrite=overwrite)
        return out
    obs_id = dataset.attrs.get("obs_id")
    stem = f"obs{obs_id}" if isinstance(obs_id, (int, np.integer, str)) and obs_id != "" else str(dataset.attrs.get("name", "spectrum"))
    livetime = float(dataset.attrs.get("livetime", 1.0)) or 1.0
    e_lo, e_hi = np.asarray(dataset.energy_min, float), np.asarray(dataset.energy_max, float)
    t_lo, t_hi = np.asarray(dataset.energy_true_min, float), np.asarray(dataset.energy_true_max, float)
    mask = np.asarray(dataset["mask_safe"]) if "mask_safe" in dataset else np.ones(len(e_lo), bool)
    quality = np.where(mask, 0, 1)
    acc = np.broadcast_to(np.asarray(dataset.get("acceptance", xr.DataArray(1.0)), float), e_lo.shape)
    names = {k: f"{k}_{stem}.fits" for k in ("pha", "bkg", "arf", "rmf")}
    ids = obs_id if isinstance(obs_id, list) else [obs_id]
    extra = {"RESPFILE": names["rmf"], "ANCRFILE": names["arf"],
             "BACKFILE": names["bkg"] if "counts_off" in dataset else "",
             "LO_THRES": dataset.attrs.get("energy_threshold_low"),
             "HI_THRES": dataset.attrs.get("energy_threshold_high"),
             "INSTRUME": dataset.attrs.get("instrument") or None,
             "XGREGION": dataset.attrs.get("region") or None}
    pha = _spectrum_hdu(np.asarray(dataset["counts"], float), quality, np.array(acc), livetime, "TOTAL", extra)
    for v in ids:
        if v is not None and v != "":
            pha.header.append(("OBS_ID", v), end=True)
    hdus = {"pha": fits.HDUList([fits.PrimaryHDU(), pha, _ebounds_hdu(e_lo, e_hi)])}
    if "counts_off" in dataset:
        acc_off = np.broadcast_to(np.asarray(dataset["acceptance_off"], float), e_lo.shape)
        bkg = _spectrum_hdu(np.asarray(dataset["counts_off"], float), quality, np.array(acc_off), livetime, "BKG", {})
        hdus["bkg"] = fits.HDUList([fits.PrimaryHDU(), bkg, _ebounds_hdu(e_lo, e_hi)])
    arf = fits.BinTableHDU.from_columns([
        fits.Column("ENERG_LO", "D", unit="keV", array=t_lo * 1e9),
        fits.Column("ENERG_HI", "D", unit="keV", array=t_hi * 1e9),
        fits.Column("SPECRESP", "D", unit="cm2", array=np.asarray(dataset["exposure"], float) / livetime),
    ], name="SPECRESP")
    arf.header.update({"HDUCLASS": "OGIP", "HDUCLAS1": "RESPONSE", "HDUCLAS2": "SPECRESP"})
    hdus["arf"] = fits.HDUList([fits.PrimaryHDU(), arf])
    edisp = np.asarray(dataset["edisp"].transpose("energy_true", "energy"), float)
    hdus["rmf"] = fits.HDUList([fits.PrimaryHDU(), _rmf_hdu(t_lo, t_hi, edisp), _ebounds_hdu(e_lo, e_hi)])
    for key, hdul in hdus.items():
        hdul.writeto(folder / names[key], overwrite=overwrite)
    return [folder / names["pha"]]
