"""What :func:`meddiag_desktop.io.scan` finds: series, their instances, skipped files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["InstanceHeader", "SeriesInfo", "SkippedFile", "ScanResult"]


@dataclass
class InstanceHeader:
    """The header fields of one DICOM file that scanning and loading need."""

    path: Path
    file_size: int
    transfer_syntax: str
    sop_class_uid: str = ""
    sop_instance_uid: str = ""
    series_uid: str = ""
    study_uid: str = ""
    frame_of_reference_uid: str = ""
    patient_name: str = ""
    patient_id: str = ""
    patient_sex: str = ""
    patient_birth_date: str = ""
    patient_age: str = ""
    study_date: str = ""
    study_description: str = ""
    series_description: str = ""
    series_number: int | None = None
    instance_number: int | None = None
    acquisition_number: int | None = None
    modality: str = ""
    rows: int = 0
    columns: int = 0
    number_of_frames: int = 1
    samples_per_pixel: int = 1
    photometric: str = ""
    bits_allocated: int = 0
    bits_stored: int = 0
    pixel_representation: int = 0
    position: tuple[float, float, float] | None = None
    orientation: tuple[float, float, float, float, float, float] | None = None
    #: PatientOrientation (0020,0020): patient directions of the rows and columns of a projection
    #: image without ImageOrientationPatient (CR/DX/MG), e.g. ("L", "F")
    patient_orientation: tuple[str, ...] = ()
    pixel_spacing: tuple[float, float] | None = None  # (row spacing, column spacing) as in the tag
    spacing_source: str = ""  # tag the pixel spacing came from
    slice_thickness: float | None = None
    gantry_tilt: float | None = None
    rescale_slope: float = 1.0
    rescale_intercept: float = 0.0
    window_centers: tuple[float, ...] = ()
    window_widths: tuple[float, ...] = ()
    window_explanations: tuple[str, ...] = ()
    is_enhanced: bool = False
    #: LossyImageCompression ("01": the pixels went through lossy compression), its ratios and methods
    lossy: str = ""
    lossy_ratios: tuple[float, ...] = ()
    lossy_methods: tuple[str, ...] = ()
    #: ImageType (0008,0008) values, upper case (e.g. ORIGINAL, PRIMARY, ..., MOSAIC)
    image_type: tuple[str, ...] = ()
    #: file offset of the native pixel data value, when it can be read directly
    pixel_offset: int | None = None
    pixel_length: int | None = None

    @property
    def is_mosaic(self) -> bool:
        """A Siemens mosaic: one image tiling all slices of a volume (unpacked from its CSA header)."""
        return "MOSAIC" in self.image_type and self.number_of_frames == 1

    @property
    def frame_bytes(self) -> int:
        return self.rows * self.columns * self.samples_per_pixel * max(self.bits_allocated // 8, 1)


@dataclass
class SeriesInfo:
    """One displayable series (a SeriesInstanceUID, split by orientation and image size)."""

    series_uid: str
    key: str
    description: str
    modality: str
    image_count: int
    patient_name: str = ""
    patient_id: str = ""
    study_uid: str = ""
    study_description: str = ""
    study_date: str = ""
    series_number: int | None = None
    rows: int = 0
    columns: int = 0
    split_reason: str = ""
    instances: list[InstanceHeader] = field(default_factory=list, repr=False)
    #: set for non-DICOM image files (NIfTI, NRRD, MetaImage)
    path: Path | None = None
    #: what scanning noticed about the series (shown as warnings when it is loaded)
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """Short text for lists: number, description, modality and count."""
        num = f"#{self.series_number} " if self.series_number is not None else ""
        desc = self.description or "(no description)"
        extra = f" [{self.split_reason}]" if self.split_reason else ""
        return f"{num}{desc} — {self.modality or '?'}, {self.image_count} image(s){extra}"


@dataclass(frozen=True)
class SkippedFile:
    """A file that scanning passed over, and why."""

    path: Path
    reason: str


class ScanResult(list):
    """The series found by a scan (a ``list`` of :class:`SeriesInfo`) and the skipped files."""

    def __init__(self, series=(), skipped=()):
        super().__init__(series)
        self.skipped: list[SkippedFile] = list(skipped)
