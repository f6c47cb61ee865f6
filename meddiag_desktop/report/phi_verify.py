"""The last check of an anonymised export: no identifying value of the source in any output.

:func:`collect_identifiers` takes every value of an identifying attribute of the source
datasets (those the PS3.15 profile removes, empties, replaces or cleans, and everything
inside a sequence it removes), in the forms a person or a program would write it: name
parts as written, dates as ``YYYYMMDD``, ``YYYY-MM-DD``, ``DD.MM.YYYY``..., UIDs.
:func:`verify_export` then scans every file of the export (DICOM by walking every element
of every sequence, private or not; PDF text through ``pdftotext`` and its metadata and raw
bytes; PNG text chunks; JSON and any other file as text) and the report model the PDF was
drawn from. One hit raises :class:`PHILeakError`, which names the file and the source
attribute, never the value (the message itself must not leak it).

The same :class:`IdentifierMatcher` cleans free text in the anonymisation step, so what
the cleaner removes and what the verifier looks for cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Identifier", "IdentifierMatcher", "PHILeakError", "collect_identifiers", "verify_export",
           "scan_file", "scan_report_model", "date_forms", "burned_in"]

#: value representations whose values can identify (numbers, codes and binary cannot, or are kept by an option)
_TEXT_VRS = {"PN", "LO", "SH", "ST", "LT", "UT", "UC", "UR", "AE"}
_SCANNED_VRS = _TEXT_VRS | {"DA", "DT", "UI"}
#: modalities whose images carry burned-in text unless the header says otherwise
BURNS_IN = frozenset({"US", "SC", "XC", "ES", "OT", "GM", "SM", "DOC"})


_SPACE = re.compile(r"\s+")
#: value representations that hold numbers only (binary): no identifying text can be in them
_NUMERIC_VRS = {"US", "SS", "UL", "SL", "FL", "FD", "AT", "OF", "OD", "OL", "OV", "SV", "UV", "US or SS"}


class PHILeakError(ValueError):
    """An output holds an identifying value of the source; nothing was published."""


@dataclass(frozen=True)
class Identifier:
    """One identifying value of the source: the attribute it came from and the value's written forms."""

    attribute: str  # e.g. "ReferringPhysicianIdentificationSequence > CodeValue"
    value: str
    kind: str  # "name" (matched per part, as written), "uid", "date" or "text"


def date_forms(da: str) -> list[str]:
    """The ways a DICOM date ``YYYYMMDD`` is written in text."""
    s = (da or "").strip()
    if len(s) >= 8 and s[:8].isdigit():
        y, m, d = s[:4], s[4:6], s[6:8]
        return [s[:8], f"{y}-{m}-{d}", f"{d}.{m}.{y}", f"{m}/{d}/{y}", f"{d}/{m}/{y}", f"{y}/{m}/{d}"]
    return []


def _registry_uid(value: str) -> bool:
    from pydicom._uid_dict import UID_dictionary

    return value in UID_dictionary or value.startswith("1.2.840.10008.")


def _values(elem) -> list[str]:
    v = elem.value
    if v is None or v == "":
        return []
    items = list(v) if isinstance(v, (list, tuple)) or type(v).__name__ == "MultiValue" else [v]
    return [str(x).strip() for x in items if x is not None and str(x).strip()]


def _identifying(tag: int, keyword: str, vr: str) -> bool:
    """Whether the attribute's values identify: the profile changes it, and it is not a descriptor
    (descriptors are removed or cleaned, and words such as "Chest" or "Lung" identify no one)."""
    from meddiag_desktop.report.phi_profile import DESCRIPTORS, Act, action

    if keyword in DESCRIPTORS:
        return False
    return vr == "PN" or action(tag, keyword, vr) not in (Act.KEEP, Act.RECURSE)


def _add(out: dict, attribute: str, vr: str, value: str) -> None:
    value = value.strip()
    if vr == "UI":
        if value and not _registry_uid(value):
            out.setdefault((value, "uid"), attribute)
    elif vr == "DA":
        if date_forms(value):
            out.setdefault((value[:8], "date"), attribute)
    elif vr == "DT":
        if date_forms(value):
            out.setdefault((value[:8], "date"), attribute)
        if len(value) > 8:
            out.setdefault((value, "text"), attribute)
    elif vr == "PN":
        for group in value.split("="):
            if group.replace("^", "").strip():
                out.setdefault((group, "name"), attribute)
    elif len(value) >= 3:
        out.setdefault((value, "text"), attribute)


def _walk(ds, path: str, inside_identifying: bool, out: dict, seen: set[int]) -> None:
    if id(ds) in seen:
        return
    seen.add(id(ds))
    for elem in ds:
        if elem.tag.is_private:
            continue  # private values are removed with their tags; the verifier refuses any private tag
        kw = elem.keyword or f"({elem.tag.group:04X},{elem.tag.element:04X})"
        where = f"{path} > {kw}" if path else kw
        identifying = inside_identifying or _identifying(int(elem.tag), elem.keyword or "", elem.VR)
        if elem.VR == "SQ":
            for item in elem.value or ():
                _walk(item, where, identifying, out, seen)
        elif identifying and elem.VR in _SCANNED_VRS:
            for v in _values(elem):
                _add(out, where, elem.VR, v)


def collect_identifiers(datasets: Iterable, patient=None) -> list[Identifier]:
    """Every identifying value of the source ``datasets`` (pydicom, headers suffice), plus those of
    the report's :class:`~meddiag_desktop.report.model.PatientStudy` ``patient`` (for studies not read
    from DICOM)."""
    found: dict[tuple[str, str], str] = {}
    seen: set[int] = set()
    for ds in datasets:
        _walk(ds, "", False, found, seen)
        meta = getattr(ds, "file_meta", None)
        if meta is not None:
            _walk(meta, "", False, found, seen)
    if patient is not None:
        for attr, vr in (("patient_name", "PN"), ("patient_id", "LO"), ("patient_birth_date", "DA"),
                         ("accession_number", "SH"), ("study_uid", "UI"), ("series_uid", "UI"),
                         ("frame_of_reference_uid", "UI"), ("study_date", "DA")):
            value = str(getattr(patient, attr, "") or "")
            if value:
                _add(found, f"report {attr}", vr, value.replace(" ", "^") if vr == "PN" else value)
    return [Identifier(attr, value, kind) for (value, kind), attr in found.items()]


def _name_parts(value: str) -> set[str]:
    parts = {p for p in re.split(r"[\s^,]+", value) if len(p) >= 2}
    return {f for p in parts for f in (p, p.title(), p.upper())}


class IdentifierMatcher:
    """Finds (and cleans) the source's identifying values in text.

    Names match per part, whole words, as written, title-cased or upper-cased (``Smith``, ``SMITH``;
    not lower-cased, so the surname "Chest" does not remove the body part "chest");
    UIDs match whole; dates in all their written forms; other values case-insensitively as
    whole words. Values are also looked for with the whitespace of the text removed, so a
    value wrapped over two PDF lines is still found.
    """

    def __init__(self, identifiers: Sequence[Identifier]):
        self.identifiers = list(identifiers)
        exact: dict[str, str] = {}  # form -> attribute (case-sensitive)
        folded: dict[str, str] = {}  # lower-case form -> attribute
        for ident in self.identifiers:
            if ident.kind == "name":
                for form in _name_parts(ident.value):
                    exact.setdefault(form, ident.attribute)
            elif ident.kind == "date":
                for form in date_forms(ident.value):
                    exact.setdefault(form, ident.attribute)
            elif ident.kind == "uid":
                exact.setdefault(ident.value, ident.attribute)
            else:
                folded.setdefault(ident.value.lower(), ident.attribute)
        self._exact, self._folded = exact, folded
        bound_l, bound_r = r"(?<![A-Za-z0-9])", r"(?![A-Za-z0-9]|\.\d)"

        def alternation(forms) -> str:
            return "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))

        self._exact_re = re.compile(bound_l + "(" + alternation(exact) + ")" + bound_r) if exact else None
        self._folded_re = re.compile(bound_l + "(" + alternation(folded) + ")" + bound_r,
                                     re.IGNORECASE) if folded else None
        squash = {f: a for f, a in exact.items() if " " not in f and len(f) >= 6}
        squash.update({f.replace(" ", ""): a for f, a in folded.items() if len(f.replace(" ", "")) >= 6})
        self._squash = {f.lower(): a for f, a in squash.items()}
        self._squash_re = re.compile("(" + alternation(self._squash) + ")", re.IGNORECASE) if squash else None

    def find(self, text: str) -> str | None:
        """The source attribute whose value ``text`` contains, else None."""
        if not text:
            return None
        if self._exact_re is not None:
            m = self._exact_re.search(text)
            if m:
                return self._exact[m.group(1)]
        if self._folded_re is not None:
            m = self._folded_re.search(text)
            if m:
                return self._folded[m.group(1).lower()]
        if self._squash_re is not None and _SPACE.search(text):
            m = self._squash_re.search(_SPACE.sub("", text))
            if m:
                return self._squash[m.group(1).lower()]
        return None

    def clean(self, text: str, replacement: str = "[removed]") -> str:
        """``text`` with every identifying value replaced by ``replacement``."""
        if not text:
            return text
        for pattern in (self._exact_re, self._folded_re):
            if pattern is not None:
                text = pattern.sub(replacement, text)
        if self.find(text) is not None:  # only found with whitespace removed (a wrapped value): drop the text
            return replacement
        return text


# ------------------------------------------------------------------ scanners
def _scan_dicom(path: Path, matcher: IdentifierMatcher) -> str | None:
    import pydicom

    ds = pydicom.dcmread(path, force=True)
    hits: list[str] = []

    def walk(d, where: str) -> None:
        for elem in d:
            kw = elem.keyword or f"({elem.tag.group:04X},{elem.tag.element:04X})"
            if elem.tag.is_private:
                hits.append(f"private attribute {kw} at {where or 'top level'} (private attributes are never kept)")
                return
            if elem.VR == "SQ":
                for item in elem.value or ():
                    walk(item, f"{where} > {kw}" if where else kw)
                continue
            if elem.tag == 0x7FE00010 or elem.VR in _NUMERIC_VRS:
                continue
            if isinstance(elem.value, (bytes, bytearray)):
                text = bytes(elem.value).decode("latin-1")
            else:
                text = "\\".join(_values(elem))
            attr = matcher.find(text)
            if attr:
                hits.append(f"the source's {attr} in {kw}")
                return

    walk(ds.file_meta, "file meta") if getattr(ds, "file_meta", None) is not None else None
    walk(ds, "")
    if hits:
        return hits[0]
    return _scan_bytes(path.read_bytes(), matcher, skip_pixels=True)


def _scan_bytes(data: bytes, matcher: IdentifierMatcher, skip_pixels: bool = False) -> str | None:
    if skip_pixels:
        cut = data.find(b"\xe0\x7f\x10\x00")
        data = data[:cut] if cut > 0 else data
    attr = matcher.find(data.decode("latin-1"))
    return f"the source's {attr} in the file's bytes" if attr else None


def _pdf_texts(path: Path) -> list[tuple[str, str]]:
    """(where, text) of a PDF: extracted text and metadata (poppler) and the raw and inflated streams."""
    data = path.read_bytes()
    texts = [("raw bytes and metadata", data.decode("latin-1"))]
    for m in re.finditer(rb"stream\r?\n(.*?)endstream", data, re.S):
        try:
            texts.append(("a content stream", zlib.decompress(m.group(1)).decode("latin-1")))
        except zlib.error:
            continue
    for tool, args in (("pdftotext", ["-raw", str(path), "-"]), ("pdfinfo", ["-meta", str(path)])):
        exe = shutil.which(tool)
        if exe:
            out = subprocess.run([exe, *args], capture_output=True, text=True, timeout=120)
            texts.append(("the text" if tool == "pdftotext" else "the metadata", out.stdout))
    return texts


def _png_texts(data: bytes) -> list[str]:
    """Text chunks (tEXt, zTXt, iTXt) and EXIF of a PNG."""
    out, pos = [], 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"tEXt" or kind == b"eXIf":
            out.append(body.decode("latin-1"))
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            try:
                out.append(key.decode("latin-1") + " " + zlib.decompress(rest[1:]).decode("latin-1"))
            except zlib.error:
                out.append(body.decode("latin-1"))
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\0")
            compressed, rest = rest[:1] == b"\1", rest[2:]
            _lang, _, rest = rest.partition(b"\0")
            _tkey, _, text = rest.partition(b"\0")
            try:
                out.append(key.decode("latin-1") + " " + (zlib.decompress(text) if compressed else text).decode("utf-8"))
            except (zlib.error, UnicodeDecodeError):
                out.append(body.decode("latin-1"))
        pos += 12 + length
    return out


def scan_file(path: Path, matcher: IdentifierMatcher) -> str | None:
    """Where ``path`` holds an identifying value (a phrase naming the attribute), else None."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".dcm", ".dicom") or path.read_bytes()[128:132] == b"DICM":
        return _scan_dicom(path, matcher)
    if suffix == ".pdf":
        for where, text in _pdf_texts(path):
            attr = matcher.find(text)
            if attr:
                return f"the source's {attr} in {where}"
        return None
    data = path.read_bytes()
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        for text in _png_texts(data):
            attr = matcher.find(text)
            if attr:
                return f"the source's {attr} in a PNG text chunk"
        return None
    if suffix == ".json":
        text = json.dumps(json.loads(data.decode("utf-8")), ensure_ascii=False)
        attr = matcher.find(text)
        return f"the source's {attr} in the JSON" if attr else None
    return _scan_bytes(data, matcher)


def _model_strings(obj, where: str = "report"):
    if isinstance(obj, str):
        yield where, obj
    elif isinstance(obj, bytes):
        if obj[:8] == b"\x89PNG\r\n\x1a\n":
            for text in _png_texts(obj):
                yield f"{where} (PNG text)", text
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            if f.name in ("array", "label_maps"):
                continue
            yield from _model_strings(getattr(obj, f.name), f"{where}.{f.name}")
    elif isinstance(obj, dict) or type(obj).__name__ == "mappingproxy":
        for k, v in obj.items():
            yield from _model_strings(str(k), f"{where} key")
            yield from _model_strings(v, f"{where}[{k!s:.20}]")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _model_strings(v, f"{where}[{i}]")


def scan_report_model(report, matcher: IdentifierMatcher) -> str | None:
    """Where the report model an anonymised PDF is drawn from holds an identifying value, else None."""
    for where, text in _model_strings(report):
        attr = matcher.find(text)
        if attr:
            return f"the source's {attr} in {where}"
    return None


def verify_export(files: Iterable[Path], identifiers: Sequence[Identifier], report=None) -> None:
    """Raise :class:`PHILeakError` when any of ``files`` (or the PDF's ``report`` model) holds an
    identifying value of the source; the message names the file and the attribute, not the value."""
    matcher = IdentifierMatcher(identifiers)
    if report is not None:
        where = scan_report_model(report, matcher)
        if where:
            raise PHILeakError(f"anonymised export refused: {where}. Nothing was written; remove it from "
                               "the text you entered, or report this as a bug")
    for path in files:
        where = scan_file(Path(path), matcher)
        if where:
            raise PHILeakError(f"anonymised export refused: {Path(path).name} holds {where}. Nothing was "
                               "written; please report this as a bug")


def burned_in(datasets: Iterable) -> str | None:
    """Why the source pixels may show burned-in patient text (None when the headers say they do not)."""
    for ds in datasets:
        flag = str(ds.get("BurnedInAnnotation", "") or "").strip().upper()
        if flag == "YES":
            return "the source images have BurnedInAnnotation YES"
        modality = str(ds.get("Modality", "") or "").strip().upper()
        if not flag and modality in BURNS_IN:
            return f"the source is {modality}, whose images usually carry burned-in text, and does not say otherwise"
    return None
