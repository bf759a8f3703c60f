"""Searched augmentation policies, on-the-fly batch augmentation and AutoNASClassifier(augment=...)."""
import dataclasses
import functools
import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

import skautoml.prep.augment._policy as policy_module
from fakes import FakeClock
from skautoml import AutoNASClassifier
from skautoml.nas import CNNArchitecture, CNNLayer, CNNSpace, Evaluator
from skautoml.search import Budget
from skautoml.prep.augment import (
    AugmentPolicy,
    AugmentPolicySearch,
    BatchAugment,
    Cutout,
    PolicyOp,
    PolicySpace,
    RandAugment,
    Rotate,
    Translate,
)
from skautoml.prep.augment._image import _ImageOp

DIGITS = load_digits()
IMAGES, LABELS = DIGITS.images[:240], DIGITS.target[:240]
TINY_CNN = CNNSpace(min_layers=1, max_layers=1, channels=(8,), stem_channels=(8,), skip_probability=0.0)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- AugmentPolicy
def test_empty_policy_and_zero_probabilities_leave_images_unchanged():
    images = torch.rand(16, 1, 8, 8, generator=gen(1))
    assert torch.equal(AugmentPolicy([])(images, gen()), images)
    never = AugmentPolicy([[Rotate(1.0, 0.0), Cutout(1.0, 0.0)]])
    assert torch.equal(never(images, gen()), images)


def test_policy_keeps_shape_dtype_range_and_input_and_is_seeded():
    images = torch.from_numpy(IMAGES[:32].astype(np.float32))
    before = images.clone()
    policy = AugmentPolicy([[Rotate(0.5, 1.0), Cutout(0.5, 1.0)], [Translate(0.8, 1.0)]])
    out = policy(images, gen(0))
    assert out.shape == images.shape and out.dtype == images.dtype
    assert out.min() >= images.min() and out.max() <= images.max()
    assert torch.equal(images, before)
    assert not torch.equal(out, images)
    assert torch.equal(out, policy(images, gen(0)))
    assert not torch.equal(out, policy(images, gen(1)))
    integer = torch.from_numpy(IMAGES[:8].astype(np.int64))
    assert policy(integer, gen()).dtype == torch.int64


def test_each_image_gets_exactly_one_sub_policy():
    # Sub-policy 0 blacks the image out, sub-policy 1 leaves it alone: every
    # image is either all low or untouched, and both happen.
    class Blackout(_ImageOp):
        def _apply(self, x, magnitude, lo, hi, generator):
            return torch.full_like(x, float(lo))

    images = torch.rand(200, 1, 4, 4, generator=gen(2)) + 1.0
    out = AugmentPolicy([[Blackout(1.0, 1.0)], [Rotate(0.0, 0.0)]], value_range=(0.0, 2.0))(images, gen())
    blacked = (out == 0).flatten(1).all(1)
    untouched = (out == images).flatten(1).all(1)
    assert torch.all(blacked ^ untouched)
    assert 60 < int(blacked.sum()) < 140


def test_policy_rejects_what_is_not_a_list_of_lists_of_ops():
    with pytest.raises(ValueError, match="list of lists of op instances"):
        AugmentPolicy([[Rotate]])  # a class, not an instance
    with pytest.raises(ValueError, match="list of lists of op instances"):
        AugmentPolicy([["rotate"]])


# --------------------------------------------------------------------------- PolicySpace
def test_policy_space_samples_mutates_encodes_and_builds():
    space = PolicySpace(n_sub_policies=3, ops_per_sub_policy=2, levels=5)
    rng = np.random.default_rng(0)
    policy = space.sample(rng)
    assert space.contains(policy) and hash(policy) == hash(pickle.loads(pickle.dumps(policy)))
    assert len(policy) == 3 and all(len(sub) == 2 for sub in policy)
    assert all(op.magnitude in (0.0, 0.25, 0.5, 0.75, 1.0) for sub in policy for op in sub)
    child = space.mutate(policy, rng)
    assert child != policy and space.contains(child)
    assert sum(a != b for sa, sb in zip(policy, child) for a, b in zip(sa, sb)) == 1
    assert space.encode(policy).shape == space.encode(child).shape == (6 * (9 + 2),)
    built = space.build(policy)
    assert isinstance(built, AugmentPolicy)
    assert [[type(op).__name__ for op in sub] for sub in built.sub_policies] == [[op.op for op in sub] for sub in policy]
    assert space.size() == (9 * 25) ** 6
    assert not space.contains(((PolicyOp("Nope", 0.5, 0.5),) * 2,) * 3)


def test_policy_space_rejects_bad_settings():
    with pytest.raises(ValueError, match="levels"):
        PolicySpace(levels=1).sample(np.random.default_rng(0))
    with pytest.raises(ValueError, match="n_sub_policies"):
        PolicySpace(n_sub_policies=0).sample(np.random.default_rng(0))
    with pytest.raises(ValueError, match="op classes"):
        PolicySpace(ops=["Rotate"]).sample(np.random.default_rng(0))


# --------------------------------------------------------------------------- BatchAugment
def test_batch_augment_without_mixing_keeps_labels_and_with_mixing_gives_soft_labels():
    images, labels = torch.rand(8, 1, 8, 8), torch.arange(8) % 3
    out, targets = BatchAugment(RandAugment())(images, labels, gen(), n_classes=3)
    assert targets is labels and out.shape == images.shape
    for mix in ("mixup", "cutmix"):
        out, soft = BatchAugment(mix=mix)(images, labels, gen(), n_classes=3)
        assert soft.shape == (8, 3) and soft.dtype == torch.float32
        assert torch.allclose(soft.sum(1), torch.ones(8))
        assert not torch.equal(soft, torch.nn.functional.one_hot(labels, 3).float())


def test_batch_augment_rejects_bad_settings():
    with pytest.raises(ValueError, match="mix must be"):
        BatchAugment(mix="blend")
    with pytest.raises(ValueError, match="alpha"):
        BatchAugment(mix="mixup", alpha=0)
    with pytest.raises(ValueError, match="callable"):
        BatchAugment(policy="randaugment")


# --------------------------------------------------------------------------- Evaluator / TrialNet
def _train(augment, seed=0):
    X = IMAGES[:, None].astype(np.float32)
    evaluator = Evaluator(TINY_CNN, (1, 8, 8), 10, batch_size=32, patience=None, augment=augment)
    arch = CNNArchitecture(8, (CNNLayer("conv3x3", 8),))
    torch.manual_seed(seed)
    return evaluator.fit_final(arch, X, LABELS, epochs=3, schedule_epochs=3, seed=seed)


def test_training_batches_are_augmented_and_prediction_is_not():
    calls = []

    def policy(images, generator):
        calls.append(len(images))
        return images

    net = _train(BatchAugment(policy))
    assert sum(calls) == 3 * len(IMAGES)  # every training image once per epoch
    calls.clear()
    net.predict(IMAGES[:, None].astype(np.float32))
    assert calls == []


def test_augmented_training_is_seeded_and_differs_from_plain_training():
    plain = _train(None).history[:, "train_loss"]
    mixed = _train(BatchAugment(RandAugment(), mix="cutmix")).history[:, "train_loss"]
    again = _train(BatchAugment(RandAugment(), mix="cutmix")).history[:, "train_loss"]
    assert mixed == again
    assert mixed != plain
    assert all(np.isfinite(mixed))


# --------------------------------------------------------------------------- AugmentPolicySearch
def small_search(**params):
    settings = dict(strategy="random", max_trials=2, proxy_epochs=2, cv=2, random_state=0)
    return AugmentPolicySearch(**{**settings, **params})


def test_policy_search_records_the_baseline_and_every_policy():
    search = small_search().fit(IMAGES, LABELS)
    results = search.search_results_
    assert list(results["trial"]) == [0, 1, 2]
    assert results["policy"][0] == "none" and "(m=" in results["policy"][1]
    assert search.baseline_score_ == results["score"][0]
    assert np.all(results["status"] == "ok") and np.all(results["train_seconds"] > 0)
    assert isinstance(search.best_policy_, AugmentPolicy)
    if search.best_policy_.sub_policies:
        assert search.best_score_ == np.max(results["score"]) > search.baseline_score_
    else:
        assert search.best_score_ == search.baseline_score_ >= np.max(results["score"][1:])
    assert "policies tried" in search.summary()
    assert search.input_shape_ == (1, 8, 8)


def test_policy_search_is_reproducible_and_leaves_inputs_alone():
    images = IMAGES.copy()
    first = small_search(strategy="bayesian").fit(images, LABELS)
    again = small_search(strategy="bayesian").fit(images, LABELS)
    assert np.array_equal(images, IMAGES)
    assert list(first.search_results_["policy"]) == list(again.search_results_["policy"])
    np.testing.assert_array_equal(first.search_results_["score"], again.search_results_["score"])


def test_policy_search_records_a_failing_policy_and_goes_on():
    class Broken(_ImageOp):
        def _apply(self, x, magnitude, lo, hi, generator):
            raise RuntimeError("broken op")

    space = PolicySpace(n_sub_policies=1, ops_per_sub_policy=1, ops=[Broken, Rotate], levels=3)
    search = small_search(space=space, max_trials=4).fit(IMAGES, LABELS)
    status = search.search_results_["status"]
    assert "failed" in status and "ok" in status[1:]
    failed = np.flatnonzero(status == "failed")
    assert all("broken op" in search.search_results_["error"][i] for i in failed)


def test_policy_search_honours_a_time_budget(monkeypatch):
    # Every policy's proxy training takes 1 s on a fake clock: under 3.5 s the baseline and two
    # policies run (3 s + 1 s would not fit), and each was given the budget's end as deadline.
    clock = FakeClock()
    deadlines = []
    evaluate = policy_module._ProxyEvaluator.evaluate

    def one_second(self, policy, X, y, folds, fidelity, seed, deadline=None):
        deadlines.append(deadline)
        result = evaluate(self, policy, X, y, folds, fidelity, seed, deadline)
        clock.advance(1.0)
        return dataclasses.replace(result, train_seconds=1.0)

    monkeypatch.setattr(policy_module._ProxyEvaluator, "evaluate", one_second)
    monkeypatch.setattr(policy_module, "Budget", functools.partial(Budget, clock=clock))
    search = small_search(max_trials=None, time_budget=3.5, proxy_epochs=1).fit(IMAGES, LABELS)
    assert len(search.search_results_["trial"]) == 3
    assert [d.at for d in deadlines] == [1000.0 + 3.5] * 3


def test_policy_search_bad_input():
    with pytest.raises(ValueError, match="images of shape"):
        small_search().fit(IMAGES.reshape(len(IMAGES), -1), LABELS)
    with pytest.raises(ValueError, match="at least 3 images of every class"):
        small_search(cv=3).fit(IMAGES[:12], LABELS[:12])
    with pytest.raises(ValueError, match="at least 2 classes"):
        small_search().fit(IMAGES[:20], np.zeros(20))
    with pytest.raises(ValueError, match="both None"):
        small_search(max_trials=None).fit(IMAGES, LABELS)


# --------------------------------------------------------------------------- AutoNASClassifier(augment=...)
def nas(**params):
    settings = dict(search_space=TINY_CNN, max_trials=1, max_epochs=2, random_state=0)
    return AutoNASClassifier(**{**settings, **params})


@pytest.mark.parametrize("augment", ["randaugment", "uniformaugment", "mixup", "cutmix", Rotate(0.5, 1.0)])
def test_autonas_trains_with_each_augmentation(augment):
    clf = nas(augment=augment).fit(IMAGES, LABELS)
    assert isinstance(clf.augment_, BatchAugment)
    assert clf.best_estimator_.augment is clf.augment_
    assert "augmented with" in clf.summary()
    assert clf.predict(IMAGES[:5]).shape == (5,)


def test_autonas_without_augmentation_augments_nothing():
    clf = nas().fit(IMAGES, LABELS)
    assert clf.augment_ is None and clf.best_estimator_.augment is None
    assert not hasattr(clf, "augment_search_")


def test_autonas_auto_augment_searches_a_policy_within_the_fit():
    clf = nas(augment="auto", max_epochs=2, batch_size=64).fit(IMAGES, LABELS)
    search = clf.augment_search_
    assert len(search.search_results_["score"]) == 11  # baseline + 10 policies
    if search.best_policy_.sub_policies:
        assert clf.augment_.policy is search.best_policy_
    else:
        assert clf.augment_ is None


def test_autonas_fitted_with_augmentation_pickles():
    clf = nas(augment="cutmix").fit(IMAGES, LABELS)
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(loaded.predict_proba(IMAGES[:10]), clf.predict_proba(IMAGES[:10]))


def test_autonas_augmentation_needs_images():
    X = IMAGES.reshape(len(IMAGES), -1)
    with pytest.raises(ValueError, match="augments images, but X is tabular"):
        AutoNASClassifier(max_trials=1, augment="mixup").fit(X, LABELS)
    clf = nas(augment="mixup", input_shape=(8, 8)).fit(X, LABELS)  # flattened images are fine
    assert clf.augment_.mix == "mixup"
    with pytest.raises(ValueError, match="augment"):
        nas(augment="flip").fit(IMAGES, LABELS)
