"""Feature extractors: a registry of named feature spaces (see :mod:`.base`).

Importing this package registers ``effnet_lite0``, ``pixels``, ``random_cnn`` and the
paper-profile extractors (``inception_fid``, ``clip_vit_b32``, ``dinov2_vitb14``), which
load only from local weight files, and the zoo's self-supervised encoders (``ssl_contrastive``,
``ssl_masked``, from :mod:`beyondfid.zoo.ssl`), which load from the zoo stages' checkpoints.
"""

from .base import (  # noqa: F401
    Extractor,
    ExtractorError,
    MissingWeightsError,
    available,
    get_extractor,
    preprocess,
    register,
)
from . import controls, effnet  # noqa: F401  (registration side effects)
from .effnet import imagenet_class_names, probabilities, top_k  # noqa: F401

try:  # paper-profile extractors; their optional dependencies come with the [paper] extra
    from . import paper  # noqa: F401
except ImportError:  # pragma: no cover - only when the [paper] extra is absent
    pass
