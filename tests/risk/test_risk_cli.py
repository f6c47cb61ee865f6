"""``meddiag risk`` through the real entry point (meddiag_desktop.cli.main)."""

import json

import pytest

from meddiag_desktop.cli import main

BROCK = dict(
    age=67, sex="female", family_history=True, emphysema=False, nodule_size_mm=12,
    nodule_type="part_solid", upper_lobe=True, nodule_count=2, spiculation=True,
)


def test_list(capsys):
    assert main(["risk", "--list"]) == 0
    out = capsys.readouterr().out
    assert "brock" in out and "mayo" in out and "breast_fna" in out


def test_list_json(capsys):
    assert main(["risk", "--list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    names = [m["name"] for m in data["models"]]
    assert {"brock", "mayo", "breast_fna"} <= set(names)
    brock = next(m for m in data["models"] if m["name"] == "brock")
    assert [i["name"] for i in brock["inputs"]] == [
        "age", "sex", "family_history", "emphysema", "nodule_size_mm", "nodule_type",
        "upper_lobe", "nodule_count", "spiculation",
    ]


def test_evaluate_json_inline(capsys):
    assert main(["risk", "brock", "--inputs", json.dumps(BROCK), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "brock"
    assert out["probability"] == pytest.approx(0.4559, abs=1e-4)
    assert out["category"] == "Brock >= 10%"
    assert out["contributions"]["spiculation"] == pytest.approx(0.7729)
    assert out["action"] and out["citation"]


def test_evaluate_from_file_and_text_output(tmp_path, capsys):
    f = tmp_path / "in.json"
    f.write_text(json.dumps({"age": 65, "smoking_history": True, "cancer_history": False,
                             "diameter_mm": 15, "spiculation": True, "upper_lobe": True}))
    assert main(["risk", "mayo", "--inputs", str(f)]) == 0
    out = capsys.readouterr().out
    assert "56.0 %" in out and "Intermediate" in out


def test_evaluate_from_stdin(monkeypatch, capsys):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(BROCK)))
    assert main(["risk", "brock", "--inputs", "-", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "brock"


@pytest.mark.parametrize(("inputs", "field"), [
    ({k: v for k, v in BROCK.items() if k != "nodule_type"}, "nodule_type"),
    (dict(BROCK, age=300), "age"),
    (dict(BROCK, nodule_size_mm="large"), "nodule_size_mm"),
    (dict(BROCK, sex="other"), "sex"),
    (dict(BROCK, nodule_type="calcified"), "nodule_type"),
    (dict(BROCK, nodule_count=1.5), "nodule_count"),
    (dict(BROCK, spiculation="maybe"), "spiculation"),
    (dict(BROCK, smoker=True), "smoker"),
])
def test_bad_input_exits_2_naming_the_field(inputs, field, capsys):
    assert main(["risk", "brock", "--inputs", json.dumps(inputs)]) == 2
    err = capsys.readouterr().err
    assert field in err


def test_unknown_model_exits_2(capsys):
    assert main(["risk", "framingham", "--inputs", "{}"]) == 2
    err = capsys.readouterr().err
    assert "framingham" in err and "brock" in err


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", "no/such/file.json"])
def test_unreadable_inputs_exit_2(text, capsys):
    assert main(["risk", "brock", "--inputs", text]) == 2
    assert "meddiag risk: error" in capsys.readouterr().err


def test_missing_inputs_shows_the_model_inputs(capsys):
    assert main(["risk", "brock"]) == 2
    err = capsys.readouterr().err
    assert "nodule_size_mm" in err and "--inputs" in err


def test_no_model_and_no_list_exits_2(capsys):
    assert main(["risk"]) == 2


def test_argparse_errors_exit_2():
    with pytest.raises(SystemExit) as exc:
        main(["risk", "--bogus"])
    assert exc.value.code == 2


def test_model_name_is_case_insensitive(capsys):
    assert main(["risk", "Brock", "--inputs", json.dumps(BROCK), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "brock"
