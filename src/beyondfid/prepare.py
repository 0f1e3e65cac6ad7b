"""The ``prepare`` stage: write each profile's datasets in the standard format.

* builtin source (smoke, mini): build ``animals``, ``digits`` and ``photos`` from files
  inside installed PyPI packages, subsample them as configured, and write
  ``<name>.npz`` + ``<name>.json`` (manifest: source package, license, counts, image
  size, checksums) to ``artifacts/<profile>/datasets/``.
* folders source (paper): check every configured distribution folder under
  ``data.root`` and write a manifest per folder (file count, names and SHA-256 of each
  file, unreadable files) -- the images themselves stay in the folders.

    python -m beyondfid.prepare --profile mini
"""

from __future__ import annotations

from pathlib import Path

from .progress import progress_bar

from .config import Config, config_from_cli
from .data import DataError, ImageFolder, build_animals, build_digits, build_photos, save_imageset
from .io import save_json, sha256_file


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
        folder = ImageFolder(Path(d.root) / name, size=d.image_size or None, skip_corrupt=d.skip_corrupt)
        files, shapes = {}, set()
        # Decode every image once here, so a corrupt file stops the run before any heavy work
        # (with skip_corrupt, ImageFolder has already dropped and counted unreadable files).
        for i, p in enumerate(progress_bar(folder.files, desc=f"check {name}", unit="img")):
            files[p.name] = sha256_file(p)
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
            "sha256_files": files,
            "license": "user-supplied; see the data provider's terms",
        }
        save_json(cfg.datasets_dir / f"{name}.json", manifest)
        manifests[name] = manifest
    return manifests


def prepare(cfg: Config) -> dict[str, dict]:
    manifests = prepare_builtin(cfg) if cfg.params.data.source == "builtin" else prepare_folders(cfg)
    save_json(cfg.datasets_dir / "index.json", {k: {"count": v["count"]} for k, v in manifests.items()})
    return manifests


def main(argv: list[str] | None = None) -> None:
    cfg = config_from_cli("Write the profile's datasets in the standard format.", argv)
    for name, m in prepare(cfg).items():
        print(f"{name}: {m['count']} images, shape {m['image_shape_chw']}")


if __name__ == "__main__":
    main()
