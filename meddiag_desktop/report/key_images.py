"""Key images without Qt or VTK: an axial slice, windowed, with label outlines (PNG bytes).

The GUI passes its own rendered views; the CLI and headless callers use these.
Slices are shown as stored (rows down, columns right), which for axial studies is
the radiological convention: patient left on the right of the image, anterior up.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

from meddiag_desktop.core.volume import Volume
from meddiag_desktop.report.model import KeyImage, LabelMap

__all__ = ["render_axial", "default_key_images"]


def _rgb(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    try:
        return (int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16))
    except (ValueError, IndexError):
        return (255, 0, 0)


def _outline(mask: np.ndarray) -> np.ndarray:
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return mask & ~inner


def render_axial(volume: Volume, k: int, label_map: LabelMap | None = None, window: tuple[float, float] = (1500, -600),
                 size: int = 480, crosshair: tuple[int, int] | None = None) -> bytes:
    """PNG of slice ``k`` (width, level window) with label outlines, scaled for square pixels."""
    from PIL import Image, ImageDraw

    plane = np.asarray(volume.array[k], dtype=np.float32)
    width, level = window
    grey = np.clip((plane - (level - width / 2)) / width, 0, 1) * 255
    if volume.metadata.get("monochrome1"):  # low values are white (CR/DX), as the viewer shows them
        grey = 255 - grey
    rgb = np.repeat(grey.astype(np.uint8)[..., None], 3, axis=2)
    if label_map is not None:
        lab = np.asarray(label_map.array[k])
        for value in label_map.present():
            edge = _outline(lab == value)
            rgb[edge] = _rgb(label_map.colors.get(value, "#ff0000"))
    img = Image.fromarray(rgb, "RGB")
    sx, sy = volume.spacing[0], volume.spacing[1]
    w_mm, h_mm = plane.shape[1] * sx, plane.shape[0] * sy
    scale = size / max(w_mm, h_mm)
    out_w, out_h = max(1, round(w_mm * scale)), max(1, round(h_mm * scale))
    img = img.resize((out_w, out_h), Image.Resampling.NEAREST if max(plane.shape) < 128 else Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(img)
    if crosshair is not None:
        cx, cy = (crosshair[0] + 0.5) * sx * scale, (crosshair[1] + 0.5) * sy * scale
        r = max(10, int(out_w * 0.04))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(255, 220, 0), width=2)
    # 5 cm scale bar, bottom left
    bar = 50 * scale
    if bar < out_w * 0.6:
        y = out_h - 14
        draw.line((12, y, 12 + bar, y), fill=(255, 255, 255), width=3)
        draw.text((12, y - 14), "5 cm", fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=6)
    return buf.getvalue()


def default_key_images(volume: Volume, label_maps: Sequence[LabelMap], limit: int = 2) -> list[KeyImage]:
    """One image through each lesion's largest cross-section (else the largest structure)."""
    from meddiag_desktop.report.build import _is_lesion
    from meddiag_desktop.risk.image_inputs import connected_components

    if volume.is_rgb:
        return []
    window = (1500.0, -600.0) if volume.modality.upper() == "CT" else _auto_window(volume)
    images: list[KeyImage] = []
    for lm in label_maps:
        arr = np.asarray(lm.array)
        present = lm.present()
        lesions = [v for v in present if _is_lesion(lm.names[v])]
        targets: list[tuple[int, np.ndarray]] = []
        for v in lesions:
            comp, n = connected_components(arr == v)
            sizes = np.bincount(comp.ravel())[1:]
            for i in np.argsort(-sizes)[:limit]:
                targets.append((v, comp == i + 1))
        if not targets and present:
            counts = {v: int((arr == v).sum()) for v in present}
            v = max(counts, key=counts.get)
            targets.append((v, arr == v))
        for number, (v, mask) in enumerate(targets[:limit], start=1):
            per_slice = mask.sum(axis=(1, 2))
            k = int(np.argmax(per_slice))
            ys, xs = np.nonzero(mask[k])
            centre = (int(xs.mean()), int(ys.mean())) if _is_lesion(lm.names[v]) else None
            name = lm.names[v]
            label = f"{name} {number}" if _is_lesion(name) and len(targets) > 1 else name
            caption = f"Axial slice {k + 1} of {volume.array.shape[0]}: {label} outlined"
            if lm.provenance is not None:
                caption += f" (AI: {lm.provenance.plugin_id} {lm.provenance.version})"
            images.append(KeyImage(render_axial(volume, k, lm, window, crosshair=centre), caption))
    return images[:limit]


def _auto_window(volume: Volume) -> tuple[float, float]:
    lo, hi = np.percentile(np.asarray(volume.array, np.float32)[::4, ::4, ::4], (1, 99))
    return (float(max(hi - lo, 1.0)), float((hi + lo) / 2))
