"""Write a report's PDF, DICOM SEG and SR into a folder: atomically as a set, owner-only, never beside the source.

Everything is built in memory first; then the files are written into a staging folder
beside the destination, flushed and fsync'ed, made ``0o600``, checked for identifying
values when anonymised, and published in one rename (:mod:`~meddiag_desktop.report.export_set`),
so a crash, a kill or a full disk leaves the previous set or the new one, never a mix.
Source files are only read. Each export is audited.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from meddiag_desktop.atomic_files import write_bytes_atomic
from meddiag_desktop.core.volume import Volume
from meddiag_desktop.report.export_set import ExportError, publish_set
from meddiag_desktop.report.model import Report

__all__ = ["ExportError", "ExportResult", "export_report", "source_folders", "source_headers", "check_destination", "write_atomic",
           "FILE_NAMES"]

#: fixed output names: nothing about the patient goes into a file name
FILE_NAMES = {"pdf": "report.pdf", "seg": "seg.dcm", "sr": "sr.dcm"}


@dataclass
class ExportResult:
    """What was written (kind -> path), what was skipped and why, and the pseudonym when anonymised."""

    paths: dict[str, Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    anonymized: bool = False
    pseudonym: str = ""


def source_folders(volume: Volume) -> list[Path]:
    """Folders the study was read from (the export must not write into any of them)."""
    md = volume.metadata
    folders = {Path(f).resolve().parent for f in md.get("files") or []}
    for key in ("source_folder",):
        if md.get(key):
            folders.add(Path(md[key]).resolve())
    if md.get("path"):
        folders.add(Path(md["path"]).resolve().parent)
    return sorted(folders)


def check_destination(out_dir: str | os.PathLike, volume: Volume) -> Path:
    """``out_dir`` resolved; :class:`ExportError` when it is (inside) a folder the study came from."""
    out = Path(out_dir).expanduser().resolve()
    for src in source_folders(volume):
        if out == src or src in out.parents:
            raise ExportError(
                f"refusing to write into {out}: it is inside the study's source folder {src}. Source folders are "
                "never written to; choose an output folder elsewhere (e.g. --out ~/meddiag-reports/case1)"
            )
    return out


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder, fsync, chmod, rename."""
    write_bytes_atomic(path, data, mode)


def _dicom_bytes(ds) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def export_report(
    report: Report,
    volume: Volume,
    out_dir: str | os.PathLike,
    *,
    anonymize: bool = False,
    pdf: bool = True,
    dicom: bool = True,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
    deidentifier=None,
    allow_burned_in: bool = False,
    seg_type: str = "BINARY",
) -> ExportResult:
    """Write ``report.pdf``, ``seg.dcm`` (when there are label maps) and ``sr.dcm`` into ``out_dir``.

    Parameters
    ----------
    anonymize:
        de-identify every DICOM output (:mod:`~meddiag_desktop.report.anonymize`) and show only a
        pseudonym in the PDF.
    dicom:
        False writes the PDF only. A study whose images cannot be referenced by a SEG/SR (not DICOM,
        slices placed without positions, a multi-frame image without frame positions) gets the PDF and
        a warning saying why.
    overwrite:
        replace existing outputs; otherwise an existing ``report.pdf``... is an :class:`ExportError`.
    progress:
        called with a short text before each step.
    deidentifier:
        the :class:`~meddiag_desktop.report.anonymize.Deidentifier` to use when anonymising (e.g. the
        one whose pseudonym a preview showed); a fresh one by default.
    allow_burned_in:
        keep the key images (source pixels) in an anonymised PDF although the source says, or its
        modality suggests, that names are burned into the pixels; otherwise they are left out, with a
        warning. The user must have confirmed this.
    seg_type:
        ``"BINARY"`` (default: every SEG viewer reads it) or ``"LABELMAP"`` (DICOM 2024 Label Map
        Segmentation; newer viewers only, no overlapping segments); see
        :mod:`~meddiag_desktop.report.dicom_seg`.

    The set is written into a staging folder beside ``out_dir`` and published in one rename
    (:mod:`~meddiag_desktop.report.export_set`); an anonymised set is verified
    (:func:`~meddiag_desktop.report.phi_verify.verify_export`) before it is published.
    """
    from meddiag_desktop.report.audit import audit

    say = progress or (lambda text: None)
    study_uid = str(volume.metadata.get("study_uid", "") or report.patient.study_uid)
    try:
        result = _export(report, volume, out_dir, anonymize, pdf, dicom, overwrite, say, deidentifier,
                         allow_burned_in, seg_type)
    except BaseException as exc:
        audit("export", study_uid, "failed", error=type(exc).__name__, anonymized=anonymize)
        raise
    audit("export", study_uid, "ok", files=sorted(p.name for p in result.paths.values()), anonymized=anonymize,
          segments=len(report.segments), risks=len(report.risks))
    return result


def source_headers(volume: Volume) -> list:
    """Headers of every source file (identifying values and BurnedInAnnotation); [] when not DICOM."""
    import pydicom

    out = []
    for f in volume.metadata.get("files") or []:
        try:
            out.append(pydicom.dcmread(f, stop_before_pixels=True, force=True))
        except Exception:  # noqa: BLE001 - a header we cannot read adds no identifier; the loader read it
            continue
    return out


def _seg_or_warning(report, volume, sources, seg_type: str, warnings: list[str]):
    """(SEG, segment refs) of the report's label maps, or (None, []) with a warning saying why there is none.

    A LABELMAP SEG whose segments overlap is stored as BINARY instead (every LABELMAP reader reads
    BINARY too, so nothing is lost), with a warning; the PDF and the SR's other content go out either way.
    """
    from meddiag_desktop.report.dicom_seg import DicomExportError, SegmentsOverlapError, build_seg

    try:
        try:
            return build_seg(volume, report.label_maps, sources, app_version=report.app_version, seg_type=seg_type)
        except SegmentsOverlapError as exc:
            warnings.append(f"DICOM SEG stored as BINARY, not LABELMAP: {exc}")
            return build_seg(volume, report.label_maps, sources, app_version=report.app_version)
    except DicomExportError as exc:
        warnings.append(f"no DICOM SEG: {exc}")
        return None, []


def _export(report, volume, out_dir, anonymize, pdf, dicom, overwrite, say, deidentifier,
            allow_burned_in, seg_type="BINARY") -> ExportResult:
    out = check_destination(out_dir, volume)
    result = ExportResult(anonymized=anonymize)
    blobs: dict[str, bytes] = {}
    deid = None
    headers: list = []
    if anonymize:
        from meddiag_desktop.report.anonymize import Deidentifier
        from meddiag_desktop.report.phi_verify import burned_in

        deid = deidentifier or Deidentifier()
        result.pseudonym = deid.pseudonym
        say("reading source headers")
        headers = source_headers(volume)
        deid.learn(headers, report.patient)
        deid.for_patient(report.patient.patient_id)  # as the GUI preview does: the same shift in both
        why = burned_in(headers)
        if why and report.key_images and not allow_burned_in:
            from dataclasses import replace

            report = replace(report, key_images=[])
            result.warnings.append(f"key images left out of the anonymised PDF: {why}, so the pixels may show the "
                                   "patient's name; confirm to include them (meddiag report --allow-burned-in)")
    if dicom:
        from meddiag_desktop.report.dicom_seg import DicomExportError, source_datasets
        from meddiag_desktop.report.dicom_sr import build_sr

        try:
            say("reading source headers")
            sources = source_datasets(volume)
        except DicomExportError as exc:
            sources = None
            result.warnings.append(f"no DICOM SEG/SR: {exc}")
        if sources is not None:
            seg, refs = None, []
            if report.label_maps and any(lm.present() for lm in report.label_maps):
                say("building DICOM SEG")
                seg, refs = _seg_or_warning(report, volume, sources, seg_type, result.warnings)
            elif report.label_maps:
                result.warnings.append("no DICOM SEG: the segmentation is empty")
            say("building DICOM SR")
            try:
                sr = build_sr(report, volume, sources, seg, refs)
            except DicomExportError as exc:
                sr = None
                result.warnings.append(f"no DICOM SR: {exc}")
            if deid is not None:
                say("de-identifying")
                # each on its own deep copy: highdicom's SEG and SR share elements, and a shared date
                # element was shifted once per dataset (twice in all)
                seg = deid.deidentified(seg) if seg is not None else None
                sr = deid.deidentified(sr) if sr is not None else None
            if seg is not None:
                blobs["seg"] = _dicom_bytes(seg)
            if sr is not None:
                blobs["sr"] = _dicom_bytes(sr)
    shown = report
    if pdf:
        say("rendering PDF")
        from meddiag_desktop.report.pdf import render_pdf

        if deid is not None:
            from meddiag_desktop.report.anonymize import pseudonymise_report

            shown = pseudonymise_report(report, deid)
        blobs["pdf"] = render_pdf(shown)
        if deid is not None:
            from meddiag_desktop.report.anonymize import shift_pdf_dates

            blobs["pdf"] = shift_pdf_dates(blobs["pdf"], deid.shift)
    if not blobs:
        raise ExportError("nothing to write: enable the PDF or DICOM output")
    files = {FILE_NAMES[k]: blobs[k] for k in ("seg", "sr", "pdf") if k in blobs}
    verify = None
    if deid is not None:
        from meddiag_desktop.report.phi_verify import verify_export

        def verify(paths: list[Path]) -> None:
            say("checking the export for identifying values")
            verify_export(paths, deid.identifiers, report=shown if pdf else None)

    written = publish_set(out, files, overwrite=overwrite, say=say, verify=verify)
    for kind in ("seg", "sr", "pdf"):
        if kind in blobs:
            result.paths[kind] = written[FILE_NAMES[kind]]
    return result
