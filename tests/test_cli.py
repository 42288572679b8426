"""The ``screening`` command line: query/top/runs/export output formats and parameter validation."""

from __future__ import annotations

import json

import pytest

from screening.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_app(capsys, *argv):
    """The ``screening`` console script (:func:`flows.cli.main`): the library's command line with the ``screen`` flow
    (here without Prefect's temporary server: these tests replace the flow)."""
    import contextlib

    import flows.runtime
    from flows.cli import main as app_main

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(flows.runtime, "protected_temporary_server", contextlib.nullcontext)
        code = app_main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_library_command_line_validates_a_screen_but_runs_none(capsys, tmp_path):
    """``screening.cli`` has no flow runner (it never imports ``flows``): a screen is validated, then refused."""
    store = tmp_path / "never.duckdb"
    code, _, err = run(capsys, "--store", str(store), "screen", "--family", "halide", "--limit", "3")
    assert code == 2 and "flows.cli" in err and not store.exists()


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
        (["--weight", "colour=1"], "unknown objective"),
        (["--source", "cif"], "needs cif_glob"),
    ],
)
def test_screen_refuses_bad_parameters_before_work(argv, message, capsys, tmp_path):
    store = tmp_path / "never.duckdb"
    code, _, err = run(capsys, "--store", str(store), "screen", *argv)
    assert code == 2 and message in err
    assert not store.exists()  # nothing started


def test_screen_with_an_unusable_store_path_is_one_line_before_prefect_starts(capsys, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    code, out, err = run_app(capsys, "--store", str(blocker / "sub" / "s.duckdb"), "screen", "--limit", "3")
    assert code == 1 and err.startswith("error: cannot create the store folder") and "Traceback" not in err + out
    assert len(err.strip().splitlines()) == 1


def test_screen_dry_run_prints_validated_parameters(capsys):
    code, out, _ = run(capsys, "screen", "--family", "halide", "--element", "Y", "--limit", "3", "--filter", "window_width_V=1:", "--dry-run")
    params = json.loads(out)
    assert code == 0 and params["families"] == ["halide"] and params["limit"] == 3
    assert params["filters"] == {"window_width_V": [1.0, None]} and params["tiers"] == ["composition", "stability", "structure", "relax"]



@pytest.mark.parametrize(
    "sql",
    [
        "COPY (SELECT 1) TO '{tmp}/x.csv'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "ATTACH '{tmp}/y.duckdb' AS y",
        "INSTALL httpfs",
        "SELECT 1; SELECT 2",
        "",
        "-- just a comment",
    ],
)
def test_query_refusals_are_one_line_and_change_nothing(snapshot, small_store, capsys, tmp_path, sql):
    before = snapshot(tmp_path)
    code, out, err = run(capsys, "--store", str(small_store.path), "query", sql.format(tmp=tmp_path))
    assert code == 1 and out == "" and err.startswith("error:") and len(err.strip().splitlines()) == 1
    assert snapshot(tmp_path) == before


def test_read_commands_leave_the_store_unchanged(snapshot, small_store, capsys, tmp_path):
    before = snapshot(small_store.path.parent)
    for argv in (["query", "SELECT * FROM ranked"], ["top"], ["runs"], ["top", "--all-columns"]):
        code, _, err = run(capsys, "--store", str(small_store.path), *argv)
        assert code == 0, err
    code, _, _ = run(capsys, "--store", str(small_store.path), "export", str(tmp_path.parent / f"{tmp_path.name}_pq"))
    assert code == 0 and snapshot(small_store.path.parent) == before


def test_read_commands_work_on_a_read_only_store(small_store, capsys, tmp_path):
    small_store.path.chmod(0o444)
    small_store.path.parent.chmod(0o555)
    try:
        for argv in (["query", "SELECT count(*) AS n FROM ranked"], ["top", "-n", "1"], ["runs"]):
            code, out, err = run(capsys, "--store", str(small_store.path), *argv)
            assert code == 0 and out, err
        code, _, err = run(capsys, "--store", str(small_store.path), "export", str(tmp_path.parent / f"{tmp_path.name}_ro"))
        assert code == 0, err
    finally:
        small_store.path.parent.chmod(0o755)
        small_store.path.chmod(0o644)


def test_export_path_cannot_inject_sql(small_store, capsys, tmp_path):
    target = tmp_path / "injected.txt"
    name = str(tmp_path / f"x' (FORMAT csv); COPY (SELECT 42) TO '{target}' (FORMAT csv); --")
    code, _, _ = run(capsys, "--store", str(small_store.path), "export", name)
    assert code == 0 and not target.exists()


@pytest.mark.parametrize("command", [["query", "SELECT 1"], ["top"], ["runs"], ["export", "out"]])
def test_a_mistyped_store_is_an_error_not_a_new_store(command, capsys, tmp_path):
    path = tmp_path / "typo" / "screening.duckdb"
    code, _, err = run(capsys, "--store", str(path), *command)
    assert code == 1 and err.startswith(f"error: no store at {path}")
    assert not path.parent.exists()


def test_an_empty_store_says_how_to_fill_it(capsys, tmp_path):
    from screening.store import ResultStore

    path = ResultStore(tmp_path / "empty.duckdb").path
    for command in (["top"], ["runs"]):
        code, out, err = run(capsys, "--store", str(path), *command)
        assert code == 0 and "no runs yet: run `screening screen` or `make run`" in err
    code, out, _ = run(capsys, "--store", str(path), "query", "SELECT formula, log10_sigma_S_cm, window_low_V FROM ranked LIMIT 10")
    assert code == 0 and out == "(no rows)\n"


def test_top_default_columns_are_readable(small_store, capsys):
    code, out, _ = run(capsys, "--store", str(small_store.path), "top", "--format", "json")
    columns = list(json.loads(out)[0])
    assert columns[:4] == ["rank", "candidate_id", "formula", "family"] and "window_width_V" in columns and len(columns) < 30
    code, out, _ = run(capsys, "--store", str(small_store.path), "top", "--format", "json", "--all-columns")
    assert "run_id" in json.loads(out)[0]


def test_runs_show_parameters_and_timings(small_store, capsys):
    small_store.finish_run("r1", timings={"total_s": 2.5})
    code, out, _ = run(capsys, "--store", str(small_store.path), "runs", "--format", "json")
    row = json.loads(out)[0]
    assert json.loads(row["parameters"]) == {"limit": 6} and json.loads(row["timings"]) == {"total_s": 2.5}
    code, out, _ = run(capsys, "--store", str(small_store.path), "runs", "--wide")
    assert "limit=6" in out and "total_s=2.5" in out
    code, out, _ = run(capsys, "--store", str(small_store.path), "runs")  # short lines: id, name, status, counts
    assert "r1" in out and "limit=6" not in out and max(len(line) for line in out.splitlines()) <= 160


def test_a_store_folder_that_cannot_be_made_is_one_line(capsys, monkeypatch, tmp_path):
    import flows.screen
    from screening.store import ResultStore

    (tmp_path / "a_file").write_text("not a folder")
    monkeypatch.setattr(flows.screen, "screen", lambda params: ResultStore(params.store_path))
    store = tmp_path / "a_file" / "sub" / "s.duckdb"
    code, _, err = run_app(capsys, "--store", str(store), "screen", "--family", "halide", "--limit", "3")
    assert code == 1 and err.startswith(f"error: cannot create the store folder {store.parent}") and len(err.splitlines()) == 1


def test_dataset_error_in_screen_is_one_line(capsys, monkeypatch, tmp_path):
    import flows.screen
    from screening.errors import DatasetError

    def broken(params):
        raise DatasetError("datasets/SHA256SUMS: line 3 is not '<sha256> <file>'")

    monkeypatch.setattr(flows.screen, "screen", broken)
    code, _, err = run_app(capsys, "--store", str(tmp_path / "s.duckdb"), "screen", "--family", "halide", "--limit", "3")
    assert code == 1 and err == "error: datasets/SHA256SUMS: line 3 is not '<sha256> <file>'\n"


def test_describe_a_cif(capsys):
    from pathlib import Path

    cif = sorted(Path("seeds").glob("**/*.cif"))[0]
    code, out, _ = run(capsys, "describe", str(cif), "--format", "json")
    row = json.loads(out)[0]
    assert code == 0 and row["file"] == str(cif) and row["error"] is None and "MagpieData mean Number" not in row
    code, out, _ = run(capsys, "describe", str(cif))
    assert code == 0 and str(cif) in out.splitlines()[0]


def test_predict_prints_properties_with_intervals(capsys):
    code, out, _ = run(capsys, "predict", "Li3YCl6", "Xx2", "--no-stability", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and [r["formula"] for r in rows] == ["Li3YCl6", "Xx2"]
    good, bad = rows
    assert good["log10_sigma_S_cm_lo80"] < good["log10_sigma_S_cm"] < good["log10_sigma_S_cm_hi80"] and good["error"] is None
    assert "Xx" in bad["error"]
    code, out, _ = run(capsys, "predict", "Li3YCl6", "--no-stability")
    assert code == 0 and "log10 sigma (S/cm)" in out and "[" in out


@pytest.fixture
def damaged_data(tmp_path, monkeypatch):
    """A private copy of datasets/ (SHA256SUMS and the OBELiX tarball) that a test may damage."""
    import shutil

    from screening import datasets
    from screening.config import get_settings

    src = get_settings().data_dir
    dst = tmp_path / "datasets"
    (dst / "obelix").mkdir(parents=True)
    shutil.copy(src / "SHA256SUMS", dst / "SHA256SUMS")
    shutil.copy(src / "obelix" / "all_cifs.tar.gz", dst / "obelix" / "all_cifs.tar.gz")
    monkeypatch.setenv("SCREENING_DATA_DIR", str(dst))

    def reset():
        get_settings.cache_clear()
        datasets._expected_checksums.cache_clear()
        datasets._obelix_cif_texts.cache_clear()
        datasets._verified.clear()

    reset()
    yield dst
    monkeypatch.delenv("SCREENING_DATA_DIR")
    reset()


def test_a_malformed_checksum_list_names_the_file(damaged_data):
    from screening import datasets
    from screening.errors import DatasetError

    sums = damaged_data / "SHA256SUMS"
    sums.write_text(sums.read_text() + "not-a-checksum-line\n")
    with pytest.raises(DatasetError, match=r"SHA256SUMS: line \d+ is not"):
        datasets.dataset_checksums()


def test_a_truncated_tarball_is_a_dataset_error(damaged_data, monkeypatch):
    from screening import datasets
    from screening.config import get_settings
    from screening.errors import DatasetError

    tarball = damaged_data / "obelix" / "all_cifs.tar.gz"
    tarball.write_bytes(tarball.read_bytes()[: tarball.stat().st_size // 2])
    monkeypatch.setenv("SCREENING_VERIFY_CHECKSUMS", "false")  # as if the sums had been regenerated
    get_settings.cache_clear()
    with pytest.raises(DatasetError, match="all_cifs.tar.gz: cannot be read as a gzipped tar archive"):
        datasets.obelix_cif_ids()


@pytest.mark.parametrize(
    ("flag", "named"),
    [
        (["--weight", "log10_sigma_S_cm=-1"], "log10_sigma_S_cm"),
        (["--filter", "window_with_V=1:"], "window_with_V"),
        (["--weight", "conductivity=1"], "conductivity"),
        (["--preset", "fastest"], "preset"),
        (["--weight", "log10_sigma_S_cm=nan"], "log10_sigma_S_cm"),
    ],
)
def test_screen_refuses_bad_ranking_parameters_before_any_work(flag, named, capsys, tmp_path):
    from screening.cli import main

    store = tmp_path / "never.duckdb"
    assert main(["--store", str(store), "screen", *flag]) == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err
    assert not store.exists()  # refused before a store or a run was created


def test_screen_takes_a_preset_kappa_and_e_hull_z(capsys):
    from screening.cli import main

    assert main(["screen", "--preset", "high-voltage-cathode", "--kappa", "1.5", "--e-hull-z", "1", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert '"preset": "high-voltage-cathode"' in out and '"kappa": 1.5' in out and '"e_hull_z": 1.0' in out
