"""The draft column registry (issue 26) agrees with the lists the store, predict and the CLI use today."""

import pytest

from screening import columns
from screening.store_schema import TOP_COLUMNS, VIEW_COLUMNS
from screening.surrogates import PREDICT_COLUMNS


def test_registry_lists_match_todays_lists():
    assert list(columns.TOP_COLUMNS) == list(TOP_COLUMNS)
    assert list(columns.PREDICT_COLUMNS) == list(PREDICT_COLUMNS)


def test_every_guaranteed_view_column_is_registered():
    types = columns.sql_types()
    missing = [c for c in VIEW_COLUMNS if c not in types]
    assert not missing, missing


def test_unknown_column_is_an_error_naming_it():
    with pytest.raises(KeyError, match="no_such_column"):
        columns.get("no_such_column")
