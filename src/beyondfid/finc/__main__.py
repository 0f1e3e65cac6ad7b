"""``python -m beyondfid.finc test.npy ref.npy --sigma median`` (also under ``torchrun``)."""

from .algorithm import _main

if __name__ == "__main__":
    raise SystemExit(_main())
