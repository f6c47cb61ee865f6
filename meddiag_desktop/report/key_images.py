"""Key images without Qt or VTK: an axial slice, windowed, with label outlines (PNG bytes).

The GUI passes its own rendered views; the CLI and headless callers use these.
Slices are shown as stored (rows down, columns right), which for axial studies is
the radiological convention: patient left on the right of the image, anterior up.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

from meddiag_desktop.core.label_map import LabelMap, hex_to_rgb
from meddiag_desktop.core.volume import Volume
from meddiag_desktop.report.model import KeyImage

__all__ = ["render_axial", "default_key_images", "LESION_FOV_MM"]

#: field of view (mm) of a key image zoomed to a lesion
LESION_FOV_MM = 120.0


def _outline(mask: np.ndarray) -> np.ndarray:
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return mask & ~inner


def render_axial(volume: Volume, k: int, label_map: LabelMap | None = None, window: tuple[float, float] = (1500, -600),
                 size: int = 480, crosshair: tuple[int, int] | None = None, fov_mm: float | None = None) -> bytes:
    """PNG of slice ``k`` (width, level window) with label outlines, scaled for square pixels.

    ``crosshair`` (column, row) rings a lesion; with ``fov_mm`` the image is cropped to that many
    millimetres around it (zoomed to the finding)."""
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
            rgb[edge] = hex_to_rgb(label_map.colors.get(value, "#ff0000"), default=(255, 0, 0))
    sx, sy = volume.spacing[0], volume.spacing[1]
    smooth = max(plane.shape) >= 128
    if fov_mm and crosshair is not None:
        hx, hy = int(round(fov_mm / 2 / sx)), int(round(fov_mm / 2 / sy))
        x0 = int(np.clip(crosshair[0] - hx, 0, max(plane.shape[1] - 2 * hx, 0)))
        y0 = int(np.clip(crosshair[1] - hy, 0, max(plane.shape[0] - 2 * hy, 0)))
        rgb = rgb[y0:y0 + 2 * hy, x0:x0 + 2 * hx]
        plane = plane[y0:y0 + 2 * hy, x0:x0 + 2 * hx]
        crosshair = (crosshair[0] - x0, crosshair[1] - y0)
    img = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    w_mm, h_mm = plane.shape[1] * sx, plane.shape[0] * sy
    scale = size / max(w_mm, h_mm)
    out_w, out_h = max(1, round(w_mm * scale)), max(1, round(h_mm * scale))
    img = img.resize((out_w, out_h), Image.Resampling.BILINEAR if smooth else Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(img)
    if crosshair is not None:
        cx, cy = (crosshair[0] + 0.5) * sx * scale, (crosshair[1] + 0.5) * sy * scale
        r = max(10, int(out_w * (0.08 if fov_mm else 0.04)))
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
    from meddiag_desktop.core.label_geometry import connected_components, is_lesion

    if volume.is_rgb:
        return []
    window = (1500.0, -600.0) if volume.modality.upper() == "CT" else _auto_window(volume)
    images: list[KeyImage] = []
    for lm in label_maps:
        arr = np.asarray(lm.array)
        present = lm.present()
        lesions = [v for v in present if is_lesion(lm.names[v])]
        targets: list[tuple[int, np.ndarray, int | None]] = []  # (label, mask, component number as in the findings)
        for v in lesions:
            comp, n = connected_components(arr == v)  # raster order: the numbers the findings table uses
            sizes = np.bincount(comp.ravel(), minlength=n + 1)[1:]
            for i in np.argsort(-sizes, kind="stable")[:limit]:
                targets.append((v, comp == i + 1, int(i + 1) if n > 1 else None))
        if not targets and present:
            counts = {v: int((arr == v).sum()) for v in present}
            v = max(counts, key=counts.get)
            targets.append((v, arr == v, None))
        for v, mask, number in targets[:limit]:
            per_slice = mask.sum(axis=(1, 2))
            k = int(np.argmax(per_slice))
            ys, xs = np.nonzero(mask[k])
            centre = (int(xs.mean()), int(ys.mean())) if is_lesion(lm.names[v]) else None
            name = lm.names[v]
            label = f"{name} {number}" if number is not None else name
            caption = _caption(volume, k, lm, label, mask) + " outlined"
            if lm.provenance is not None:
                caption += f" (AI: {lm.provenance.plugin_id} {lm.provenance.version})"
            fov = LESION_FOV_MM if centre is not None else None
            images.append(KeyImage(render_axial(volume, k, lm, window, crosshair=centre, fov_mm=fov), caption))
    return images[:limit]


def _caption(volume: Volume, k: int, lm: LabelMap, label: str, mask: np.ndarray) -> str:
    """"Axial image 75/150, right upper lobe: nodule 2" (the lobe for lesions, from the lungs of ``lm``)."""
    from meddiag_desktop.core import view_geometry as vg
    from meddiag_desktop.core.label_geometry import is_lesion
    from meddiag_desktop.report.location import locate, slice_caption

    zyx = np.argwhere(mask)
    centre = volume.to_lps(zyx.mean(axis=0)[::-1])
    info = vg.slice_info(vg.AXIAL, volume, volume.to_lps((0.0, 0.0, float(k))))
    where = locate(volume, centre, [lm]).text if is_lesion(label) else ""
    return f"{slice_caption(vg.AXIAL, info.index, info.count, where)}: {label}"


def _auto_window(volume: Volume) -> tuple[float, float]:
    lo, hi = np.percentile(np.asarray(volume.array, np.float32)[::4, ::4, ::4], (1, 99))
    return (float(max(hi - lo, 1.0)), float((hi + lo) / 2))
