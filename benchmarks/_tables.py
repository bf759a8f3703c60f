"""Tables for the AutoML benchmark: scikit-learn's bundled sets and two generated dirty ones (DataFrames)."""
import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine

#: name -> task
TABLES = {
    "breast_cancer": "classification",
    "wine": "classification",
    "digits": "classification",
    "diabetes": "regression",
    "dirty_linear": "classification",
    "dirty_interactions": "classification",
}


def _dirty_frame(rng, n, signal_columns):
    """Columns around ``signal_columns``: Gaussian and heavy-tailed noise, a constant, booleans."""
    frame = pd.DataFrame(signal_columns)
    frame["noise_a"] = rng.normal(size=n)
    frame["noise_b"] = rng.standard_t(2, size=n)  # heavy tails
    frame["constant"] = 1.0
    frame["flag"] = rng.random(n) < 0.3
    return frame


def _dirty(frame, rng):
    """Missing values, outliers and duplicated rows (the labels follow the rows)."""
    numeric = frame.select_dtypes("number").columns.drop("constant")
    for column in numeric:
        frame.loc[rng.random(len(frame)) < 0.08, column] = np.nan
        outliers = rng.random(len(frame)) < 0.01
        frame.loc[outliers, column] = frame[column].mean() + 40 * frame[column].std()
    for column in frame.select_dtypes("object").columns:
        frame.loc[rng.random(len(frame)) < 0.08, column] = None
    return frame


def dirty_linear(n=3000, seed=0):
    """A label that is a linear rule of numbers and a string category, with a 15 % minority class."""
    rng = np.random.default_rng(seed)
    income, debt, age = rng.normal(size=n), rng.normal(size=n), rng.uniform(18, 80, n)
    region = rng.choice(["north", "south", "east", "west", "islands"], n, p=[0.3, 0.3, 0.2, 0.17, 0.03])
    effect = pd.Series(region).map({"north": 0.0, "south": 0.5, "east": -0.5, "west": 1.0, "islands": 2.0}).to_numpy()
    logit = 1.5 * income - 1.0 * debt + 0.02 * (age - 50) + effect + rng.logistic(size=n) * 0.8
    y = (logit > np.quantile(logit, 0.85)).astype(int)
    frame = _dirty_frame(rng, n, {"income": income, "debt": debt, "age": age, "region": region.astype(object)})
    frame = _dirty(frame, rng)
    duplicates = rng.choice(n, n // 20, replace=False)  # 5 % duplicated rows
    frame = pd.concat([frame, frame.iloc[duplicates]], ignore_index=True)
    return frame, np.r_[y, y[duplicates]].astype(str)


def dirty_interactions(n=3000, seed=0):
    """A label of thresholds and interactions (trees' ground), three classes, one of them 10 %."""
    rng = np.random.default_rng(seed)
    x1, x2, x3 = rng.uniform(-2, 2, n), rng.uniform(-2, 2, n), rng.normal(size=n)
    shop = rng.choice(["web", "store", "phone"], n).astype(object)
    score = np.where((x1 > 0) ^ (x2 > 0.5), 1.0, -1.0) + 0.8 * np.sin(2 * x3) + (shop == "phone") * 0.7
    score += rng.normal(scale=0.4, size=n)
    y = np.where(score > 1.3, "high", np.where(score > -0.2, "mid", "low"))
    frame = _dirty_frame(rng, n, {"x1": x1, "x2": x2, "x3": x3, "shop": shop})
    frame = _dirty(frame, rng)
    duplicates = rng.choice(n, n // 20, replace=False)
    frame = pd.concat([frame, frame.iloc[duplicates]], ignore_index=True)
    return frame, np.r_[y, y[duplicates]]


def load_table(name):
    """``(X, y)`` of a benchmark table: a DataFrame and a target array."""
    if name == "dirty_linear":
        return dirty_linear()
    if name == "dirty_interactions":
        return dirty_interactions()
    loader = {"breast_cancer": load_breast_cancer, "wine": load_wine, "digits": load_digits,
              "diabetes": load_diabetes}[name]
    data = loader(as_frame=True)
    return data.data, data.target.to_numpy()
