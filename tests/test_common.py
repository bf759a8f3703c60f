"""scikit-learn's estimator checks over every public estimator."""
from sklearn.utils.estimator_checks import parametrize_with_checks

from skautoml import AutoNASClassifier

# Expected failures, each with its reason; keyed by estimator class, then check name.
EXPECTED_FAILED_CHECKS = {
    AutoNASClassifier: {},
}


def _tiny(estimator):
    """The smallest budget that still trains a real network, so the checks run fast."""
    return estimator.set_params(max_trials=1, max_epochs=15, random_state=0)


ESTIMATORS = [_tiny(AutoNASClassifier())]


@parametrize_with_checks(
    ESTIMATORS,
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS.get(type(estimator), {}),
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
