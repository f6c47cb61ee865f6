"""Nodes stored with the user's settings, resolved by name, AE@host:port or URL; broken settings say so."""

from __future__ import annotations

import json

import pytest

from meddiag_desktop.cli import main
from meddiag_desktop.pacs import LocalAE, Node, PacsError, PacsSettings, load_settings, resolve_node, save_settings


def test_settings_round_trip_and_named_node_works_against_orthanc(orthanc, db, capsys):
    s = PacsSettings(LocalAE("MYWS", 11999), [Node("clinic", "ORTHANC", "127.0.0.1", orthanc.dicom_port, timeout=5),
                                              Node("web", url=orthanc.dicomweb_url)])
    path = save_settings(s)
    assert path.name == "pacs.json" and oct(path.stat().st_mode & 0o777) == "0o600"
    again = load_settings()
    assert again.local == LocalAE("MYWS", 11999) and [n.name for n in again.nodes] == ["clinic", "web"]
    assert resolve_node("clinic").port == orthanc.dicom_port and resolve_node("web").is_web
    assert main(["pacs", "echo", "clinic", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["node"] == f"ORTHANC@127.0.0.1:{orthanc.dicom_port}"


def test_node_texts_and_errors(db, tmp_path):
    n = resolve_node("PACS_AE@pacs.example.org:11112", timeout=3)
    assert (n.ae_title, n.host, n.port, n.timeout) == ("PACS_AE", "pacs.example.org", 11112, 3.0)
    assert resolve_node("https://dicom.example.org/dicom-web/").url == "https://dicom.example.org/dicom-web"
    with pytest.raises(PacsError, match="unknown PACS node 'nowhere'"):
        resolve_node("nowhere")
    with pytest.raises(PacsError, match="AE title must have 1 to 16"):
        resolve_node("A_VERY_LONG_AE_TITLE_X@h:104")
    with pytest.raises(PacsError, match="timeout must be a positive"):
        resolve_node("AE@h:104", timeout=0)


def test_broken_settings_file_is_a_clear_error(db, capsys):
    from meddiag_desktop.pacs.nodes import settings_path

    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text("{not json")
    assert main(["pacs", "echo", "AE@127.0.0.1:1"]) == 1
    err = capsys.readouterr().err
    assert "PACS settings cannot be read" in err and "fix or delete the file" in err and err.count("\n") == 1
