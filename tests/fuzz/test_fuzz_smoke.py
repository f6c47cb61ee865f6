"""A small fixed-seed run of the loader fuzz harness (benchmarks/fuzz_loader.py; the 10,000-case run is a script)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _harness():
    spec = importlib.util.spec_from_file_location("fuzz_loader", REPO / "benchmarks" / "fuzz_loader.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_mutations_are_reproducible_and_change_the_file():
    fuzz = _harness()
    import numpy as np

    seeds = fuzz.seed_files()
    assert any(p.name == "CT_small.dcm" for p in seeds) and any(p.name.startswith("siemens_dwi") for p in seeds)
    data = fuzz.seed_bytes(next(p for p in seeds if p.name == "CT_small.dcm"))
    a = [fuzz.mutate(data, np.random.default_rng(3))[0] for _ in range(2)]
    assert a[0] == a[1] and a[0] != data


def test_200_mutated_files_give_no_crash_hang_blowup_or_raw_exception(tmp_path):
    fuzz = _harness()
    counts = fuzz.run(200, seed=12, jobs=2, timeout=60, mem_bytes=3 * 2**30, rss_mb=1024, out=tmp_path, quiet=True)
    findings = json.loads((tmp_path / "summary.json").read_text())["findings"]
    assert counts["ok"] + counts["load_error"] == 200, findings
    assert all(counts[k] == 0 for k in ("crash", "hang", "blowup", "exception", "raw_message")), findings
    assert counts["ok"] > 20 and counts["load_error"] > 20  # the mutations reach both outcomes
