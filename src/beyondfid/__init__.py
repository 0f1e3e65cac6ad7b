"""beyondfid: reproducing FINC, the ImageNet-classes-in-FID study and distribution classification."""

__version__ = "0.1.0"
