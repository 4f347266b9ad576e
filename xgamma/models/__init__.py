"""Models: parameters, the model registry, spectral models and sky-model collections.

Examples
--------
>>> from xgamma.models import spectral_model, SkyModel, Models
>>> Models([SkyModel("Crab", spectral_model("lp10"))]).parameters.names[0]
'Crab.spectral.amplitude'
"""

from __future__ import annotations

# spatial and temporal are imported to register their model types
from . import params, registry, sky, spatial, spectral, temporal
from .params import GaussianPrior, LogUniformPrior, Parameter, Parameters, UniformPrior
from .registry import ModelSpec, get_spec, register
from .sky import BackgroundModel, GenericModel, Models, SkyModel
from .spectral import (
    CompoundSpectralModel,
    ScaleSpectralModel,
    SpectralModel,
    SpectralModelBase,
    ebl_absorption,
    piecewise_norm_model,
    spectral_from_dict,
    spectral_model,
    template_model,
)

__all__ = [
    "params",
    "registry",
    "sky",
    "spectral",
    "spatial",
    "temporal",
    "Parameter",
    "Parameters",
    "GaussianPrior",
    "UniformPrior",
    "LogUniformPrior",
    "ModelSpec",
    "get_spec",
    "register",
    "SkyModel",
    "BackgroundModel",
    "GenericModel",
    "Models",
    "SpectralModel",
    "SpectralModelBase",
    "CompoundSpectralModel",
    "ScaleSpectralModel",
    "spectral_model",
    "spectral_from_dict",
    "template_model",
    "piecewise_norm_model",
    "ebl_absorption",
]

# more model families (issue 13): registered on import
from . import priors, spatial_extra, spectral_extra, temporal_extra  # noqa: E402, F401
