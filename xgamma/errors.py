"""Exceptions raised by xgamma.

Every reader error names the file, the HDU and what was expected, so that a user can
find the problem without a debugger.

Examples
--------
>>> from xgamma.errors import XgammaIOError
>>> err = XgammaIOError("missing column", path="run.fits", hdu="EVENTS", expected="ENERGY")
>>> str(err)
'run.fits [HDU EVENTS]: missing column (expected: ENERGY)'
"""

from __future__ import annotations

__all__ = ["XgammaError", "XgammaIOError", "ConventionError", "GeometryError", "ReductionError"]


class XgammaError(Exception):
    """Base class of all xgamma errors."""


class XgammaIOError(XgammaError, OSError):
    """A file could not be read as expected.

    Parameters
    ----------
    message : str
        What went wrong.
    path : str, optional
        The file.
    hdu : str, optional
        The HDU (extension) name or index.
    expected : str, optional
        What was expected instead.
    """

    def __init__(
        self,
        message: str,
        path: object | None = None,
        hdu: object | None = None,
        expected: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.hdu = hdu
        self.expected = expected
        self.reason = message
        text = ""
        if self.path is not None:
            text += self.path
        if hdu is not None:
            text += f" [HDU {hdu}]"
        text = f"{text}: {message}" if text else message
        if expected:
            text += f" (expected: {expected})"
        super().__init__(text)

    def __str__(self) -> str:  # OSError would otherwise format (errno, strerror)
        return self.args[0]


class ConventionError(XgammaError, ValueError):
    """An xarray object does not follow xgamma's conventions (see :mod:`xgamma.conventions`)."""


class GeometryError(XgammaError, ValueError):
    """A sky geometry is invalid or two geometries do not match."""


class ReductionError(XgammaError, ValueError):
    """An observation cannot be reduced (missing IRF, bad input); names the observation."""
