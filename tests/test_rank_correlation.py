"""rank_correlation: cheap estimators against stand-alone training, on the shipped NAS table."""
import math
import warnings

import numpy as np
import pytest
from scipy.stats import kendalltau

from skautoml.nas import (
    Block,
    CellArchitecture,
    Fidelity,
    LowFidelity,
    MLPSpace,
    RankCorrelation,
    SurrogateEstimator,
    TabularEvaluator,
    load_nas_table,
    rank_correlation,
    seed_noise_sample,
    top_k_overlap,
)

NO_DATA = (None, None, None, None)


@pytest.fixture(scope="module")
def table():
    return load_nas_table()


def stand_alone(table):
    return lambda architecture: table.entry(architecture).score()


def test_the_reference_against_itself_ranks_perfectly(table):
    result = rank_correlation(stand_alone(table), table=table, random_state=0)
    assert isinstance(result, RankCorrelation)
    assert result.tau == pytest.approx(1.0, abs=1e-12) and result.top_k_overlap == 1.0
    assert result.n == len(result.architectures) == 30 and result.top_k == 5
    assert result.scores == result.reference_scores and result.dropped == ()
    assert len(set(result.architectures)) == 30 and all(a in table for a in result.architectures)
    assert result.p_value < 1e-6


def test_a_reversed_estimator_gives_minus_one(table):
    result = rank_correlation(lambda a: -table.entry(a).score(), table=table, random_state=0)
    assert result.tau == pytest.approx(-1.0, abs=1e-12)
    assert result.top_k_overlap == 0.0


def test_low_fidelity_is_what_the_tabular_evaluator_reports(table):
    evaluator = TabularEvaluator(table)
    for architecture in table.architectures[:20]:
        for epochs in (1, 2, 5, 10, 20):
            trial = evaluator.evaluate(architecture, *NO_DATA, Fidelity(max_epochs=epochs), seed=0)
            assert LowFidelity(table, epochs=epochs)(architecture) == trial.score
        entry = table.entry(architecture)
        assert LowFidelity(table, epochs=3, metric="test")(architecture) == entry.test_score(3)


def test_low_fidelity_at_the_full_epochs_equals_the_reference(table):
    for estimator in (LowFidelity(table), LowFidelity(table, epochs=table.max_epochs)):
        result = rank_correlation(estimator, table=table, n_architectures=None)
        assert result.n == len(table)
        assert result.scores == result.reference_scores
        assert result.tau == pytest.approx(1.0, abs=1e-12) and result.top_k_overlap == 1.0
    on_test = rank_correlation(LowFidelity(table, metric="test"), reference="test", table=table, random_state=1)
    assert on_test.tau == pytest.approx(1.0, abs=1e-12)


def test_low_fidelity_ranks_better_with_more_epochs(table):
    # Over the whole table tau rises with every step (0.53, 0.64, 0.72, 0.82, 1.0 when measured).
    taus = [
        rank_correlation(LowFidelity(table, epochs=k), table=table, n_architectures=None).tau for k in (1, 2, 5, 10, 20)
    ]
    assert all(a < b for a, b in zip(taus, taus[1:])), taus
    # On samples of 30 only the wide gap holds for every draw.
    for seed in range(5):
        one = rank_correlation(LowFidelity(table, epochs=1), table=table, random_state=seed)
        full = rank_correlation(LowFidelity(table, epochs=20), table=table, random_state=seed)
        assert one.architectures == full.architectures
        assert full.tau > one.tau


@pytest.mark.parametrize("surrogate", ["rf", "gp"])
def test_a_surrogate_gives_a_finite_reproducible_tau_on_architectures_it_was_not_fitted_on(table, surrogate):
    train = table.architectures[100:150]

    def measure(seed):
        estimator = SurrogateEstimator(table.space, surrogate, random_state=seed).fit(train, stand_alone(table))
        return rank_correlation(estimator, table=table, exclude=train, random_state=seed)

    result = measure(0)
    assert math.isfinite(result.tau) and -1 <= result.tau <= 1
    assert 0 <= result.top_k_overlap <= 1
    assert not set(result.architectures) & set(train)
    assert measure(0) == result
    # 50 training architectures are enough to rank better than chance.
    assert result.tau > 0


def test_a_surrogate_fits_given_scores_and_scores_symmetric_forms_alike(table):
    train = table.architectures[:40]
    scores = [table.entry(a).score() for a in train]
    estimator = SurrogateEstimator(table.space, "rf", random_state=0).fit(train, scores)
    assert estimator.n_train_ == 40
    reduction = (Block(0, 0, "identity", "identity"),)
    swapped = CellArchitecture(normal=(Block(1, 0, "maxpool", "conv3x3"),), reduction=reduction)
    canonical = CellArchitecture(normal=(Block(0, 1, "conv3x3", "maxpool"),), reduction=reduction)
    assert estimator(swapped) == estimator(canonical)
    assert np.allclose(estimator.predict(train[:3]), [estimator(a) for a in train[:3]])


def test_the_ceiling_is_kendalls_tau_between_the_two_seeds_of_the_noise_sample(table):
    pairs = np.array(table.info["seed_noise"]["pairs"])
    result = rank_correlation(LowFidelity(table, epochs=5), table=table, random_state=0)
    assert result.ceiling_n == len(pairs) == 30
    assert result.ceiling_tau == pytest.approx(kendalltau(pairs[:, 0], pairs[:, 1]).statistic, abs=1e-12)
    both_ways = top_k_overlap(pairs[:, 0], pairs[:, 1], 5) + top_k_overlap(pairs[:, 1], pairs[:, 0], 5)
    assert result.ceiling_top_k == pytest.approx(both_ways / 2)
    on_test = rank_correlation(LowFidelity(table, epochs=5), reference="test", table=table, random_state=0)
    assert on_test.ceiling_tau == pytest.approx(kendalltau(pairs[:, 2], pairs[:, 3]).statistic, abs=1e-12)
    # A top_k beyond the noise sample has no top-k ceiling; tau's stays.
    wide = rank_correlation(LowFidelity(table, epochs=5), table=table, n_architectures=60, top_k=40, random_state=0)
    assert wide.ceiling_top_k is None and wide.ceiling_tau == result.ceiling_tau


def test_the_noise_sample_is_the_tables_first_architectures(table):
    noise = seed_noise_sample(table)
    assert noise.architectures == tuple(table.architectures[:30])
    assert [table.entry(a).score() for a in noise.architectures] == list(noise.first)
    # The second seed as the reference: the table's run ranks the sample as the ceiling says.
    again = dict(zip(noise.architectures, noise.second))
    result = rank_correlation(LowFidelity(table), noise.architectures, reference=again.get, table=table)
    assert result.tau == pytest.approx(result.ceiling_tau, abs=1e-12)
    assert result.top_k_overlap == top_k_overlap(noise.second, noise.first, 5)
    assert seed_noise_sample(type(table)(table.space, list(table)[:5])) is None  # no record, no sample


def test_top_k_overlap_shares_out_ties():
    assert top_k_overlap([3, 2, 1, 0], [3, 2, 1, 0], 2) == 1.0
    # The reference's 2nd place is a tie: either tied architecture counts as among its two best.
    assert top_k_overlap([3, 2, 2, 0], [3, 0, 2, 1], 2) == 1.0
    # A constant estimator picks at random: the expected share of the reference's two best.
    assert top_k_overlap([3, 2, 1, 0], [1, 1, 1, 1], 2) == 0.5
    assert top_k_overlap([3, 2, 1, 0], [0, 1, 2, 3], 4) == 1.0


def test_any_callable_or_scoring_object_is_an_estimator(table):
    class Supernet:  # stands in for inherited-weight scores
        def score(self, architecture):
            return table.entry(architecture).score(10)

    class Batch:
        calls = 0

        def predict(self, architectures):
            Batch.calls += 1
            return [table.entry(a).score(10) for a in architectures]

    by_score = rank_correlation(Supernet(), table=table, random_state=3)
    by_batch = rank_correlation(Batch(), table=table, random_state=3)
    by_callable = rank_correlation(LowFidelity(table, epochs=10), table=table, random_state=3)
    assert by_score == by_batch == by_callable and Batch.calls == 1


def test_a_stand_alone_reference_of_your_own_needs_no_table():
    space = MLPSpace()
    rng = np.random.default_rng(0)
    architectures = list(dict.fromkeys(space.sample(rng) for _ in range(40)))[:20]
    size = {a: sum(space.encode(a)) for a in architectures}
    noise = {a: float(v) for a, v in zip(architectures, np.random.default_rng(1).normal(0, 0.1, len(architectures)))}
    result = rank_correlation(lambda a: size[a] + noise[a], architectures, reference=size.get, top_k=3)
    assert result.n == 20 and 0 < result.tau <= 1
    assert result.ceiling_tau is None and result.ceiling_top_k is None and result.ceiling_n is None


def test_non_finite_scores_are_dropped_with_a_warning(table):
    architectures = table.architectures[:10]
    broken = set(architectures[:3])

    def estimator(a):
        return math.nan if a in broken else table.entry(a).score()

    with pytest.warns(UserWarning, match="3 of 10 architectures have a non-finite score"):
        result = rank_correlation(estimator, architectures, table=table, top_k=3)
    assert result.n == 7 and set(result.dropped) == broken
    assert result.tau == pytest.approx(1.0, abs=1e-12)
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="at least 3 architectures after dropping"):
        rank_correlation(lambda a: math.nan if a in broken else 0.5, architectures[:5], table=table, top_k=1)
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="top_k"):
        rank_correlation(estimator, architectures, table=table, top_k=8)


def test_a_constant_estimator_has_no_tau(table):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = rank_correlation(lambda a: 0.5, table=table, random_state=0)
    assert math.isnan(result.tau) and 0 <= result.top_k_overlap <= 1


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"architectures": "two"}, ValueError, "at least 3 architectures"),
        ({"n_architectures": 2}, ValueError, "n_architectures must be an integer of at least 3"),
        ({"n_architectures": 500}, ValueError, "only 441 architectures"),
        ({"top_k": 31}, ValueError, "top_k must be an integer from 1 to the 30"),
        ({"top_k": 0}, ValueError, "top_k"),
        ({"top_k": 2.5}, ValueError, "top_k"),
        ({"reference": "train"}, ValueError, "reference metric"),
        ({"architectures": "foreign"}, ValueError, "not in the table"),
        ({"architectures": "twice"}, ValueError, "the same architecture twice"),
    ],
)
def test_bad_input_is_refused(table, kwargs, error, message):
    kwargs = dict(kwargs)
    if kwargs.get("architectures") == "two":
        kwargs["architectures"] = table.architectures[:2]
    elif kwargs.get("architectures") == "foreign":
        kwargs["architectures"] = [*table.architectures[:5], MLPSpace().sample(np.random.default_rng(0))]
    elif kwargs.get("architectures") == "twice":
        first = table.architectures[0]
        normal = tuple(Block(b.input2, b.input1, b.op2, b.op1, b.combine) for b in first.normal)
        swapped = CellArchitecture(normal=normal, reduction=first.reduction)
        kwargs["architectures"] = [first, *table.architectures[1:4], swapped]
    with pytest.raises(error, match=message):
        rank_correlation(LowFidelity(table, epochs=5), table=table, random_state=0, **kwargs)


def test_bad_estimators_and_settings_are_refused(table):
    with pytest.raises(TypeError, match="must be a callable"):
        rank_correlation(object(), table=table)
    with pytest.raises(ValueError, match="scores of shape"):
        rank_correlation(type("Short", (), {"predict": lambda self, a: [1.0, 2.0]})(), table=table)
    for epochs in (0, 21, 2.0, True):
        with pytest.raises(ValueError, match="epochs must be an integer from 1 to the table's 20"):
            LowFidelity(table, epochs=epochs)(table.architectures[0])
    with pytest.raises(ValueError, match="metric"):
        LowFidelity(table, metric="train")(table.architectures[0])
    with pytest.raises(RuntimeError, match="not fitted"):
        SurrogateEstimator(table.space)(table.architectures[0])
    with pytest.raises(ValueError, match="two different values"):
        SurrogateEstimator(table.space).fit(table.architectures[:5], [0.9] * 5)
    with pytest.raises(ValueError, match="surrogate must be"):
        SurrogateEstimator(table.space, "svm").fit(table.architectures[:5], range(5))
    with pytest.raises(ValueError, match="scores of shape"):
        SurrogateEstimator(table.space).fit(table.architectures[:5], [0.1, 0.2])
