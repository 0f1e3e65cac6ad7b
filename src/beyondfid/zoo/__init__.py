"""The mini model zoo: generators, encoders and a classifier trained by the pipeline itself.

No generator weights can be downloaded, so the mini profile trains its own stand-ins for the
papers' models on AnimalShape (``real_train``); the paper profile points each role at a folder
of the papers' samples instead.

================  ===============================================================================
module            what
================  ===============================================================================
``registry``      splits, the generator registry (build / train / sample), folder import, the
                  ``python -m beyondfid.zoo`` CLI (stages ``zoo_splits``, ``zoo_train``, ``zoo_encoder``)
``training``      the deterministic, resumable, NaN-checked training loop every model uses
``diffusion``     DDPM noise schedule, ε-prediction loss, the DDIM sampler
``generators``    UNet, DiT, DCGAN, projected-GAN discriminator, VAE
``ssl``           SimCLR (``ssl_contrastive``) and MAE (``ssl_masked``) encoders, registered as
                  extractors when this package is imported
``classifier``    the AnimalShape domain classifier (class histograms of samples)
``transforms``    class-skewed resampling, colorization, DiffAugment, random affine augmentation
``eval``          the ``zoo_eval`` stage: features, labels and nearest neighbours of every sample set
================  ===============================================================================

Imports run downward: this package uses the shared core (``beyondfid.config``, ``data``,
``features``, ``extractors``, ``stats``, ``metrics``, ``io``) and is used by the paper packages.
"""

from . import ssl as _ssl  # noqa: F401  (registers the ssl_contrastive / ssl_masked extractors)
from .registry import (  # noqa: F401
    SPLITS,
    ZooError,
    animal_splits,
    load_samples,
    nearest_neighbor_l2,
    zoo_dirs,
)
