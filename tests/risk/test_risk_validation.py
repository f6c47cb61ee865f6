"""Validation of every input field of the built-in models."""

import pytest

from meddiag_desktop.risk import RiskInputError, check_inputs, get_model

BROCK = dict(
    age=67, sex="female", family_history=True, emphysema=False, nodule_size_mm=12,
    nodule_type="part_solid", upper_lobe=True, nodule_count=2, spiculation=True,
)
MAYO = dict(age=65, smoking_history=True, cancer_history=False, diameter_mm=15, spiculation=True, upper_lobe=True)
FNA = dict(radius_worst=20.0, texture_worst=25.0, concave_points_worst=0.15, smoothness_worst=0.14)

# (model, field, bad value, words expected in the message)
BAD = [
    ("brock", "age", "sixty", "number"),
    ("brock", "age", True, "number"),
    ("brock", "age", 5, ">= 18"),
    ("brock", "age", 130, "<= 110"),
    ("brock", "age", float("nan"), "finite"),
    ("brock", "sex", "unknown", "female, male"),
    ("brock", "sex", 1, "female, male"),
    ("brock", "family_history", "perhaps", "true or false"),
    ("brock", "family_history", 2, "true or false"),
    ("brock", "emphysema", 0.5, "true or false"),
    ("brock", "nodule_size_mm", 0, ">= 1"),
    ("brock", "nodule_size_mm", -3, ">= 1"),
    ("brock", "nodule_size_mm", 150, "<= 100"),
    ("brock", "nodule_size_mm", [12], "number"),
    ("brock", "nodule_type", "calcified", "solid, part_solid, non_solid"),
    ("brock", "upper_lobe", "left", "true or false"),
    ("brock", "nodule_count", 2.5, "whole number"),
    ("brock", "nodule_count", 0, ">= 1"),
    ("brock", "nodule_count", 1000, "<= 100"),
    ("brock", "spiculation", None, "required"),
    ("mayo", "age", "old", "number"),
    ("mayo", "age", 200, "<= 110"),
    ("mayo", "smoking_history", "sometimes", "true or false"),
    ("mayo", "cancer_history", 3, "true or false"),
    ("mayo", "diameter_mm", 0.5, ">= 1"),
    ("mayo", "diameter_mm", "", "required"),
    ("mayo", "spiculation", "x", "true or false"),
    ("mayo", "upper_lobe", {}, "true or false"),
    ("breast_fna", "radius_worst", -1, ">= 0"),
    ("breast_fna", "texture_worst", "rough", "number"),
    ("breast_fna", "concave_points_worst", 99, "<="),
    ("breast_fna", "smoothness_worst", False, "number"),
]
GOOD = {"brock": BROCK, "mayo": MAYO, "breast_fna": FNA}


@pytest.mark.parametrize(("model", "field", "value", "words"), BAD)
def test_bad_value_is_refused_naming_the_field(model, field, value, words):
    with pytest.raises(RiskInputError) as exc:
        get_model(model).evaluate(dict(GOOD[model], **{field: value}))
    assert set(exc.value.errors) == {field}
    assert words in exc.value.errors[field]
    assert field in str(exc.value)


@pytest.mark.parametrize("model", sorted(GOOD))
def test_every_missing_field_is_named(model):
    spec = get_model(model).spec
    for inp in spec.inputs:
        inputs = dict(GOOD[model])
        del inputs[inp.name]
        with pytest.raises(RiskInputError) as exc:
            get_model(model).evaluate(inputs)
        assert exc.value.errors == {inp.name: "is required"}


def test_unknown_field_is_refused():
    with pytest.raises(RiskInputError) as exc:
        get_model("brock").evaluate(dict(BROCK, nodule_size=12))
    assert "nodule_size" in exc.value.errors


def test_all_errors_are_reported_at_once():
    _, errors = check_inputs(get_model("brock").spec, {"age": "x", "sex": "?"})
    assert {"age", "sex", "nodule_size_mm", "spiculation"} <= errors.keys()


@pytest.mark.parametrize(("field", "raw", "value"), [
    ("sex", "F", "female"), ("sex", " Male ", "male"), ("nodule_type", "part-solid", "part_solid"),
    ("nodule_type", "Ground glass", "non_solid"), ("nodule_type", "NON_SOLID", "non_solid"),
    ("family_history", "yes", True), ("family_history", 0, False), ("emphysema", "False", False),
    ("age", "67", 67.0), ("nodule_count", 3.0, 3), ("nodule_count", "2", 2),
])
def test_friendly_spellings_are_accepted(field, raw, value):
    r = get_model("brock").evaluate(dict(BROCK, **{field: raw}))
    assert r.inputs[field] == value
