"""A MONAI bundle made here (3D UNet, random weights) runs as a plugin, with MONAI's own labels."""

import importlib.util

import numpy as np
import pytest

from tests.ai.plugin_factory import box_volume, write_tiny_bundle
from meddiag_desktop.ai.discovery import discover_plugins, plugin_from_folder
from meddiag_desktop.ai.manifest_io import load_manifest
from meddiag_desktop.ai.runner import InputRefused, run_plugin
from meddiag_desktop.core.volume import Volume

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("monai") is None or importlib.util.find_spec("ignite") is None,
    reason="running MONAI bundles needs monai and pytorch-ignite",
)

@pytest.fixture
def bundle(tmp_path):
    return write_tiny_bundle(tmp_path / "tiny_bundle")


def test_bundle_metadata_becomes_model_card(bundle):
    m = load_manifest(bundle)
    assert m.kind == "monai_bundle" and m.task == "segmentation" and m.name == "Tiny test bundle"
    assert m.intended_use == "Testing only, not for diagnosis" and m.input.modality == "CT"
    assert m.label_names() == {1: "box"} and m.metrics == {"mean_dice": 0.5}
    assert m.weights[0].file == "models/model.pt"


def test_bundle_in_user_folder_is_discovered(bundle, _isolated_plugin_places):
    import shutil

    shutil.copytree(bundle, _isolated_plugin_places / "plugins" / "tiny_bundle")
    infos = [i for i in discover_plugins() if i.source == "user"]
    assert [i.id for i in infos] == ["tiny_bundle"] and infos[0].allow_bundle_code


def test_bundled_folder_bundles_do_not_run_code(bundle, ct_box):
    info = plugin_from_folder(bundle, "bundled")
    assert not info.allow_bundle_code
    with pytest.raises(InputRefused, match="can run code"):
        run_plugin(bundle, ct_box)


def test_labels_match_monai_bundle_runner(bundle, tmp_path):
    import SimpleITK as sitk
    from monai.bundle import run as monai_run

    from meddiag_desktop.ai.isolation import run_isolated
    from meddiag_desktop.ai.resample import volume_to_sitk

    t = np.deg2rad(15)
    direction = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
    vol = box_volume(shape=(30, 40, 44), spacing=(1.6, 1.4, 2.5), direction=direction, origin=(-30, 10, 50))
    rng = np.random.default_rng(0)
    vol.array[:] = (vol.array + rng.normal(0, 80, vol.array.shape)).astype(np.int16)
    data = tmp_path / "data"
    data.mkdir()
    sitk.WriteImage(volume_to_sitk(vol), str(data / "case.nii.gz"))

    ref_out = tmp_path / "ref"
    monai_run(run_id="run", config_file=str(bundle / "configs" / "inference.json"),
              meta_file=str(bundle / "configs" / "metadata.json"), bundle_root=str(bundle),
              dataset_dir=str(data), output_dir=str(ref_out))
    ref_img = sitk.ReadImage(str(next(ref_out.rglob("*.nii.gz"))))
    ref = sitk.GetArrayFromImage(ref_img)

    img = sitk.ReadImage(str(data / "case.nii.gz"))
    loaded = Volume(sitk.GetArrayFromImage(img), img.GetSpacing(), img.GetOrigin(),
                    np.array(img.GetDirection()).reshape(3, 3), metadata={"modality": "CT"})
    assert np.allclose(ref_img.GetOrigin(), img.GetOrigin(), atol=1e-3)
    assert np.allclose(ref_img.GetDirection(), img.GetDirection(), atol=1e-5)
    assert ref.shape == loaded.array.shape

    seen = []
    ours = run_isolated(bundle, loaded, progress=lambda d, t: seen.append((d, t)), start_timeout=120)
    assert 0 < (ref == 1).mean() < 1, "degenerate reference: the test needs both labels present"
    assert np.array_equal(ours.labels, ref.astype(ours.labels.dtype))
    assert seen and seen[-1][0] == seen[-1][1]
    assert ours.label_names == {1: "box"} and ours.intended_use.startswith("Testing only")
