"""The risk side panel, driven headless (offscreen Qt platform)."""

import os
import shutil
import subprocess
import sys

if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    # no display (and so no VTK views either): the panel is plain widgets and renders offscreen
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from meddiag_desktop.qt.risk_panel import RiskPanel  # noqa: E402
from meddiag_desktop.risk import builtin_models_dir, discover_models, get_model, load_model  # noqa: E402
from meddiag_desktop.risk.image_inputs import DerivedValue  # noqa: E402

METADATA = {"patient_age": "067Y", "patient_sex": "F"}
DERIVED = {
    "nodule_size_mm": DerivedValue(12.0, "segmentation", "component 1: mean of long 14 and short 10 mm"),
    "diameter_mm": DerivedValue(14.0, "segmentation", "long axis"),
    "nodule_count": DerivedValue(2, "segmentation", "2 components"),
    "upper_lobe": DerivedValue(True, "segmentation", "above the fissure"),
    "nodule_type": DerivedValue("part_solid", "classification", "p = 0.81"),
}


@pytest.fixture
def panel(qtbot):
    w = RiskPanel()
    qtbot.addWidget(w)
    w.resize(420, 900)
    w.show()
    return w


def test_form_is_built_from_the_declarations(panel):
    assert panel.model.name == "brock"
    assert list(panel.fields) == [i.name for i in get_model("brock").spec.inputs]
    assert panel.result is None and "Fill in" in panel.status_label.text()
    assert "McWilliams" in panel.citation_label.text() and "Intended use" in panel.citation_label.text()


def test_context_prefills_and_result_updates_live(panel, qtbot):
    panel.set_context(METADATA, DERIVED)
    f = panel.fields
    assert f["age"].raw() == "67" and f["sex"].raw() == "female"
    assert f["age"].chip.text() == "from DICOM" and f["nodule_size_mm"].chip.text() == "from image"
    assert f["nodule_type"].chip.text() == "from AI" and f["family_history"].chip.isHidden()
    assert panel.result is None  # family history, emphysema, spiculation still missing
    panel.set_value("family_history", True)
    panel.set_value("emphysema", False)
    with qtbot.waitSignal(panel.result_changed) as sig:
        panel.set_value("spiculation", True)
    expected = get_model("brock").evaluate(dict(
        age=67, sex="female", family_history=True, emphysema=False, nodule_size_mm=12,
        nodule_type="part_solid", upper_lobe=True, nodule_count=2, spiculation=True,
    ))
    assert sig.args[0].probability == pytest.approx(expected.probability)
    assert panel.probability_label.text() == "45.6 %"
    assert "Algorithm D" in panel.action_label.text() and "10%" in panel.category_label.text()
    assert "Algorithm D" in panel.rule_label.text()
    assert len(panel.chart._rows) == 9
    assert dict(panel.chart._rows)["Spiculation"] == pytest.approx(0.7729)


def test_derived_values_can_be_overridden_and_restored(panel):
    panel.set_context(METADATA, DERIVED)
    for name, value in (("family_history", False), ("emphysema", False), ("spiculation", False)):
        panel.set_value(name, value)
    before = panel.result.probability
    size = panel.fields["nodule_size_mm"]
    size.editor.setText("20")
    size.editor.textEdited.emit("20")  # as typing does
    assert size.chip.text() == "edited" and size.restore.isVisibleTo(panel)
    assert panel.result.probability > before
    size.restore.click()
    assert size.raw() == "12" and size.chip.text() == "from image"
    assert panel.result.probability == pytest.approx(before)


def test_inline_validation_messages(panel):
    panel.set_context(METADATA, DERIVED)
    for name, value in (("family_history", False), ("emphysema", False), ("spiculation", False)):
        panel.set_value(name, value)
    panel.set_value("age", "abc")
    assert "must be a number" in panel.fields["age"].error.text() and panel.fields["age"].error.isVisibleTo(panel)
    assert panel.result is None and "highlighted" in panel.status_label.text()
    panel.set_value("age", "300")
    assert "<= 110" in panel.fields["age"].error.text()
    panel.set_value("nodule_count", "2.5")
    assert "whole number" in panel.fields["nodule_count"].error.text()
    panel.set_value("age", "70")
    panel.set_value("nodule_count", "1")
    assert not panel.fields["age"].error.isVisibleTo(panel) and panel.result is not None


def test_switching_models_keeps_shared_inputs(panel):
    panel.set_context(METADATA, DERIVED)
    panel.set_value("spiculation", True)
    panel.model_box.setCurrentIndex(panel.model_box.findData("mayo"))
    assert panel.model.name == "mayo"
    assert list(panel.fields) == [i.name for i in get_model("mayo").spec.inputs]
    assert panel.fields["spiculation"].raw() is True and panel.fields["diameter_mm"].raw() == "14"
    panel.set_value("smoking_history", True)
    panel.set_value("cancer_history", False)
    assert panel.result.model == "mayo" and "Swensen" in panel.citation_label.text()
    with pytest.raises(ValueError, match="no input"):
        panel.set_value("nodule_type", "solid")


def test_a_tampered_model_shows_an_error_not_a_crash(qtbot, tmp_path):
    copy = shutil.copytree(builtin_models_dir() / "breast_fna", tmp_path / "breast_fna")
    (copy / "model.json").write_text((copy / "model.json").read_text() + " ")
    w = RiskPanel(models={"breast_fna": load_model(copy)})
    qtbot.addWidget(w)
    for name, value in (("radius_worst", "20"), ("texture_worst", "25"), ("concave_points_worst", "0.15"),
                        ("smoothness_worst", "0.14")):
        w.set_value(name, value)
    assert w.result is None and "SHA-256" in w.status_label.text()


def test_screenshot(panel, qtbot, tmp_path):
    panel.set_context(METADATA, DERIVED)
    for name, value in (("family_history", True), ("emphysema", False), ("spiculation", True)):
        panel.set_value(name, value)
    qtbot.wait(10)
    out = tmp_path / "risk_panel.png"
    assert panel.grab().save(str(out))
    assert out.stat().st_size > 10_000


def test_empty_model_list_is_explained(qtbot):
    w = RiskPanel(models={})
    qtbot.addWidget(w)
    assert w.model is None and "No risk model" in w.status_label.text()


def test_panel_module_does_not_import_torch():
    code = "import sys, meddiag_desktop.qt.risk_panel; print('torch' in sys.modules)"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"


def test_discovery_is_shared_with_the_core():
    assert {"brock", "mayo", "breast_fna"} <= discover_models().models.keys()


def test_set_image_context_derives_from_a_label_map(panel):
    import numpy as np

    from meddiag_desktop.core.volume import Volume

    labels = np.zeros((40, 100, 120), np.uint8)
    labels[2:38, 5:95, 5:58] = 1
    labels[2:38, 5:95, 62:115] = 2
    k, j, i = np.mgrid[0:40, 0:100, 0:120]
    labels[((i - 30) * 0.8 / 6) ** 2 + ((j - 50) * 0.8 / 6) ** 2 + ((k - 30) * 2.0 / 6) ** 2 <= 1] = 7
    vol = Volume(np.zeros(labels.shape, np.int16), spacing=(0.8, 0.8, 2.0),
                 metadata={"patient_age": "058Y", "patient_sex": "M"})
    panel.set_image_context(vol, labels, nodule_type="solid")
    f = panel.fields
    assert f["age"].raw() == "58" and f["sex"].raw() == "male" and f["nodule_count"].raw() == "1"
    assert float(f["nodule_size_mm"].raw()) == pytest.approx(12.0, abs=0.8)
    assert f["upper_lobe"].raw() is True and f["nodule_size_mm"].chip.text() == "from image"
    panel.set_image_context(vol, labels, component=5)  # a bad request shows, it does not raise
    assert "component 5" in panel.status_label.text()
