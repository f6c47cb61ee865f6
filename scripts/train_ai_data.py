"""Training data for the bundled AI plugins, generated from randomised chest phantoms.

Each case is ``make_chest_phantom(PhantomParams.random(seed))`` with five nodules of
balanced type (solid / part-solid / non-solid, sizes 4-22 mm) drawn from the same
seed, so the classifier sees enough of each type. Per case this writes, under
``out/ai_data`` (git-ignored):

* ``seg_<seed>.npz``: HU image and labels resampled (linear / nearest) to the
  segmentation model's grid (3 mm, LPS axes) by the very functions the runner uses;
  with ``--seg-spacing 2`` the same at 2 mm, in ``seg_2mm_<seed>.npz`` (small nodules
  are 1-2 voxels at 3 mm, so a finer model needs a cache made from the phantom itself,
  not resampled from the 3 mm one);
* ``nod_<seed>.npz``: 40 mm cubes (1 mm, LPS axes) around each nodule with its type.

Usage: ``python scripts/train_ai_data.py --seeds 1000-1039 2000-2009 [--jobs 2] [--seg-spacing 2]``
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "out" / "ai_data"
SEG_SPACING = (3.0, 3.0, 3.0)
NOD_SPACING = (1.0, 1.0, 1.0)
NOD_CUBE = 40  # voxels (mm) per side; the model sees a random 32 mm crop
TYPES = ("solid", "part_solid", "non_solid")


def phantom_params(seed: int):
    """``PhantomParams.random(seed)`` with five type-balanced nodules from the same seed."""
    from meddiag_desktop.demo.phantom import NoduleSpec, PhantomParams

    params = PhantomParams.random(seed)
    rng = np.random.default_rng(seed + 7_000_000)
    nodules = []
    for i in range(5):
        kind = TYPES[(seed + i) % 3]
        d = float(np.round(rng.uniform(4.0, 22.0 if kind != "solid" else 20.0), 1))
        if kind != "solid":
            d = max(d, 6.0)
        nodules.append(NoduleSpec(
            kind, d, str(rng.choice(["right", "left"])), bool(rng.random() < 0.5),
            spiculated=bool(kind == "solid" and d >= 8 and rng.random() < 0.4),
            solid_core_mm=float(np.round(d * rng.uniform(0.3, 0.6), 1)) if kind == "part_solid" else 0.0,
        ))
    return dataclasses.replace(params, nodules=tuple(nodules))


def seg_cache_path(seed: int, spacing: float = SEG_SPACING[0]) -> Path:
    """``seg_<seed>.npz`` at 3 mm (the original cache), ``seg_<s>mm_<seed>.npz`` at any other spacing."""
    if spacing == SEG_SPACING[0]:
        return OUT / f"seg_{seed}.npz"
    return OUT / f"seg_{spacing:g}mm_{seed}.npz"


def make_case(seed: int, seg_spacing: float = SEG_SPACING[0]) -> str:
    import SimpleITK as sitk

    from meddiag_desktop.ai.resample import Grid, model_grid, resample_to_grid, volume_to_sitk
    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.demo.phantom import make_chest_phantom

    seg_path, nod_path = seg_cache_path(seed, seg_spacing), OUT / f"nod_{seed}.npz"
    if seg_path.exists() and nod_path.exists():
        return f"{seed}: cached"
    t = time.perf_counter()
    ph = make_chest_phantom(phantom_params(seed))
    vol = ph.volume()
    grid = model_grid(vol, (seg_spacing,) * 3, "LPS")
    image = resample_to_grid(vol, grid, pad_value=-1000)
    lab = Volume(ph.labels, ph.spacing, ph.origin, ph.direction)
    labels = sitk.GetArrayFromImage(sitk.Resample(volume_to_sitk(lab), grid.reference_image(), sitk.Transform(),
                                                  sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8))
    np.savez_compressed(seg_path, image=image.astype(np.float32), labels=labels.astype(np.uint8),
                        spacing=np.array(grid.spacing), origin=np.array(grid.origin))
    if nod_path.exists():
        return f"{seed}: {time.perf_counter() - t:.1f} s, grid {grid.size} (nodule cubes cached)"
    cubes, types, diameters = [], [], []
    for n in ph.nodules:
        centre = np.asarray(n.center_lps)
        origin = centre - (NOD_CUBE - 1) / 2 * np.asarray(NOD_SPACING)
        g = Grid((NOD_CUBE,) * 3, NOD_SPACING, tuple(origin), tuple(np.eye(3).ravel()))
        cubes.append(resample_to_grid(vol, g, pad_value=-1000).astype(np.float16))
        types.append(TYPES.index(n.type))
        diameters.append(n.mean_diameter_mm)
    np.savez_compressed(nod_path, cubes=np.array(cubes).reshape(-1, NOD_CUBE, NOD_CUBE, NOD_CUBE),
                        types=np.array(types, np.int64), diameters=np.array(diameters, np.float32))
    return f"{seed}: {time.perf_counter() - t:.1f} s, grid {grid.size}, {len(types)} nodules"


def parse_seeds(items: list[str]) -> list[int]:
    seeds = []
    for it in items:
        a, _, b = it.partition("-")
        seeds += list(range(int(a), int(b or a) + 1))
    return seeds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", nargs="+", default=["1000-1039", "2000-2009"])
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--seg-spacing", type=float, default=SEG_SPACING[0], help="grid of the seg cache, mm (3 or 2)")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    seeds = parse_seeds(args.seeds)
    with ProcessPoolExecutor(args.jobs) as pool:
        for msg in pool.map(make_case, seeds, [args.seg_spacing] * len(seeds)):
            print(msg, flush=True)


if __name__ == "__main__":
    main()
