"""Anonymised export: no identifier of the source in any output byte or name; consistent new UIDs."""

from __future__ import annotations

import pydicom
import pytest
from tests.report.report_helpers import ACCESSION, PATIENT, dciodvfy, make_report, pdf_text

from meddiag_desktop.report import export_report


def _identifiers(volume) -> list[str]:
    ids = {PATIENT["patient_name"], PATIENT["patient_name"].replace("^", " "), "Quixote", "Alonso",
           PATIENT["patient_id"], PATIENT["patient_birth_date"], "1947-09-23", ACCESSION}
    for f in volume.metadata["files"]:
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        ids |= {ds.SOPInstanceUID, ds.SeriesInstanceUID, ds.StudyInstanceUID, ds.FrameOfReferenceUID}
    return sorted(ids)


@pytest.fixture
def anonymised(study, tmp_path):
    _, volume, labels = study
    report = make_report(volume, labels, impression="Mrs Quixote (PID-7731-XQ, born 1947-09-23, accession SYN0001): "
                                                    "solid nodule.")
    return volume, export_report(report, volume, tmp_path / "out", anonymize=True)


def test_no_identifier_in_any_output(anonymised):
    volume, result = anonymised
    ids = _identifiers(volume)
    for path in result.paths.values():
        data = path.read_bytes()
        if path.suffix == ".pdf":
            data += pdf_text(path).encode()
        leaked = [i for i in ids if i.encode() in data or i in path.name]
        assert not leaked, f"{path.name} leaks {leaked}"


def test_deidentification_is_recorded_and_valid(anonymised):
    _, result = anonymised
    for kind in ("seg", "sr"):
        ds = pydicom.dcmread(result.paths[kind], stop_before_pixels=True)
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.PatientID == result.pseudonym and str(ds.PatientName) == result.pseudonym.replace("-", "^")
        assert ds.PatientBirthDate == "" and ds.AccessionNumber == ""
        codes = [c.CodeValue for c in ds.DeidentificationMethodCodeSequence]
        assert codes[0] == "113100" and "113107" in codes
        assert ds.DeidentificationMethod
        assert ds.StudyDate != "20260115"
        assert dciodvfy(result.paths[kind]) == []
    pdf = " ".join(pdf_text(result.paths["pdf"]).split())
    assert result.pseudonym in pdf and "pseudonymised" in pdf
    assert "[removed]" in pdf and "solid nodule" in pdf


def test_uids_are_replaced_consistently_across_seg_and_sr(anonymised):
    _, result = anonymised
    seg = pydicom.dcmread(result.paths["seg"], stop_before_pixels=True)
    sr = pydicom.dcmread(result.paths["sr"], stop_before_pixels=True)
    assert seg.StudyInstanceUID == sr.StudyInstanceUID
    seg_sources = {i.ReferencedSOPInstanceUID for i in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
    per_frame = {f.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
                 for f in seg.PerFrameFunctionalGroupsSequence}
    evidence = {s.ReferencedSOPInstanceUID for e in sr.CurrentRequestedProcedureEvidenceSequence
                for r in e.ReferencedSeriesSequence for s in r.ReferencedSOPSequence}
    assert per_frame <= seg_sources
    assert seg_sources | {seg.SOPInstanceUID} == evidence
    ref_seg = [i for i in sr.iterall() if i.keyword == "ReferencedSOPInstanceUID" and i.value == seg.SOPInstanceUID]
    assert ref_seg, "the SR's segment reference must point at the anonymised SEG"


def test_two_exports_get_different_pseudonyms_and_uids(study, tmp_path):
    _, volume, labels = study
    report = make_report(volume, labels, key_images=[])
    a = export_report(report, volume, tmp_path / "a", anonymize=True, pdf=False)
    b = export_report(report, volume, tmp_path / "b", anonymize=True, pdf=False)
    assert a.pseudonym != b.pseudonym
    sa = pydicom.dcmread(a.paths["sr"], stop_before_pixels=True)
    sb = pydicom.dcmread(b.paths["sr"], stop_before_pixels=True)
    assert sa.StudyInstanceUID != sb.StudyInstanceUID


def test_scrubbing_removes_names_as_written_but_keeps_ordinary_words():
    from meddiag_desktop.report import PatientStudy, Report
    from meddiag_desktop.report.anonymize import Deidentifier, pseudonymise_report

    patient = PatientStudy(patient_name="Demo Chest", patient_id="ID77", study_description="Synthetic chest CT (demo)",
                           patient_birth_date="19560412", study_date="20260115")
    report = Report(patient, impression="Mr CHEST (ID77, born 12.04.1956), seen 2026-01-15: chest CT normal.")
    clean = pseudonymise_report(report, Deidentifier())
    assert clean.impression == "Mr [removed] ([removed], born [removed]), seen [removed]: chest CT normal."
    assert clean.patient.study_description == "Synthetic chest CT (demo)"
    assert clean.patient.patient_name.startswith("ANON-") and clean.patient.patient_birth_date == ""
