"""Forward folding and fitting: 1D spectra (:mod:`~xgamma.fitting.fold`), 3D maps
(:mod:`~xgamma.fitting.fold_map`) and the likelihood fit (:mod:`~xgamma.fitting.fitter`).

Examples
--------
>>> from xgamma import fitting
>>> from xgamma.models import spectral_model
>>> ds = fitting.fake(fitting.example_dataset(), spectral_model("pl"), seed=1)
>>> bool(fitting.fit(ds, spectral_model("pl")).success)
True
"""

from __future__ import annotations

from xgamma.fitting import fitter, fold, fold_map
from xgamma.fitting.fitter import FitResult, confidence, fit, stat_profile, stat_sum, ts
from xgamma.fitting.fold import example_dataset, fake, npred, npred_signal, spectrum_dataset
from xgamma.fitting.fold_map import MapEvaluator, npred_map

__all__ = [
    "fitter", "fold", "fold_map", "FitResult", "confidence", "fit", "stat_profile", "stat_sum",
    "ts", "example_dataset", "fake", "npred", "npred_signal", "spectrum_dataset",
    "MapEvaluator", "npred_map",
]
