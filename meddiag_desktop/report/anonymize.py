"""De-identify the DICOM objects and the report model of one export (PS3.15 Basic Profile, table-driven).

Applied to every DICOM dataset written (SEG, SR), never to source files: each attribute,
at every depth of every sequence, gets the action of PS3.15 Table E.1-1 with our options
(:mod:`~meddiag_desktop.report.phi_profile`); private attributes are removed. Within one
:class:`Deidentifier` (one export) each source UID always maps to the same new UID, so
the SR's references to the SEG and to the source images stay consistent; the patient gets
a pseudonym. Dates move by a per-patient shift (Retain Longitudinal Temporal Information,
Modified Dates): the same patient's exports keep their intervals, because the shift is a
keyed hash of the patient ID with a secret kept in the user's data folder.

Free text kept (study and series descriptions, SR text, the PDF's impression, captions and
notes) is cleaned of every identifying value of the source
(:class:`~meddiag_desktop.report.phi_verify.IdentifierMatcher`), and the export is then
verified by :func:`~meddiag_desktop.report.phi_verify.verify_export`.
"""

from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from meddiag_desktop.report.phi_profile import CONDITIONAL_ON, METHOD_CODES, Act, action

__all__ = ["Deidentifier", "METHOD_CODES", "METHOD_TEXT", "pseudonymise_report", "date_shift_key_path",
           "shift_pdf_dates"]

#: DeidentificationMethod (LO, at most 64 characters per value)
METHOD_TEXT = ("MedDiag Desktop PS3.15 Basic Profile", "table E.1-1 2026c", "dates shifted per patient",
               "descriptors and SR content cleaned", "patient sex, age, size, weight kept", "UIDs replaced",
               "private attributes removed")

_DUMMY_TEXT = {"PN": "Anonymous", "LO": "ANONYMIZED", "SH": "ANONYMIZED", "ST": "ANONYMIZED", "LT": "ANONYMIZED",
               "UT": "ANONYMIZED", "UC": "ANONYMIZED", "AE": "ANONYMOUS", "CS": "ANONYMIZED", "UR": "", "TM": "000000",
               "IS": "0", "DS": "0", "AS": "000Y"}
_CLEANABLE = {"LO", "SH", "ST", "LT", "UT", "UC", "PN"}
_SHIFT_RANGE = (30, 3650)  # days back; never less than a month (a shift that maps one source date onto another is skipped)


def _registry_uid(value: str) -> bool:
    """True for UIDs defined by the DICOM standard (SOP classes, transfer syntaxes, code systems)."""
    from pydicom._uid_dict import UID_dictionary

    return value in UID_dictionary


def date_shift_key_path() -> Path:
    """The secret that makes per-patient date shifts unguessable (in the user's data folder)."""
    from meddiag_desktop.paths import user_data_dir

    return user_data_dir() / "date-shift.key"


def _date_shift_key() -> bytes:
    path = date_shift_key_path()
    try:
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    except OSError:
        pass
    from meddiag_desktop.atomic_files import write_bytes_atomic

    key = secrets.token_bytes(32)
    write_bytes_atomic(path, key, 0o600)
    return path.read_bytes()


def patient_date_shift(patient_id: str, issuer: str = "", attempt: int = 0) -> int:
    """The patient's date shift in days (negative; the same for every export of this patient here).

    ``attempt`` > 0 gives the patient's next shift, used only when the first would turn one of a
    study's dates into another of its dates (see :meth:`Deidentifier.for_patient`).
    """
    message = f"{issuer}\0{patient_id}" + (f"\0{attempt}" if attempt else "")
    digest = hmac.new(_date_shift_key(), message.encode(), hashlib.sha256).digest()
    lo, hi = _SHIFT_RANGE
    return -(lo + int.from_bytes(digest[:8], "big") % (hi - lo + 1))


def _shift_collides(days: int, dates: set[str]) -> bool:
    """True when moving one of ``dates`` (``YYYYMMDD``) by ``days`` gives another of them: the shifted
    study date would then show a real date of the source (a study whose series date lies years
    before its study date, as pydicom's CT_small.dcm), and the verifier rightly refuses it."""
    parsed = []
    for d in dates:
        try:
            parsed.append(_dt.datetime.strptime(d, "%Y%m%d").date())
        except ValueError:
            continue
    return any((d + _dt.timedelta(days=days)).strftime("%Y%m%d") in dates for d in parsed)


@dataclass
class Deidentifier:
    """One export's de-identification: pseudonym, date shift, UID map and the source's identifying values."""

    pseudonym: str = field(default_factory=lambda: f"ANON-{secrets.token_hex(4).upper()}")  # PatientID
    date_shift_days: int | None = None  # None: per patient (see :meth:`for_patient`), random without one
    uid_map: dict[str, str] = field(default_factory=dict)
    identifiers: list = field(default_factory=list)  # phi_verify.Identifier of the source
    _issued: set[str] = field(default_factory=set, repr=False)
    _matcher: object = field(default=None, repr=False)

    @property
    def pseudonym_pn(self) -> str:
        """The pseudonym as a Person Name (``ANON^XXXXXXXX``)."""
        return self.pseudonym.replace("-", "^", 1)

    @property
    def shift(self) -> int:
        """The date shift in days (fixed at first use)."""
        if self.date_shift_days is None:
            lo, hi = _SHIFT_RANGE
            dates = self._source_dates()
            for _ in range(64):
                self.date_shift_days = -(lo + secrets.randbelow(hi - lo + 1))
                if not _shift_collides(self.date_shift_days, dates):
                    break
        return self.date_shift_days

    def for_patient(self, patient_id: str, issuer: str = "") -> Deidentifier:
        """Use the per-patient date shift of ``patient_id`` (unless a shift is already fixed).

        Learn the source first (:meth:`learn`): when the patient's shift would turn one of the
        source's dates into another (about 1 in 3,600 for a study with two dates), the patient's
        next shift is used for this study, so no real date of the source appears shifted.
        """
        if self.date_shift_days is None and patient_id:
            dates = self._source_dates()
            for attempt in range(64):
                self.date_shift_days = patient_date_shift(patient_id, issuer, attempt)
                if not _shift_collides(self.date_shift_days, dates):
                    break
        return self

    def _source_dates(self) -> set[str]:
        return {str(i.value)[:8] for i in self.identifiers if getattr(i, "kind", "") == "date"}

    def learn(self, sources, patient=None) -> Deidentifier:
        """Collect the identifying values of the ``sources`` (and ``patient``) that cleaning removes."""
        from meddiag_desktop.report.phi_verify import collect_identifiers

        known = {(i.value, i.kind) for i in self.identifiers}
        self.identifiers += [i for i in collect_identifiers(sources, patient) if (i.value, i.kind) not in known]
        self._matcher = None
        return self

    @property
    def matcher(self):
        from meddiag_desktop.report.phi_verify import IdentifierMatcher

        if self._matcher is None:
            self._matcher = IdentifierMatcher(self.identifiers)
        return self._matcher

    def clean(self, text: str) -> str:
        """``text`` without any identifying value of the source."""
        return self.matcher.clean(text) if text and self.identifiers else text

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
        return (d + _dt.timedelta(days=self.shift)).strftime("%Y%m%d")

    def _shift_dt(self, dt: str) -> str:
        s = str(dt).strip()
        new = self.shift_date(s[:8])
        return new + s[8:] if new else ""

    def apply(self, ds):
        """De-identify ``ds`` in place (a pydicom Dataset; file meta updated too); returns it."""
        self._walk(ds, seen=set())
        meta = getattr(ds, "file_meta", None)
        if meta is not None:
            self._walk(meta, seen=set())
        ds.PatientName = self.pseudonym_pn
        ds.PatientID = self.pseudonym
        ds.PatientIdentityRemoved = "YES"
        ds.LongitudinalTemporalInformationModified = "MODIFIED"
        ds.DeidentificationMethod = list(METHOD_TEXT)
        ds.DeidentificationMethodCodeSequence = [self._code(c) for c in METHOD_CODES]
        age = str(ds.get("PatientAge", "") or "")
        if len(age) == 4 and age.endswith("Y") and age[:3].isdigit() and int(age[:3]) > 89:
            ds.PatientAge = "090Y"
        if "StudyID" in ds:
            ds.StudyID = "ANON"  # a dummy value, so the study still files in a DICOMDIR
        if meta is not None and "SOPInstanceUID" in ds:
            meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        return ds

    def deidentified(self, ds):
        """A de-identified deep copy of ``ds``: the original (and anything it shares with other
        datasets, as highdicom's SEG and SR share elements) is left as it was."""
        return self.apply(copy.deepcopy(ds))

    @staticmethod
    def _code(c: tuple[str, str, str]):
        from pydicom.dataset import Dataset

        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = c
        return item

    def _walk(self, ds, seen: set[int], dummy: bool = False) -> None:
        if id(ds) in seen:
            return
        seen.add(id(ds))
        remove = []
        for elem in ds:
            if elem.tag.is_private:
                remove.append(elem.tag)
                continue
            act = action(int(elem.tag), elem.keyword or "", elem.VR)
            if dummy and act in (Act.KEEP, Act.CLEAN) and elem.VR in _CLEANABLE:
                act = Act.DUMMY
            if act is Act.REMOVE:
                remove.append(elem.tag)
            elif elem.VR == "SQ":
                if act is Act.EMPTY:
                    elem.value = []
                else:  # RECURSE, UID (X/Z/U*), DUMMY (items kept, their texts dummied), KEEP
                    for item in elem.value or ():
                        self._walk(item, seen, dummy or act is Act.DUMMY)
            elif act is Act.EMPTY:
                elem.value = ""
            elif act is Act.SHIFT:
                self._shift(elem)
            elif act is Act.UID:
                self._uids(elem)
            elif act is Act.DUMMY:
                if elem.VR in ("DA", "DT"):
                    self._shift(elem)
                elif elem.VR == "UI":
                    self._uids(elem)
                elif elem.VR in _DUMMY_TEXT:
                    elem.value = _DUMMY_TEXT[elem.VR]
                else:
                    elem.value = b"" if elem.VR in ("OB", "OW", "UN") else ""
            elif elem.VR in _CLEANABLE and elem.value:  # KEEP or CLEAN: never keep a source identifier
                if elem.VM > 1:
                    elem.value = [self.clean(str(v)) for v in elem.value]
                else:
                    elem.value = self.clean(str(elem.value))
        for tag in remove:
            del ds[tag]
        for dependent, condition in CONDITIONAL_ON.items():
            if dependent in ds and condition not in ds:
                del ds[dependent]

    def _shift(self, elem) -> None:
        if not elem.value:
            return
        fn = self.shift_date if elem.VR == "DA" else self._shift_dt
        elem.value = [fn(v) for v in elem.value] if elem.VM > 1 else fn(elem.value)

    def _uids(self, elem) -> None:
        if not elem.value:
            return
        elem.value = [self.uid(v) for v in elem.value] if elem.VM > 1 else self.uid(elem.value)


def pseudonymise_report(report, deid: Deidentifier):
    """A copy of ``report`` for an anonymised PDF: pseudonymous patient block; every free text
    (impression, descriptions, captions, risk input details, measurement names, notes) cleaned of
    every identifying value of the source (all names, IDs, institution, physicians, dates, UIDs);
    the institution line dropped."""
    from dataclasses import replace

    from meddiag_desktop.report.phi_verify import collect_identifiers

    p = report.patient
    if not deid.identifiers:
        deid.learn([], p)
    else:  # the report's own fields too (a study not read from DICOM has nothing else)
        extra = [i for i in collect_identifiers([], p) if (i.value, i.kind) not in
                 {(j.value, j.kind) for j in deid.identifiers}]
        if extra:
            deid.identifiers += extra
            deid._matcher = None
    deid.for_patient(p.patient_id)  # after learning: a shift that maps one source date onto another is skipped
    clean = deid.clean
    def moved(prov):  # AI run times move with the dates: a real time beside a shifted one gives the shift away
        return None if prov is None else replace(prov, run_at=_shift_iso(prov.run_at, deid.shift))

    risks = [replace(r, inputs=tuple(replace(i, detail=clean(i.detail)) for i in r.inputs),
                     warnings=tuple(clean(w) for w in r.warnings)) for r in report.risks]
    patient = p.pseudonymise(deid.pseudonym, deid.uid_map, deid.shift)
    patient = replace(patient, study_description=clean(p.study_description),
                      series_description=clean(p.series_description))
    return replace(
        report,
        patient=patient,
        impression=clean(report.impression),
        key_images=[replace(k, caption=clean(k.caption)) for k in report.key_images],
        measurements=[replace(m, name=clean(m.name), description=clean(m.description), location=clean(m.location),
                              image=clean(m.image)) for m in report.measurements],
        risks=risks,
        notes=[clean(n) for n in report.notes],
        institution="",
        created_at=_shift_iso(report.created_at, deid.shift),
        segments=[replace(x, provenance=moved(x.provenance)) for x in report.segments],
        classifications=[replace(x, provenance=moved(x.provenance)) for x in report.classifications],
        label_maps=[replace(x, provenance=moved(x.provenance)) for x in report.label_maps],
        **_context(report, deid),
    )


def _context(report, deid: Deidentifier) -> dict:
    """Indication, technique and comparison of an anonymised report: texts cleaned, the prior's date shifted."""
    from dataclasses import replace

    clean = deid.clean
    technique = report.technique
    if technique is not None:
        technique = replace(technique, contrast=_from_header("ContrastBolusAgent", technique.contrast, clean, "given"),
                            body_part=_from_header("BodyPartExamined", technique.body_part, clean),
                            series_description=clean(technique.series_description))
    comparison = report.comparison
    if comparison is not None:
        comparison = replace(comparison, study_date=deid.shift_date(comparison.study_date) if comparison.study_date
                             else "", description=clean(comparison.description))
    source = getattr(report, "indication_source", "")
    indication = _from_header(source, report.indication, clean) if source else clean(report.indication)
    return {"indication": indication, "technique": technique, "comparison": comparison}


def _from_header(keyword: str, text: str, clean, removed: str = "[removed]") -> str:
    """A report text copied from the source header attribute ``keyword``: cleaned where the profile keeps or
    cleans that attribute, else replaced by ``removed`` (the profile removes or replaces its value)."""
    if not text:
        return text
    from pydicom.datadict import dictionary_VR, tag_for_keyword

    from meddiag_desktop.report.phi_profile import Act, action

    tag = tag_for_keyword(keyword)
    if tag is None:
        return removed
    return clean(text) if action(tag, keyword, dictionary_VR(tag)) in (Act.KEEP, Act.CLEAN) else removed


def _shift_iso(value: str, days: int) -> str:
    """An ISO 8601 date-time moved by ``days`` (the time of day kept); '' when it is not one."""
    try:
        when = _dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return ""
    return (when + _dt.timedelta(days=days)).isoformat(timespec="seconds")


def shift_pdf_dates(pdf: bytes, days: int) -> bytes:
    """The PDF with its CreationDate and ModDate moved by ``days`` (same length: offsets stay valid),
    so the file's own dates agree with the shifted dates it shows and do not give the shift away."""
    import re

    def move(m):
        d = _dt.datetime.strptime(m.group(2).decode(), "%Y%m%d") + _dt.timedelta(days=days)
        return m.group(1) + d.strftime("%Y%m%d").encode()

    return re.sub(rb"(/(?:CreationDate|ModDate)\s*\(D:)(\d{8})", move, pdf)
