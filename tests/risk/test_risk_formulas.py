"""Each built-in formula against values worked out by hand from the published coefficients."""

import math

import pytest

from meddiag_desktop.risk import get_model


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


BROCK_CASE = dict(
    age=67, sex="female", family_history=True, emphysema=False, nodule_size_mm=12,
    nodule_type="part_solid", upper_lobe=True, nodule_count=2, spiculation=True,
)


def test_brock_full_model_with_spiculation_by_hand():
    # McWilliams 2013 full model with spiculation:
    #   age        0.0287 * (67 - 62)                         = +0.1435
    #   female     0.6011                                      = +0.6011
    #   family     0.2961                                      = +0.2961
    #   emphysema  0                                           =  0
    #   size      -5.3854 * ((12/10)^-0.5 - 1.58113883)
    #            = -5.3854 * (0.91287093 - 1.58113883) = -5.3854 * -0.66826790 = +3.59889
    #   part-solid 0.377                                       = +0.3770
    #   upper lobe 0.6581                                      = +0.6581
    #   count     -0.0824 * (2 - 4)                            = +0.1648
    #   spiculated 0.7729                                      = +0.7729
    #   sum = 6.61239; logit = -6.7892 + 6.61239 = -0.17681; p = 1 / (1 + e^0.17681) = 0.4559
    r = get_model("brock").evaluate(BROCK_CASE)
    assert r.logit == pytest.approx(-0.17681, abs=1e-4)
    assert r.probability == pytest.approx(0.4559, abs=1e-4)
    assert r.category == "Brock >= 10%"
    # a part-solid nodule >= 5 mm follows BTS Algorithm D: the band is kept, the action is D's
    assert "Algorithm D" in r.action and "Algorithm D" in r.rule
    c = {x.input: x.log_odds for x in r.contributions}
    assert c["age"] == pytest.approx(0.1435)
    assert c["sex"] == pytest.approx(0.6011)
    assert c["nodule_size_mm"] == pytest.approx(3.59889, abs=1e-4)
    assert c["nodule_type"] == pytest.approx(0.377)
    assert c["nodule_count"] == pytest.approx(0.1648)
    assert c["emphysema"] == 0.0
    # contributions add up from the baseline (the published intercept) to the logit
    assert r.baseline_log_odds == pytest.approx(-6.7892)
    assert r.baseline_log_odds + sum(c.values()) == pytest.approx(r.logit)
    assert "McWilliams" in r.citation and "Callister" in r.guideline_citation


def test_brock_small_solid_nodule_below_ten_percent():
    # 55-year-old man, emphysema, one 8 mm solid lower-lobe nodule, smooth:
    #   age   0.0287 * (55 - 62) = -0.2009
    #   emph  +0.2953
    #   size  -5.3854 * ((8/10)^-0.5 - 1.58113883) = -5.3854 * (1.11803399 - 1.58113883) = +2.49400
    #   count -0.0824 * (1 - 4) = +0.2472
    #   logit = -6.7892 - 0.2009 + 0.2953 + 2.4940 + 0.2472 = -3.95360; p = 0.01882
    r = get_model("brock").evaluate(dict(
        age=55, sex="male", family_history=False, emphysema=True, nodule_size_mm=8,
        nodule_type="solid", upper_lobe=False, nodule_count=1, spiculation=False,
    ))
    assert r.logit == pytest.approx(-3.95360, abs=1e-4)
    assert r.probability == pytest.approx(0.01882, abs=1e-5)
    assert r.category == "Brock < 10%" and "surveillance" in r.action
    assert r.rule is None


def test_brock_non_solid_four_mm_nodule_uses_bts_size_rule_first():
    # 4 mm: the size transform is (0.4)^-0.5 - 1.58113883 = 0 by construction.
    #   age 0.0287 * 8 = 0.2296; female 0.6011; non-solid -0.1276; upper 0.6581; count -0.0824 * -3 = 0.2472
    #   logit = -6.7892 + 0.2296 + 0.6011 - 0.1276 + 0.6581 + 0.2472 = -5.1808; p = 0.00559
    r = get_model("brock").evaluate(dict(
        age=70, sex="female", family_history=False, emphysema=False, nodule_size_mm=4,
        nodule_type="non_solid", upper_lobe=True, nodule_count=1, spiculation=False,
    ))
    assert r.logit == pytest.approx(-5.1808, abs=1e-4)
    assert r.probability == pytest.approx(0.005592, abs=1e-6)
    assert r.category == "Nodule < 5 mm" and "No follow-up" in r.action
    assert "BTS" in r.rule


@pytest.mark.parametrize(("size", "category"), [(4.9, "Nodule < 5 mm"), (5.0, "Nodule 5 to < 6 mm"),
                                                 (7.9, "Nodule 6 to < 8 mm"), (8.0, "Brock < 10%")])
def test_brock_bts_size_thresholds(size, category):
    inputs = dict(BROCK_CASE, nodule_size_mm=size, nodule_type="solid", spiculation=False, upper_lobe=False,
                  sex="male")
    assert get_model("brock").evaluate(inputs).category == category


def test_brock_solid_high_risk_nodule_goes_to_pet_ct():
    r = get_model("brock").evaluate(dict(BROCK_CASE, nodule_type="solid"))
    assert r.category == "Brock >= 10%" and "PET-CT" in r.action and r.rule is None


@pytest.mark.parametrize("nodule_type", ["part_solid", "non_solid"])
def test_brock_subsolid_nodules_follow_algorithm_d(nodule_type):
    r = get_model("brock").evaluate(dict(BROCK_CASE, nodule_type=nodule_type, nodule_size_mm=7))
    assert "Algorithm D" in r.action and r.category.startswith("Brock")


def test_brock_large_spiculated_nodule():
    # 72, family history, emphysema, 25 mm solid upper-lobe spiculated, 1 nodule:
    #   0.0287*10 + 0.2961 + 0.2953 - 5.3854*((2.5)^-0.5 - 1.58113883) + 0.6581 + 0.2472 + 0.7729
    #   = 0.287 + 0.2961 + 0.2953 - 5.3854*(0.63245553 - 1.58113883) + 0.6581 + 0.2472 + 0.7729
    #   = 0.287 + 0.2961 + 0.2953 + 5.10905 + 0.6581 + 0.2472 + 0.7729 = 7.66564; logit 0.87644; p 0.70608
    r = get_model("brock").evaluate(dict(
        age=72, sex="male", family_history=True, emphysema=True, nodule_size_mm=25,
        nodule_type="solid", upper_lobe=True, nodule_count=1, spiculation=True,
    ))
    assert r.logit == pytest.approx(0.87644, abs=1e-4)
    assert r.probability == pytest.approx(0.70608, abs=1e-4)


def test_mayo_by_hand():
    # Swensen 1997: x = -6.8272 + 0.0391*65 + 0.7917 + 1.3388*0 + 0.1274*15 + 1.0407 + 0.7838
    #             = -6.8272 + 2.5415 + 0.7917 + 1.911 + 1.0407 + 0.7838 = 0.2415; p = 0.56008
    r = get_model("mayo").evaluate(dict(
        age=65, smoking_history=True, cancer_history=False, diameter_mm=15, spiculation=True, upper_lobe=True,
    ))
    assert r.logit == pytest.approx(0.2415, abs=1e-9)
    assert r.probability == pytest.approx(0.56008, abs=1e-5)
    assert r.category == "Intermediate (5-65%)"
    # contributions are relative to a 60-year-old with a 10 mm nodule: baseline
    # -6.8272 + 0.0391*60 + 0.1274*10 = -3.2072; age 0.0391*5 = 0.1955; diameter 0.1274*5 = 0.637
    c = {x.input: x.log_odds for x in r.contributions}
    assert r.baseline_log_odds == pytest.approx(-3.2072)
    assert c["age"] == pytest.approx(0.1955) and c["diameter_mm"] == pytest.approx(0.637)
    assert c["cancer_history"] == 0.0
    assert "Swensen" in r.citation


def test_mayo_low_probability_and_size_rule():
    # x = -6.8272 + 0.0391*50 + 0.1274*9 = -6.8272 + 1.955 + 1.1466 = -3.7256; p = 0.02353
    r = get_model("mayo").evaluate(dict(
        age=50, smoking_history=False, cancer_history=False, diameter_mm=9, spiculation=False, upper_lobe=False,
    ))
    assert r.logit == pytest.approx(-3.7256, abs=1e-9)
    assert r.probability == pytest.approx(0.02353, abs=1e-5)
    assert r.category == "Low (< 5%)"
    small = get_model("mayo").evaluate(dict(
        age=50, smoking_history=False, cancer_history=False, diameter_mm=6, spiculation=False, upper_lobe=False,
    ))
    assert small.category == "Nodule < 8 mm"


def test_mayo_high_category():
    # 75, smoker, cancer history, 30 mm, spiculated, upper lobe:
    # x = -6.8272 + 2.9325 + 0.7917 + 1.3388 + 3.822 + 1.0407 + 0.7838 = 3.8823; p = 0.97981
    r = get_model("mayo").evaluate(dict(
        age=75, smoking_history=True, cancer_history=True, diameter_mm=30, spiculation=True, upper_lobe=True,
    ))
    assert r.logit == pytest.approx(3.8823, abs=1e-9)
    assert r.probability == pytest.approx(0.97981, abs=1e-5)
    assert r.category == "High (> 65%)"


def test_extrapolation_warning_outside_the_development_range():
    r = get_model("brock").evaluate(dict(BROCK_CASE, age=40))
    assert any("age" in w for w in r.warnings)
    assert not get_model("brock").evaluate(BROCK_CASE).warnings


def test_result_dict_is_json_ready():
    import json

    d = get_model("brock").evaluate(BROCK_CASE).to_dict()
    assert json.loads(json.dumps(d))["contributions"]["spiculation"] == pytest.approx(0.7729)
    assert {"model", "probability", "category", "contributions", "action", "citation", "intended_use"} <= d.keys()


@pytest.mark.parametrize(("p", "text"), [(0.4559, "45.6 %"), (0.0056, "0.56 %"), (0.00001, "< 0.01 %"),
                                         (0.995, "99.50 %"), (0.99999, "> 99.99 %"), (0.1, "10.0 %")])
def test_format_probability(p, text):
    from meddiag_desktop.risk import format_probability

    assert format_probability(p) == text
