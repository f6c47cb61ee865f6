"""A report PDF as a DICOM Encapsulated PDF instance, in the study of a reference dataset."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

__all__ = ["pdf_to_dicom", "ENCAPSULATED_PDF"]

ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
_PATIENT_STUDY = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate",
                  "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName", "StudyDescription")


def pdf_to_dicom(pdf: str | Path, reference):
    """An Encapsulated PDF Dataset (new series, modality DOC) holding ``pdf``, with ``reference``'s patient and study."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID, generate_uid

    from meddiag_desktop.pacs.errors import PacsError

    data = Path(pdf).read_bytes()
    if not data.startswith(b"%PDF"):
        raise PacsError(f"{pdf}: not a PDF file (it does not start with %PDF)")
    now = _dt.datetime.now()
    sop = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ENCAPSULATED_PDF
    meta.MediaStorageSOPInstanceUID = sop
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = reference.get("SpecificCharacterSet", "ISO_IR 192")
    for kw in _PATIENT_STUDY:
        if kw in reference:
            ds[kw] = reference[kw]
        else:
            setattr(ds, kw, "")
    ds.SOPClassUID = ENCAPSULATED_PDF
    ds.SOPInstanceUID = sop
    ds.Modality = "DOC"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = 9001
    ds.InstanceNumber = 1
    ds.SeriesDescription = "MedDiag report (PDF)"
    ds.ContentDate = now.strftime("%Y%m%d")
    ds.ContentTime = now.strftime("%H%M%S")
    ds.AcquisitionDateTime = now.strftime("%Y%m%d%H%M%S")
    ds.ConversionType = "WSD"
    ds.Manufacturer = "MedDiag Desktop"
    ds.BurnedInAnnotation = "YES"
    ds.DocumentTitle = Path(pdf).stem
    ds.ConceptNameCodeSequence = []
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = data + (b"\0" if len(data) % 2 else b"")
    ds.EncapsulatedDocumentLength = len(data)
    ds.filename = str(pdf)
    return ds
