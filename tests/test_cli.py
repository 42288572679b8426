"""The ``screening`` command line: query/top/runs/export output formats and parameter validation."""

from __future__ import annotations

import json

import pytest

from screening.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_query_formats(small_store, capsys):
    sql = "SELECT formula, family FROM ranked ORDER BY rank LIMIT 2"
    code, out, _ = run(capsys, "--store", str(small_store.path), "query", sql, "--format", "json")
    assert code == 0 and json.loads(out) == [{"formula": "Li7P3S11", "family": "sulfide"}, {"formula": "Li6PS5Cl", "family": "sulfide"}]
    code, out, _ = run(capsys, "--store", str(small_store.path), "query", sql, "--format", "csv")
    assert out.splitlines() == ["formula,family", "Li7P3S11,sulfide", "Li6PS5Cl,sulfide"]
    code, out, _ = run(capsys, "--store", str(small_store.path), "query", sql)
    assert "Li7P3S11" in out and "formula" in out.splitlines()[0]


def test_top_with_family_and_window(small_store, capsys):
    code, out, _ = run(capsys, "--store", str(small_store.path), "top", "--family", "halide", "-n", "2", "--format", "csv")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3 and "Li2ZrCl6" in lines[1] and "Li3YCl6" in lines[2]
    code, out, _ = run(capsys, "--store", str(small_store.path), "top", "--min-window-V", "3.2", "--format", "json")
    assert [r["formula"] for r in json.loads(out)] == ["Li3YCl6"]


def test_runs_and_export(small_store, capsys, tmp_path):
    code, out, _ = run(capsys, "--store", str(small_store.path), "runs", "--format", "json")
    assert code == 0 and json.loads(out)[0]["run_id"] == "r1"
    code, out, _ = run(capsys, "--store", str(small_store.path), "export", str(tmp_path / "pq"))
    assert code == 0 and (tmp_path / "pq" / "ranked.parquet").is_file()


def test_bad_sql_is_one_line_error(small_store, capsys):
    code, _, err = run(capsys, "--store", str(small_store.path), "query", "SELECT nope FROM ranked")
    assert code == 1 and err.startswith("error:")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--family", "halide", "--limit", "-5"], "limit: Input should be greater than or equal to 1"),
        (["--element", "Xx"], "elements.0: 'Xx' is not one of the accepted values"),
        (["--family", "granite"], "families.0"),
        (["--params-json", '{"families": []}'], "families: List should have at least 1 item"),
        (["--weight", "colour=1"], "unknown objectives"),
        (["--source", "cif"], "needs cif_glob"),
    ],
)
def test_screen_refuses_bad_parameters_before_work(argv, message, capsys, tmp_path):
    store = tmp_path / "never.duckdb"
    code, _, err = run(capsys, "--store", str(store), "screen", *argv)
    assert code == 2 and message in err
    assert not store.exists()  # nothing started


def test_screen_dry_run_prints_validated_parameters(capsys):
    code, out, _ = run(capsys, "screen", "--family", "halide", "--element", "Y", "--limit", "3", "--filter", "window_width_V=1:", "--dry-run")
    params = json.loads(out)
    assert code == 0 and params["families"] == ["halide"] and params["limit"] == 3
    assert params["filters"] == {"window_width_V": [1.0, None]} and params["tiers"] == ["composition", "stability"]
