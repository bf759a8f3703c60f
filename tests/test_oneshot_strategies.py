"""One-shot strategies (SPOS, ENAS) in the one search loop, and their refit through AutoNASClassifier."""
import copy

import numpy as np
import pytest
import torch
from joblib import parallel_backend
from sklearn.datasets import load_digits

from skautoml import AutoNASClassifier
from skautoml.nas import Budget, CellSpace, CNNSpace, Evaluator, Fidelity, MLPSpace, run_search
from skautoml.nas.oneshot import ENAS, SPOS, SubnetWarmStart, SupernetTrial, recalibrate_batch_norm
from skautoml.search import RefitReserve, TrialResult

SPACE = CNNSpace(max_layers=2, channels=(4, 8))
CELLS = CellSpace(n_blocks=1, operations=("conv3x3", "maxpool", "identity"), combine=("add",), n_cells=2,
                  initial_channels=4, n_reductions=1)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = X.reshape(-1, 1, 8, 8).astype(np.float32)
    return X[:240], y[:240], X[240:360], y[240:360]


def search(strategy, data, max_trials, space=SPACE, n_jobs=None):
    evaluator = Evaluator(space, (1, 8, 8), 10, batch_size=32)
    strategy.reset(space, random_state=0)
    return run_search(strategy, evaluator, data, Fidelity(5), Budget(max_trials=max_trials).start(), 0, n_jobs=n_jobs)


def weights(module):
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def test_spos_trains_the_supernet_then_scores_evolved_architectures_with_its_weights(digits):
    strategy = SPOS(supernet_epochs=3, population_size=2, sample_size=2)
    results = search(strategy, digits, max_trials=7)
    assert [r.epochs for r in results] == [1, 1, 1, 0, 0, 0, 0]
    assert all(r.ok and SPACE.contains(r.architecture) for r in results)
    # No trial trained its architecture stand-alone: the refit trains the full epochs.
    assert all(r.best_epoch == 0 for r in results) and strategy.supernet_epochs_ == 3
    # A search trial's score is its subnet's, with the supernet's weights and statistics recalibrated
    # on the images every architecture of the search is calibrated on.
    result = results[-1]
    trial = SupernetTrial(strategy.module, result.architecture, None, SPACE, calibration_seed=strategy._calibration_seed)
    subnet = trial.scored(copy.deepcopy(strategy.module), digits[0], result.seed)
    with torch.no_grad():
        predictions = subnet(torch.as_tensor(digits[2])).argmax(1).numpy()
    assert result.score == pytest.approx((predictions == digits[3]).mean())
    # The architectures of the search phase come from the evolution, which learned their scores.
    assert [a for a, _ in strategy._evolution.history] == [r.architecture for r in results[3:]]


def test_a_subnet_is_calibrated_and_scored_in_the_evaluators_memory_layout(digits):
    strategy = SPOS(supernet_epochs=1)
    search(strategy, digits, max_trials=1)
    trial = SupernetTrial(strategy.module, SPACE.sample(np.random.default_rng(0)), None, SPACE)
    trial._on(Evaluator(SPACE, (1, 8, 8), 10))
    subnet = trial.scored(strategy.module, digits[0], seed=0)
    convolutions = [m.weight for m in subnet.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convolutions and all(w.is_contiguous(memory_format=torch.channels_last) for w in convolutions)


class Snapshots(SPOS):
    """SPOS that keeps its supernet's state (parameters and batch-norm statistics) after every trial."""

    def reset(self, space, random_state=None):
        self.snapshots = []
        return super().reset(space, random_state)

    def tell(self, candidate, result):
        super().tell(candidate, result)
        state = {k: v.clone() for k, v in self.module.state_dict().items()}
        self.snapshots.append((state, self.module[1].path, self.module.training))


def same_state(first, second):
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_spos_training_changes_the_supernet_and_searching_does_not(digits):
    strategy = Snapshots(supernet_epochs=2)
    search(strategy, digits, max_trials=5)
    (first, _, _), (second, path, training), *searched = strategy.snapshots
    assert not same_state(first, second)  # the second epoch trained it further
    # Search trials only read it: state, path and mode stay as the last training epoch left them.
    assert all(same_state(second, state) and (p, t) == (path, training) for state, p, t in searched)
    assert all(v.device.type == "cpu" for v in second.values())


def test_several_supernet_epochs_per_trial_all_count(digits, monkeypatch):
    # Nothing validates the supernet per epoch, so no early stopping cuts or rolls back its epochs.
    import skautoml.nas.evaluate._evaluator as evaluator_module

    fitted = []
    make_net = evaluator_module.Evaluator.make_net

    def spy(self, module, max_epochs, valid_data=None, *args, **kwargs):
        net = make_net(self, module, max_epochs, valid_data, *args, **kwargs)
        fitted.append((max_epochs, valid_data is None, net))
        return net

    monkeypatch.setattr(evaluator_module.Evaluator, "make_net", spy)
    results = search(SPOS(supernet_epochs=2, epochs_per_trial=3), digits, max_trials=3)
    assert [r.epochs for r in results] == [3, 3, 0]
    assert [(epochs, unvalidated, len(net.history)) for epochs, unvalidated, net in fitted] == [(3, True, 3)] * 2


def test_one_shot_trials_train_on_the_searchs_data_fraction(digits, monkeypatch):
    import skautoml.nas.evaluate._evaluator as evaluator_module

    sizes = []
    subsample = evaluator_module.stratified_subsample
    monkeypatch.setattr(
        evaluator_module,
        "stratified_subsample",
        lambda X, y, fraction, seed: sizes.append(fraction) or subsample(X, y, fraction, seed),
    )
    evaluator = Evaluator(SPACE, (1, 8, 8), 10, batch_size=32)
    strategy = SPOS(supernet_epochs=1).reset(SPACE, random_state=0)
    run_search(strategy, evaluator, digits, Fidelity(5, data_fraction=0.5), Budget(max_trials=2).start(), 0)
    assert sizes == [0.5, 0.5]


def test_parallel_search_trials_equal_the_sequential_ones(digits):
    sequential = search(SPOS(supernet_epochs=1), digits, max_trials=5)
    with parallel_backend("threading", n_jobs=2):
        parallel = search(SPOS(supernet_epochs=1), digits, max_trials=5, n_jobs=2)
    assert [(r.architecture, r.score) for r in sequential] == [(r.architecture, r.score) for r in parallel]


def test_spos_searches_the_cell_space_too(digits):
    results = search(SPOS(supernet_epochs=1, population_size=2), digits, max_trials=3, space=CELLS)
    assert [r.epochs for r in results] == [1, 0, 0] and all(r.ok for r in results)


def test_enas_trains_the_shared_weights_along_the_controllers_paths(digits):
    strategy = ENAS(controller=__import__("skautoml.nas", fromlist=["x"]).ReinforceController(batch_size=2))
    results = search(strategy, digits, max_trials=4)
    assert [r.epochs for r in results] == [1, 1, 1, 1] and strategy.supernet_epochs_ == 4
    # Every reward reached the controller, which proposed every architecture.
    assert [a for a, _ in strategy._controller.history] == [r.architecture for r in results]
    assert [s for _, s in strategy._controller.history] == [r.score for r in results]


def test_a_failing_supernet_epoch_is_recorded_and_leaves_the_supernet_as_it_was(digits, monkeypatch):
    strategy = SPOS(supernet_epochs=3)
    search(strategy, digits, max_trials=1)
    kept = weights(strategy.module).clone()
    original = SupernetTrial.build

    def broken(self, *args):
        raise RuntimeError("out of memory (simulated)")

    monkeypatch.setattr(SupernetTrial, "build", broken)
    evaluator = Evaluator(SPACE, (1, 8, 8), 10, batch_size=32)
    results = run_search(strategy, evaluator, digits, Fidelity(5), Budget(max_trials=1).start(), 0)
    assert results[0].status == "failed" and "out of memory" in results[0].error
    assert torch.equal(weights(strategy.module), kept) and strategy.supernet_epochs_ == 2
    monkeypatch.setattr(SupernetTrial, "build", original)


def test_recalibration_sets_the_statistics_of_the_data():
    module = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 1), torch.nn.BatchNorm2d(3))
    module[1].running_mean.fill_(5.0)
    X = torch.randn(64, 1, 4, 4) * 2 + 1
    recalibrate_batch_norm(module, X, batch_size=64)
    with torch.no_grad():
        expected = module[0](X).mean(dim=(0, 2, 3))
    torch.testing.assert_close(module[1].running_mean, expected)
    assert not module.training and module[1].momentum == 0.1  # momentum restored


def test_one_shot_strategies_need_a_space_with_a_supernet():
    with pytest.raises(ValueError, match="no supernet method"):
        SPOS().reset(MLPSpace())
    with pytest.raises(ValueError, match="supernet_epochs"):
        SPOS(supernet_epochs=0).reset(SPACE)


def test_the_refit_reserve_of_shared_weights_uses_the_final_networks_step_time():
    reserve = RefitReserve(10, lambda resource: 8, lambda result: 30, epoch_seconds=lambda result: 0.5)
    trial = TrialResult("a", 0.9, "ok", train_seconds=0.01, epochs=0, best_epoch=0)
    assert reserve([trial], time_budget=100) == 15.0  # 30 epochs of 0.5 s, whatever the trial took


@pytest.fixture(scope="module")
def images():
    digits = load_digits()
    return digits.images[:300], digits.target[:300]


@pytest.mark.parametrize("strategy", ["spos", "enas"])
def test_auto_nas_refits_the_best_architecture_from_scratch_or_from_inherited_weights(strategy, images, monkeypatch):
    import skautoml.nas.evaluate._evaluator as evaluator_module

    warm_starts = []
    fit_final = evaluator_module.Evaluator.fit_final

    def spy(self, *args, warm_start=None, **kwargs):
        warm_starts.append(warm_start)
        return fit_final(self, *args, warm_start=warm_start, **kwargs)

    monkeypatch.setattr(evaluator_module.Evaluator, "fit_final", spy)
    X, y = images
    common = dict(strategy=strategy, search_space=SPACE, max_trials=3, max_epochs=2, random_state=0)
    retrained = AutoNASClassifier(**common).fit(X, y)
    inherited = AutoNASClassifier(**common, final="inherit").fit(X, y)
    assert warm_starts[0] is None and isinstance(warm_starts[1], SubnetWarmStart)
    # The inherited refit starts from the subnet's weights in the searched supernet.
    start = warm_starts[1].build(Evaluator(SPACE, (1, 8, 8), 10), X.reshape(-1, 1, 8, 8).astype("float32"), 0)
    expected = dict(warm_starts[1].module[1].subnet(inherited.best_architecture_).named_parameters())
    assert all(torch.equal(p, expected[name]) for name, p in start[1].named_parameters()) and expected
    assert list(retrained.search_results_["score"]) == list(inherited.search_results_["score"])
    for clf in (retrained, inherited):
        assert len(clf.best_estimator_.history) == 2  # max_epochs: the trials trained no architecture alone
        assert clf.predict(X[:5]).shape == (5,)


def test_inherit_needs_a_strategy_that_keeps_weights_and_cannot_stack(images):
    X, y = images
    with pytest.raises(ValueError, match="does not keep"):
        AutoNASClassifier(strategy="evolution", max_trials=1, final="inherit").fit(X, y)
    with pytest.raises(ValueError, match="cannot stack"):
        AutoNASClassifier(strategy="spos", search_space="cell", max_trials=1, final="inherit", final_cells=4).fit(X, y)
    with pytest.raises(ValueError, match="no supernet method"):
        AutoNASClassifier(strategy="spos", max_trials=1).fit(X.reshape(len(X), -1), y)  # tabular: the MLP space
