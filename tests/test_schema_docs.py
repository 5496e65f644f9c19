"""The key references in docs/reference/ are generated from the schemas, and up to date."""

import pytest

from stemsim import schema_docs
from stemsim.dataset.spec_schema import DEFAULTS, RANGES, SPEC
from stemsim.schema import REQUIRED, Key, check_section, describe, integer, number, section


@pytest.mark.parametrize("name", sorted(schema_docs.PAGES))
def test_committed_reference_is_what_the_schemas_say(name):
    page = schema_docs.REFERENCE / name
    assert page.read_text() == schema_docs.PAGES[name](), f"run python -m stemsim.schema_docs ({page})"


def test_every_spec_key_is_in_the_reference_with_its_units():
    text = (schema_docs.REFERENCE / "spec-keys.md").read_text()
    rows = describe(SPEC)
    assert {row.key for row in rows} >= set(RANGES)
    for row in rows:
        assert f"| `{row.key}` |" in text
        assert row.doc, row.key
    assert "| `microscope.dose` | `5000.0` | (0, 1e8] | e/Å² |" in text


def test_the_spec_defaults_come_from_the_schema():
    assert DEFAULTS["microscope"]["dose"] == SPEC["microscope"].check.schema["dose"].default
    assert list(DEFAULTS) == list(SPEC)


def test_a_declared_section_fills_defaults_and_describes_itself():
    probe = {"fwhm": Key(0.12, number(0.0, 10.0), "probe FWHM", units="nm")}
    schema = {"epochs": Key(REQUIRED, integer(1, 10), "epochs"), "probe": Key({}, section(probe), "the probe")}
    assert check_section("", {"epochs": 3}, schema) == {"epochs": 3, "probe": {"fwhm": 0.12}}
    rows = {row.key: row for row in describe(schema)}
    assert (rows["probe.fwhm"].range, rows["probe.fwhm"].units) == ("[0.0, 10.0]", "nm")
    assert rows["epochs"].range == "1..10"
