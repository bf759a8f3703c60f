"""DatetimeEncoder: datetime columns as their parts and seconds."""
import numpy as np
import pytest

from skautoml.prep import AutoCleaner, DatetimeEncoder

pd = pytest.importorskip("pandas")


def _frame():
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "when": pd.to_datetime(["2023-12-31 08:00", "2024-02-29 13:30", None, "2024-07-04 08:00"]),
            "city": ["a", "b", "a", None],
            "zoned": pd.to_datetime(["2024-01-01"] * 4).tz_localize("Europe/Paris"),
        }
    )


def test_parts_and_seconds_replace_each_datetime_column_in_place():
    X = _frame()
    before = X.copy()
    encoder = DatetimeEncoder().fit(X)
    out = encoder.transform(X)
    pd.testing.assert_frame_equal(X, before)  # the caller's frame is untouched
    assert encoder.datetime_columns_ == ["when", "zoned"]
    assert list(out.columns) == [
        "id", "when_year", "when_month", "when_day", "when_weekday", "when_hour", "when_seconds", "city",
        "zoned_seconds",
    ]
    assert list(out.columns) == list(encoder.get_feature_names_out())
    assert out["when_month"].tolist()[:2] == [12.0, 2.0] and np.isnan(out["when_month"][2])
    assert out["when_weekday"][1] == 3.0  # 29 February 2024 was a Thursday
    assert out["when_seconds"][0] == pd.Timestamp("2023-12-31 08:00").timestamp()
    assert out["zoned_seconds"][0] == pd.Timestamp("2023-12-31 23:00").timestamp()  # midnight in Paris, in UTC
    assert encoder.parts_["zoned"] == []  # one date: no part varies


def test_the_cleaner_after_it_sees_numbers_not_categories():
    X = _frame()
    cleaned = AutoCleaner().fit_transform(DatetimeEncoder().fit_transform(X))
    assert np.isfinite(cleaned).all()
    # Four distinct dates one-hot encoded would add columns; as parts they are 6 numbers.
    assert cleaned.shape[1] < AutoCleaner().fit_transform(X).shape[1] + 6


def test_arrays_pass_through_and_bad_parts_are_refused():
    X = np.arange(6.0).reshape(3, 2)
    assert DatetimeEncoder().fit_transform(X) is not None
    np.testing.assert_array_equal(DatetimeEncoder().fit_transform(X), X)
    with pytest.raises(ValueError, match="parts must be among"):
        DatetimeEncoder(parts=("century",)).fit(_frame())


def test_names_are_strings_and_a_clash_is_refused():
    X = pd.DataFrame({0: [1.0, 2.0], 1: pd.to_datetime(["2024-01-01", "2025-06-01"])})
    encoder = DatetimeEncoder()
    out = encoder.fit_transform(X)
    # Integer labels: named as scikit-learn names unnamed columns, in transform as in get_feature_names_out.
    names = ["x0", "x1_year", "x1_month", "x1_weekday", "x1_seconds"]
    assert list(out.columns) == list(encoder.get_feature_names_out()) == names
    clash = pd.DataFrame({"when": pd.to_datetime(["2024-01-01", "2025-06-01"]), "when_year": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"new columns \['when_year'\] have the names of other columns"):
        DatetimeEncoder().fit_transform(clash)
