"""Time derive_nodule_inputs (the risk panel's image inputs) on a 512x512x300 label map: two lungs, three nodules.

Run: PYTHONPATH=$PWD python benchmarks/bench_derive_inputs.py  (issue 11: 2.2-2.6 s before core.label_geometry, ~0.4 s after)
"""
import sys, time
import numpy as np
from meddiag_desktop.core.volume import Volume
from meddiag_desktop.risk.image_inputs import derive_nodule_inputs

shape = (300, 512, 512)
z, y, x = np.ogrid[:300, :512, :512]
labels = np.zeros(shape, np.uint8)
sp = (0.7, 0.7, 1.0)
labels[((x - 150) / 110.0) ** 2 + ((y - 256) / 160.0) ** 2 + ((z - 150) / 130.0) ** 2 <= 1] = 1
labels[((x - 362) / 110.0) ** 2 + ((y - 256) / 160.0) ** 2 + ((z - 150) / 130.0) ** 2 <= 1] = 2
for cx, cy, cz, r in ((150, 200, 100, 12), (362, 300, 200, 6), (140, 300, 180, 3)):
    labels[((x - cx) * sp[0]) ** 2 + ((y - cy) * sp[1]) ** 2 + ((z - cz) * sp[2]) ** 2 <= r * r] = 7
vol = Volume(np.zeros(shape, np.int16), sp, (0.0, 0.0, 0.0), np.eye(3), metadata={"patient_age": "060Y"})
best = 1e9
for _ in range(3):
    t = time.perf_counter()
    out = derive_nodule_inputs(vol, labels)
    best = min(best, time.perf_counter() - t)
print(f"derive_nodule_inputs 512x512x300: best of 3 {best:.3f} s")
print({k: (v.value, v.detail) for k, v in out.items()})
