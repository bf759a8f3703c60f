"""What ``skautoml fit | predict | report`` do with files: read tables, save and load models, write the report."""
import base64
import html
import io
import re
from pathlib import Path

import joblib
import numpy as np

from . import __version__

#: Most distinct values an integer target may have and still be read as class labels by ``--task auto``.
MAX_CLASS_LABELS = 20
#: An ISO 8601 date, or date and time without a zone: what every filled cell of a CSV column holds to be read as dates.
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")


class CommandError(Exception):
    """A bad file or argument; the command line prints its message as one line and exits with status 2."""


def _pandas():
    try:
        import pandas
    except ImportError:
        raise CommandError("reading tables needs pandas: pip install 'skautoml[pandas]'") from None
    return pandas


def read_table(path):
    """The DataFrame of a CSV file (a header row, then rows), or of a Parquet file (``.parquet``, ``.pq``)."""
    pd = _pandas()
    path = Path(path)
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(path)
        except ImportError:
            raise CommandError("reading Parquet needs pyarrow: pip install pyarrow") from None
        except Exception as error:
            raise CommandError(f"{path} is not a readable Parquet file: {_first_line(error)}") from None
    else:
        try:
            frame = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            raise CommandError(f"{path} is empty: it needs a header row and at least one row of data") from None
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
            raise CommandError(f"{path} is not a readable CSV file: {_first_line(error)}") from None
    if len(frame) == 0:
        raise CommandError(f"{path} has a header but no rows of data")
    return frame


def is_csv(path):
    return Path(path).suffix.lower() not in (".parquet", ".pq")


def iso_date_columns(frame):
    """The text columns of a CSV's ``frame`` whose filled cells are all ISO 8601 dates (a CSV holds no types)."""
    pd = _pandas()
    found = []
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_string_dtype(column) or column.dtype == object:
            filled = column.dropna()
            if len(filled) and filled.map(lambda v: isinstance(v, str) and ISO_DATE.fullmatch(v) is not None).all():
                found.append(name)
    return found


def with_dates(frame, columns):
    """A copy of ``frame`` whose ``columns`` are datetimes; a cell that is no date becomes missing (NaT)."""
    pd = _pandas()
    frame = frame.copy()
    for name in columns:
        if not pd.api.types.is_datetime64_any_dtype(frame[name]):
            frame[name] = pd.to_datetime(frame[name], format="ISO8601", errors="coerce")
    return frame


def _first_line(error):
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def infer_task(target):
    """``'classification'`` for labels (text, booleans, categories, or at most ``MAX_CLASS_LABELS`` integers), else ``'regression'``."""
    pd = _pandas()
    if not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
        return "classification"
    values = target.dropna().to_numpy(dtype=float)
    integers = np.all(values == np.round(values))
    return "classification" if integers and len(np.unique(values)) <= MAX_CLASS_LABELS else "regression"


def data_summary(X, y, target, task):
    """What the report shows about the data: its size, and per column the dtype, missing share and distinct values."""
    columns = [
        {
            "name": str(name),
            "dtype": str(X[name].dtype),
            "missing": float(X[name].isna().mean()),
            "distinct": int(X[name].nunique()),
        }
        for name in X.columns
    ]
    if task == "regression":
        values = np.asarray(y, dtype=float)
        described = {"mean": float(values.mean()), "sd": float(values.std()), "min": float(values.min()),
                     "max": float(values.max())}
    else:
        labels, counts = np.unique(np.asarray(y).astype(str), return_counts=True)
        described = dict(zip(labels.tolist()[:MAX_CLASS_LABELS], counts.tolist()[:MAX_CLASS_LABELS]))
    return {"rows": len(X), "columns": columns, "target": str(target), "target_values": described}


def fit_file(args):
    """Search a pipeline for a table file and save it with joblib (a dict: the model, its columns, target and data)."""
    from ._automl import AutoMLClassifier, AutoMLRegressor

    frame = read_table(args.data)
    if args.target not in frame.columns:
        raise CommandError(
            f"{args.data} has no column {args.target!r}; its columns are {', '.join(map(str, frame.columns))}"
        )
    labelled = frame[args.target].notna()
    if not labelled.any():
        raise CommandError(f"the target column {args.target!r} of {args.data} is empty")
    if not labelled.all():
        print(f"Dropped {int((~labelled).sum())} rows whose {args.target!r} is missing.")
    frame = frame[labelled]
    X, y = frame.drop(columns=[args.target]), frame[args.target]
    if X.shape[1] == 0:
        raise CommandError(f"{args.data} has no column besides the target {args.target!r} to predict it from")
    dates = [str(name) for name in iso_date_columns(X)] if is_csv(args.data) else []
    X = with_dates(X, dates)
    task = infer_task(y) if args.task == "auto" else args.task
    if task == "regression" and not _pandas().api.types.is_numeric_dtype(y):
        raise CommandError(f"--task regression needs a numeric target, but {args.target!r} holds text")
    estimator = AutoMLClassifier if task == "classification" else AutoMLRegressor
    model = estimator(
        time_budget=args.time_budget, max_trials=args.max_trials, n_jobs=args.n_jobs,
        random_state=args.random_state, verbose=args.verbose,
    )
    print(f"skautoml {__version__}: {task} of {args.target!r} from {X.shape[1]} columns and {len(X)} rows of "
          f"{args.data}, time budget {args.time_budget:g} s.")
    model.fit(X, y.to_numpy())
    bundle = {
        "model": model, "target": args.target, "task": task, "columns": [str(c) for c in X.columns], "dates": dates,
        "data": data_summary(X, y, args.target, task), "source": str(args.data), "skautoml": __version__,
    }
    joblib.dump(bundle, args.output)
    print(model.summary())
    print(f"Saved the model to {args.output}.")
    return 0


def load_bundle(path):
    """What ``fit_file`` saved at ``path``."""
    path = Path(path)
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    try:
        bundle = joblib.load(path)
    except Exception as error:
        raise CommandError(f"{path} is not a model saved by skautoml fit ({_first_line(error)})") from None
    if not isinstance(bundle, dict) or "model" not in bundle or "columns" not in bundle:
        raise CommandError(f"{path} is not a model saved by skautoml fit")
    return bundle


def predict_file(args):
    """Predict a table file with a saved model and write the predictions as CSV."""
    pd = _pandas()
    bundle = load_bundle(args.model)
    frame = read_table(args.data)
    columns, target = bundle["columns"], bundle["target"]
    present = [str(c) for c in frame.columns]
    frame.columns = present
    missing = [c for c in columns if c not in present]
    extra = [c for c in present if c not in columns and c != target]  # a labelled file may keep its target
    if missing or extra:
        problems = ([f"missing columns {missing}"] if missing else []) + ([f"extra columns {extra}"] if extra else [])
        raise CommandError(
            f"{args.data} does not have the columns the model was fitted on: {'; '.join(problems)}. "
            f"It needs exactly {columns}."
        )
    model, X = bundle["model"], with_dates(frame[columns], bundle.get("dates", []))
    if args.proba:
        if not hasattr(model, "predict_proba"):
            raise CommandError(
                "this model gives no class probabilities (a regressor, or a model without predict_proba); "
                "leave out --proba"
            )
        out = pd.DataFrame(model.predict_proba(X), columns=[f"proba_{c}" for c in model.classes_])
    else:
        out = pd.DataFrame({target: model.predict(X)})
    out.to_csv(args.output, index=False)
    print(f"Wrote {len(out)} predictions to {args.output}.")
    return 0


def _plots_html(model):
    """The search's plots as embedded PNG images, or a line saying why there are none."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "<p>No plots: they need matplotlib (pip install 'skautoml[plot]').</p>"
    from .plotting import plot_search

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    plot_search(model, axes)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="search history and score against cost" src="data:image/png;base64,{encoded}">'


def _table_html(rows, header):
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def report_html(bundle):
    """A self-contained HTML page about a saved model: the data, the leaderboard, the search's plots, the pipeline."""
    from sklearn.utils import estimator_html_repr

    model, data = bundle["model"], bundle["data"]
    board = model.leaderboard(top=20)
    leaderboard = _table_html(
        zip(board["rank"], board["trial"], np.round(board["score"], 4), np.round(board["fit_seconds"], 2),
            np.round(board["predict_seconds"], 3), board["family"], board["pipeline"],
            np.round(board["ensemble_weight"], 2)),
        ["rank", "trial", "score", "fit s", "predict s", "family", "pipeline", "ensemble weight"],
    )
    columns = _table_html(
        ((c["name"], c["dtype"], f"{c['missing']:.1%}", c["distinct"]) for c in data["columns"]),
        ["column", "dtype", "missing", "distinct values"],
    )
    targets = ", ".join(f"{html.escape(k)}: {v:.4g}" for k, v in data["target_values"].items())
    style = ("body{font-family:sans-serif;margin:2em;max-width:72em}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#eee}")
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>skautoml report: {html.escape(bundle['target'])}</title>
<style>{style}</style></head><body>
<h1>skautoml report: {html.escape(bundle['task'])} of {html.escape(bundle['target'])}</h1>
<p>Fitted by skautoml {html.escape(bundle['skautoml'])} on {html.escape(bundle['source'])}:
{data['rows']} rows, {len(data['columns'])} columns.</p>
<h2>Search</h2>
<pre>{html.escape(model.summary())}</pre>
<h2>Leaderboard</h2>
{leaderboard}
<h2>Search history and score against cost</h2>
{_plots_html(model)}
<h2>The chosen pipeline</h2>
<p>{html.escape(str(model.best_config_))}</p>
{estimator_html_repr(model.best_pipeline_)}
<h2>Data</h2>
<p>Target {html.escape(data['target'])}: {targets}</p>
{columns}
</body></html>
"""


def report_file(args):
    """Write a self-contained HTML report of a saved model: leaderboard, search plots, pipeline, data summary."""
    bundle = load_bundle(args.model)
    Path(args.output).write_text(report_html(bundle), encoding="utf-8")
    print(f"Wrote the report to {args.output}.")
    return 0
