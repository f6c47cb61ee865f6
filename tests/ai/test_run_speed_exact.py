"""The faster plugin run keeps every number: preprocessing, label clean-up and the worker's memory (issue 18)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from meddiag_desktop.ai.manifest import Normalization
from meddiag_desktop.ai.preprocess import normalize
from meddiag_desktop.ai.resample import model_grid, resample_to_grid
from meddiag_desktop.core.volume import Volume
from tests.ai.plugin_factory import rotation


@pytest.mark.parametrize("dtype", [np.int16, np.uint16, np.uint8, np.int8])
@pytest.mark.parametrize("linear", [True, False])
def test_integer_study_resamples_as_its_float32_copy(dtype, linear):
    """8/16-bit studies are resampled without the float32 copy; every model-grid value is the same."""
    rng = np.random.default_rng(7)
    info = np.iinfo(dtype)
    arr = rng.integers(info.min, info.max, size=(23, 31, 37), endpoint=True).astype(dtype)
    geo = dict(spacing=(0.7, 0.9, 1.6), origin=(-12.5, 30.0, 7.25), direction=rotation(2, 25) @ rotation(0, 15))
    study = Volume(arr, **geo, metadata={"modality": "CT"})
    as_float = Volume(arr.astype(np.float32), **geo, metadata={"modality": "CT"})
    for orientation in ("LPS", "native"):
        grid = model_grid(study, (1.1, 1.3, 0.8), orientation)
        got = resample_to_grid(study, grid, -1000.0, linear=linear)
        want = resample_to_grid(as_float, grid, -1000.0, linear=linear)
        assert got.dtype == np.float32 and np.array_equal(got, want)
    study.array.flags.writeable = False  # the worker's (memoised) study gives the same values again
    assert np.array_equal(resample_to_grid(study, grid, -1000.0, linear=linear), want)


@pytest.mark.parametrize("clip", [True, False])
def test_window_normalisation_is_the_formula_bit_for_bit(clip):
    rng = np.random.default_rng(3)
    a = (rng.standard_normal(100_000) * 900).astype(np.float32)
    a[:4] = [-1000, 1000, -5000, 7000]
    keep = a.copy()
    norm = Normalization(kind="window", min=-1000, max=1000, out_min=-0.5, out_max=2.5, clip=clip)
    lo, hi = float(norm.min), float(norm.max)
    src = np.clip(a, lo, hi) if clip else a
    want = ((src - lo) / (hi - lo) * (norm.out_max - norm.out_min) + norm.out_min).astype(np.float32)
    got = normalize(a, norm)
    assert got.dtype == np.float32 and np.array_equal(got, want)
    assert np.array_equal(a, keep)  # the input is not modified
    i16 = normalize(a.astype(np.int16), norm)  # integer input: its float32 values, the same formula
    assert np.array_equal(i16, normalize(a.astype(np.int16).astype(np.float32), norm))


def test_classes_the_manifest_does_not_name_are_cleared(plugin_factory, ct_box):
    """The network finds class 1 but the manifest names only label 2: the label map shows nothing."""
    from meddiag_desktop.ai.runner import run_plugin

    from tests.ai.plugin_factory import trust_for_tests

    folder = plugin_factory("test.unnamed", trust=False)
    toml = (folder / "plugin.toml").read_text()
    assert toml.count("value = 1\n") == 1
    (folder / "plugin.toml").write_text(toml.replace("value = 1\n", "value = 2\n"))
    res = run_plugin(trust_for_tests(folder), ct_box)
    assert res.labels.shape == ct_box.array.shape and not res.labels.any()
    named = run_plugin(plugin_factory(), ct_box)
    assert (named.labels == 1).sum() > 1000  # the same network with label 1 named finds the box


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_worker_reuses_freed_memory_instead_of_fresh_pages():
    """After ``_keep_freed_memory`` a second big array reuses the first one's pages (no page faults)."""
    code = textwrap.dedent("""
        import resource, sys
        import numpy as np
        try:
            np._core.multiarray._set_madvise_hugepage(False)  # count 4 KiB pages
        except AttributeError:
            pass
        if sys.argv[1] == "keep":
            from meddiag_desktop.ai._worker import _keep_freed_memory
            _keep_freed_memory()
        a = np.ones(1 << 24)  # 128 MiB
        del a
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        a = np.ones(1 << 24)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """)
    faults = {}
    for mode in ("keep", "default"):
        out = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, check=True)
        faults[mode] = int(out.stdout.split()[-1])
    assert faults["default"] > 10_000  # glibc unmapped the block: 32,768 fresh pages
    assert faults["keep"] < 1_000, faults

