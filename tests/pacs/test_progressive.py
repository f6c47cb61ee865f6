"""Instances reported as they land (C-GET, C-MOVE, WADO-RS from a real Orthanc) and volumes of what has arrived."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from meddiag_desktop.pacs import LocalAE, resolve_node, retrieve
from meddiag_desktop.pacs.progressive import Arrivals, load_arrived
from tests.pacs.conftest import make_ct

SLICES = 60


@pytest.fixture(scope="module")
def long_ct(orthanc, tmp_path_factory):
    """A 60-slice CT of patient PROG0001 in Orthanc: (study_uid, series_uid, array, files)."""
    arr, files = make_ct(tmp_path_factory.mktemp("prog") / "series", patient_id="PROG0001",
                         patient_name="Progressive^Test", slices=SLICES, size=16, seed=60)
    orthanc.upload(files)
    ds = pydicom.dcmread(files[0], stop_before_pixels=True)
    return str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), arr, files


@pytest.mark.parametrize("method", ["get", "move", "wado"])
def test_each_instance_is_reported_as_it_lands(orthanc, long_ct, db, method):
    from meddiag_desktop import io

    study_uid, series_uid, arr, _ = long_ct
    node = resolve_node(orthanc.dicomweb_url if method == "wado" else orthanc.node_text, timeout=20)
    arrivals = Arrivals(db, study_uid)
    landed: list[tuple[bool, int]] = []  # (file on disk at the callback, instances reported so far)

    def on_instance(path):
        arrivals.on_instance(path)
        landed.append((path.is_file(), arrivals.count()))

    out = retrieve(node, study_uid, db, method="get" if method == "wado" else method,
                   local=LocalAE(orthanc.our_ae, orthanc.our_port), on_plan=arrivals.on_plan, on_instance=on_instance)
    assert out["complete"] and out["instances"] == SLICES
    assert arrivals.planned.is_set()
    folder, arrived, expected = arrivals.focus()
    assert expected == SLICES and len(arrived) == SLICES == len(landed)
    assert all(on_disk for on_disk, _ in landed)
    assert folder == db.managed_path(study_uid, series_uid, "x").parent
    assert sorted(arrived) == sorted(folder.glob("*.dcm"))
    number = {p: int(pydicom.dcmread(p, stop_before_pixels=True).InstanceNumber) for p in arrived}
    if method != "wado":  # DIMSE followed by a viewer: the middle 16 slices first, then blocks outwards
        assert sorted(number[p] for p in arrived[:16]) == list(range(23, 39))
        assert sorted(number[p] for p in arrived[16:38]) == list(range(39, 61))
        assert sorted(number[p] for p in arrived[38:]) == list(range(1, 23))
    # a volume of what had arrived after 20 instances: a slab of the final one, same geometry
    part = load_arrived(arrived[:20])
    full = io.load(folder)
    np.testing.assert_array_equal(full.array, arr)
    numbers = sorted(int(pydicom.dcmread(p, stop_before_pixels=True).InstanceNumber) for p in arrived[:20])
    run = _longest_consecutive(numbers)
    assert part.shown == len(run) and part.arrived == 20
    np.testing.assert_array_equal(part.volume.array, arr[run[0] - 1:run[-1]])
    np.testing.assert_allclose(part.volume.spacing, full.spacing)
    np.testing.assert_allclose(part.volume.to_lps((0, 0, 0)), full.to_lps((0, 0, run[0] - 1)), atol=1e-4)


def _longest_consecutive(numbers: list[int]) -> list[int]:
    best, cur = [], []
    for n in numbers:
        cur = cur + [n] if cur and n == cur[-1] + 1 else [n]
        if len(cur) > len(best):
            best = cur
    return best


def test_a_resumed_retrieve_counts_what_was_there(orthanc, long_ct, db):
    from meddiag_desktop.pacs import PacsCancelled

    study_uid, _, _, _ = long_ct
    node = resolve_node(orthanc.node_text, timeout=20)
    first = Arrivals(db, study_uid)
    with pytest.raises(PacsCancelled):  # the reader cancels after 25 instances
        retrieve(node, study_uid, db, on_plan=first.on_plan, on_instance=first.on_instance,
                 cancel=lambda: first.count() >= 25)
    kept = first.count()
    assert 25 <= kept < SLICES and db.study(study_uid).status == "partial"
    again = Arrivals(db, study_uid)
    out = retrieve(node, study_uid, db, on_plan=again.on_plan, on_instance=again.on_instance)
    _, arrived, expected = again.focus()
    assert expected == SLICES and out["instances"] == SLICES and out["received"] == SLICES - kept
    assert len(arrived) == SLICES and again.first_view_ready()
