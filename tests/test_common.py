"""scikit-learn's (and, for samplers, imbalanced-learn's) estimator checks over every public estimator.

Estimators that take image arrays only (``ImageAugmenter``) cannot be fed the 2-D data of
these checks; their behaviour is tested in their own test files.
"""
import pytest
from imblearn.utils.estimator_checks import parametrize_with_checks as parametrize_with_imblearn_checks
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from skautoml import AutoNASClassifier
from skautoml.prep import (
    AutoCleaner,
    AutoSMOTE,
    CleaningSearch,
    DropUninformativeColumns,
    DuplicateRowRemover,
    GaussianNoiseOversampler,
    LabelNoiseFilter,
    MixupOversampler,
    OutlierClipper,
    OutlierRowRemover,
    RareCategoryEncoder,
    TypedImputer,
)

# The smallest settings that still do real work, so the checks run fast.
SAMPLERS = [
    DuplicateRowRemover(),
    OutlierRowRemover(random_state=0),
    OutlierRowRemover(method="lof"),
    LabelNoiseFilter(random_state=0),
    AutoSMOTE(random_state=0),
    GaussianNoiseOversampler(random_state=0),
    MixupOversampler(random_state=0),
]
ESTIMATORS = [
    AutoNASClassifier(max_trials=1, max_epochs=15, random_state=0),
    DropUninformativeColumns(),
    OutlierClipper(),
    RareCategoryEncoder(),
    TypedImputer(),
    TypedImputer(numeric_strategy="iterative", add_indicator=True),
    AutoCleaner(),
    AutoCleaner(numeric_strategy="iterative", add_indicator=True, clip_outliers=False),
    # One combination: the checks fit it many times.
    CleaningSearch(LogisticRegression(), param_grid={"cleaner__clip_outliers": [True]}, cv=2),
    *SAMPLERS,
]

# Expected failures, each with its reason a maintainer would accept: class -> {check name: reason}.
EXPECTED_FAILED_CHECKS = {}


def expected_failures(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator), {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# imbalanced-learn hands pytest a generator, which pytest deprecates: make it a list.
_imblearn_checks = parametrize_with_imblearn_checks(SAMPLERS, expected_failed_checks=expected_failures)


@pytest.mark.parametrize(_imblearn_checks.args[0], list(_imblearn_checks.args[1]), **_imblearn_checks.kwargs)
def test_imblearn_compatible_sampler(estimator, check):
    check(estimator)
