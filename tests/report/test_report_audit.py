"""The audit log: one JSON line per event, appended, with no patient names or IDs."""

from __future__ import annotations

import json
import stat

import pytest
from tests.report.report_helpers import PATIENT, make_report

from meddiag_desktop.report import export_report
from meddiag_desktop.report.audit import audit, study_key


def test_events_are_appended_as_json_lines(audit_log):
    assert audit("open", "1.2.3", "ok", via="test")
    assert audit("ai_run", "1.2.3", "failed", plugin="x", error="PluginCrashed")
    lines = [json.loads(ln) for ln in audit_log.read_text().splitlines()]
    assert [e["action"] for e in lines] == ["open", "ai_run"]
    assert lines[0]["study"] == study_key("1.2.3") and "1.2.3" not in audit_log.read_text()
    assert set(lines[1]) >= {"time", "action", "study", "outcome", "plugin"}
    assert stat.S_IMODE(audit_log.stat().st_mode) == 0o600
    before = audit_log.read_text()
    audit("export", "1.2.3", "ok")
    assert audit_log.read_text().startswith(before)


def test_patient_fields_are_refused(audit_log):
    with pytest.raises(ValueError, match="identifiers"):
        audit("export", "1.2.3", "ok", patient_name="Doe^John")
    with pytest.raises(ValueError, match="unknown audit action"):
        audit("delete", "1.2.3", "ok")


def test_unwritable_log_does_not_stop_the_work(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("MEDDIAG_AUDIT_LOG", str(blocker / "audit.log"))
    assert audit("open", "1.2.3", "ok") is False


def test_exports_are_audited_without_identifiers(study, tmp_path, audit_log):
    _, volume, labels = study
    export_report(make_report(volume, labels, key_images=[]), volume, tmp_path / "out", anonymize=True)
    text = audit_log.read_text()
    events = [json.loads(ln) for ln in text.splitlines()]
    export = [e for e in events if e["action"] == "export"]
    assert export and export[-1]["outcome"] == "ok" and export[-1]["anonymized"] is True
    assert export[-1]["study"] == study_key(volume.metadata["study_uid"])
    for value in (*PATIENT.values(), "Quixote", volume.metadata["study_uid"]):
        assert value not in text
