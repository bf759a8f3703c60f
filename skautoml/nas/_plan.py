"""Budget-aware defaults: the strategy and the fidelity of a search, chosen from the data, the budget and step times.

``AutoNASClassifier(strategy='auto')`` asks :func:`plan_search` what to run.
The rule, in order:

1. No time budget: regularised evolution at full fidelity (``max_trials``
   bounds the search, so nothing needs to be traded).
2. A time budget that holds ``FULL_MARGIN`` times ``MIN_ARCHITECTURES``
   full-fidelity trials and the refit, as estimated from measured
   training-step times: the same (the margin covers the estimate's error).
3. Otherwise successive halving over epochs (eta 3, 27 architectures at a
   ninth of the epochs, 9 at a third, 3 at all of them, then the next
   bracket): about nine full trials' worth of training evaluates 27
   architectures. The first architecture is a known-good one
   (:func:`known_good_architecture`), and it goes up every rung as a
   baseline (``promote_initial``): at the lowest rungs few networks have
   learned anything yet (on generated 3x32x32 shapes every score of the
   lowest rung was within 0.03 of chance), so a random architecture must
   beat it at full fidelity to be chosen, not at the lowest rung. The
   last ``FINAL_SHARE`` of the budget is kept for the refit, which trains
   the best architecture for the epochs the time left holds (priced by the
   measured step time of that architecture); the full-fidelity epochs are
   those that let one bracket fit the rest (at most ``max_epochs``; the
   rungs above the lowest priced at the slowest step measured), and when
   even nine epochs would not fit, each trial trains on a stratified
   share of the training split instead (at least ``MIN_DATA_FRACTION``).
   A rung in which no trial scores ``NO_SIGNAL_STANDARD_ERRORS`` standard
   errors above chance ends the search (``signal_threshold``): on generated
   3x32x32 shapes every rung of a 180 s search, up to 9 epochs on 24 % of
   the data, scored 0.07-0.17 against a chance of 0.10, so the search could
   only rank noise, and the refit, which trains for the time left, gets the
   rest of it instead.

Images of at least ``DOWNSAMPLE_FROM`` pixels a side get a stem convolution of
stride 2 (see :func:`stem_stride_for`), so every layer works at a quarter of
the pixels.
"""
import math
from dataclasses import dataclass

import numpy as np

#: Architectures a time-budgeted search evaluates at least, at some fidelity.
MIN_ARCHITECTURES = 20
#: How many times MIN_ARCHITECTURES full trials the estimate must hold before full fidelity is chosen:
#: estimates of 20 held 9 and 12 trials at 28x28 and 8x8 (benchmarks/README.md, bench_nas_default).
FULL_MARGIN = 2
#: Smallest image side (pixels) that gets a downsampling stem.
DOWNSAMPLE_FROM = 16
#: Smallest share of the training split a planned trial trains on.
MIN_DATA_FRACTION = 0.1
#: A trial's seconds over its forward and backward passes alone (optimiser
#: steps, batching, the per-epoch validation, early architectures' cost
#: spread): on 2 CPU cores, trials at 28x28 took 0.7-2.3 times the mean
#: measured step of four of the space's samples (benchmarks/README.md,
#: bench_nas_default), so the plan prices them at 1.5 times the mean of eight.
TRIAL_OVERHEAD = 1.5
#: Step times measured for a plan: the known-good architecture and this many samples of the space.
STEP_SAMPLES = 8
#: Share of a tight time budget the plan gives the final training.
FINAL_SHARE = 0.5
#: Standard errors above chance that some trial of a rung must score for the search to go on: the best of
#: 27 trials at chance exceeds 3 standard errors about once in 30 searches (27 x 0.00135).
NO_SIGNAL_STANDARD_ERRORS = 3

# Successive halving's bracket: (architectures, share of the epochs) per rung.
_ETA = 3
_RUNGS = ((27, 1 / 9), (9, 1 / 3), (3, 1.0))


@dataclass(frozen=True)
class SearchPlan:
    """What a search runs: its strategy and the full fidelity of its trials.

    Attributes
    ----------
    strategy : str or Strategy
        A name of ``AutoNASClassifier``'s strategies, or a strategy instance.
    max_epochs : int
        Epochs of a full-fidelity trial.
    data_fraction : float
        Share of the training split each trial trains on.
    resource : str
        What a multi-fidelity strategy's resource cuts (``'epochs'``, ``'data'``, ``'both'``).
    reason : str
        Why, in words (``AutoNASClassifier.summary()`` prints it).
    final_epochs : int or None
        Epochs of the refit; None repeats the best trial's training (its
        best epoch at full fidelity, else ``max_epochs``).
    final_seconds : float or None
        Seconds kept back for the refit from the start, which then trains
        the epochs that the time left holds (the hand-written baseline's
        rule: train for the time you have); None keeps back what the refit
        of the best trial so far is expected to take.
    trial_seconds : float or None
        The estimated seconds of one full-fidelity trial the plan was made from.
    """

    strategy: object
    max_epochs: int
    data_fraction: float
    resource: str
    reason: str
    final_epochs: int | None = None
    final_seconds: float | None = None
    trial_seconds: float | None = None


def stem_stride_for(input_shape):
    """Stride of the stem of an image space for samples of ``input_shape``: 2 from ``DOWNSAMPLE_FROM`` pixels, else 1."""
    if len(input_shape) != 3:
        return 1
    return 2 if min(input_shape[1:]) >= DOWNSAMPLE_FROM else 1


def default_image_space(input_shape):
    """The space ``AutoNASClassifier(search_space='auto')`` searches for images of ``input_shape``.

    Images of at least ``DOWNSAMPLE_FROM`` pixels a side: a
    :class:`~skautoml.nas.CNNSpace` of up to 7 layers and channels up to
    128, with a stem of stride 2, so that it holds the known-good network of
    two convs a stage (see :func:`known_good_architecture`). On generated
    3x32x32 shapes, the default search with it scored 0.9853, 0.9787 and
    0.9813 on three splits, where with the 5-layer known-good network of
    ``CNNSpace()`` it scored 0.9760 on the first. Smaller images:
    ``CNNSpace()``, whose known-good network has one conv a stage: on 8x8
    digits, where two poolings leave the deeper network 2x2 pixels, the
    default search scored 0.9911, 0.9933 and 0.9911 with the deeper network
    and 1.0000, 0.9933 and 0.9956 with this one (benchmarks/README.md,
    bench_nas_default).

    Examples
    --------
    >>> from skautoml.nas import default_image_space, known_good_architecture
    >>> print(known_good_architecture(default_image_space((3, 32, 32))))
    stem(32) > conv3x3(32) > conv3x3(32) > maxpool > conv3x3(64) > conv3x3(64) > maxpool > conv3x3(128)
    >>> print(known_good_architecture(default_image_space((1, 8, 8))))
    stem(32) > conv3x3(32) > maxpool > conv3x3(64) > maxpool > conv3x3(64)
    """
    from .space import CNNSpace

    if stem_stride_for(input_shape) == 1:
        return CNNSpace()
    return CNNSpace(max_layers=7, channels=(16, 32, 64, 128), stem_stride=2)


def known_good_architecture(space):
    """A sound first architecture of ``space``, or None for a space this knows nothing about.

    For a :class:`~skautoml.nas.CNNSpace`: the widest stem, then the
    classic pattern of the hand-written baselines, with the space's own
    operations and channels: where the space has 7 layers and 3 widths, two
    convs a stage (conv, conv, max pool, wider conv, wider conv, max pool,
    widest conv, at the three widest widths); else conv, max pool, wider conv,
    max pool, widest conv, cut to ``max_layers``; padded with convs to
    ``min_layers``.
    For an :class:`~skautoml.nas.MLPSpace`: two hidden layers (the widest
    but one, then the next narrower), ReLU where offered, batch norm and a
    little dropout where offered. For a :class:`~skautoml.nas.JointSpace`:
    that of its network space, trained with its training space's
    :meth:`~skautoml.nas.TrainingSpace.default` (the estimator's own settings).
    """
    from .space import CNNArchitecture, CNNLayer, CNNSpace, JointArchitecture, JointSpace, MLPArchitecture, MLPSpace

    if type(space) is JointSpace:
        network = known_good_architecture(space.network)
        return None if network is None else JointArchitecture(network, space.training_space().default())

    if type(space) is CNNSpace:
        convs = [op for op in ("conv3x3", "sepconv3x3", "conv5x5", "dilconv3x3") if op in space.operations]
        pool = next((op for op in ("maxpool", "avgpool") if op in space.operations), None)
        if not convs:
            return None
        widths = sorted(space.channels)
        pooling = [CNNLayer(pool)] if pool else []
        if space.max_layers >= 7 and len(widths) >= 3:
            # Two convs a stage at the three widest widths, the hand-written CNN's shape.
            narrow, middle, wide = (CNNLayer(convs[0], width) for width in widths[-3:])
            pattern = [narrow, narrow, *pooling, middle, middle, *pooling, wide]
        else:
            middle, wide = CNNLayer(convs[0], widths[max(len(widths) - 2, 0)]), CNNLayer(convs[0], widths[-1])
            pattern = [middle, *pooling, wide, *pooling, wide]
        layers = pattern[: space.max_layers]
        layers += [CNNLayer(convs[0], widths[-1])] * (space.min_layers - len(layers))
        return CNNArchitecture(max(space.stem_channels), tuple(layers))
    if type(space) is MLPSpace:
        widths = sorted(space.widths)
        depth = min(max(2, space.min_layers), space.max_layers)
        chosen = tuple(widths[max(len(widths) - 2 - i, 0)] for i in range(depth))
        return MLPArchitecture(
            widths=chosen,
            activation="relu" if "relu" in space.activations else space.activations[0],
            dropout=min(space.dropouts, key=lambda d: abs(d - 0.1)),
            batch_norm=True in space.batch_norm,
            skip=False if False in space.skip else space.skip[0],
        )
    return None


def plan_search(space, n_train, n_samples, time_budget, max_epochs, batch_size, step_seconds, data_fraction=1.0,
                final_epochs=None, random_state=0, chance=None):
    """The :class:`SearchPlan` of a search, from the data size, the budget and measured step times.

    Parameters
    ----------
    space : SearchSpace
        The space searched (its known-good architecture and samples are timed).
    n_train, n_samples : int
        Samples a trial trains on (the training split) and the refit trains on (all).
    time_budget : float or None
        Seconds of the whole fit.
    max_epochs : int
        The most epochs a full-fidelity trial may have.
    batch_size : int
    step_seconds : callable
        ``step_seconds(architecture) -> float``: seconds of one training step
        (forward and backward pass of a batch); tests pass fake timings.
    data_fraction : float, default=1.0
        Share of the training split a trial trains on, as the user set it.
    final_epochs : int or None, default=None
        Epochs of the refit as the user set them; None lets a tight budget
        give the refit the last ``FINAL_SHARE`` of the time.
    random_state : int, default=0
        Seeds the samples whose step times are measured.
    chance : (float, float) or None, default=None
        The score of a network that has learned nothing (the most frequent
        class's share of the validation split) and its standard error: a
        successive-halving search ends after a rung in which no trial beats
        it by ``NO_SIGNAL_STANDARD_ERRORS`` standard errors (its
        ``signal_threshold``, see :class:`~skautoml.search.SuccessiveHalving`).
        None never ends one.

    Returns
    -------
    SearchPlan

    Examples
    --------
    >>> from skautoml.nas import CNNSpace, plan_search
    >>> plan = plan_search(CNNSpace(), n_train=1000, n_samples=1250, time_budget=180, max_epochs=30,
    ...                    batch_size=64, step_seconds=lambda architecture: 0.03)
    >>> plan.strategy.n_configs, plan.max_epochs, plan.final_seconds   # the 3 best and the baseline get 12 epochs
    (27, 12, 90.0)
    """
    from ..search import SuccessiveHalving

    signal_threshold = None if chance is None else chance[0] + NO_SIGNAL_STANDARD_ERRORS * chance[1]
    if time_budget is None:
        reason = "no time budget: max_trials full trials by regularised evolution"
        return SearchPlan("evolution", max_epochs, data_fraction, "epochs", reason, final_epochs)
    first = known_good_architecture(space)
    rng = np.random.default_rng(random_state)
    timed = ([first] if first is not None else []) + [space.sample(rng) for _ in range(STEP_SAMPLES)]
    steps = [step_seconds(a) for a in timed]
    step = TRIAL_OVERHEAD * float(np.mean(steps))
    batches = math.ceil(n_train * data_fraction / batch_size)
    epoch = batches * step
    refit_epoch = math.ceil(n_samples / batch_size) * step
    trial_seconds = max_epochs * epoch
    n_full = (time_budget - max_epochs * refit_epoch) / trial_seconds
    if n_full >= FULL_MARGIN * MIN_ARCHITECTURES:
        reason = (
            f"{time_budget:.0f} s hold about {n_full:.0f} full trials of {trial_seconds:.1f} s and the refit: "
            "regularised evolution at full fidelity"
        )
        return SearchPlan("evolution", max_epochs, data_fraction, "epochs", reason, final_epochs, None, trial_seconds)
    final_seconds = FINAL_SHARE * time_budget if final_epochs is None else None
    search_seconds = time_budget - (final_seconds if final_epochs is None else final_epochs * refit_epoch)
    search_seconds = max(search_seconds, 0.0)
    # Seconds of one bracket per full-fidelity epoch: the lowest rung (3 full trials' worth) at the mean step
    # measured; the rungs above (6) and the baseline's runs there (4/3) at the slowest, as the survivors of
    # a rung tend to be the larger networks, and a bracket cut short leaves no full-fidelity result (at
    # 28x28, priced at the mean, one search ran 3 of the 10 trials of the second rung and none above).
    upper_epoch = batches * TRIAL_OVERHEAD * max(steps)
    upper_trials = sum(n * share for n, share in _RUNGS[1:]) + (first is not None) * sum(s for _, s in _RUNGS[1:])
    bracket_seconds = _RUNGS[0][0] * _RUNGS[0][1] * epoch + upper_trials * upper_epoch
    epochs = min(max_epochs, int(search_seconds / bracket_seconds))
    fraction = data_fraction
    if epochs < 1 / _RUNGS[0][1]:
        epochs = round(1 / _RUNGS[0][1])
        # The training split's share that lets a bracket of `epochs` fit the search's seconds.
        fraction = search_seconds / (epochs * bracket_seconds / data_fraction)
        fraction = float(min(data_fraction, max(MIN_DATA_FRACTION, fraction)))
    strategy = SuccessiveHalving(
        eta=_ETA, min_resource=_RUNGS[0][1], n_configs=_RUNGS[0][0],
        initial_architectures=() if first is None else (first,), promote_initial=True,
        signal_threshold=signal_threshold,
    )
    reason = (
        f"{time_budget:.0f} s hold about {max(n_full, 0):.1f} full trials of {trial_seconds:.1f} s: successive halving "
        f"of {_RUNGS[0][0]} architectures from {math.ceil(epochs * _RUNGS[0][1])} to {epochs} epochs"
        + (f" on {fraction:.0%} of the training split" if fraction < data_fraction else "")
        + (f", starting with {first} and keeping it as a baseline up to full fidelity" if first is not None else "")
        + (
            f", ending after any rung whose scores are all {signal_threshold:.3f} or less (chance level)"
            if signal_threshold is not None
            else ""
        )
        + (
            f"; the refit trains for the last {final_seconds:.0f} s"
            if final_epochs is None
            else f"; the refit trains {final_epochs} epochs"
        )
    )
    return SearchPlan(strategy, epochs, fraction, "epochs", reason, final_epochs, final_seconds, trial_seconds)
