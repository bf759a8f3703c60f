"""The joint space of architectures and training hyperparameters: its contract, every discrete strategy on it,
and the head dropout it builds."""
import math

import numpy as np
import pytest
import torch

from skautoml.nas import (
    BOHB, CNNSpace, JointArchitecture, JointSpace, MLPArchitecture, MLPSpace, TrainingChoice, TrainingSpace,
)
from skautoml.nas.space import HeadDropout
from skautoml.search import STRATEGIES, SearchSpace, as_proposal, resolve_strategy

JOINT = JointSpace(MLPSpace(max_layers=2, widths=(8, 16)), TrainingSpace.centred(lr=3e-3, batch_size=64))


def test_centred_grids_hold_the_estimators_settings_in_the_middle():
    space = TrainingSpace.centred(lr=1e-3, batch_size=32, augment="light", weight_decay=1e-4)
    assert space.lrs == (2.5e-4, 5e-4, 1e-3, 2e-3, 4e-3)
    assert space.batch_sizes == (16, 32, 64)
    assert space.weight_decays == (0.0, 1e-5, 1e-4, 1e-3, 1e-2)
    assert space.augments == ("light", "none")
    assert space.default() == TrainingChoice(1e-3, 1e-4, 32, "adamw", 0.0, "light")
    assert TrainingSpace.centred(lr=1e-3, batch_size=1).batch_sizes == (1, 2)


def test_training_space_contract():
    space = TrainingSpace(augments=("none", "light"))
    rng = np.random.default_rng(0)
    values = {space.sample(rng) for _ in range(300)}
    assert all(space.contains(v) for v in values) and len(values) > 100
    assert {v.optimizer for v in values} == {"adamw", "sgd"}
    for value in list(values)[:50]:
        child = space.mutate(value, rng)
        assert space.contains(child) and child != value
        assert sum(getattr(child, f) != getattr(value, f) for f in ("lr", "weight_decay", "batch_size", "optimizer",
                                                                    "dropout", "augment")) == 1
        assert space.from_decisions(space.to_decisions(value)) == value
        assert len(space.encode(value)) == len(space.encode(child))
    assert space.size() == 5 * 5 * 3 * 2 * 4 * 2
    assert not space.contains(TrainingChoice(1.0, 0.0, 64))  # an lr off the grid


@pytest.mark.parametrize(
    "settings, match",
    [({"lrs": ()}, "non-empty"), ({"lrs": (1e-3, 1e-3)}, "without repeats"), ({"lrs": (-1.0,)}, "positive"),
     ({"optimizers": ("adam",)}, "among"), ({"dropouts": (1.0,)}, r"in \[0, 1\)"),
     ({"batch_sizes": (32.0,)}, "positive ints"), ({"weight_decays": [0.0]}, "tuple")],
)
def test_training_space_bad_grids(settings, match):
    with pytest.raises(ValueError, match=match):
        TrainingSpace(**settings).sample(np.random.default_rng(0))


def test_joint_space_contract_and_decisions():
    rng = np.random.default_rng(0)
    changed = {"network": 0, "training": 0}
    for _ in range(200):
        value = JOINT.sample(rng)
        assert JOINT.contains(value) and isinstance(value, JointArchitecture)
        child = JOINT.mutate(value, rng)
        assert JOINT.contains(child)
        changed["network"] += child.architecture != value.architecture
        changed["training"] += child.training != value.training
        assert child.architecture == value.architecture or child.training == value.training  # one part at a time
        assert JOINT.from_decisions(JOINT.to_decisions(value)) == value
        assert len(JOINT.encode(value)) == len(JOINT.encode(JOINT.sample(rng)))
    assert min(changed.values()) > 40  # both parts move
    assert JOINT.size() == MLPSpace(max_layers=2, widths=(8, 16)).size() * JOINT.training.size()
    assert len(JOINT.decisions()) == len(MLPSpace(max_layers=2).decisions()) + 6
    assert not JOINT.contains(MLPArchitecture(widths=(8,)))


@pytest.mark.parametrize("name", STRATEGIES)
def test_every_discrete_strategy_searches_the_joint_space(name):
    strategy = resolve_strategy(name).reset(JOINT, random_state=0)
    told = 0
    while told < 12:
        batch = strategy.ask(3)
        if not batch:
            break
        for candidate in batch:
            value = as_proposal(candidate).architecture
            assert JOINT.contains(value)
            score = 0.5 + 0.1 * math.log10(value.training.lr / 1e-3) + 0.01 * len(value.architecture.widths)
            strategy.tell(candidate, _Result(score, n_params=sum(value.architecture.widths)))
            told += 1
    assert told >= 12


class _Result:
    status = "ok"

    def __init__(self, score, n_params):
        self.score, self.n_params, self.flops = score, n_params, 2 * n_params


def test_bohb_models_the_joint_space_from_its_encoding():
    strategy = BOHB(min_resource=1 / 3, n_min_points=4).reset(JOINT, random_state=0)
    for _ in range(8):
        for proposal in strategy.ask(3):
            strategy.tell(proposal, _Result(proposal.architecture.training.lr * 100, 1))
    assert len(strategy.history) == 24
    # Past its random share, the model proposes: most of the last proposals take the best learning rates.
    late = [JOINT.training.lrs.index(a.training.lr) for a, _ in strategy.history[-9:]]
    assert np.mean(late) > 2


def test_head_dropout_keeps_the_linear_heads_weights_and_acts_only_in_training():
    value = JointArchitecture(MLPArchitecture(widths=(16,)), TrainingChoice(3e-3, 1e-4, 64, dropout=0.5))
    plain = JointArchitecture(value.architecture, TrainingChoice(3e-3, 1e-4, 64))
    torch.manual_seed(0)
    with_dropout = JOINT.build(value, (5,), 3)
    without = JOINT.build(plain, (5,), 3)
    assert isinstance(with_dropout.head, HeadDropout) and type(without.head) is torch.nn.Linear
    assert with_dropout.state_dict().keys() == without.state_dict().keys()
    without.load_state_dict(with_dropout.state_dict())
    X = torch.randn(64, 5)
    with torch.no_grad():
        torch.testing.assert_close(with_dropout.eval()(X), without.eval()(X))
        assert not torch.allclose(with_dropout.train()(X), without.train()(X))


def test_head_dropout_needs_a_linear_head():
    class Headless(SearchSpace):
        def sample(self, rng):
            return 0

        def mutate(self, architecture, rng):
            return 0

        def encode(self, architecture):
            return np.zeros(1)

        def build(self, architecture, input_shape, n_outputs):
            return torch.nn.Flatten()

        def size(self):
            return 1

        def contains(self, architecture):
            return architecture == 0

    space = JointSpace(Headless())
    with pytest.raises(ValueError, match="linear `head`"):
        space.build(JointArchitecture(0, TrainingChoice(1e-3, 0.0, 32, dropout=0.1)), (4,), 2)
    with pytest.raises(AttributeError, match="no decision protocol"):
        space.decisions()


def test_joint_space_of_images_builds_networks_of_images():
    space = JointSpace(CNNSpace(max_layers=2), TrainingSpace(dropouts=(0.25,)))
    assert space.takes_images
    value = space.sample(np.random.default_rng(0))
    out = space.build(value, (1, 8, 8), 4)(torch.zeros(2, 1, 8, 8))
    assert out.shape == (2, 4)
