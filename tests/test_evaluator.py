"""Training and scoring of one candidate: Evaluator, count_flops, TensorBatchIterator."""
import math
import sys

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback
from skorch.dataset import Dataset
from sklearn.datasets import make_classification
from torch import nn

from skautoml.nas import (
    CNNArchitecture,
    CNNLayer,
    CNNSpace,
    Evaluator,
    Fidelity,
    FitToTime,
    MLPArchitecture,
    MLPSpace,
    SearchSpace,
    TrialResult,
)
from skautoml.nas.evaluate import TensorBatchIterator, count_flops, stratified_subsample
from skautoml.search import Deadline

from fakes import FakeClock, Tick

ARCH = MLPArchitecture(widths=(16,))
SPACE = MLPSpace(max_layers=2, widths=(8, 16))


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=200, n_features=10, n_informative=5, n_classes=3, n_clusters_per_class=1, random_state=0
    )
    X = X.astype(np.float32)
    return X[:150], y[:150], X[150:], y[150:]


def evaluator(space=SPACE, input_shape=(10,), n_classes=3, **kwargs):
    kwargs.setdefault("batch_size", 32)
    kwargs.setdefault("patience", None)
    return Evaluator(space, input_shape, n_classes, **kwargs)


def test_evaluate_returns_an_ok_result_with_its_statistics(data):
    result = evaluator().evaluate(ARCH, *data, Fidelity(max_epochs=4), seed=0)
    assert isinstance(result, TrialResult)
    assert result.status == "ok" and result.ok, result.error
    assert result.error is None
    assert result.architecture == ARCH
    assert 0.0 <= result.score <= 1.0
    assert result.score > 1 / 3  # better than chance on an easy problem
    # 10*16 + 16 + 16*3 + 3 trainable parameters; the standardisation has none.
    assert result.n_params == 10 * 16 + 16 + 16 * 3 + 3
    assert result.flops > 0
    assert result.epochs == 4  # no early stopping, no deadline
    assert 1 <= result.best_epoch <= result.epochs
    assert result.train_seconds > 0
    assert result.seed == 0
    assert ":" in result.worker


def test_a_deadline_in_the_past_stops_after_one_epoch(data):
    clock = FakeClock()
    deadline = Deadline(clock() - 1, clock)
    result = evaluator().evaluate(ARCH, *data, Fidelity(max_epochs=5), seed=0, deadline=deadline)
    assert result.ok, result.error
    assert result.epochs == 1
    assert result.best_epoch == 1
    assert 0.0 <= result.score <= 1.0


def test_training_stops_after_the_epoch_that_reaches_the_deadline(data, monkeypatch):
    # Each epoch takes one second on a fake clock: a deadline 2.5 s away ends training after epoch 3.
    clock = FakeClock()
    deadline = Deadline(clock() + 2.5, clock)
    evaluate = evaluator()
    make_net = evaluate.make_net

    def ticking_net(*args, **kwargs):
        net = make_net(*args, **kwargs)
        net.callbacks.insert(0, ("tick", Tick(clock)))
        return net

    monkeypatch.setattr(evaluate, "make_net", ticking_net)
    result = evaluate.evaluate(ARCH, *data, Fidelity(max_epochs=10), seed=0, deadline=deadline)
    assert result.ok, result.error
    assert result.epochs == 3


@pytest.mark.parametrize("seconds_left, epochs", [(10.5, 10), (100.0, 30), (0.5, 1)])
def test_fit_to_time_replans_the_epochs_and_the_schedule_from_the_first_epoch(data, seconds_left, epochs):
    # Epochs of 1 s on a fake clock: 10.5 s hold 10 of them, 100 s more than max_epochs=30, 0.5 s only the first.
    clock = FakeClock()
    fit_to_time = FitToTime(Deadline(clock() + seconds_left, clock))
    X, y = data[0], data[1]
    net = evaluator().fit_final(
        ARCH, X, y, epochs=30, schedule_epochs=5, seed=0, callbacks=[("tick", Tick(clock)), ("fit", fit_to_time)]
    )
    assert fit_to_time.epochs_ == epochs
    assert len(net.history) == epochs
    if epochs > 1:  # the stretched or shortened cosine schedule ends at zero with the training
        assert net.optimizer_.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
        assert np.all(np.diff(net.history[:, "event_lr"]) < 0)


def test_early_stopping_stops_before_max_epochs(data):
    # With a zero learning rate the validation loss never improves: patience 2
    # stops after epoch 3, and the first epoch's weights are the best.
    result = evaluator(lr=0.0, patience=2).evaluate(ARCH, *data, Fidelity(max_epochs=5), seed=0)
    assert result.ok, result.error
    assert result.epochs == 3
    assert result.best_epoch == 1


def test_without_patience_all_epochs_run(data):
    result = evaluator(lr=0.0, patience=None).evaluate(ARCH, *data, Fidelity(max_epochs=5), seed=0)
    assert result.ok, result.error
    assert result.epochs == 5


def test_a_fraction_of_the_training_data_still_works(data):
    result = evaluator().evaluate(ARCH, *data, Fidelity(max_epochs=2, data_fraction=0.1), seed=0)
    assert result.ok, result.error
    assert result.epochs == 2
    assert 0.0 <= result.score <= 1.0


def test_stratified_subsample_keeps_the_class_proportions_and_at_least_one_per_class():
    y = np.repeat([0, 1, 2, 3], [60, 30, 9, 1])
    X = np.arange(len(y))[:, None] * 10  # each row names its sample
    X_sub, y_sub = stratified_subsample(X, y, 0.2, seed=0)
    # round(0.2 * n) per class, and never none: 12, 6, 2 (from 1.8) and 1 (from 0.2).
    assert np.bincount(y_sub).tolist() == [12, 6, 2, 1]
    rows = X_sub[:, 0] // 10
    assert len(set(rows)) == len(rows) and (np.diff(rows) > 0).all()  # distinct samples, in their order
    assert (y[rows] == y_sub).all()  # rows keep their labels
    again = stratified_subsample(X, y, 0.2, seed=0)
    other = stratified_subsample(X, y, 0.2, seed=1)
    assert (again[0] == X_sub).all() and not np.array_equal(other[0], X_sub)
    X_all, y_all = stratified_subsample(X, y, 1.0, seed=0)
    assert X_all is X and y_all is y


def test_a_data_fraction_trains_on_that_stratified_subsample(data, monkeypatch):
    X_train, y_train, X_valid, y_valid = data
    fidelity, seed = Fidelity(max_epochs=2, data_fraction=0.3), 4
    X_expected, y_expected = stratified_subsample(X_train, y_train, 0.3, seed)
    assert len(y_expected) == sum(round(0.3 * n) for n in np.bincount(y_train)) < len(y_train)
    fitted, batches = [], []

    class CountTrainingSamples(Callback):
        def on_batch_begin(self, net, batch=None, training=None, **kwargs):
            if training:
                batches.append(len(batch[1]))

    evaluate = evaluator(batch_size=16)
    make_net = evaluate.make_net

    def spying_net(*args, **kwargs):
        net = make_net(*args, **kwargs)
        net.callbacks.append(("count", CountTrainingSamples()))
        fit = net.fit

        def recording_fit(X, y, **fit_params):
            fitted.append((X, y))
            return fit(X, y, **fit_params)

        net.fit = recording_fit
        return net

    monkeypatch.setattr(evaluate, "make_net", spying_net)
    result = evaluate.evaluate(ARCH, X_train, y_train, X_valid, y_valid, fidelity, seed)
    assert result.ok, result.error
    [(X_fit, y_fit)] = fitted
    assert torch.equal(X_fit, torch.as_tensor(X_expected)) and torch.equal(y_fit, torch.as_tensor(y_expected))
    assert np.bincount(y_fit.numpy()).tolist() == np.bincount(y_expected).tolist()
    # Each of the two epochs goes once through the subsample, not through all of the training data.
    assert sum(batches) == 2 * len(y_expected)


def test_the_same_seed_gives_the_same_score_and_another_may_differ(data):
    ev = evaluator(batch_size=16)
    fidelity = Fidelity(max_epochs=2, data_fraction=0.5)
    first = ev.evaluate(ARCH, *data, fidelity, seed=1)
    again = ev.evaluate(ARCH, *data, fidelity, seed=1)
    assert first.ok and again.ok
    assert first.score == again.score
    assert first.best_epoch == again.best_epoch
    others = {ev.evaluate(ARCH, *data, fidelity, seed=s).score for s in (2, 3, 4)}
    assert others | {first.score} != {first.score}


def test_batch_norm_trains_when_the_last_batch_has_one_sample(data):
    X_train, y_train, X_valid, y_valid = data
    architecture = MLPArchitecture(widths=(16,), batch_norm=True)
    result = evaluator(batch_size=32).evaluate(
        architecture, X_train[:33], y_train[:33], X_valid, y_valid, Fidelity(max_epochs=1), seed=0
    )
    assert result.ok, result.error


class _BrokenSpace(MLPSpace):
    def build(self, architecture, input_shape, n_outputs):
        raise RuntimeError("cannot build this one")


class _NaNModule(nn.Module):
    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.linear = nn.Linear(n_features, n_outputs)

    def forward(self, x):
        return self.linear(x.flatten(1)) * math.nan


class _NaNSpace(SearchSpace):
    """One architecture, whose network outputs NaN."""

    def sample(self, rng):
        return "nan-net"

    def mutate(self, architecture, rng):
        return architecture

    def encode(self, architecture):
        return np.zeros(1)

    def build(self, architecture, input_shape, n_outputs):
        return _NaNModule(int(np.prod(input_shape)), n_outputs)

    def size(self):
        return 1

    def contains(self, architecture):
        return architecture == "nan-net"


def test_a_space_whose_build_raises_gives_a_failed_result(data):
    ev = evaluator(space=_BrokenSpace())
    result = ev.evaluate(ARCH, *data, Fidelity(max_epochs=2), seed=0)
    assert result.status == "failed" and not result.ok
    assert math.isnan(result.score)
    assert "RuntimeError" in result.error and "cannot build this one" in result.error
    assert result.n_params == 0
    # The evaluator is still usable: the search would go on.
    assert evaluator().evaluate(ARCH, *data, Fidelity(max_epochs=1), seed=0).ok


def test_a_network_that_outputs_nan_fails_the_trial(data):
    result = evaluator(space=_NaNSpace()).evaluate("nan-net", *data, Fidelity(max_epochs=3), seed=0)
    assert result.status == "failed"
    assert math.isnan(result.score)
    assert "nan" in result.error.lower()
    assert result.n_params == 10 * 3 + 3


def test_images_through_a_cnn_space():
    X, y = make_classification(n_samples=64, n_features=2 * 6 * 6, n_informative=6, random_state=0)
    X = X.astype(np.float32).reshape(-1, 2, 6, 6)
    space = CNNSpace(min_layers=1, max_layers=3, channels=(4,), stem_channels=(4,))
    architecture = CNNArchitecture(4, (CNNLayer("conv3x3", 4), CNNLayer("maxpool")), skips=((0, 3),))
    assert space.contains(architecture)
    ev = Evaluator(space, (2, 6, 6), 2, batch_size=16, patience=None)
    result = ev.evaluate(architecture, X[:48], y[:48], X[48:], y[48:], Fidelity(max_epochs=2), seed=0)
    assert result.ok, result.error
    assert result.epochs == 2
    assert 0.0 <= result.score <= 1.0
    assert result.n_params > 0 and result.flops > 0


def test_a_quiet_trial_prints_nothing_also_when_builtins_print_was_replaced(data, capsys, monkeypatch):
    # ray.shutdown() leaves builtins.print replaced; skorch's callbacks then print whatever the verbosity.
    monkeypatch.setattr("builtins.print", lambda *args, **kwargs: sys.stdout.write(" ".join(map(str, args)) + "\n"))
    X_train, y_train, X_valid, y_valid = data
    ev = evaluator(patience=1)
    net = ev.make_net(ev.build_module(ARCH, X_train), 3, (torch.as_tensor(X_valid), torch.as_tensor(y_valid)))
    early_stopping = dict(net.callbacks)["early_stopping"]
    early_stopping._sink("Restoring best model from epoch 1.", verbose=net.verbose)
    assert capsys.readouterr().out == ""


def test_images_train_channels_last_on_the_cpu_with_unchanged_values():
    X, y = make_classification(n_samples=64, n_features=2 * 6 * 6, n_informative=6, random_state=0)
    X = X.astype(np.float32).reshape(-1, 2, 6, 6)
    space = CNNSpace(min_layers=1, max_layers=2, channels=(4,), stem_channels=(4,))
    architecture = CNNArchitecture(4, (CNNLayer("conv3x3", 4),))
    ev = Evaluator(space, (2, 6, 6), 2, batch_size=16, patience=None)
    assert ev.memory_format == torch.channels_last
    assert evaluator().memory_format == torch.preserve_format  # tables keep their layout
    result = ev.evaluate(architecture, X[:48], y[:48], X[48:], y[48:], Fidelity(max_epochs=1), seed=0, keep_model=True)
    assert result.ok, result.error
    convolutions = [m.weight for m in result.model.modules() if isinstance(m, nn.Conv2d)]
    assert convolutions and all(w.is_contiguous(memory_format=torch.channels_last) for w in convolutions)
    standardize, network = result.model.eval()
    images = torch.as_tensor(X[48:])
    # The batches follow the weights' layout from the first convolution on.
    assert network.stem(standardize(images)).is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        reference = network.to(memory_format=torch.contiguous_format)((images - standardize.mean) / standardize.scale)
        torch.testing.assert_close(result.model.to(memory_format=torch.channels_last)(images), reference)


def test_count_flops_of_a_linear_layer():
    # torch counts 2 per multiply-add of the matrix product and nothing for the bias.
    assert count_flops(nn.Linear(10, 5), (10,)) == 2 * 10 * 5
    assert count_flops(nn.Linear(10, 5, bias=False), (10,)) == 100
    assert count_flops(nn.Sequential(nn.Linear(10, 5), nn.ReLU(), nn.Linear(5, 2)), (10,)) == 100 + 2 * 5 * 2


def test_count_flops_restores_the_training_mode():
    module = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    module.train()
    count_flops(module, (4,))
    assert module.training
    module.eval()
    count_flops(module, (4,))
    assert not module.training


def test_count_flops_of_a_convolution():
    # 3x3 kernel, 2 -> 4 channels over a 5x5 output: 2 * 9 * 2 * 4 * 25.
    assert count_flops(nn.Conv2d(2, 4, 3, padding=1, bias=False), (2, 5, 5)) == 2 * 9 * 2 * 4 * 25


def _dataset(n=10, y=True):
    X = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    return Dataset(X, np.arange(n) if y else None)


def test_tensor_batch_iterator_yields_every_sample_once_when_shuffling():
    torch.manual_seed(0)
    iterator = TensorBatchIterator(_dataset(10), batch_size=4, shuffle=True)
    assert len(iterator) == 3
    orders = []
    for _ in range(2):
        batches = list(iterator)
        assert [len(yb) for _, yb in batches] == [4, 4, 2]
        labels = torch.cat([yb for _, yb in batches])
        assert sorted(labels.tolist()) == list(range(10))
        # Rows stay with their labels.
        for Xb, yb in batches:
            assert torch.equal(Xb[:, 0], 2 * yb.to(Xb.dtype))
        orders.append(labels.tolist())
    assert orders[0] != list(range(10)) or orders[1] != list(range(10))


def test_tensor_batch_iterator_keeps_the_order_without_shuffling():
    iterator = TensorBatchIterator(_dataset(10), batch_size=4, shuffle=False)
    batches = list(iterator)
    assert [yb.tolist() for _, yb in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [Xb.shape for Xb, _ in batches] == [(4, 2), (4, 2), (2, 2)]
    assert isinstance(batches[0][0], torch.Tensor)


def test_tensor_batch_iterator_without_targets():
    batches = list(TensorBatchIterator(_dataset(5, y=False), batch_size=2))
    assert [yb for _, yb in batches] == [None, None, None]
    assert torch.equal(torch.cat([Xb for Xb, _ in batches]), torch.as_tensor(_dataset(5).X))


def test_tensor_batch_iterator_exact_multiple_has_no_empty_batch():
    iterator = TensorBatchIterator(_dataset(8), batch_size=4, shuffle=True)
    assert len(iterator) == 2
    assert [len(yb) for _, yb in iterator] == [4, 4]


def test_training_batches_are_shuffled_and_validation_batches_are_not(data):
    ev = evaluator()
    net = ev.make_net(ev.build_module(ARCH, data[0]), max_epochs=1).initialize()
    dataset = net.get_dataset(data[0], data[1])
    train_iterator = net.get_iterator(dataset, training=True)
    valid_iterator = net.get_iterator(dataset, training=False)
    assert isinstance(train_iterator, TensorBatchIterator) and train_iterator.shuffle
    assert isinstance(valid_iterator, TensorBatchIterator) and not valid_iterator.shuffle


def test_a_kept_model_is_scored_on_the_weights_early_stopping_restored(data, monkeypatch):
    # A large improvement threshold makes early stopping restore an epoch that is not the one
    # of lowest validation loss; a kept model's score, loss and best epoch are those it holds.
    evaluate = evaluator(patience=3)
    make_net = evaluate.make_net
    monkeypatch.setattr(
        evaluate, "make_net", lambda *a, **k: make_net(*a, **k).set_params(callbacks__early_stopping__threshold=0.3)
    )
    kept = evaluate.evaluate(ARCH, *data, Fidelity(max_epochs=12), seed=0, keep_model=True)
    plain = evaluate.evaluate(ARCH, *data, Fidelity(max_epochs=12), seed=0)
    assert kept.ok and plain.ok
    assert kept.best_epoch < plain.best_epoch  # the restored epoch is not the lowest-loss one
    X_valid, y_valid = (torch.as_tensor(v) for v in data[2:])
    kept.model.eval()
    with torch.no_grad():
        logits = kept.model(X_valid)
    assert kept.valid_loss == pytest.approx(float(nn.functional.cross_entropy(logits, y_valid)), rel=1e-5)
    assert kept.score == pytest.approx(float((logits.argmax(1) == y_valid).float().mean()))
