"""Cost of fingerprinting image folders by content (issue 10), against decoding the same files.

Writes ``--n`` small RGB noise PNGs (``--side`` px, incompressible, ~12 KB at 64 px) and
``--n-large`` larger ones into a temporary folder, then times, per folder:

* the old fingerprint: file names and sizes only (blind to a same-size replacement);
* SHA-256 of every file, no cache (what a first run pays);
* :meth:`ImageFolder.content_digests` with an empty hash cache (hash + write the cache);
* the same with a warm cache (a re-run: one ``stat`` per file);
* decoding every image (:func:`decode_image`), which prepare and the feature stage do anyway.

The files are written ``RACY_SECONDS`` before the first cached pass, so the warm pass is served
from the cache as on any real re-run. Prints the load average it ran under.

    python benchmarks/folder_hashing.py [--n 10000] [--side 64] [--n-large 200] [--side-large 512]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from beyondfid import data as data_mod
from beyondfid.data import ImageFolder, decode_image
from beyondfid.io import sha256_file


def _write(folder: Path, n: int, side: int, seed: int) -> int:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(folder / f"{i:06d}.png")
    return sum(p.stat().st_size for p in folder.iterdir())


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _names_and_sizes(folder: ImageFolder) -> str:
    h = hashlib.sha256()
    for p in folder.files:
        h.update(f"{p.name}:{p.stat().st_size};".encode())
    return h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--side", type=int, default=64)
    ap.add_argument("--n-large", type=int, default=200)
    ap.add_argument("--side-large", type=int, default=512)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="beyondfid-hash-"))
    try:
        sets = [("small", args.n, args.side), ("large", args.n_large, args.side_large)]
        sizes = {name: _write(tmp / name, n, side, seed) for seed, (name, n, side) in enumerate(sets)}
        time.sleep(data_mod.RACY_SECONDS + 0.5)
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        print("| folder | files | MB | names+sizes (old) | SHA-256, no cache | cold cache | warm cache | decode all |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for name, n, side in sets:
            folder = ImageFolder(tmp / name, hash_cache=tmp / f"cache_{name}")
            t_old = _time(lambda: _names_and_sizes(folder))
            t_sha = _time(lambda: [sha256_file(p) for p in folder.files])
            t_cold = _time(folder.content_digests)
            t_warm = _time(ImageFolder(tmp / name, hash_cache=tmp / f"cache_{name}").content_digests)
            t_dec = _time(lambda: [decode_image(p) for p in folder.files])
            mb = sizes[name] / 1e6
            print(f"| {n} x {side}^2 RGB PNG | {n} | {mb:.0f} | {t_old:.3f} s | {t_sha:.3f} s ({mb / t_sha:.0f} MB/s) "
                  f"| {t_cold:.3f} s | {t_warm:.3f} s | {t_dec:.2f} s |")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
