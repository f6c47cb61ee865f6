"""A source study with an identifying value in every attribute the PS3.15 Basic Profile lists.

Every single-tag row of Table E.1-1 whose VR can hold an identifier (names, texts, IDs,
dates, UIDs, sequences) gets a value of its own in every source file, plus the nested
sequences that leaked before (issuer of accession number, referring physician
identification, contributing equipment with a device serial number, other patient IDs,
request attributes) and private attributes. :func:`planted` lists them, so a test can look
for each one in every output, independently of the exporter's own verifier.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

#: values of the study-level attributes the demo writer sets (see report_helpers.PATIENT)
_TEXT_VRS = {"LO", "SH", "ST", "LT", "UT", "UC", "AE"}


def _token(i: int) -> str:
    """A unique word that appears in no output by chance (letters only, so no date/number clash)."""
    letters = "bcdfghjklmnpqrstvwxz"
    a, b, c = i % 20, (i // 20) % 20, (i // 400) % 20
    return f"Phi{letters[c]}{letters[b]}{letters[a]}q"


def plant(folder: Path) -> dict[str, str]:
    """Add identifying values to every file of ``folder``; returns {attribute path: value}."""
    import pydicom
    from pydicom.datadict import dictionary_VR, keyword_for_tag
    from pydicom.dataset import Dataset
    from pydicom.uid import generate_uid

    from meddiag_desktop.report.phi_profile import CLEAN_DESCRIPTORS, table

    single, _masked = table()
    values: dict[str, str] = {}
    i = 0
    base = _dt.date(1901, 1, 1)
    for tag, (act, _name) in sorted(single.items()):
        try:
            vr, kw = dictionary_VR(tag), keyword_for_tag(tag)
        except KeyError:
            continue
        if not kw or tag >> 16 < 0x0008 or kw in CLEAN_DESCRIPTORS:
            continue
        i += 1
        if vr == "PN":
            values[kw] = f"{_token(i)}^{_token(i + 1000)}"
        elif vr in _TEXT_VRS:
            values[kw] = _token(i)[: 16 if vr in ("SH", "AE") else 64]
        elif vr == "DA":
            values[kw] = (base + _dt.timedelta(days=37 * i)).strftime("%Y%m%d")
        elif vr == "DT":
            values[kw] = (base + _dt.timedelta(days=37 * i)).strftime("%Y%m%d") + "101112"
        elif vr == "UI":
            values[kw] = generate_uid()
        elif vr == "SQ":
            values[kw] = _token(i)
    nested = {
        "IssuerOfAccessionNumberSequence > LocalNamespaceEntityID": "PhiIssuerNamespace",
        "IssuerOfAccessionNumberSequence > UniversalEntityID": "2.25.4242424242",
        "ReferringPhysicianIdentificationSequence > PersonIdentificationCodeSequence > CodeValue": "PhiRefCode77",
        "ReferringPhysicianIdentificationSequence > PersonIdentificationCodeSequence > CodeMeaning": "Dr Phirefmeaning",
        "ReferringPhysicianIdentificationSequence > InstitutionName": "PhiRefInstitute",
        "ContributingEquipmentSequence > DeviceSerialNumber": "PhiSerial9981",
        "ContributingEquipmentSequence > InstitutionName": "PhiContribHospital",
        "ContributingEquipmentSequence > StationName": "PhiContribStatn",
        "OtherPatientIDsSequence > PatientID": "PhiOtherId5521",
        "RequestAttributesSequence > RequestedProcedureID": "PhiReqProc31",
        "RequestAttributesSequence > ScheduledProcedureStepID": "PhiSchedStep32",
        "RequestAttributesSequence > RequestedProcedureDescription": "PhiReqDescription",
        "private (0009,1001)": "PhiPrivateValue",
        "StudyDescription": "CT for Quixote",  # kept, cleaned: the patient's name goes
        "SeriesDescription": "Series of PID-7731-XQ",
    }
    for path in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(path)
        for kw, value in values.items():
            if kw in ds:
                continue  # the writer's own (UIDs, dates the loader uses): identifying already
            vr = dictionary_VR(pydicom.datadict.tag_for_keyword(kw))
            if vr == "SQ":
                item = Dataset()
                item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value[:16], "99PHI", value + "m"
                setattr(ds, kw, [item])
            else:
                setattr(ds, kw, value)
        issuer = Dataset()
        issuer.LocalNamespaceEntityID = nested["IssuerOfAccessionNumberSequence > LocalNamespaceEntityID"]
        issuer.UniversalEntityID = nested["IssuerOfAccessionNumberSequence > UniversalEntityID"]
        issuer.UniversalEntityIDType = "ISO"
        ds.IssuerOfAccessionNumberSequence = [issuer]
        code = Dataset()
        code.CodeValue = nested["ReferringPhysicianIdentificationSequence > PersonIdentificationCodeSequence > CodeValue"]
        code.CodingSchemeDesignator = "99PHI"
        code.CodeMeaning = nested["ReferringPhysicianIdentificationSequence > PersonIdentificationCodeSequence > "
                                  "CodeMeaning"]
        ref = Dataset()
        ref.PersonIdentificationCodeSequence = [code]
        ref.InstitutionName = nested["ReferringPhysicianIdentificationSequence > InstitutionName"]
        ds.ReferringPhysicianIdentificationSequence = [ref]
        equipment = Dataset()
        equipment.Manufacturer = "Acme"
        equipment.DeviceSerialNumber = nested["ContributingEquipmentSequence > DeviceSerialNumber"]
        equipment.InstitutionName = nested["ContributingEquipmentSequence > InstitutionName"]
        equipment.StationName = nested["ContributingEquipmentSequence > StationName"]
        ds.ContributingEquipmentSequence = [equipment]
        other = Dataset()
        other.PatientID = nested["OtherPatientIDsSequence > PatientID"]
        other.TypeOfPatientID = "TEXT"
        ds.OtherPatientIDsSequence = [other]
        request = Dataset()
        request.RequestedProcedureID = nested["RequestAttributesSequence > RequestedProcedureID"]
        request.ScheduledProcedureStepID = nested["RequestAttributesSequence > ScheduledProcedureStepID"]
        request.RequestedProcedureDescription = nested["RequestAttributesSequence > RequestedProcedureDescription"]
        ds.RequestAttributesSequence = [request]
        block = ds.private_block(0x0009, "PHI TEST", create=True)
        block.add_new(0x01, "LO", nested["private (0009,1001)"])
        ds.StudyDescription = nested["StudyDescription"]
        ds.SeriesDescription = nested["SeriesDescription"]
        ds.save_as(path)
    values.update(nested)
    return values
