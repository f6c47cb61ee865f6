"""Train the bundled nodule-type classifier (plugins/nodule_type) on synthetic phantom nodules.

Data: 40 mm cubes (1 mm, LPS axes) around every nodule of the randomised phantoms
cached by ``scripts/train_ai_data.py``; the model sees random 32 mm crops with
flips and axial 90-degree turns. Held-out metrics use the centre 32 mm crop of the
held-out phantoms' nodules, which is exactly the patch the plugin resamples at run time.

Usage::

    python scripts/train_ai_data.py --seeds 1000-1039 2000-2007
    python scripts/train_nodule_type.py --minutes 8
"""

from __future__ import annotations

from plugin_domain import CHEST_CT_DOMAIN, relock
import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "plugins" / "nodule_type"
DATA = ROOT / "out" / "ai_data"
sys.path.insert(0, str(PLUGIN))

CLASSES = ("solid", "part_solid", "non_solid")
WINDOW = (-1000.0, 400.0)
PATCH = 32
CHANNELS = (8, 16, 32, 64)
TRAIN_SEEDS = range(1000, 1040)
TEST_SEEDS = range(2000, 2008)


def load(seeds):
    cubes, types = [], []
    for s in seeds:
        p = DATA / f"nod_{s}.npz"
        if p.exists():
            d = np.load(p)
            cubes.append(d["cubes"].astype(np.float32))
            types.append(d["types"])
    x = np.concatenate(cubes) if cubes else np.zeros((0, 40, 40, 40), np.float32)
    return np.clip((x - WINDOW[0]) / (WINDOW[1] - WINDOW[0]), 0, 1).astype(np.float32), np.concatenate(types)


def augment(cube, rng):
    o = rng.integers(0, cube.shape[0] - PATCH + 1, size=3)
    x = cube[o[0] : o[0] + PATCH, o[1] : o[1] + PATCH, o[2] : o[2] + PATCH]
    for ax in range(3):
        if rng.random() < 0.5:
            x = np.flip(x, ax)
    x = np.rot90(x, int(rng.integers(4)), axes=(1, 2))
    x = x * rng.uniform(0.93, 1.07) + rng.uniform(-0.03, 0.03) + rng.normal(0, 0.015, x.shape)
    return np.ascontiguousarray(x, dtype=np.float32)


def centre(cube):
    o = (cube.shape[0] - PATCH) // 2
    return cube[o : o + PATCH, o : o + PATCH, o : o + PATCH]


def auc(scores, positive):
    """Area under the ROC curve (Mann-Whitney), ties counted half."""
    pos, neg = scores[positive], scores[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / (len(pos) * len(neg)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=8)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import torch
    from nodule_type.model import build
    from safetensors.torch import save_file

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    xtr, ytr = load(TRAIN_SEEDS)
    xte, yte = load(TEST_SEEDS)
    print(f"train {len(ytr)} nodules {np.bincount(ytr, minlength=3)}, held-out {len(yte)} {np.bincount(yte, minlength=3)}", flush=True)
    model = build(CHANNELS, 3)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-3)
    freq = np.bincount(ytr, minlength=3).astype(float)
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(freq.sum() / (3 * freq), dtype=torch.float32))
    t0 = time.time()
    t_end = t0 + args.minutes * 60
    it = 0
    while time.time() < t_end:
        idx = rng.integers(0, len(ytr), 16)
        x = torch.from_numpy(np.stack([augment(xtr[i], rng) for i in idx])[:, None])
        y = torch.from_numpy(ytr[idx])
        model.train()
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        frac = min(1.0, (time.time() - t0) / (args.minutes * 60))
        for g in opt.param_groups:
            g["lr"] = 2e-3 * 0.5 * (1 + np.cos(np.pi * frac)) + 5e-5
        it += 1
        if it % 50 == 0:
            print(f"it {it} loss {float(loss):.3f} ({(t_end - time.time()) / 60:.1f} min left)", flush=True)

    model.eval()
    with torch.no_grad():
        probs = torch.softmax(model(torch.from_numpy(np.stack([centre(c) for c in xte])[:, None])), 1).numpy()
    pred = probs.argmax(1)
    metrics = {"accuracy": round(float((pred == yte).mean()), 3)}
    for k, name in enumerate(CLASSES):
        metrics[f"auc_{name}"] = round(auc(probs[:, k], yte == k), 3)
    metrics["heldout_nodules"] = int(len(yte))
    metrics["evaluated_on"] = "held-out synthetic phantom nodules (seeds 2000-2007)"
    confusion = np.zeros((3, 3), int)
    for t, p in zip(yte, pred):
        confusion[t, p] += 1
    print(json.dumps(metrics, indent=1), "\nconfusion (rows true, cols predicted)\n", confusion, flush=True)

    wpath = PLUGIN / "weights.safetensors"
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(wpath))
    sha = hashlib.sha256(wpath.read_bytes()).hexdigest()
    metric_lines = "\n".join(f'"{k}" = {json.dumps(v)}' for k, v in metrics.items())
    (PLUGIN / "plugin.toml").write_text(f'''# Bundled plugin: written by scripts/train_nodule_type.py (do not edit by hand)
[plugin]
id = "meddiag.nodule-type"
name = "Lung nodule type (synthetic)"
version = "1.0.0"
task = "classification"
authors = ["MedDiag Desktop team"]
license = "Apache-2.0"
intended_use = "Demonstration and software testing only. Trained on synthetic phantoms only; NOT for clinical use or diagnosis."
description = "Small 3D CNN giving solid / part-solid / non-solid (ground-glass) probabilities for a lung nodule, the nodule-type input of the Brock risk model. Without a location it classifies every nodule found by meddiag.chest-ct-seg."
training_data = "Nodules of randomised procedural chest CT phantoms (meddiag_desktop.demo.phantom, PhantomParams.random seeds 1000-1039, five type-balanced nodules each); held-out seeds 2000-2007. No patient data."
entry = "nodule_type.model:build"

[input]
modality = "CT"
spacing_mm = [1.0, 1.0, 1.0]
orientation = "LPS"
pad_value = -1000
patch_size = [{PATCH}, {PATCH}, {PATCH}]
normalization = {{ kind = "window", min = {WINDOW[0]}, max = {WINDOW[1]}, out_min = 0.0, out_max = 1.0 }}
candidates_from = "meddiag.chest-ct-seg"
candidates_label = 7
{CHEST_CT_DOMAIN}
[inference]
sw_batch_size = 16

[model]
channels = {list(CHANNELS)}
classes = 3

[outputs]
classes = {json.dumps(list(CLASSES))}
explanation = "occlusion"

[[weights]]
file = "weights.safetensors"
sha256 = "{sha}"

[metrics]
{metric_lines}
''')
    relock()
    rows = "\n".join(f"| {k} | {v} |" for k, v in metrics.items())
    conf_rows = "\n".join(f"| {CLASSES[i]} | " + " | ".join(str(v) for v in confusion[i]) + " |" for i in range(3))
    (PLUGIN / "MODEL_CARD.md").write_text(f"""# Lung nodule type (synthetic) — model card

**Trained on synthetic data only. Not for clinical use or diagnosis.** This model exists to
demonstrate and test MedDiag Desktop's AI plugin system on the bundled demo study.

- Task: probabilities of solid / part-solid / non-solid (ground-glass) for one lung nodule; the
  nodule type is an input of the Brock malignancy risk model.
- Input: a {PATCH} mm cube (1 mm voxels, LPS axes) centred on the nodule, window
  {WINDOW[0]:g}..{WINDOW[1]:g} HU scaled to 0..1. Without a given location, every nodule found by the bundled
  segmentation plugin (`meddiag.chest-ct-seg`, label 7) is classified.
- Explanation: occlusion sensitivity (drop of the winning class's probability when an 8 mm block
  is blanked), resampled onto the study's grid.
- Network: 4-level 3D CNN (channels {list(CHANNELS)}), plain PyTorch, safetensors weights
  ({wpath.stat().st_size / 1e6:.2f} MB). Training: {it} iterations of 16 augmented crops, CPU.
- Training data: {len(ytr)} nodules of randomised phantoms (`PhantomParams.random(seed)`, seeds 1000-1039,
  five type-balanced nodules each, 4-22 mm). Reproduce with `scripts/train_ai_data.py` then
  `scripts/train_nodule_type.py`.
- Limitations: phantom nodules are idealised spheres/blobs with simple textures; real nodules,
  scars, vessels and artefacts were never seen. Performance on real CT is unknown.

## Held-out metrics ({len(yte)} nodules of generated cases never seen in training)

| metric | value |
|---|---|
{rows}

Confusion (rows: true type, columns: predicted):

| true \\\\ predicted | solid | part_solid | non_solid |
|---|---|---|---|
{conf_rows}
""")
    relock()  # the lock covers the model card too
    print(f"wrote {wpath} ({wpath.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
