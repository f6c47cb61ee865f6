"""The de-identification profile we apply: PS3.15 Table E.1-1 (:mod:`.phi_table`) plus the options we support.

:func:`action` answers, for one attribute met anywhere in a dataset (top level or inside
a sequence item), what :class:`~meddiag_desktop.report.anonymize.Deidentifier` does with it.
The answer is one of :class:`Act`; the table's compound actions (X/Z, X/D, X/Z/D, Z/D)
resolve to the strictest action the IOD allows, using the Type 1 and Type 2 attributes of
the objects we write (SEG, Comprehensive 3D SR).

Options (and what they change):

* Retain Longitudinal Temporal Information, Modified Dates (113107): every DA and DT value
  is moved by the patient's date shift (whole days); times of day are kept. Patient's birth
  date is still emptied.
* Retain Patient Characteristics (113108), limited to sex, age (ages above 89 written 090Y),
  size and weight: the risk models use them.
* Clean Descriptors (113105): study and series descriptions are kept after every
  identifying value of the source has been removed from them (the other descriptors are
  removed). Cleaning removes the identifiers the source's own attributes hold; a descriptor
  naming someone the headers do not name elsewhere would keep that name.
* Clean Structured Content (113104): the SR content tree is kept (the profile's D would
  replace it with a dummy); each content item goes through this same table.

Not supported: Retain Safe Private (every private attribute is removed), Retain UIDs,
Retain Device or Institution Identity, Retain Full Dates, Clean Graphics (we write no
overlays or graphic annotations: they are removed).
"""

from __future__ import annotations

import enum
from functools import lru_cache

from meddiag_desktop.report.phi_table import ROWS, STANDARD_EDITION

__all__ = ["Act", "action", "table", "CONDITIONAL_ON", "METHOD_CODES", "CLEAN_DESCRIPTORS", "DESCRIPTORS", "LOCAL_REMOVALS", "STANDARD_EDITION"]

#: DeidentificationMethodCodeSequence (CID 7050): the profile and each option we apply
METHOD_CODES = (
    ("113100", "DCM", "Basic Application Confidentiality Profile"),
    ("113104", "DCM", "Clean Structured Content Option"),
    ("113105", "DCM", "Clean Descriptors Option"),
    ("113107", "DCM", "Retain Longitudinal Temporal Information Modified Dates Option"),
    ("113108", "DCM", "Retain Patient Characteristics Option"),
)


class Act(enum.Enum):
    """What happens to one attribute."""

    KEEP = "K"        # kept as is (text values are still cleaned of the source's identifying values)
    REMOVE = "X"
    EMPTY = "Z"
    DUMMY = "D"       # a neutral value of the attribute's VR; a sequence keeps its items with dummy texts
    UID = "U"         # the export's consistent replacement UID
    CLEAN = "C"       # kept, cleaned of the source's identifying values
    SHIFT = "S"       # date or date-time moved by the patient's date shift
    RECURSE = "R"     # a sequence kept; its items go through the profile


#: the attributes with C in the Clean Descriptors option's column of Table E.1-1 (keywords): free-text
#: descriptions, not identifiers
DESCRIPTORS = frozenset("""
AcquisitionComments AcquisitionDeviceProcessingDescription AcquisitionFieldOfViewLabel AcquisitionProtocolDescription
AdditionalPatientHistory AdmittingDiagnosesDescription Allergies AnnotationGroupDescription AnnotationGroupLabel
BeamDescription BolusDescription ClinicalTrialSeriesDescription ClinicalTrialTimePointDescription
CommentsOnRadiationDose CommentsOnThePerformedProcedureStep CompensatorDescription ContainerDescription
ContrastBolusAgent ContributionDescription DerivationDescription DeviceSettingDescription
DischargeDiagnosisDescription DoseReferenceDescription EntityDescription EntityLabel EntityLongLabel EntityName
FixationDeviceDescription FractionGroupDescription FrameComments IdentifyingComments ImageComments
ImagingServiceRequestComments Impressions InterlockDescription InterpretationDiagnosisDescription
InterpretationText LabelText LongDeviceDescription MedicalAlerts Occupation PatientComments PatientState
PerformedProcedureStepDescription PrescriptionDescription ProtocolName ReasonForStudy ReasonForVisit
RequestedContrastAgent RequestedProcedureComments RequestedProcedureDescription RequestedSeriesDescription
ResultsComments ROIDescription ROIGenerationDescription ROIName ROIObservationDescription ROIObservationLabel
RTPlanDescription RTPlanLabel RTPlanName ScheduledProcedureStepDescription SeriesDescription
ServiceEpisodeDescription SetupTechniqueDescription ShieldingDeviceDescription SpecimenDetailedDescription
SpecimenShortDescription StructureSetDescription StructureSetLabel StructureSetName StudyComments StudyDescription
TreatmentSite UserContentLabel UserContentLongLabel VisitComments
""".split())
#: the descriptors we keep after cleaning (Clean Descriptors); the other descriptors follow the table
#: (mostly X): our SEG and SR need none of them, and removing is always allowed
CLEAN_DESCRIPTORS = frozenset({"StudyDescription", "SeriesDescription"})

#: attributes the table does not list but which name or qualify an identifier it removes: removed too
LOCAL_REMOVALS = frozenset({
    "IssuerOfAccessionNumberSequence",  # qualifies the (emptied) accession number: hospital namespace
    "IssuerOfPatientIDQualifiersSequence",  # qualifies the patient ID
    "IssuerOfAdmissionIDSequence", "IssuerOfServiceEpisodeIDSequence",
    "SourceApplicationEntityTitle", "SendingApplicationEntityTitle", "ReceivingApplicationEntityTitle",
    "PrivateInformationCreatorUID", "PrivateInformation",
})

#: patient characteristics we retain (113108)
_RETAINED = frozenset({"PatientSex", "PatientAge", "PatientSize", "PatientWeight"})
#: never shifted, always emptied (the birth date identifies more than it tells)
_ALWAYS_EMPTY = frozenset({"PatientBirthDate"})
_ALWAYS_REMOVE = frozenset({"PatientBirthTime"})
#: Type 1 attributes of the modules our SEG and SR carry: a compound action resolves to D
_TYPE1 = frozenset({
    "ContentDate", "ContentTime", "DeviceSerialNumber", "PersonName", "VerifyingObserverName",
    "VerifyingOrganization", "ObservationDateTime", "VerificationDateTime", "UID", "DateTime", "Date", "Time",
    "ContentSequence", "ContainerIdentifier",
})
#: Type 2 attributes of those modules: a compound action resolves to Z
_TYPE2 = frozenset({
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime", "ReferringPhysicianName",
    "StudyID", "AccessionNumber", "ContentCreatorName", "ReferencedPerformedProcedureStepSequence",
    "PerformedProcedureCodeSequence", "SeriesNumber",
})
_DATE_VRS = {"DA", "DT"}
#: Type 1C attributes whose condition is an attribute the profile removes: removed with it
#: (the table's D would leave them present when their condition is not met)
CONDITIONAL_ON = {"ClinicalTrialProtocolEthicsCommitteeName": "ClinicalTrialProtocolEthicsCommitteeApprovalNumber"}


@lru_cache(maxsize=1)
def table() -> tuple[dict[int, tuple[str, str]], tuple[tuple[int, int, str, str], ...]]:
    """(tag -> (action, keyword), ((value, mask, action, name), ...) for repeating groups) of Table E.1-1."""
    single: dict[int, tuple[str, str]] = {}
    masked = []
    for line in ROWS.strip().splitlines():
        tag, act, name = line.split(" ", 2)
        if "/" in tag:
            value, mask = tag.split("/")
            masked.append((int(value, 16), int(mask, 16), act, name))
        else:
            single[int(tag, 16)] = (act, name)
    return single, tuple(masked)


def table_action(tag: int) -> str | None:
    """The Basic Profile's action code for ``tag`` ('X', 'Z/D', ...), None when the table does not list it."""
    single, masked = table()
    if tag in single:
        return single[tag][0]
    for value, mask, act, _ in masked:
        if tag & mask == value:
            return act
    return None


def action(tag: int, keyword: str, vr: str) -> Act:
    """What the profile with our options does with the attribute ``tag`` (``keyword``, ``vr``)."""
    if tag >> 16 & 1:
        return Act.REMOVE  # private (odd group): Retain Safe Private is not supported
    if tag >> 16 == 0x0002:  # file meta: the writer's implementation, and the instance's UID
        if keyword in LOCAL_REMOVALS:
            return Act.REMOVE
        return Act.UID if keyword == "MediaStorageSOPInstanceUID" else Act.KEEP
    if keyword in _ALWAYS_REMOVE or keyword in LOCAL_REMOVALS:
        return Act.REMOVE
    if keyword in _ALWAYS_EMPTY:
        return Act.EMPTY
    if keyword in _RETAINED:
        return Act.KEEP
    if keyword == "ContentSequence":
        return Act.RECURSE  # Clean Structured Content
    code = table_action(tag)
    if vr in _DATE_VRS:
        return Act.SHIFT  # Modified Dates: every date is shifted, listed or not
    if vr == "TM" and code is not None:
        return Act.KEEP  # Modified Dates keeps the time of day (whole-day shift)
    if code is None:
        if vr == "UI":
            return Act.UID  # every instance UID is replaced, listed or not (registry UIDs are kept)
        return Act.RECURSE if vr == "SQ" else Act.KEEP
    if keyword in CLEAN_DESCRIPTORS:
        return Act.CLEAN
    if code == "U" or code == "X/Z/U*":
        return Act.UID if vr != "SQ" else Act.RECURSE
    if code in ("X", "Z", "D"):
        return {"X": Act.REMOVE, "Z": Act.EMPTY, "D": Act.DUMMY}[code]
    # compound: the strictest the objects we write allow
    if keyword in _TYPE1 and "D" in code:
        return Act.DUMMY
    if keyword in _TYPE2 or keyword in _TYPE1:
        return Act.EMPTY if "Z" in code else Act.DUMMY
    if code.startswith("X"):
        return Act.REMOVE
    return Act.EMPTY if code.startswith("Z") else Act.DUMMY
