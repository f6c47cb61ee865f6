"""Discovery of risk models (built-in, user folder, MEDDIAG_PLUGIN_PATH, entry points) and integrity."""

import hashlib
import json
import os
import shutil
from importlib import metadata
from pathlib import Path

import pytest

from meddiag_desktop.cli import main
from meddiag_desktop.risk import (
    ModelIntegrityError,
    RiskError,
    builtin_models_dir,
    discover_models,
    get_model,
    load_model,
    user_models_dir,
)

TINY_FORMULA = {"intercept": -1.0, "terms": [{"input": "score", "coefficient": 0.5}]}


def write_model(folder: Path, name: str = "tiny", kind: str = "logistic", fmt: str = "toml") -> Path:
    """A one-input model: logit = -1 + 0.5 * score."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {
        "name": name, "title": f"{name} test model", "kind": kind, "citation": "test", "intended_use": "tests",
        "inputs": [{"name": "score", "type": "float", "min": 0, "max": 10}],
        "categories": [{"name": "low", "min_probability": 0.0}, {"name": "high", "min_probability": 0.5}],
    }
    if kind == "logistic":
        manifest["logistic"] = TINY_FORMULA
    else:
        data = json.dumps({"logistic": TINY_FORMULA}).encode()
        (folder / "model.json").write_bytes(data)
        manifest["model_file"] = "model.json"
        manifest["sha256"] = hashlib.sha256(data).hexdigest()
    if fmt == "json":
        (folder / "risk_model.json").write_text(json.dumps(manifest))
    else:
        lines = [f'{k} = {json.dumps(v)}' for k, v in manifest.items() if isinstance(v, str)]
        lines.append(f"inputs = [{{ name = \"score\", type = \"float\", min = 0, max = 10 }}]")
        lines.append('categories = [{ name = "low", min_probability = 0.0 }, { name = "high", min_probability = 0.5 }]')
        if kind == "logistic":
            lines.append('logistic = { intercept = -1.0, terms = [{ input = "score", coefficient = 0.5 }] }')
        (folder / "risk_model.toml").write_text("\n".join(lines) + "\n")
    return folder


def test_builtins_are_package_data():
    found = discover_models()
    assert {"brock", "mayo", "breast_fna"} <= found.models.keys()
    assert found.problems == []
    assert all(found.models[n].source == "builtin" for n in ("brock", "mayo", "breast_fna"))
    assert found.models["brock"].folder.parent == builtin_models_dir()


def test_user_folder(tmp_path):
    write_model(user_models_dir() / "tiny")
    model = discover_models().models["tiny"]
    assert model.source == "user"
    r = model.evaluate({"score": 4})  # logit = -1 + 0.5 * 4 = 1
    assert r.logit == pytest.approx(1.0) and r.category == "high"


def test_env_var_folders(tmp_path, monkeypatch):
    one = write_model(tmp_path / "a" / "one_model", name="one", fmt="json")  # a model folder itself
    write_model(tmp_path / "b" / "two", name="two")  # a folder of model folders
    monkeypatch.setenv("MEDDIAG_PLUGIN_PATH", os.pathsep.join([str(one), str(tmp_path / "b"), str(tmp_path / "none")]))
    found = discover_models()
    assert found.models["one"].source == "env" and found.models["two"].source == "env"
    assert get_model("two").evaluate({"score": 2}).logit == pytest.approx(0.0)


def test_cli_sees_plugin_models(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEDDIAG_PLUGIN_PATH", str(write_model(tmp_path / "tiny", kind="logistic_file")))
    assert main(["risk", "--list"]) == 0
    assert "tiny" in capsys.readouterr().out
    assert main(["risk", "tiny", "--inputs", '{"score": 2}', "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["probability"] == pytest.approx(0.5)


def test_entry_points(tmp_path, monkeypatch):
    pkg = tmp_path / "site" / "acme_risk"
    write_model(pkg / "models" / "acme", name="acme")
    (pkg / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    ep = metadata.EntryPoint(name="acme", value="acme_risk:models", group="meddiag_desktop.risk_models")
    real = metadata.entry_points
    monkeypatch.setattr(
        "meddiag_desktop.risk.registry.metadata.entry_points",
        lambda **kw: [ep] if kw.get("group") == "meddiag_desktop.risk_models" else real(**kw),
    )
    found = discover_models()
    assert found.models["acme"].source == "entry_point:acme"


def test_unresolvable_entry_point_is_reported(monkeypatch):
    ep = metadata.EntryPoint(name="ghost", value="no_such_pkg_xyz:models", group="meddiag_desktop.risk_models")
    monkeypatch.setattr("meddiag_desktop.risk.registry.metadata.entry_points", lambda **kw: [ep])
    found = discover_models()
    assert "brock" in found.models
    assert any("ghost" in p and "cannot be resolved" in p for p in found.problems)


def test_builtin_names_cannot_be_shadowed(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDDIAG_PLUGIN_PATH", str(write_model(tmp_path / "brock", name="brock")))
    found = discover_models()
    assert found.models["brock"].source == "builtin"
    assert any("brock" in p and "ignored" in p for p in found.problems)


def test_broken_manifest_is_a_problem_not_a_crash(tmp_path, monkeypatch):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "risk_model.toml").write_text('name = "bad"\ntitle = "x"\n')
    garbled = tmp_path / "garbled"
    garbled.mkdir()
    (garbled / "risk_model.toml").write_text("this is [not toml")
    monkeypatch.setenv("MEDDIAG_PLUGIN_PATH", os.pathsep.join([str(bad), str(garbled)]))
    found = discover_models()
    assert "bad" not in found.models
    assert len(found.problems) == 2 and all("not a valid risk model manifest" in p for p in found.problems)


def test_tampered_model_file_is_refused(tmp_path):
    folder = write_model(tmp_path / "tiny", kind="logistic_file")
    data = json.loads((folder / "model.json").read_text())
    data["logistic"]["intercept"] = 5.0
    (folder / "model.json").write_text(json.dumps(data))
    model = load_model(folder)  # the manifest itself is fine
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        model.evaluate({"score": 1})


def test_tampered_builtin_trained_model_is_refused(tmp_path, monkeypatch, capsys):
    copy = shutil.copytree(builtin_models_dir() / "breast_fna", tmp_path / "breast_fna")
    text = (copy / "model.json").read_text().replace('"intercept": -', '"intercept": ', 1)
    (copy / "model.json").write_text(text)
    with pytest.raises(ModelIntegrityError) as exc:
        load_model(copy).formula()
    assert "breast_fna" in str(exc.value) and "Reinstall" in str(exc.value)
    # the CLI reports it and exits 1 (the model, not the input, is broken)
    monkeypatch.setattr("meddiag_desktop.risk.registry.builtin_models_dir", lambda: tmp_path)
    args = json.dumps({"radius_worst": 20, "texture_worst": 25, "concave_points_worst": 0.15, "smoothness_worst": 0.14})
    assert main(["risk", "breast_fna", "--inputs", args]) == 1
    assert "SHA-256" in capsys.readouterr().err


def test_model_file_must_stay_inside_its_folder(tmp_path):
    folder = write_model(tmp_path / "tiny", kind="logistic_file", fmt="json")
    manifest = json.loads((folder / "risk_model.json").read_text())
    manifest["model_file"] = "../elsewhere.json"
    (folder / "risk_model.json").write_text(json.dumps(manifest))
    with pytest.raises(RiskError, match="inside"):
        load_model(folder).formula()


def test_manifest_formula_must_match_inputs(tmp_path):
    folder = write_model(tmp_path / "tiny", fmt="json")
    manifest = json.loads((folder / "risk_model.json").read_text())
    manifest["logistic"]["terms"][0]["input"] = "other"
    (folder / "risk_model.json").write_text(json.dumps(manifest))
    with pytest.raises(RiskError, match="unknown input 'other'"):
        load_model(folder)
