"""Input validation for estimators that take tabular rows or images."""
import numpy as np
from scipy import sparse
from sklearn.utils import check_array, check_X_y

from ._compat import validate_data


def is_dataframe(X):
    """Whether ``X`` is a pandas (or pandas-like) DataFrame, whose column dtypes matter."""
    return hasattr(X, "columns") and hasattr(X, "iloc")


def validate_table(estimator, X, *, reset):
    """A DataFrame as it is (its dtypes matter), anything else as a 2-D array of any dtype (NaN allowed).

    Either way ``estimator`` gets (``reset``) or is checked against its ``n_features_in_`` and feature names.
    """
    if not is_dataframe(X):
        return validate_data(estimator, X, reset=reset, dtype=None, ensure_all_finite="allow-nan")
    validate_data(estimator, X, reset=reset, skip_check_array=True)  # n_features_in_, feature names
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(
            f"{type(estimator).__name__} got a DataFrame of shape {X.shape}; it needs at least one row and one column."
        )
    return X


#: What to do about missing values, for every error about them.
IMPUTE_ADVICE = (
    "Impute missing values first, for example with skautoml.prep.TypedImputer or "
    "skautoml.prep.AutoCleaner (or sklearn.impute.SimpleImputer) in a Pipeline before it, "
    "and replace or clip infinite values."
)


def check_finite(X, estimator_name, what="X", advice=""):
    """Raise a ValueError that points to imputation when ``X`` (dense or sparse) has NaN or inf."""
    values = X.data if sparse.issparse(X) else X
    finite = np.isfinite(values)
    if not finite.all():
        n_nan = int(np.isnan(values).sum())
        n_inf = int(finite.size - finite.sum()) - n_nan
        raise ValueError(
            f"Input {what} contains NaN ({n_nan} values) or inf ({n_inf} values); {estimator_name} "
            f"needs finite values. {IMPUTE_ADVICE}{advice}"
        )


def check_numeric_columns(X, estimator_name):
    """Raise a ValueError naming the non-numeric columns of a DataFrame."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(dtypes, "items"):
        return
    bad = [str(column) for column, dtype in dtypes.items() if getattr(dtype, "kind", "O") not in "biuf"]
    if bad:
        raise ValueError(
            f"{estimator_name} needs numeric columns; {bad[:5]} {'are' if len(bad) > 1 else 'is'} "
            "not numeric. Encode categorical and text columns first, for example with "
            "sklearn.preprocessing.OneHotEncoder in a ColumnTransformer."
        )


def _as_images(X):
    """(N, H, W) becomes (N, 1, H, W); (N, C, H, W) stays."""
    return X[:, np.newaxis] if X.ndim == 3 else X


def _ndim(X):
    shape = getattr(X, "shape", None)
    return len(shape) if shape is not None else np.asarray(X).ndim


def validate_network_input(estimator, X, y="no_validation", *, reset, input_shape=None, multi_output=False):
    """Validate ``X`` (and ``y``) for a network; return float32 samples of shape (N, *sample_shape).

    Tabular data (2-D arrays, DataFrames) go through scikit-learn's
    ``validate_data``, which sets ``n_features_in_`` and ``feature_names_in_``.
    Image arrays (N, H, W) or (N, C, H, W) are checked here: ``n_features_in_``
    is then the number of values per image. 2-D rows with ``input_shape`` are
    reshaped to images. On ``reset``, ``input_shape_`` is set to the shape of
    one sample; later calls must match it. ``multi_output`` lets ``y`` be 2-D
    (a regressor's several targets).
    """
    name = type(estimator).__name__
    with_y = not (isinstance(y, str) and y == "no_validation")
    ndim = _ndim(X)
    if ndim in (3, 4):
        if input_shape is not None:
            raise ValueError(
                f"input_shape={input_shape!r} is for 2-D rows of flattened images; X already has "
                f"image shape {np.shape(X)}. Leave input_shape=None."
            )
        if not with_y:
            X = check_array(X, allow_nd=True, dtype=np.float32, ensure_all_finite=False)
        else:
            X, y = check_X_y(X, y, allow_nd=True, dtype=np.float32, ensure_all_finite=False, multi_output=multi_output)
        X = _as_images(X)
        if reset:
            estimator.n_features_in_ = int(np.prod(X.shape[1:]))
            if hasattr(estimator, "feature_names_in_"):
                del estimator.feature_names_in_
    else:
        if ndim > 4:
            raise ValueError(
                f"{name} takes 2-D tabular data, (N, H, W) or (N, C, H, W) images; X has "
                f"{ndim} dimensions, shape {np.shape(X)}."
            )
        check_numeric_columns(X, name)
        kwargs = dict(reset=reset, dtype=np.float32, ensure_all_finite=False)
        if not with_y:
            X = validate_data(estimator, X, **kwargs)
        else:
            X, y = validate_data(estimator, X, y, multi_output=multi_output, **kwargs)
        if input_shape is not None:
            shape = tuple(int(v) for v in input_shape)
            if len(shape) == 2:
                shape = (1, *shape)
            if len(shape) != 3 or int(np.prod(shape)) != X.shape[1]:
                raise ValueError(
                    f"input_shape={tuple(input_shape)!r} must be (height, width) or (channels, "
                    f"height, width) holding the {X.shape[1]} features of each row of X; it holds "
                    f"{int(np.prod(shape))}."
                )
            X = X.reshape((X.shape[0], *shape))
    check_finite(X, name)
    sample_shape = tuple(X.shape[1:])
    if reset:
        estimator.input_shape_ = sample_shape
    elif sample_shape != estimator.input_shape_:
        raise ValueError(
            f"X has samples of shape {sample_shape}, but {name} was fitted on samples of shape "
            f"{estimator.input_shape_}. Pass data shaped like the training data."
        )
    return (X, y) if with_y else X
