"""Paper 1, FINC (Zhang, Jalali, Li & Farnia, CVPR 2025): differential clustering with random Fourier features.

==================  ==========================================================================
module              what (paper section)
==================  ==========================================================================
``algorithm``       RFF covariances ``C_X``, ``C_Y`` (Sec. 3), the differential operator
                    ``C_X − η·C_Y`` and its positive eigenvectors = novel modes, top samples,
                    the swap, the median bandwidth, the KEN-style novelty score
``baselines``       KEN (exact kernel), Rarity score, FLD: Table 1's baselines
``scalability``     Table 1's harness: time and peak memory against n, in fresh processes
``colored``         Fig. 1's inputs: coloured test half vs gray reference half
``novelty``         AFHQ-vs-ImageNet-dogs inputs (paper: two folders; mini: halves, classes removed)
``model_bias``      model biases (Fig. 3) and memorization (Fig. 11) checked against labels;
                    the finc_model_bias notebook's runs and tables
``memorization``    the finc_memorization notebook's runs and tables (Fig. 11: copies per mode)
``planted``         the finc_colored and finc_novelty notebooks' runs and tables (modes scored
                    against planted ground truth: colour, classes missing from the reference)
==================  ==========================================================================

The algorithm's public names are importable from here: ``from beyondfid.finc import finc``.
"""

from .algorithm import (  # noqa: F401
    BandwidthEstimate,
    FincResult,
    RffCovariance,
    default_chunk_size,
    draw_frequencies,
    finc,
    finc_kwargs,
    finc_swap,
    ken_score,
    median_bandwidth,
    mode_label_stats,
    rff_covariances,
    rff_features,
    top_hit_share,
)
from .algorithm import __all__  # noqa: F401
