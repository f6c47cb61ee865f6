"""Fixtures for the batch tests: small generated studies, the tiny plugin, a private audit log."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.batch.batch_helpers import corrupt_study, undecodable_study, tiny_plugin, write_study  # noqa: E402


@pytest.fixture
def audit_log(user_folders) -> Path:
    return user_folders.audit_log


@pytest.fixture(scope="session")
def _plugin_folder(tmp_path_factory) -> Path:
    return tiny_plugin(tmp_path_factory.mktemp("plugins"), trust=False)


@pytest.fixture
def plugin(_plugin_folder, user_folders) -> Path:
    """The tiny plugin, trusted in this test's own settings folder (as ``meddiag plugins trust`` would)."""
    from tests.ai.plugin_factory import trust_for_tests

    return trust_for_tests(_plugin_folder)


@pytest.fixture(scope="session")
def archive(tmp_path_factory) -> dict:
    """A folder of 3 good studies, one with truncated pixel data and one whose images cannot be decoded."""
    root = tmp_path_factory.mktemp("archive")
    uids = {f"study{i}": write_study(root / f"study{i}", seed=i + 1) for i in range(3)}
    truncated = corrupt_study(root / "truncated", seed=7)
    undecodable = undecodable_study(root / "undecodable")
    return {"root": root, "good": uids, "truncated": truncated, "undecodable": undecodable}
