"""The command line entry point."""
import subprocess
import sys

import joblib
import numpy as np
import pytest

from skautoml.cli import main


def test_demo_prints_progress_leaderboard_and_held_out_accuracy(capsys):
    assert main(["demo", "--time-budget", "20", "--max-trials", "2", "--max-epochs", "2"]) == 0
    captured = capsys.readouterr()
    assert "demo: architecture search on digits" in captured.out
    assert "rank trial" in captured.out and "Best validation accuracy" in captured.out
    assert "Held-out accuracy" in captured.out
    assert "Search plan:" in captured.out  # strategy='auto' says what it chose
    assert "NAS" in captured.err  # progress bar


def test_module_entry_point_shows_help():
    out = subprocess.run(
        [sys.executable, "-m", "skautoml.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "demo" in out


# --- fit, predict and report on files

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def table_files(tmp_path_factory):
    """A training CSV with a text label, a new CSV without it, and a model fitted on the first."""
    folder = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    n = 160
    frame = pd.DataFrame({"size": rng.normal(size=n), "colour": rng.choice(["red", "blue", None], n)})
    frame["label"] = np.where(frame["size"] > 0, "big", "small")
    frame.loc[:119].to_csv(folder / "train.csv", index=False)
    frame.loc[120:].drop(columns="label").to_csv(folder / "new.csv", index=False)
    model = folder / "model.joblib"
    code = main(["fit", str(folder / "train.csv"), "--target", "label", "--output", str(model),
                 "--time-budget", "60", "--max-trials", "3", "--verbose", "0"])
    assert code == 0
    return folder


def test_fit_saves_a_model_that_predict_applies(table_files, capsys):
    bundle = joblib.load(table_files / "model.joblib")
    assert bundle["task"] == "classification" and bundle["columns"] == ["size", "colour"]
    assert bundle["data"]["rows"] == 120
    out = table_files / "predictions.csv"
    assert main(["predict", str(table_files / "model.joblib"), str(table_files / "new.csv"), "--output", str(out)]) == 0
    predictions = pd.read_csv(out)
    assert list(predictions.columns) == ["label"] and len(predictions) == 40
    assert set(predictions["label"]) <= {"big", "small"}
    new = pd.read_csv(table_files / "new.csv")
    np.testing.assert_array_equal(predictions["label"], bundle["model"].predict(new))
    assert main(["predict", str(table_files / "model.joblib"), str(table_files / "new.csv"), "--output", str(out),
                 "--proba"]) == 0
    proba = pd.read_csv(out)
    assert list(proba.columns) == ["proba_big", "proba_small"]
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # A labelled file may keep its target column: it is left out.
    assert main(["predict", str(table_files / "model.joblib"), str(table_files / "train.csv"), "--output", str(out)]) == 0


def test_report_is_one_self_contained_page(table_files):
    page = table_files / "report.html"
    assert main(["report", str(table_files / "model.joblib"), "--output", str(page)]) == 0
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "Leaderboard" in text and "The chosen pipeline" in text
    assert "data:image/png;base64," in text  # the plots are inside the page
    assert "colour" in text and "big: " in text  # the data summary
    assert 'src="http' not in text and "<script src" not in text


def _run(args):
    """The command line in a subprocess: its exit status and standard error."""
    done = subprocess.run([sys.executable, "-m", "skautoml.cli", *args], capture_output=True, text=True)
    return done.returncode, done.stderr


@pytest.mark.parametrize(
    "make, args, message",
    [
        (lambda f: None, ["fit", "{f}/absent.csv", "--target", "y", "--output", "{f}/m"], "absent.csv: no such file"),
        (lambda f: (f / "empty.csv").write_text(""), ["fit", "{f}/empty.csv", "--target", "y", "--output", "{f}/m"],
         "empty.csv is empty"),
        (lambda f: (f / "header.csv").write_text("a,b\n"), ["fit", "{f}/header.csv", "--target", "a", "--output",
         "{f}/m"], "no rows of data"),
        (lambda f: (f / "bad.csv").write_bytes(b"a,b\n1,2\n\xff\xfe,\x00\n"), ["fit", "{f}/bad.csv", "--target", "a",
         "--output", "{f}/m"], "not a readable CSV file"),
        (lambda f: None, ["fit", "{f}/train.csv", "--target", "price", "--output", "{f}/m"],
         "has no column 'price'; its columns are size, colour, label"),
        (lambda f: pd.DataFrame({"size": [1.0]}).to_csv(f / "few.csv", index=False),
         ["predict", "{f}/model.joblib", "{f}/few.csv", "--output", "{f}/p.csv"], "missing columns ['colour']"),
        (lambda f: pd.DataFrame({"size": [1.0], "colour": ["red"], "age": [3]}).to_csv(f / "more.csv", index=False),
         ["predict", "{f}/model.joblib", "{f}/more.csv", "--output", "{f}/p.csv"], "extra columns ['age']"),
        (lambda f: (f / "junk.joblib").write_text("not a model"),
         ["report", "{f}/junk.joblib", "--output", "{f}/r.html"], "is not a model saved by skautoml fit"),
    ],
)
def test_bad_files_get_one_clear_line(table_files, make, args, message):
    make(table_files)
    code, err = _run([a.format(f=table_files) for a in args])
    assert code == 2 and "Traceback" not in err
    assert err.startswith("skautoml: error: ") and message in err and err.count("\n") == 1


def test_task_is_inferred_from_the_target():
    from skautoml._files import infer_task

    assert infer_task(pd.Series(["a", "b"])) == "classification"
    assert infer_task(pd.Series([0, 1, 1, 2])) == "classification"
    assert infer_task(pd.Series([True, False])) == "classification"
    assert infer_task(pd.Series([0.5, 1.25, 3.0])) == "regression"
    assert infer_task(pd.Series(np.arange(100))) == "regression"  # more distinct integers than labels usually are


def test_iso_dates_of_a_csv_are_read_as_dates_at_fit_and_at_predict(tmp_path):
    from skautoml._files import iso_date_columns

    rng = np.random.default_rng(0)
    n = 120
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    frame = pd.DataFrame({"signup": days.strftime("%Y-%m-%d"), "size": rng.normal(size=n)})
    frame.loc[3, "signup"] = None  # a gap is no reason to read the column as text
    frame["label"] = np.where(days > pd.Timestamp("2025-01-01"), "late", "early")
    frame.to_csv(tmp_path / "train.csv", index=False)
    model = tmp_path / "model.joblib"
    assert main(["fit", str(tmp_path / "train.csv"), "--target", "label", "--output", str(model),
                 "--time-budget", "60", "--max-trials", "2", "--verbose", "0"]) == 0
    bundle = joblib.load(model)
    assert bundle["dates"] == ["signup"] and bundle["data"]["columns"][0]["dtype"].startswith("datetime64")
    assert bundle["model"].best_pipeline_.named_steps["dates"].datetime_columns_ == ["signup"]
    new = frame.drop(columns="label").iloc[:5].copy()
    new.loc[0, "signup"] = "not a date"  # predicted as a missing date, not refused
    new.to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "predictions.csv"
    assert main(["predict", str(model), str(tmp_path / "new.csv"), "--output", str(out)]) == 0
    assert len(pd.read_csv(out)) == 5
    mixed = pd.DataFrame({"when": ["2024-01-02", "soon"], "stamp": ["2024-01-02T10:30:00", None], "n": [1, 2]})
    assert iso_date_columns(mixed) == ["stamp"]
