"""Shared fixtures: the default demo phantom and its written study are made once per session."""

from __future__ import annotations

import pytest

from meddiag_desktop.demo.phantom import PhantomParams, make_chest_phantom

#: a coarse grid (2.7 x 2.7 x 4.7 mm) with the demo's anatomy, for tests not about the demo itself
SMALL = dict(matrix_size=(128, 128), pixel_spacing_mm=2.7, n_slices=64, slice_spacing_mm=4.7)


@pytest.fixture(scope="session")
def small_params() -> PhantomParams:
    return PhantomParams(**SMALL)


@pytest.fixture(scope="session")
def demo_phantom():
    return make_chest_phantom()


@pytest.fixture(scope="session")
def demo_cache(_session_cache):
    """The session's user cache folder (``demo.default_cache_dir()`` under the ``user_folders`` fixture):
    the demo study is generated once for these tests and the report, risk and GUI tests that open it."""
    return _session_cache / "meddiag-desktop"


@pytest.fixture(scope="session")
def demo_root(demo_cache):
    from meddiag_desktop.demo import demo_study_dir

    return demo_study_dir(demo_cache)
