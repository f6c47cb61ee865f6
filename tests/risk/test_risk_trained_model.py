"""The bundled trained model: loads from JSON (no pickle), matches its card, behaves sensibly."""

import json
import math

import pytest

from meddiag_desktop.risk import builtin_models_dir, get_model

FOLDER = builtin_models_dir() / "breast_fna"


def test_trained_model_is_plain_json_with_recorded_metrics():
    data = json.loads((FOLDER / "model.json").read_text())
    assert data["format"] == "meddiag-logistic-v1"
    m = data["held_out_metrics"]
    assert m["n_test"] == 171 and m["auc"] > 0.95 and m["auc_ci95"][0] < m["auc"] < m["auc_ci95"][1]
    assert 0 <= m["brier"] < 0.1 and len(m["reliability"]) == 5
    card = (FOLDER / "MODEL_CARD.md").read_text()
    assert f"{m['auc']:.3f}" in card and "Calibration slope" in card and "Brier" in card
    assert not list(FOLDER.glob("*.pkl")) and not list(FOLDER.glob("*.joblib"))


def test_trained_model_formula_by_hand():
    data = json.loads((FOLDER / "model.json").read_text())["logistic"]
    inputs = {"radius_worst": 20.0, "texture_worst": 25.0, "concave_points_worst": 0.15, "smoothness_worst": 0.14}
    logit = data["intercept"] + sum(
        t["coefficient"] * (inputs[t["input"]] - t["transform"]["mean"]) / t["transform"]["sd"] for t in data["terms"]
    )
    r = get_model("breast_fna").evaluate(inputs)
    assert r.logit == pytest.approx(logit)
    assert r.probability == pytest.approx(1 / (1 + math.exp(-logit)))


def test_trained_model_orders_typical_cases():
    model = get_model("breast_fna")
    benign = model.evaluate({"radius_worst": 13.0, "texture_worst": 20.0, "concave_points_worst": 0.07,
                             "smoothness_worst": 0.12})
    malignant = model.evaluate({"radius_worst": 25.0, "texture_worst": 30.0, "concave_points_worst": 0.2,
                                "smoothness_worst": 0.15})
    assert benign.probability < 0.1 < 0.9 < malignant.probability
    assert benign.category.startswith("Low") and malignant.category.startswith("High")
    assert "not validated for clinical use" in model.spec.intended_use
