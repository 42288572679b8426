"""Old names that users' code may still use: each works and warns, naming the new one (issue 26)."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest


def test_screening_train_is_the_deprecated_name_of_training_retrain():
    import screening.train as old
    from screening.training import retrain

    with pytest.warns(DeprecationWarning, match="import train_all from screening.training.retrain"):
        assert old.train_all is retrain.train_all
    with pytest.raises(AttributeError):
        old.no_such_name  # noqa: B018


def test_python_m_screening_training_is_the_command():
    out = subprocess.run([sys.executable, "-m", "screening.training", "--help"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("usage: python -m screening.training")
    old = subprocess.run([sys.executable, "-W", "always::DeprecationWarning", "-m", "screening.train", "--help"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert "python -m screening.training" in old.stderr and old.stdout == out.stdout


def test_screening_candidates_warns_and_gives_the_enumeration_names():
    import screening.candidates as old
    import screening.enumeration as new

    with pytest.warns(DeprecationWarning, match="import enumerate_candidates from screening.enumeration"):
        assert old.enumerate_candidates is new.enumerate_candidates
    assert set(dir(old)) == set(new.__all__)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from screening.enumeration import Candidate, load_seeds  # noqa: F401  (the new home warns nothing)
    with pytest.raises(AttributeError):
        old.no_such_name  # noqa: B018
