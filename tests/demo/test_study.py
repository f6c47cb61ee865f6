"""The demo study on disk: DICOM read back exactly, ground truth aligned, atomic generation."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import numpy as np
import pydicom
import SimpleITK as sitk

from meddiag_desktop.demo import DEMO_VERSION, demo_ground_truth, demo_study_dir
from meddiag_desktop.demo import _study
from meddiag_desktop.demo.phantom import LABELS, Nodule, PhantomParams, make_chest_phantom


def _read_series(root):
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(root / "dicom")))
    return reader.Execute()


def test_layout(demo_root, demo_cache):
    assert demo_root == demo_cache / f"demo-{DEMO_VERSION}"
    names = sorted(f.name for f in (demo_root / "dicom").iterdir())
    assert names == [f"IM{k:05d}.dcm" for k in range(1, 151)]
    assert (demo_root / "ground_truth" / "labels.nii.gz").is_file()
    assert not [p for p in demo_cache.iterdir() if p.name.startswith(".")]  # no temporary folders left


def test_dicom_reads_back_exactly(demo_root, demo_phantom):
    img = _read_series(demo_root)
    assert np.array_equal(sitk.GetArrayFromImage(img), demo_phantom.hu)
    assert np.allclose(img.GetSpacing(), demo_phantom.spacing, atol=1e-6)
    assert np.allclose(img.GetOrigin(), demo_phantom.origin, atol=1e-4)
    assert np.allclose(np.reshape(img.GetDirection(), (3, 3)), demo_phantom.direction, atol=1e-6)


def test_labels_nifti_matches_dicom_geometry(demo_root, demo_phantom):
    img = _read_series(demo_root)
    lab = sitk.ReadImage(str(demo_root / "ground_truth" / "labels.nii.gz"))
    assert lab.GetSize() == img.GetSize()
    assert np.allclose(lab.GetSpacing(), img.GetSpacing(), atol=1e-5)
    assert np.allclose(lab.GetOrigin(), img.GetOrigin(), atol=1e-4)
    assert np.allclose(lab.GetDirection(), img.GetDirection(), atol=1e-6)
    assert np.array_equal(sitk.GetArrayFromImage(lab), demo_phantom.labels)


def test_dicom_header(demo_root):
    first = pydicom.dcmread(demo_root / "dicom" / "IM00001.dcm")
    last = pydicom.dcmread(demo_root / "dicom" / "IM00150.dcm")
    assert first.Modality == "CT"
    assert str(first.PatientName) == "Demo^Chest" and first.PatientID == "DEMO-CHEST-001"
    assert first.PatientBirthDate == "19560412" and first.PatientSex == "M"
    assert first.StudyDescription == first.SeriesDescription == "Synthetic chest CT (demo)"
    assert float(first.WindowWidth) == 1500 and float(first.WindowCenter) == -600
    assert float(first.RescaleIntercept) == -1024 and float(first.RescaleSlope) == 1
    assert first.PixelRepresentation == 0
    assert first.InstanceNumber == 1 and last.InstanceNumber == 150
    assert float(last.ImagePositionPatient[2]) > float(first.ImagePositionPatient[2])  # IM00001 is most inferior
    assert first.StudyInstanceUID == last.StudyInstanceUID and first.SeriesInstanceUID == last.SeriesInstanceUID


def test_nodules_json(demo_root, demo_phantom):
    info = json.loads((demo_root / "ground_truth" / "nodules.json").read_text(encoding="utf-8"))
    assert info["synthetic"] is True and "not a real patient" in info["note"]
    assert info["demo_version"] == DEMO_VERSION
    assert info["label_values"] == {str(k): v for k, v in LABELS.items()}
    assert PhantomParams.from_dict(info["params"]) == PhantomParams()
    assert [Nodule.from_dict(n) for n in info["nodules"]] == demo_phantom.nodules


def test_demo_ground_truth(demo_root, demo_cache, demo_phantom):
    labels, nodules = demo_ground_truth(demo_cache)
    assert labels.dtype == np.uint8 and np.array_equal(labels, demo_phantom.labels)
    assert nodules == demo_phantom.nodules


def test_second_call_reuses_the_folder(demo_root, demo_cache):
    meta = demo_root / "ground_truth" / "nodules.json"
    before = meta.stat().st_mtime_ns
    assert demo_study_dir(demo_cache) == demo_root
    assert meta.stat().st_mtime_ns == before


SMALL = PhantomParams(matrix_size=(96, 96), pixel_spacing_mm=3.6, n_slices=40, slice_spacing_mm=7.5)


def test_concurrent_generation_ends_with_one_complete_study(tmp_path):
    root = tmp_path / "demo-v1"
    results, errors = [], []

    def work():
        try:
            results.append(_study.generate_study(root, SMALL))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [root] * 3
    assert _study.is_complete(root)
    assert [p.name for p in tmp_path.iterdir()] == ["demo-v1"]


def test_incomplete_folder_is_replaced(tmp_path):
    root = tmp_path / "demo-v1"
    (root / "dicom").mkdir(parents=True)
    (root / "dicom" / "IM00001.dcm").write_bytes(b"half written")
    assert _study.generate_study(root, SMALL) == root
    assert _study.is_complete(root)
    assert len(list((root / "dicom").iterdir())) == SMALL.n_slices


def test_module_entry_regenerates(tmp_path, monkeypatch, capsys):
    from meddiag_desktop.demo import __main__ as entry

    monkeypatch.setattr(_study, "make_chest_phantom", lambda params=None: make_chest_phantom(SMALL))
    (tmp_path / "demo-v1").mkdir()
    assert entry.main(["--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "demo-v1")
    assert _study.is_complete(tmp_path / "demo-v1")


def test_importing_the_package_is_light():
    code = ("import sys, meddiag_desktop.demo; "
            "print(sorted(m for m in ('numpy', 'pydicom', 'SimpleITK') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unwritable_cache_says_what_to_do(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    try:
        demo_study_dir(blocker)
    except OSError as exc:
        assert "cache_dir" in str(exc) and str(blocker) in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected OSError")
