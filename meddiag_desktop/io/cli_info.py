"""``meddiag info PATH [--json]``: the series under PATH with their geometry and warnings."""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["register", "describe"]


def register(subparsers) -> None:
    p = subparsers.add_parser("info", help="list the series under a path with shape, spacing, origin, direction, warnings")
    p.add_argument("path", help="DICOM folder/file/DICOMDIR or NIfTI/NRRD/MHA file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def describe(path: str) -> dict:
    """Scan ``path`` and load each series: a JSON-ready description."""
    from meddiag_desktop.io import LoadError, load, scan
    from meddiag_desktop.io.decoders import decoder_status, is_compressed

    found = scan(path)
    out = {"path": str(path), "series": [], "skipped": [{"path": str(s.path), "reason": s.reason} for s in found.skipped]}
    for s in found:
        item = {
            "series_uid": s.series_uid,
            "key": s.key,
            "description": s.description,
            "modality": s.modality,
            "image_count": s.image_count,
            "patient_name": s.patient_name,
            "study_description": s.study_description,
            "split_reason": s.split_reason,
        }
        ts = s.instances[0].transfer_syntax if s.instances else ""
        if is_compressed(ts):  # which package decodes it (pydicom's registry), or what to install
            item["decoder"] = decoder_status(ts).summary()
        try:
            v = load(s)
        except LoadError as exc:
            item["error"] = str(exc)
        else:
            item.update(
                shape_xyz=list(v.shape_xyz),
                dtype=str(v.array.dtype),
                rgb=v.is_rgb,
                spacing=[round(x, 6) for x in v.spacing],
                origin=[round(x, 4) for x in v.origin],
                direction=[[round(float(x), 6) for x in row] for row in v.direction],
                value_range=list(v.value_range()),
                warnings=list(v.warnings),
            )
        out["series"].append(item)
    return out


def run(args: argparse.Namespace) -> int:
    from meddiag_desktop.io import LoadError

    try:
        info = describe(args.path)
    except LoadError as exc:
        print(f"meddiag info: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(info, indent=2))
        return 0 if info["series"] else 1
    if not info["series"]:
        print(f"No image series found under {args.path}.")
    for n, s in enumerate(info["series"], 1):
        print(f"[{n}] {s['description'] or '(no description)'} — {s['modality'] or '?'}, {s['image_count']} image(s)")
        print(f"    series UID: {s['series_uid']}" + (f"  ({s['split_reason']})" if s["split_reason"] else ""))
        if "decoder" in s:
            print(f"    encoding:        {s['decoder']}")
        if "error" in s:
            print(f"    ERROR: {s['error']}")
            continue
        print(f"    shape (x, y, z): {tuple(s['shape_xyz'])}  {s['dtype']}{' RGB' if s['rgb'] else ''}")
        print(f"    spacing (mm):    {tuple(s['spacing'])}")
        print(f"    origin (LPS mm): {tuple(s['origin'])}")
        print(f"    direction:       {s['direction']}")
        for w in s["warnings"]:
            print(f"    WARNING: {w}")
    if info["skipped"]:
        print(f"Skipped {len(info['skipped'])} file(s):")
        for sk in info["skipped"][:20]:
            print(f"    {sk['path']}: {sk['reason']}")
        if len(info["skipped"]) > 20:
            print(f"    ... and {len(info['skipped']) - 20} more")
    return 0 if info["series"] else 1
