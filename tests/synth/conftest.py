import pytest

from parcours.synth import generate

MID = 20_000


@pytest.fixture(scope="session")
def default_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth_default")
    report = generate(out, customers=MID, seed=0)
    return out, report


@pytest.fixture(scope="session")
def plain_set(tmp_path_factory):
    """No frictions: the base world."""
    out = tmp_path_factory.mktemp("synth_plain")
    report = generate(out, customers=MID, seed=1, frictions=None)
    return out, report
