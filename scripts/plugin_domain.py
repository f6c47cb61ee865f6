"""Manifest blocks the training scripts write into the bundled chest CT plugins' ``plugin.toml``.

The input domain (``[domain]``, checked by ``meddiag_desktop.ai.intended_use`` before a run) and
the segmentation's output plausibility checks (``[[plausibility]]``, warnings only) are a
statement about what the models were built for, not a training result, so they live here once
and every retraining writes them unchanged.
"""

CHEST_CT_DOMAIN = """
[domain]
modalities = ["CT"]
body_regions = ["CHEST", "THORAX", "LUNG", "CHESTABDOMEN", "CHESTABDPELVIS", "WHOLEBODY"]
spacing_mm = [0.3, 5.0]
values_reach = [-900.0, 100.0]
value_unit = "HU"
channels = 1
"""

CHEST_SEG_PLAUSIBILITY = """
# Output plausibility checks (adult chest CT): a result outside these ranges is flagged, not removed.
[[plausibility]]
labels = [1, 2]
name = "both lungs"
min_ml = 1500.0
max_ml = 10000.0

[[plausibility]]
labels = [4]
min_ml = 200.0
max_ml = 1500.0

[[plausibility]]
labels = [7]
name = "nodules"
max_components = 30
"""


def relock() -> None:
    """Rewrite the bundled plugins' lock files after a manifest or weights changed (scripts/lock_plugins.py)."""
    import lock_plugins

    lock_plugins.main([])
