"""A result already at hand is not computed again: the workflow's session cache of plugin runs (issue 18)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from meddiag_desktop.ai import isolation
from meddiag_desktop.core.findings import FindingSet, segment_key
from meddiag_desktop.core.volume import Volume
from meddiag_desktop.workflow.ai_run import run_ai
from meddiag_desktop.workflow.result_cache import ResultCache
from tests.ai.plugin_factory import trust_for_tests

FAST = dict(start_timeout=60, stall_timeout=60)


@pytest.fixture
def started(monkeypatch):
    """The worker processes started (one per plugin run that really ran)."""
    names: list[str] = []
    real = isolation.WorkerProcess

    class Counting(real):
        def __init__(self, name: str = "meddiag-plugin-worker") -> None:
            names.append(name)
            super().__init__(name)

    monkeypatch.setattr(isolation, "WorkerProcess", Counting)
    return names


@pytest.fixture
def finder_and_classifier(plugin_factory, ct_box, monkeypatch, tmp_path):
    seg = plugin_factory("test.finder", spacing=ct_box.spacing)
    cls = plugin_factory("test.cls", classifier=True)
    toml = cls / "plugin.toml"
    toml.write_text(toml.read_text().replace(
        "patch_size = [16, 16, 16]", 'patch_size = [16, 16, 16]\ncandidates_from = "test.finder"\ncandidates_label = 1'))
    trust_for_tests(cls)
    monkeypatch.setenv("MEDDIAG_PLUGIN_PATH", str(seg.parent))
    monkeypatch.setenv("MEDDIAG_AUDIT_LOG", str(tmp_path / "audit.log"))
    from meddiag_desktop.ai.discovery import find_plugin

    return find_plugin("test.finder"), find_plugin("test.cls"), seg


def _audit(tmp_path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]


def test_classifier_takes_the_cached_segmentation_and_nothing_runs_twice(finder_and_classifier, ct_box, started,
                                                                         tmp_path):
    seg_info, cls_info, _ = finder_and_classifier
    cache = ResultCache()
    seg = run_ai(seg_info, ct_box, via="test", cache=cache, **FAST)
    assert started == ["meddiag-plugin-test.finder"]
    cls = run_ai(cls_info, ct_box, via="test", cache=cache, **FAST)
    assert started == ["meddiag-plugin-test.finder", "meddiag-plugin-test.cls"]  # no second segmentation
    assert len(cls.result.findings) == 1 and cls.result.findings[0].top_class == "bright"
    assert cls.result.findings[0].source == "bright found by test.finder"
    centre = np.argwhere(ct_box.array > 0)[:, ::-1].mean(0)
    assert np.allclose(cls.result.findings[0].point_lps, ct_box.to_lps(centre), atol=1.0)

    again = run_ai(seg_info, ct_box, via="test", cache=cache, **FAST)
    cls_again = run_ai(cls_info, ct_box, via="test", cache=cache, **FAST)
    assert len(started) == 2 and cache.hits >= 3  # the report and the risk panel get them back without a worker
    assert np.array_equal(again.result.labels, seg.result.labels)
    assert [f.key for f in again.findings] == [f.key for f in seg.findings]
    assert cls_again.result.findings[0].probabilities == cls.result.findings[0].probabilities
    entries = [e for e in _audit(tmp_path) if e["action"] == "ai_run"]
    assert [(e["plugin"], e.get("cached", False)) for e in entries] == [
        ("test.finder", False),
        ("test.finder", True), ("test.cls", False),  # the classifier's candidates: the run at hand
        ("test.finder", True),
        ("test.finder", True), ("test.cls", True)]

    # a caller editing what it got back changes nothing for the next one
    again.result.labels[:] = 0
    assert run_ai(seg_info, ct_box, via="test", cache=cache, **FAST).result.labels.any()
    assert len(started) == 2


def test_changed_weights_or_grid_run_again(finder_and_classifier, ct_box, started):
    seg_info, _, folder = finder_and_classifier
    cache = ResultCache()
    first = run_ai(seg_info, ct_box, via="test", cache=cache, **FAST)
    assert len(started) == 1
    # new weights (threshold 0.8 instead of 0.5), declared and consented to: a new key, so it runs
    import torch
    from safetensors.torch import save_file

    w = torch.zeros(2, 1, 1, 1, 1)
    w[1] = 10.0
    save_file({"conv.weight": w, "conv.bias": torch.tensor([0.0, -8.0])}, str(folder / "weights.safetensors"))
    import hashlib

    toml = folder / "plugin.toml"
    old_sha = next(ln for ln in toml.read_text().splitlines() if "sha256" in ln)
    new_sha = hashlib.sha256((folder / "weights.safetensors").read_bytes()).hexdigest()
    toml.write_text(toml.read_text().replace(old_sha, f'sha256 = "{new_sha}"'))
    trust_for_tests(folder)
    from meddiag_desktop.ai.discovery import find_plugin

    second = run_ai(find_plugin("test.finder"), ct_box, via="test", cache=cache, **FAST)
    assert len(started) == 2
    assert first.result.labels.any() and not second.result.labels.any()  # the new weights' answer (0.75 < 0.8)
    # one voxel changed: another study grid, so it runs again
    changed = ct_box.array.copy()
    changed[0, 0, 0] = -999
    other = Volume(changed, ct_box.spacing, ct_box.origin, ct_box.direction, metadata=dict(ct_box.metadata))
    run_ai(find_plugin("test.finder"), other, via="test", cache=cache, **FAST)
    assert len(started) == 3
    # and the same study again is served from the cache
    run_ai(find_plugin("test.finder"), other, via="test", cache=cache, **FAST)
    assert len(started) == 3


def test_rejected_components_are_not_classified(finder_and_classifier, started):
    _, cls_info, folder = finder_and_classifier
    toml = folder / "plugin.toml"  # a lesion label: one finding per component
    toml.write_text(toml.read_text().replace('name = "bright"', 'name = "nodule"'))
    trust_for_tests(folder)
    from meddiag_desktop.ai.discovery import find_plugin

    seg_info = find_plugin("test.finder")
    a = np.full((40, 50, 60), -1000, np.int16)
    a[5:15, 10:20, 10:22] = 500  # component 1 (raster order), the larger
    a[25:33, 30:40, 38:48] = 500  # component 2
    vol = Volume(a, (1.5, 1.5, 2.0), metadata={"modality": "CT"})
    cache = ResultCache()
    seg = run_ai(seg_info, vol, via="test", cache=cache, **FAST)
    assert {f.key for f in seg.findings} == {segment_key("test.finder", 1, 1), segment_key("test.finder", 1, 2)}
    decisions = FindingSet()
    decisions.extend(seg.findings)
    decisions.reject(segment_key("test.finder", 1, 1), by="Dr Test")
    cls = run_ai(cls_info, vol, via="test", cache=cache, findings=decisions, **FAST)
    assert len(started) == 2 and len(cls.result.findings) == 1
    second = seg.sizes[segment_key("test.finder", 1, 2)]
    assert np.allclose(cls.result.findings[0].point_lps, second.centroid_lps)


def test_cache_keeps_the_newest_runs_within_its_count_and_byte_budget():
    from types import SimpleNamespace

    from meddiag_desktop.workflow.ai_run import AIRun
    from meddiag_desktop.workflow.result_cache import RunKey

    def run(n):
        result = SimpleNamespace(labels=np.full((10, 10, 10), n, np.uint8), explanation=None, warnings=[])
        return AIRun(result, None, None)

    cache = ResultCache(capacity=3, max_bytes=2500)
    keys = [RunKey(str(i), "p", "1", "f", "{}") for i in range(4)]
    for i, k in enumerate(keys[:2]):
        cache.put(k, run(i))
    assert len(cache) == 2 and cache.nbytes == 2000
    cache.put(keys[2], run(2))  # 3000 bytes > 2500: the least recently used goes
    assert keys[0] not in cache and keys[1] in cache and keys[2] in cache
    assert cache.get(keys[1]).result.labels[0, 0, 0] == 1
    cache.put(keys[3], run(3))
    assert keys[2] not in cache and keys[1] in cache  # keys[1] was used last
    assert cache.get(RunKey("x", "p", "1", "f", "{}")) is None and cache.get(None) is None
