"""Fixtures of the render tests: a demo workspace built by the same steps as `make demo`."""

from __future__ import annotations


import pytest
from rich.console import Console

from .render_support import browser  # noqa: F401  (a fixture)


@pytest.fixture(scope="session")
def demo_ws(tmp_path_factory):
    """A workspace of 1,500 generated customers (with planted frictions), through run_demo."""
    from parcours.demo import run_demo
    from parcours.workspace import Workspace

    d = tmp_path_factory.mktemp("render-demo") / "demo"
    run_demo(d, customers=1500, seed=5, lang="fr", console=Console(quiet=True))
    ws = Workspace.open(d)
    yield ws
    ws.close()
