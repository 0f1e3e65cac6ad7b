"""The ``prepare`` stage: write each profile's datasets in the standard format.

* builtin source (smoke, mini): build ``animals``, ``digits`` and ``photos`` from files
  inside installed PyPI packages, subsample them as configured, and write
  ``<name>.npz`` + ``<name>.json`` (manifest: source package, license, counts, image
  size, checksums) to ``artifacts/<profile>/datasets/``.
* folders source (paper): check every configured distribution folder under
  ``data.root`` and write a manifest per folder (file count, names and SHA-256 of each
  file, unreadable files skipped, non-image entries ignored) -- the images themselves stay in
  the folders -- and ``inputs.json``: the file count and a content digest of every folder any
  stage reads (data.folders and the zoo roles' folders). DVC tracks ``data_root`` as this
  stage's dependency, so adding, removing or replacing any image re-runs it, and the changed
  manifests re-run every stage downstream.

    python -m beyondfid.prepare --profile mini
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .progress import progress_bar

from .config import Config, config_from_cli
from .data import DataError, ImageFolder, build_animals, build_digits, build_photos, save_imageset
from .io import remove_stale_temps, save_json


def prepare_builtin(cfg: Config) -> dict[str, dict]:
    d = cfg.params.data
    seed = cfg.params.seed
    manifests = {}
    builders = {
        "animals": (build_animals, d.animals_n),
        "digits": (build_digits, d.digits_n),
        "photos": (lambda: build_photos(d.image_size), 0),
    }
    for name, (build, n) in builders.items():
        ds, manifest = build()
        full_count = len(ds)
        ds = ds.subsample(n, seed)
        manifest.update(source_count=full_count, subsample_seed=seed if n else None)
        manifests[name] = save_imageset(ds, cfg.datasets_dir, manifest)
    return manifests


def prepare_folders(cfg: Config) -> dict[str, dict]:
    d = cfg.params.data
    manifests = {}
    for name in d.folder_names:
        folder = ImageFolder(Path(d.root) / name, size=d.image_size or None, skip_corrupt=d.skip_corrupt,
                             hash_cache=cfg.hash_cache_dir)
        files = dict(zip((p.name for p in folder.files), folder.content_digests(progress=True)))
        shapes = set()
        # Decode every image once here, so a corrupt file stops the run before any heavy work
        # (with skip_corrupt, ImageFolder has already dropped and counted unreadable files).
        for i in progress_bar(range(len(folder)), desc=f"check {name}", unit="img"):
            shapes.add(folder.get(i, i + 1).shape[1:])
        if len(shapes) > 1:
            raise DataError(
                f"{folder.root}: images have {len(shapes)} different sizes; set profiles.{cfg.profile}.data.image_size "
                f"to centre-crop and resize them to one size"
            )
        first = folder.get(0, 1)
        manifest = {
            "name": name,
            "source": str(folder.root),
            "count": len(folder),
            "image_shape_chw": list(first.shape[1:]),
            "skipped_unreadable": folder.skipped_files,
            "ignored_not_images": folder.ignored_files,
            "sha256_files": files,
            "license": "user-supplied; see the data provider's terms",
        }
        save_json(cfg.datasets_dir / f"{name}.json", manifest)
        manifests[name] = manifest
    return manifests


def folder_inputs(cfg: Config, manifests: dict[str, dict]) -> dict[str, dict]:
    """Count and content digest of every folder the profile reads (``inputs.json``).

    The digest is a SHA-256 over the sorted file names and their SHA-256s. A zoo folder that
    does not exist yet is recorded as missing (its zoo stage fails with its own message).
    """
    out = {}
    for name in cfg.params.input_folders():
        if name in manifests:
            files = manifests[name]["sha256_files"]
        elif (Path(cfg.params.data.root) / name).is_dir():
            folder = ImageFolder(Path(cfg.params.data.root) / name, hash_cache=cfg.hash_cache_dir)
            files = dict(zip((p.name for p in folder.files), folder.content_digests(progress=True)))
        else:
            out[name] = {"missing": True}
            continue
        h = hashlib.sha256("".join(f"{k}:{v};" for k, v in files.items()).encode()).hexdigest()
        out[name] = {"count": len(files), "sha256": h}
    return out


def prepare(cfg: Config) -> dict[str, dict]:
    remove_stale_temps(cfg.datasets_dir)  # temp files of a killed run must not end up in DVC's output
    manifests = prepare_builtin(cfg) if cfg.params.data.source == "builtin" else prepare_folders(cfg)
    if cfg.params.data.source == "folders":
        save_json(cfg.datasets_dir / "inputs.json", {"root": cfg.params.data.root,
                                                     "folders": folder_inputs(cfg, manifests)})
    save_json(cfg.datasets_dir / "index.json", {k: {"count": v["count"]} for k, v in manifests.items()})
    return manifests


def main(argv: list[str] | None = None) -> None:
    cfg = config_from_cli("Write the profile's datasets in the standard format.", argv)
    try:
        manifests = prepare(cfg)
    except DataError as err:
        raise SystemExit(f"error: {err}") from None
    for name, m in manifests.items():
        notes = [f"{len(v)} {what}" for what, v in (("unreadable skipped", m.get("skipped_unreadable")),
                                                    ("non-image entries ignored", m.get("ignored_not_images"))) if v]
        print(f"{name}: {m['count']} images, shape {m['image_shape_chw']}" + (f" ({', '.join(notes)})" if notes else ""))


if __name__ == "__main__":
    main()
