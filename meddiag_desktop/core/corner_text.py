"""Texts of the views' corners and readouts, as a radiologist reads them (pure Python).

* a DICOM date ``20130415`` reads ``2013-04-15`` (:func:`format_dicom_date`);
* a person name ``Doe^Jane`` reads ``Doe Jane`` (:func:`format_person_name`);
* a position along a patient axis reads with the letter of the side it lies on:
  ``R 79.0 mm``, never ``L -79.0 mm`` (:func:`axis_position_text`, :func:`lps_text`);
* lossy-compressed images are marked ``LOSSY (ratio 18:1, JPEG 2000)``
  (:func:`lossy_text`), as PS3.3 C.7.6.1.1.5 asks of viewers.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["format_dicom_date", "format_person_name", "axis_position_text", "lps_text", "lossy_text", "LOSSY_METHODS"]

#: LossyImageCompressionMethod defined terms (PS3.3 C.7.6.1.1.5.1) and the names readers know
LOSSY_METHODS: dict[str, str] = {
    "ISO_10918_1": "JPEG",
    "ISO_14495_1": "JPEG-LS",
    "ISO_15444_1": "JPEG 2000",
    "ISO_15444_15": "HTJ2K",
    "ISO_13818_2": "MPEG-2",
    "ISO_14496_10": "H.264",
    "ISO_23008_2": "HEVC",
}
_LETTERS = (("R", "L"), ("A", "P"), ("I", "S"))  # (negative, positive) along L, P, S


def format_dicom_date(value: str) -> str:
    """``"20130415"`` -> ``"2013-04-15"`` (ISO 8601, unambiguous in every locale).

    Old ACR-NEMA style ``"2013.04.15"`` is read too; anything else that is not a valid
    date is returned unchanged (stripped), so nothing the file says is hidden.
    """
    text = str(value or "").strip()
    digits = text.replace(".", "") if len(text) == 10 and text[4] == "." and text[7] == "." else text
    if len(digits) == 8 and digits.isdigit():
        try:
            return _dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:])).isoformat()
        except ValueError:
            return text
    return text


def format_person_name(value: object) -> str:
    """A DICOM PN as text: ``"Doe^Jane"`` -> ``"Doe Jane"`` (component separators become spaces)."""
    return str(value or "").replace("^", " ").strip()


def axis_position_text(direction: Sequence[float], position: float, decimals: int = 1) -> str:
    """Position ``position`` mm along the patient axis ``direction`` (an LPS unit vector of one axis,
    e.g. the slice axis ``(0, 0, 1)``) with the letter of the side it lies on: ``"S 3.0 mm"``,
    ``"I 12.5 mm"``, ``"R 79.0 mm"`` (not ``"L -79.0 mm"``).

    For an oblique axis the letters of its components are used, e.g. ``"LA 4.0 mm"``.
    """
    d = np.asarray(direction, float)
    if position < 0:
        d, position = -d, -position
    norm = float(np.linalg.norm(d))
    letters = ""
    if norm > 0:
        d = d / norm
        order = np.argsort(-np.abs(d), kind="stable")
        letters = "".join(_LETTERS[a][1 if d[a] > 0 else 0] for a in order if abs(d[a]) >= 0.25)
    value = round(float(position), decimals) + 0.0  # no "-0.0"
    return f"{letters} {value:.{decimals}f} mm".strip()


def lps_text(lps: Sequence[float], decimals: int = 1) -> str:
    """An LPS point as a reader says it: ``"R 79.0  A 12.0  S 3.0 mm"`` (side letters, no signs)."""
    parts = []
    for axis, value in enumerate(np.asarray(lps, float)[:3]):
        neg, pos = _LETTERS[axis]
        v = round(float(value), decimals) + 0.0
        parts.append(f"{pos if v > 0 else neg} {abs(v):.{decimals}f}")
    return "  ".join(parts) + " mm"


def lossy_text(metadata: Mapping) -> str:
    """``"LOSSY (ratio 18:1, JPEG 2000)"`` for a lossy-compressed image (metadata ``lossy``), else ``""``.

    The ratio and method come from LossyImageCompressionRatio / Method when the file has them.
    """
    if not metadata.get("lossy"):
        return ""
    details = []
    ratios = [float(r) for r in metadata.get("lossy_ratios", ()) or () if float(r) > 0]
    if ratios:
        details.append("ratio " + ", ".join(f"{r:g}:1" for r in ratios))
    methods = [LOSSY_METHODS.get(str(m), str(m)) for m in metadata.get("lossy_methods", ()) or () if m]
    if methods:
        details.append(", ".join(methods))
    return "LOSSY" + (f" ({', '.join(details)})" if details else "")
