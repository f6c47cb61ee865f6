"""Risk tests never see the developer's own risk models or plugin folders."""

import pytest


@pytest.fixture(autouse=True)
def _isolated_model_folders(tmp_path_factory, monkeypatch):
    user = tmp_path_factory.mktemp("user_data")
    monkeypatch.setattr("platformdirs.user_data_dir", lambda *a, **k: str(user))
    monkeypatch.delenv("MEDDIAG_PLUGIN_PATH", raising=False)
    yield
