"""Command line: ``skautoml demo | fit | predict | report``.

``fit`` searches a pipeline for a CSV or Parquet table and saves it with joblib;
``predict`` applies a saved one to a new table; ``report`` writes a
self-contained HTML page about it. A bad file or argument ends with one line
on standard error (``skautoml: error: ...``) and exit status 2, not a traceback.
"""
import argparse
import time

from . import __version__
from ._files import CommandError, fit_file, predict_file, report_file


def demo(args):
    """Architecture search on scikit-learn's bundled 8x8 digit images."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from . import AutoNASClassifier

    digits = load_digits()
    images = digits.images  # (1797, 8, 8): the search space is chosen for images
    X_train, X_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=0.25, stratify=digits.target, random_state=args.random_state
    )
    print(
        f"skautoml {__version__} demo: architecture search on digits "
        f"({len(X_train)} training and {len(X_test)} held-out 8x8 images, 10 classes), "
        f"time budget {args.time_budget:g} s, strategy {args.strategy!r}."
    )
    clf = AutoNASClassifier(
        strategy=args.strategy,
        max_trials=args.max_trials,
        time_budget=args.time_budget,
        max_epochs=args.max_epochs,
        n_jobs=args.n_jobs,
        random_state=args.random_state,
        verbose=1,
    )
    started = time.perf_counter()
    clf.fit(X_train, y_train)
    accuracy = clf.score(X_test, y_test)
    print(f"\nHeld-out accuracy {accuracy:.4f} on {len(X_test)} images; fit took {time.perf_counter() - started:.1f} s.")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="skautoml", description=__doc__)
    parser.add_argument("--version", action="version", version=f"skautoml {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help=demo.__doc__)
    demo_parser.add_argument("--time-budget", type=float, default=60.0, help="seconds for the whole fit (default 60)")
    demo_parser.add_argument("--max-trials", type=int, default=None, help="trials at most (default: no limit)")
    demo_parser.add_argument("--max-epochs", type=int, default=20, help="epochs per trial (default 20)")
    demo_parser.add_argument(
        "--strategy", default="auto", choices=["auto", "evolution", "random"], help="default: planned from the budget"
    )
    demo_parser.add_argument("--n-jobs", type=int, default=None, help="parallel trials (default 1)")
    demo_parser.add_argument("--random-state", type=int, default=0)
    demo_parser.set_defaults(run=demo)

    fit_parser = commands.add_parser("fit", help=fit_file.__doc__.splitlines()[0])
    fit_parser.add_argument("data", help="a CSV file (or Parquet, with pyarrow) with a header row")
    fit_parser.add_argument("--target", required=True, help="the column to predict")
    fit_parser.add_argument("--output", required=True, help="where to save the fitted model (joblib)")
    fit_parser.add_argument("--task", choices=["auto", "classification", "regression"], default="auto",
                            help="default: inferred from the target column")
    fit_parser.add_argument("--time-budget", type=float, default=60.0, help="seconds for the search (default 60)")
    fit_parser.add_argument("--max-trials", type=int, default=None, help="trials at most (default: no limit)")
    fit_parser.add_argument("--n-jobs", type=int, default=None, help="parallel trials (default 1)")
    fit_parser.add_argument("--random-state", type=int, default=0)
    fit_parser.add_argument("--verbose", type=int, default=1, help="0: quiet; 1: a progress bar (default)")
    fit_parser.set_defaults(run=fit_file)

    predict_parser = commands.add_parser("predict", help=predict_file.__doc__.splitlines()[0])
    predict_parser.add_argument("model", help="a file saved by skautoml fit")
    predict_parser.add_argument("data", help="a CSV (or Parquet) file with the columns the model was fitted on")
    predict_parser.add_argument("--output", required=True, help="where to write the predictions (CSV)")
    predict_parser.add_argument("--proba", action="store_true", help="class probabilities instead of labels")
    predict_parser.set_defaults(run=predict_file)

    report_parser = commands.add_parser("report", help=report_file.__doc__.splitlines()[0])
    report_parser.add_argument("model", help="a file saved by skautoml fit")
    report_parser.add_argument("--output", required=True, help="where to write the page (HTML)")
    report_parser.set_defaults(run=report_file)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except CommandError as error:
        parser.exit(2, f"skautoml: error: {error}\n")


if __name__ == "__main__":
    raise SystemExit(main())
