"""Paper 2: Kynkäänniemi, Karras, Aittala, Aila, Lehtinen, "The Role of ImageNet Classes in Fréchet
Inception Distance" (ICLR 2023).

==================  ==========================================================================
module              what (paper section / equation)
==================  ==========================================================================
``heatmaps``        FID Grad-CAM (Sec. 2.1, Eq. 2): leave-one-out ∂FID/∂f, α_k, Σ α_k A^k,
                    Lanczos upsampling, the overlay; Top-1 Grad-CAM; subject-mask share and
                    agreement; Fig. 10's important/unimportant halves and region noise
``matching``        Top-1 histogram matching (Sec. 3.1, Table 1); Top-N / middle-N N-hot
                    vectors (Sec. 3.3, Fig. 6)
``resampling``      the resampling attack (Sec. 3.2, Eq. 3, Algorithm 1): closed-form gradient
                    through the symmetric route, streamed weighted covariance, GD / Adam /
                    mirror descent / L-BFGS -- ``optimize_weights``
``attack``          scoring picked samples: FID, FID vs held-out, second-opinion FDs, KID
``sensitivity``     sample count and network instance (Fig. 8), pre-logit vs logit FID (Fig. 9)
``projected``       ImageNet-pretrained discriminator vs the GAN at equal FID (Sec. 4, Fig. 7)
``sets``            the profile's sets: FID features, ImageNet logits, second opinions, images
``networks``        second ImageNet networks (EfficientNet-Lite1, torchvision's Inception-V3)
``extract``         the ``fid_features`` stage (sibling network, extra classifier seeds, CLIP)
``tables``          the paper's numbers and the tables that put ours beside them
==================  ==========================================================================
"""

from . import networks  # noqa: F401  (registers the effnet_lite1 / inception_torchvision extractors)
