"""De-identify the DICOM objects of one export (PS3.15 Basic Application Level Confidentiality Profile).

Applied to every DICOM output (SEG, SR), never to source files. Within one
:class:`Deidentifier` (one export) each source UID always maps to the same new UID,
so the SR's references to the SEG and to the source images stay consistent; dates
are shifted by the same random number of days; the patient gets a pseudonym.

Options recorded in DeidentificationMethodCodeSequence:

* 113100 Basic Application Confidentiality Profile;
* 113107 Retain Longitudinal Temporal Information Modified Dates Option (dates shifted);
* 113108 Retain Patient Characteristics Option (sex and age kept: risk models use them;
  ages above 89 are written as 090Y).
"""

from __future__ import annotations

import datetime as _dt
import secrets
from dataclasses import dataclass, field

__all__ = ["Deidentifier", "METHOD_CODES", "METHOD_TEXT", "pseudonymise_report"]

METHOD_CODES = (
    ("113100", "DCM", "Basic Application Confidentiality Profile"),
    ("113107", "DCM", "Retain Longitudinal Temporal Information Modified Dates Option"),
    ("113108", "DCM", "Retain Patient Characteristics Option"),
)
#: DeidentificationMethod (LO, at most 64 characters per value)
METHOD_TEXT = ("MedDiag Desktop PS3.15 Basic Profile", "dates shifted", "patient characteristics retained",
               "UIDs replaced")

#: attributes removed wherever they occur (action X / X/Z / X/D of the profile that our outputs may carry)
_REMOVE = {
    "OtherPatientIDs", "OtherPatientIDsSequence", "OtherPatientNames", "PatientBirthName", "PatientMotherBirthName",
    "PatientAddress", "PatientTelephoneNumbers", "PatientBirthTime", "MilitaryRank", "BranchOfService",
    "MedicalRecordLocator", "Occupation", "AdditionalPatientHistory", "PatientComments", "EthnicGroup",
    "PatientReligiousPreference", "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName",
    "StationName", "PerformingPhysicianName", "OperatorsName", "PhysiciansOfRecord", "NameOfPhysiciansReadingStudy",
    "RequestingPhysician", "AdmittingDiagnosesDescription", "StudyDescription", "RequestAttributesSequence",
    "ReferencedPatientSequence", "IssuerOfPatientID", "PatientInsurancePlanCodeSequence", "CountryOfResidence",
    "RegionOfResidence", "CurrentPatientLocation", "PatientState", "ResponsibleOrganization", "ResponsiblePerson",
    "ClinicalTrialSponsorName", "ProtocolName", "PerformedProcedureStepDescription", "ImageComments",
    "DerivationDescription", "AcquisitionComments", "ReasonForStudy", "RequestedProcedureDescription",
    "InstitutionCodeSequence", "PersonAddress", "PersonTelephoneNumbers", "ScheduledPerformingPhysicianName",
    "PatientBirthDateInAlternativeCalendar", "PatientDeathDateInAlternativeCalendar",
}
#: attributes emptied (action Z: the IOD needs them present)
_EMPTY = {"PatientBirthDate", "AccessionNumber", "ReferringPhysicianName", "ContentCreatorName"}
#: PN attributes that must hold a value (Type 1) when present: a neutral name instead
_DUMMY_PN = {"VerifyingObserverName", "PersonName"}


def _registry_uid(value: str) -> bool:
    """True for UIDs defined by the DICOM standard (SOP classes, transfer syntaxes, code systems)."""
    from pydicom._uid_dict import UID_dictionary

    return value in UID_dictionary


@dataclass
class Deidentifier:
    """One export's de-identification: pseudonym, date shift and UID map."""

    pseudonym: str = field(default_factory=lambda: f"ANON-{secrets.token_hex(4).upper()}")  # PatientID
    date_shift_days: int = field(default_factory=lambda: -secrets.randbelow(3650) - 1)
    uid_map: dict[str, str] = field(default_factory=dict)
    _issued: set[str] = field(default_factory=set, repr=False)

    @property
    def pseudonym_pn(self) -> str:
        """The pseudonym as a Person Name (``ANON^XXXXXXXX``)."""
        return self.pseudonym.replace("-", "^", 1)

    def uid(self, old: str) -> str:
        """The replacement of ``old`` (the same one every time within this export)."""
        from pydicom.uid import generate_uid

        old = str(old).strip()
        if not old or _registry_uid(old) or old in self._issued:
            return old
        if old not in self.uid_map:
            self.uid_map[old] = generate_uid()
            self._issued.add(self.uid_map[old])
        return self.uid_map[old]

    def shift_date(self, da: str) -> str:
        s = str(da).strip()
        try:
            d = _dt.datetime.strptime(s[:8], "%Y%m%d").date()
        except ValueError:
            return ""
        return (d + _dt.timedelta(days=self.date_shift_days)).strftime("%Y%m%d")

    def _shift_dt(self, dt: str) -> str:
        s = str(dt).strip()
        new = self.shift_date(s[:8])
        return new + s[8:] if new else ""

    def apply(self, ds) -> None:
        """De-identify ``ds`` in place (a pydicom Dataset; file meta updated too)."""
        ds.remove_private_tags()
        # highdicom shares item datasets between sequences: visit each once, or values are mapped twice
        self._walk(ds, seen=set())
        ds.PatientName = self.pseudonym_pn
        ds.PatientID = self.pseudonym
        if "StudyID" in ds:
            ds.StudyID = "ANON"  # Z: a dummy value, so the study still files in a DICOMDIR
        ds.PatientIdentityRemoved = "YES"
        ds.LongitudinalTemporalInformationModified = "MODIFIED"
        ds.DeidentificationMethod = list(METHOD_TEXT)
        ds.DeidentificationMethodCodeSequence = [self._code(c) for c in METHOD_CODES]
        age = str(ds.get("PatientAge", "") or "")
        if len(age) == 4 and age.endswith("Y") and age[:3].isdigit() and int(age[:3]) > 89:
            ds.PatientAge = "090Y"
        meta = getattr(ds, "file_meta", None)
        if meta is not None and "SOPInstanceUID" in ds:
            meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID

    @staticmethod
    def _code(c: tuple[str, str, str]):
        from pydicom.dataset import Dataset

        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = c
        return item

    def _walk(self, ds, seen: set[int]) -> None:
        if id(ds) in seen:
            return
        seen.add(id(ds))
        remove = []
        for elem in ds:
            kw = elem.keyword
            if kw in _REMOVE:
                remove.append(elem.tag)
                continue
            if elem.VR == "SQ":
                for item in elem.value:
                    self._walk(item, seen)
                continue
            if kw in _EMPTY:
                elem.value = ""
            elif elem.VR == "UI" and elem.value:
                if elem.VM > 1:
                    elem.value = [self.uid(v) for v in elem.value]
                else:
                    elem.value = self.uid(elem.value)
            elif elem.VR == "DA" and elem.value:
                elem.value = [self.shift_date(v) for v in elem.value] if elem.VM > 1 else self.shift_date(elem.value)
            elif elem.VR == "DT" and elem.value:
                elem.value = self._shift_dt(elem.value)
            elif elem.VR == "PN" and kw != "PatientName":
                elem.value = "Anonymous^Reader" if kw in _DUMMY_PN else ""
        for tag in remove:
            del ds[tag]


def _date_forms(da: str) -> list[str]:
    s = (da or "").strip()
    if len(s) >= 8 and s[:8].isdigit():
        y, m, d = s[:4], s[4:6], s[6:8]
        return [s[:8], f"{y}-{m}-{d}", f"{d}.{m}.{y}", f"{m}/{d}/{y}", f"{d}/{m}/{y}"]
    return []


def pseudonymise_report(report, deid: Deidentifier):
    """A copy of ``report`` for an anonymised export: pseudonymous patient block, and every free text
    (impression, captions, risk input details, measurement names) scrubbed of the source's name parts,
    ID, accession number, birth and study dates and UIDs."""
    import re
    from dataclasses import replace

    p = report.patient
    needles = [p.patient_id, p.accession_number, *_date_forms(p.patient_birth_date), *_date_forms(p.study_date),
               *deid.uid_map.keys(), p.study_uid, p.series_uid, p.frame_of_reference_uid]
    needles = sorted({n for n in needles if n and len(n) >= 2}, key=len, reverse=True)
    # name parts as names are written (Smith, SMITH), whole words only: "Chest" the surname goes,
    # "chest" the body part stays
    parts = {part for part in re.split(r"[\s^,]+", p.patient_name) if len(part) >= 2}
    forms = sorted({f for part in parts for f in (part, part.title(), part.upper())}, key=len, reverse=True)
    patterns = []
    if needles:
        patterns.append(re.compile("|".join(re.escape(n) for n in needles), re.IGNORECASE))
    if forms:
        patterns.append(re.compile(r"(?<![\w])(?:" + "|".join(re.escape(f) for f in forms) + r")(?![\w])"))

    def clean(text: str) -> str:
        for pattern in patterns:
            text = pattern.sub("[removed]", text) if text else text
        return text

    risks = [replace(r, inputs=tuple(replace(i, detail=clean(i.detail)) for i in r.inputs),
                     warnings=tuple(clean(w) for w in r.warnings)) for r in report.risks]
    patient = p.pseudonymise(deid.pseudonym, deid.uid_map, deid.date_shift_days)
    patient = replace(patient, study_description=clean(p.study_description),
                      series_description=clean(p.series_description))
    return replace(
        report,
        patient=patient,
        impression=clean(report.impression),
        key_images=[replace(k, caption=clean(k.caption)) for k in report.key_images],
        measurements=[replace(m, name=clean(m.name), description=clean(m.description)) for m in report.measurements],
        risks=risks,
        notes=[clean(n) for n in report.notes],
    )
