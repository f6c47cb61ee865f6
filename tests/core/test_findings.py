"""core.findings: AI findings stay proposals until a named reader accepts, rejects or edits them."""

from __future__ import annotations

import pytest

from meddiag_desktop.core.findings import AIFinding, FindingSet, segment_key


def _set():
    pid = "meddiag.chest-ct-seg"
    return FindingSet([
        AIFinding(segment_key(pid, 1), "segment", "right lung", 1, plugin_id=pid, plugin_version="1.0.0"),
        AIFinding(segment_key(pid, 7, 1), "component", "nodule", 7, 1, (1.0, 2.0, 3.0), pid, "1.0.0"),
        AIFinding(segment_key(pid, 7, 2), "component", "nodule", 7, 2, (-68.0, 50.0, -157.0), pid, "1.0.0"),
    ])


def test_decisions_name_the_reader_and_notify_subscribers():
    fs = _set()
    seen = []
    unsubscribe = fs.subscribe(seen.append)
    assert [f.status for f in fs] == ["proposed"] * 3 and fs.confirmed() == []
    with pytest.raises(ValueError, match="names who"):
        fs.accept("meddiag.chest-ct-seg:seg:7:1", by=" ")
    rejected = fs.reject("meddiag.chest-ct-seg:seg:7:2", by="Dr Rita Reader")
    assert rejected.status == "rejected" and rejected.decided_by == "Dr Rita Reader" and rejected.decided_at
    assert rejected.display_name == "nodule 2" and not rejected.confirmed
    accepted = fs.accept_all("Dr Rita Reader")
    assert {f.key for f in accepted} == {"meddiag.chest-ct-seg:seg:1", "meddiag.chest-ct-seg:seg:7:1"}
    assert [f.key for f in seen] == ["meddiag.chest-ct-seg:seg:7:2", *[f.key for f in accepted]]
    assert fs.get("meddiag.chest-ct-seg:seg:7:1").status_text == "accepted by Dr Rita Reader"
    unsubscribe()
    fs.decide("meddiag.chest-ct-seg:seg:1", "proposed", by="")
    assert len(seen) == 3 and fs.get("meddiag.chest-ct-seg:seg:1").decided_by == ""
    with pytest.raises(KeyError, match="no AI finding"):
        fs.get("nope")
    with pytest.raises(ValueError, match="unknown finding status"):
        fs.decide("meddiag.chest-ct-seg:seg:1", "maybe", by="x")


def test_an_edited_label_is_confirmed_by_the_edit_but_a_rejection_stands():
    fs = _set()
    fs.reject("meddiag.chest-ct-seg:seg:7:2", by="R")
    changed = fs.mark_label_edited(7, by="R")  # the segmentation editor's hook
    assert [f.key for f in changed] == ["meddiag.chest-ct-seg:seg:7:1"]
    assert fs.status_of("meddiag.chest-ct-seg", 7, 1) == "edited" and fs.get(changed[0].key).confirmed
    assert fs.status_of("meddiag.chest-ct-seg", 7, 2) == "rejected"
    assert fs.status_of("meddiag.chest-ct-seg", 1) == "proposed"
    assert fs.edited_by("meddiag.chest-ct-seg", 7) == "R" and fs.edited_by("meddiag.chest-ct-seg", 1) is None


def test_a_new_run_of_a_plugin_replaces_its_findings_only():
    fs = _set()
    fs.extend([AIFinding("other:cls:1", "classification", "solid", plugin_id="other")])
    fs.accept("other:cls:1", by="R")
    fs.replace_plugin("meddiag.chest-ct-seg", [AIFinding(segment_key("meddiag.chest-ct-seg", 2), "segment",
                                                         "left lung", 2, plugin_id="meddiag.chest-ct-seg")])
    assert sorted(f.key for f in fs) == ["meddiag.chest-ct-seg:seg:2", "other:cls:1"]
    assert fs.get("other:cls:1").confirmed
