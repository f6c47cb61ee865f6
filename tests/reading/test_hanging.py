"""Hanging protocols: matching on real headers, stages, user overrides and bad user files."""

from __future__ import annotations

import pytest
from pydicom.data import get_testdata_file

from meddiag_desktop import io
from meddiag_desktop.reading.hanging import (
    ProtocolFileError,
    ProtocolRun,
    StudyContext,
    context_for,
    load_protocol_file,
    load_protocols,
    match_protocol,
)


@pytest.fixture
def shipped(tmp_path):
    protocols, problems = load_protocols(tmp_path / "none.toml")
    assert problems == []
    return protocols


def test_pydicom_ct_and_mr_headers_pick_their_protocols(shipped):
    ct = io.load(get_testdata_file("CT_small.dcm"))
    mr = io.load(get_testdata_file("MR_small.dcm"))
    ctx = context_for(ct.metadata)
    assert (ctx.modality, ctx.n_studies) == ("CT", 1)
    assert match_protocol(shipped, ctx).name == "CT"  # CT_small has no chest in its headers
    assert match_protocol(shipped, context_for(mr.metadata)).name == "MR"
    assert match_protocol(shipped, context_for(ct.metadata, n_studies=2)).name == "CT with prior"


def test_demo_chest_ct_with_and_without_prior(shipped, prior_pair):
    cur = io.load(prior_pair.current_dir / "dicom")
    ctx = context_for(cur.metadata)
    assert ctx.body_part == "CHEST"  # BodyPartExamined read from the file
    assert match_protocol(shipped, ctx).name == "CT chest"
    with_prior = match_protocol(shipped, context_for(cur.metadata, n_studies=2))
    assert with_prior.name == "CT chest with prior"
    assert (with_prior.stages[0].layout, with_prior.stages[0].window) == ("prior_2x2", "Lung")
    # no BodyPartExamined: the description's words count ("Synthetic chest CT (demo)")
    md = {k: v for k, v in cur.metadata.items() if k != "files"}
    assert context_for(md).body_part == ""
    assert match_protocol(shipped, context_for(md)).name == "CT chest"


def test_unknown_modality_falls_to_the_default(shipped):
    assert match_protocol(shipped, StudyContext(modality="US")).name == "Default"


def test_stages_step_forward_and_back_and_stop_at_the_ends(shipped):
    run = ProtocolRun(next(p for p in shipped if p.name == "CT chest with prior"))
    assert run.position == "1/3" and run.stage.layout == "prior_2x2"
    assert run.step(1) and run.stage.layout == "compare"
    assert run.step(1) and run.stage.window == "Mediastinum"
    assert not run.step(1) and run.position == "3/3"
    assert run.step(-1) and run.step(-1) and not run.step(-1) and run.index == 0


def test_a_user_file_overrides_a_shipped_protocol_and_adds_one(tmp_path, shipped):
    user = tmp_path / "hanging_protocols.toml"
    user.write_text(
        '[[protocol]]\nname = "ct chest"\npriority = 10\n'
        'match = { modality = ["CT"], body_part = ["CHEST"], max_studies = 1 }\n'
        'stages = [{ name = "Bone first", layout = "1x3", window = "Bone" }]\n\n'
        '[[protocol]]\nname = "My CT_small"\npriority = 50\n'
        'match = { modality = ["CT"], series_description = "^$" }\n'
        'stages = [{ name = "Axial", layout = "axial" }]\n', encoding="utf-8")
    protocols, problems = load_protocols(user)
    assert problems == []
    assert len(protocols) == len(shipped) + 1
    chest = match_protocol(protocols, StudyContext(modality="CT", body_part="CHEST", series_description="Lung 1 mm"))
    assert chest.name == "ct chest" and chest.stages[0].window == "Bone" and chest.source == str(user)
    ct = io.load(get_testdata_file("CT_small.dcm"))  # empty SeriesDescription
    assert match_protocol(protocols, context_for(ct.metadata)).name == "My CT_small"


@pytest.mark.parametrize("text, expected", [
    ('[[protocol]]\nname = "X"\nstages = [{ name = "s", layout = "five" }]\n',
     "protocol 1 ('X').stages.0.layout: Input should be 'four'"),
    ('[[protocol]]\nname = "CT prior"\nstages = [{ name = "s", layout = "compare" }]\n',
     "shows a prior (layout 'compare'): set match.min_studies = 2"),
    ('[[protocol]]\nname = "R"\nmatch = { series_description = "(" }\nstages = [{ name = "s", layout = "four" }]\n',
     "match.series_description: Value error, not a valid regular expression"),
    ('[[protocol]]\nname = "T"\nstage = []\n', "stage: Extra inputs are not permitted"),
    ('[[protocol]\nname = "broken"', "not valid TOML"),
])
def test_a_bad_user_file_says_what_is_wrong_and_the_shipped_protocols_are_used(tmp_path, shipped, text, expected):
    user = tmp_path / "hanging_protocols.toml"
    user.write_text(text, encoding="utf-8")
    with pytest.raises(ProtocolFileError) as info:
        load_protocol_file(user)
    assert str(user) in str(info.value) and expected in str(info.value)
    protocols, problems = load_protocols(user)
    assert [p.name for p in protocols] == [p.name for p in shipped]
    assert len(problems) == 1 and expected in problems[0] and "Using the shipped protocols" in problems[0]
