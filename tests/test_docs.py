"""The Python examples in README.md and docs/ run as written and do what they print.

Each block runs in a namespace of its own with its output captured; a check
from ``CHECKS`` then compares what it printed with the objects it made and
asserts what the example shows. A check is found by its page and a snippet
of the block's code, so blocks can move within a page; a block without a
check fails.
"""
import os
import re
import socket
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [
    pytest.param(page.name, code, id=f"{page.name}-{index}")
    for page in PAGES
    for index, code in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), re.S))
]


def _floats(text):
    """The numbers in ``text``, in order (``np.float64(0.5)`` gives 0.5)."""
    text = re.sub(r"np\.float64\((.*?)\)", r"\1", text)
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", text)]


def check_quick_start(ns, out):
    clf, lines = ns["clf"], out.splitlines()
    assert clf.n_trials_ == 3
    assert out.startswith(clf.summary() + "\n")
    assert lines[-2] == str(clf.best_architecture_)
    assert float(lines[-1]) == pytest.approx(clf.score(ns["X_test"], ns["y_test"]))
    assert float(lines[-1]) > 0.5  # 10 classes


def check_dask(ns, out):
    workers = set(ns["clf"].search_results_["worker"])
    assert out.strip() == str(workers)
    assert len(ns["clf"].search_results_["worker"]) == 4
    assert f"{socket.gethostname()}:{os.getpid()}" not in workers  # the trials ran in the Dask workers


def check_filter_selector(ns, out):
    selector = ns["selector"]
    names = selector.get_feature_names_out()
    assert out.strip() == f"{selector.k_} {names}"
    assert len(names) == selector.k_ >= 1
    # shuffle=False: the 5 informative and 2 redundant features come first, the noise after.
    assert set(names) <= {f"x{i}" for i in range(7)}


def check_wrapper_selector(ns, out):
    selector = ns["selector"]
    support = selector.get_support(indices=True)
    assert out.strip() == f"{selector.best_score_} {support} {selector.n_evaluations_}"
    assert selector.n_evaluations_ <= 200
    # Five features, unless max_evaluations stopped the beam before it scored a subset of five.
    assert len(support) == 5 or (selector.stopped_by_ == "max_evaluations" and 1 <= len(support) < 5)
    assert selector.best_score_ > 0.9


def check_embedded_selectors(ns, out):
    gates = ns["neural"].gates_
    assert out.endswith(f"{gates.round(2)}\n")
    embedded = [int(v) for v in out[: out.index("]")].strip("[ \n").split()]
    # shuffle=False: the 4 informative and 2 redundant features come first.
    assert embedded and set(embedded) <= set(range(6))
    assert gates.shape == (20,) and ((0 <= gates) & (gates <= 1)).all()
    assert set(np.argsort(-gates)[:4]) <= set(range(6))


def check_feature_constructor(ns, out):
    constructor = ns["constructor"]
    assert out.strip() == f"{constructor.constructed_features_} {constructor.base_score_} -> {constructor.best_score_}"
    assert "x1*x4" in constructor.constructed_features_  # the product the target is made of
    assert constructor.best_score_ > constructor.base_score_


def check_extractors(ns, out):
    lines = out.splitlines()
    assert 1 <= int(lines[0]) <= 64
    assert lines[1] == "(500, 8)"
    assert re.fullmatch(r"\(10, \d+\)", lines[2])


def check_auto_feature_engineer(ns, out):
    engineer = ns["engineer"]
    assert out.strip() == f"{engineer.baseline_score_} -> {engineer.best_score_} {engineer.best_config_}"
    assert engineer.best_score_ >= engineer.baseline_score_


def check_cnn_space(ns, out):
    space, arch, child = ns["space"], ns["arch"], ns["child"]
    assert out.splitlines() == [
        f"{arch} -> {child}",
        f"{space.size()} architectures; {len(ns['vector'])} features per encoding",
    ]
    assert child != arch and space.contains(child)
    import torch

    assert ns["module"](torch.zeros(2, 1, 8, 8)).shape == (2, 10)


def check_cell_spaces(ns, out):
    lines = out.splitlines()
    n_small, n_deep = (sum(p.numel() for p in ns[name].parameters()) for name in ("small", "deep"))
    assert lines[0] == f"{n_small} -> {n_deep}" and n_deep > n_small
    assert lines[1] and lines[2] == "True"


def check_ask_tell(ns, out):
    history = ns["strategy"].history
    assert len(history) == 40
    assert float(out) == max(score for _, score in history)
    assert 0 < float(out) <= 1  # at most 4 layers of 512


def check_hyperband_and_morphism(ns, out):
    lines = out.splitlines()
    clf = ns["clf"]  # the last one: hill climbing
    resources = sorted(set(clf.search_results_["resource"]))
    assert lines[1] == f"hill_climbing {clf.best_score_} {resources}" and resources == [1.0]
    assert lines[0].startswith("hyperband ")
    hyperband_score, *hyperband_resources = _floats(lines[0])
    assert 0 < hyperband_score <= 1
    assert min(hyperband_resources) < 1 and all(0 < r <= 1 for r in hyperband_resources)


def check_two_stage(ns, out):
    clf = ns["clf"]
    assert out.strip() == f"{clf.final_space_.n_cells} cells, {len(clf.best_estimator_.history)} epochs"
    assert out.strip() == "5 cells, 3 epochs"  # final_cells and final_epochs


def check_tabular_regret(ns, out):
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == ["random", "evolution", "hyperband"]
    means = [float(line.split()[-1]) for line in lines]
    assert all(0 <= m < 0.1 for m in means)
    regrets = ns["regrets"]  # hyperband's, the last strategy
    assert len(regrets) == 5 and all(r >= 0 for r in regrets)
    assert means[-1] == pytest.approx(np.mean(regrets), abs=6e-5)  # printed to 4 decimals


def check_time_budget(ns, out):
    clf = ns["clf"]
    seconds = clf.search_seconds_ + clf.refit_seconds_
    assert out.strip() == f"{clf.n_trials_} trials; {round(seconds, 1)} s"
    # How many trials fit depends on the machine; budgets are tested on a fake clock (test_search_loop.py).
    assert clf.n_trials_ == len(clf.search_results_["trial"]) >= 1 and hasattr(clf, "best_estimator_")


def check_deploy(ns, out):
    import torch

    clf, X = ns["clf"], ns["X"]
    assert out.splitlines()[-1] == "True"
    # The TorchScript network printed the probabilities of two rows: those of the estimator.
    with torch.no_grad():
        proba = ns["network"](torch.as_tensor(X[:2], dtype=torch.float32)).numpy()
    np.testing.assert_allclose(proba, clf.predict_proba(X[:2]), atol=1e-5)
    assert _floats(out)[:6] == pytest.approx(proba.ravel().tolist(), abs=1e-4)
    assert ns["loaded"].classes_.tolist() == clf.classes_.tolist()


def check_onnx(ns, out):
    first, second = out.splitlines()
    assert first == "True"
    assert second == str(ns["clf"].classes_.tolist())


def check_plan(ns, out):
    plan = ns["plan"]
    reason, numbers = out.splitlines()
    assert reason == plan.reason and "successive halving of 27 architectures" in reason
    # 29 batches of 1.5 * 0.02 s an epoch; 90 s for a bracket of nine full trials and the baseline's
    # runs at a third and at all of the epochs: 10 epochs.
    assert numbers == f"{plan.max_epochs} {plan.final_seconds}" == "10 90.0"


def check_regressor(ns, out):
    reg, lines = ns["reg"], out.splitlines()
    assert out.startswith(reg.summary() + "\n")
    assert reg.n_trials_ == 4 and "Best validation R²" in out
    assert lines[-2] == f"{reg.target_mean_} {reg.target_scale_}"
    np.testing.assert_allclose(reg.target_mean_, [ns["y_train"].mean()])
    assert float(lines[-1]) == pytest.approx(reg.score(ns["X_test"], ns["y_test"]), abs=5e-4)
    assert float(lines[-1]) > 0.7  # least squares scores 0.75 on these held-out rows; the networks 0.83


def check_leaderboard(ns, out):
    table, clf = ns["table"], ns["clf"]
    assert table["rank"].tolist() == [1, 2, 3]
    assert table["score"].is_monotonic_decreasing
    assert out.endswith(clf.summary() + "\n")
    assert f"{table['n_params'].iloc[0]}" in out.splitlines()[1]  # the best trial's row comes first


def check_cleaning_pipeline(ns, out):
    cleaning = ns["cleaning"]
    names = list(cleaning.get_feature_names_out())
    assert out.splitlines() == [str(names), str(cleaning[1].drop_reasons_)]
    assert cleaning[1].drop_reasons_ == {"country": "constant"}
    assert "country" not in names and {"age_missing", "city_missing"} <= set(names)
    assert cleaning.transform(ns["X"]).columns.tolist() == names


def check_cleaning_search(ns, out):
    search = ns["search"]
    assert out.splitlines() == [
        f"{search.best_params_} {round(search.best_score_, 3)}",
        f"{len(search.cv_results_['params'])} combinations tried",
    ]
    assert len(search.cv_results_["params"]) == 4
    assert search.best_score_ == max(search.cv_results_["mean_test_score"])


def check_label_noise_filter(ns, out):
    filtered, noisy, kept = ns["filtered"], ns["noisy"], ns["kept"]
    removed = np.setdiff1d(np.arange(len(ns["y_train"])), kept)
    assert out.splitlines() == [
        f"noisy labels: {ns['plain']:.3f}, with LabelNoiseFilter: {filtered.score(ns['X_test'], ns['y_test']):.3f}",
        f"removed {len(removed)} rows, {noisy[removed].mean():.0%} of them flipped",
    ]
    assert noisy[removed].mean() > 2 * noisy.mean()  # the filter finds flipped labels, not random rows


def check_auto_smote(ns, out):
    lines = out.splitlines()
    assert lines[0] == f"{Counter(ns['y_train'])} -> {Counter(ns['y_res'])}"
    assert len(set(Counter(ns["y_res"]).values())) == 1  # balanced
    plain, smote = (float(line.split()[-1]) for line in lines[1:])
    assert lines[1].startswith("plain:") and lines[2].startswith("AutoSMOTE:")
    assert smote > plain


def check_image_augmenter(ns, out):
    images, labels, X_aug, y_aug, batch = ns["images"], ns["labels"], ns["X_aug"], ns["y_aug"], ns["batch"]
    assert out.splitlines() == [
        f"{images.shape} -> {X_aug.shape}",
        f"{batch.shape} {float(batch.min())} {float(batch.max())}",
    ]
    assert X_aug.shape == (2 * len(images), 8, 8)
    assert np.array_equal(X_aug[: len(images)], images)  # originals first
    assert np.array_equal(y_aug, np.concatenate([labels, labels]))
    assert not np.array_equal(X_aug[len(images) :], images)
    assert tuple(batch.shape) == (64, 8, 8) and 0 <= float(batch.min()) <= float(batch.max()) <= 16


def check_batch_augment(ns, out):
    clf, digits = ns["clf"], ns["digits"]
    score = clf.score(digits.images[500:700], digits.target[500:700])
    assert out.strip() == f"{clf.augment_} {score}"
    assert 0 <= score <= 1


def check_augment_policy_search(ns, out):
    search = ns["search"]
    assert out == search.summary() + "\n"
    assert f"{search.max_trials} policies tried" in out


def check_one_shot(ns, out):
    lines = out.splitlines()
    assert len(lines) == 2
    spos, darts = (line.split(" ", 1) for line in lines)
    # SPOS: three supernet epochs, then architectures scored with the trained weights.
    assert spos[0] == "SPOS" and spos[1].startswith("[1, 1, 1, 0, 0]")
    assert darts[0] == "DARTS" and darts[1].startswith("[1, 1, 1, 1, 1]")
    clf = ns["clf"]
    assert lines[-1].endswith(str(round(clf.best_score_, 3)))
    assert ns["space"].contains(clf.best_architecture_)
    parameter_free = {"maxpool", "avgpool", "identity", "zero"}
    for cell in (clf.best_architecture_.normal, clf.best_architecture_.reduction):
        assert sum(op in parameter_free for block in cell for op in (block.op1, block.op2)) <= 1


def check_costs(ns, out):
    from skautoml.nas.evaluate import count_flops

    space, lines = ns["space"], out.splitlines()
    assert len(lines) == 3
    rng = np.random.default_rng(0)
    for line in lines:
        network = space.build(space.sample(rng), (1, 28, 28), 10)
        n_params, flops, predicted, measured = _floats(line)
        assert (n_params, flops) == (sum(p.numel() for p in network.parameters()), count_flops(network, (1, 28, 28)))
        assert predicted > 0 and measured > 0
    assert ns["table"].path.exists() and ns["table"].entries


def check_limits(ns, out):
    clf, results = ns["clf"], ns["clf"].search_results_
    first, second = out.splitlines()
    assert first == "4 True"
    trained = results["trial"] >= 0
    assert trained.sum() == clf.n_trials_ == 4
    refused = results["error"][~trained]
    assert len(refused) >= 1 and "max_params=5,000" in refused[0] and refused[0] in second


def check_gradient_limits(ns, out):
    from skautoml.nas import architecture_cost

    clf = ns["clf"]
    cost = architecture_cost(ns["space"], clf.best_architecture_, (1, 8, 8), 10)
    assert out.strip() == f"True {ns['final']}"
    assert clf.n_trials_ == 3 and ns["final"] == cost.n_params <= 6_000


def check_pareto(ns, out):
    clf, lines = ns["clf"], out.splitlines()
    front = clf.pareto_front_
    assert lines[0] == f"n_params {len(front['trial'])}" and len(lines) == 1 + len(front["trial"])
    assert list(front["n_params"]) == sorted(front["n_params"])
    # Along the front, more parameters buy a better score, else the cheaper trial would dominate.
    assert all(np.diff(front["valid_score"]) > 0)
    assert [int(line.split()[0]) for line in lines[1:]] == list(front["n_params"])


def check_joint_search(ns, out):
    clf, lines = ns["clf"], out.splitlines()
    assert lines[0] == "['architecture', 'training']"
    assert lines[1] == str(clf.best_params_["training"])
    assert clf.best_params_["training"]["lr"] in clf.search_space_.training.lrs


def check_automl_images(ns, out):
    clf, lines = ns["clf"], out.splitlines()
    assert lines[0] == "['nas_cnn' 'nas_cnn'] (1, 8, 8)"
    assert float(lines[-1]) == pytest.approx(clf.score(ns["X_test"], ns["y_test"])) and float(lines[-1]) > 0.8


def check_automl(ns, out):
    clf, lines = ns["clf"], out.splitlines()
    assert out.startswith(clf.summary() + "\n")
    assert len(clf.search_results_["trial"]) == 10
    assert float(lines[-1]) == pytest.approx(clf.score(ns["X_test"], ns["y_test"]))
    assert float(lines[-1]) > 0.8  # the label is a rule of income and city
    assert list(clf.classes_) == ["browses", "buys"]
    assert [name for name, _ in clf.best_pipeline_.steps[:2]] == ["dates", "cleaner"]


#: (page, a snippet of the block's code) -> the check of that block.
CHECKS = {
    ("README.md", "clf.fit(X_train, y_train)"): check_quick_start,
    ("automl.md", "AutoMLClassifier(time_budget=None, max_trials=10"): check_automl,
    ("automl.md", "digits.images / 16"): check_automl_images,
    ("README.md", "LocalCluster("): check_dask,
    ("features.md", "FilterSelector("): check_filter_selector,
    ("features.md", "WrapperSelector("): check_wrapper_selector,
    ("features.md", "NeuralFeatureSelector("): check_embedded_selectors,
    ("features.md", "FeatureConstructor(max_features_added"): check_feature_constructor,
    ("features.md", "NetworkFeatureExtractor("): check_extractors,
    ("features.md", "AutoFeatureEngineer("): check_auto_feature_engineer,
    ("nas.md", "space.encode(arch)"): check_cnn_space,
    ("nas.md", "shallow.deeper("): check_cell_spaces,
    ("nas.md", "strategy.ask(2)"): check_ask_tell,
    ("nas.md", '"hill_climbing"'): check_hyperband_and_morphism,
    ("nas.md", "final_cells="): check_two_stage,
    ("nas.md", "TabularEvaluator.load_default()"): check_tabular_regret,
    ("nas.md", "max_trials=None, time_budget=10"): check_time_budget,
    ("nas.md", "pd.DataFrame(clf.search_results_)"): check_leaderboard,
    ("nas.md", "AutoNASRegressor(max_trials=4"): check_regressor,
    ("nas.md", "plan_search("): check_plan,
    ("nas.md", "architecture_cost("): check_costs,
    ("nas.md", "max_params=5_000"): check_limits,
    ("nas.md", "max_params=6_000"): check_gradient_limits,
    ("nas.md", 'NSGA2(population_size=6, cost="params")'): check_pareto,
    ("nas.md", "search_hyperparameters=True, random_state=0"): check_joint_search,
    ("README.md", "save_weights(clf"): check_deploy,
    ("nas.md", 'format="onnx"'): check_onnx,
    ("nas.md", "SPOS(supernet_epochs=3)"): check_one_shot,
    ("prep.md", "DropUninformativeColumns()"): check_cleaning_pipeline,
    ("prep.md", "CleaningSearch("): check_cleaning_search,
    ("prep.md", "LabelNoiseFilter("): check_label_noise_filter,
    ("prep.md", "AutoSMOTE("): check_auto_smote,
    ("prep.md", "ImageAugmenter("): check_image_augmenter,
    ("prep.md", "BatchAugment("): check_batch_augment,
    ("prep.md", "AugmentPolicySearch("): check_augment_policy_search,
}


@pytest.mark.parametrize("page, code", BLOCKS)
def test_example_runs_and_prints_what_it_shows(page, code, capsys):
    checks = [check for (where, snippet), check in CHECKS.items() if where == page and snippet in code]
    assert len(checks) == 1, f"{len(checks)} checks match this block of {page}; give it one in CHECKS:\n{code}"
    if "dask" in code:
        pytest.importorskip("distributed")
    namespace = {"__name__": "__example__"}
    exec(compile(code, "<example>", "exec"), namespace)
    checks[0](namespace, capsys.readouterr().out)
