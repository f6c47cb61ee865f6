"""No import cycle between the modules of one package, function-level imports included.

A cycle that works only because one side imports inside a function (``report.build`` <->
``report.key_images``, ``demo.phantom`` <-> ``demo._nodules``) is a cycle all the same:
grimp (import-linter's graph) sees every import, wherever it stands.
"""

from __future__ import annotations

import pytest

grimp = pytest.importorskip("grimp")

#: packages whose modules import one another without a cycle (io and ai join when theirs are untangled)
ACYCLIC = ["core", "ai", "report", "demo", "risk", "db", "pacs", "batch", "reading", "render", "workflow", "qt"]


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("meddiag_desktop", cache_dir=None)


def _cycles(graph, package: str) -> list[tuple[str, ...]]:
    """Each import a -> b inside ``package`` for which b leads back to a: (a, b, ..., a)."""
    prefix = f"meddiag_desktop.{package}."
    found = []
    for a in sorted(m for m in graph.modules if m.startswith(prefix)):
        for b in sorted(graph.find_modules_directly_imported_by(a)):
            back = graph.find_shortest_chain(importer=b, imported=a) if b.startswith(prefix) and b != a else None
            if back:
                found.append((a, *back))
    return found


@pytest.mark.parametrize("package", ACYCLIC)
def test_no_import_cycle_inside(graph, package):
    assert _cycles(graph, package) == []


def test_the_cycles_of_issue_13_are_gone(graph):
    assert graph.find_shortest_chain(importer="meddiag_desktop.report.key_images",
                                     imported="meddiag_desktop.report.build") is None
    assert graph.find_shortest_chain(importer="meddiag_desktop.demo._nodules",
                                     imported="meddiag_desktop.demo.phantom") is None
