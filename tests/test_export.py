"""Deployable networks: TorchScript and ONNX files that predict as the estimator does, weights-only files
(of the classifier and of the regressor)."""
import copy
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import NotFittedError

from skautoml import AutoNASClassifier, AutoNASRegressor, export, load_weights, save_weights
from skautoml._export import LoadedClassifier, LoadedRegressor, _decode, _encode
from skautoml.nas import CellSpace, CNNSpace, FactorizedSpace, HierarchicalSpace, MLPSpace, MorphismSpace


@pytest.fixture(scope="module")
def tabular():
    X, y = load_iris(return_X_y=True)
    clf = AutoNASClassifier(max_trials=1, max_epochs=2, random_state=0).fit(X, y)
    return clf, X


@pytest.fixture(scope="module")
def images():
    """A CNN on 8x8 digit images with string labels, given as flat rows with input_shape."""
    X, y = load_digits(return_X_y=True)
    X, y = X[:200], np.array([f"digit {d}" for d in y[:200]])
    clf = AutoNASClassifier(
        search_space=CNNSpace(max_layers=2, channels=(8,), stem_channels=(8,)), input_shape=(1, 8, 8),
        max_trials=1, max_epochs=1, random_state=0,
    ).fit(X, y)
    return clf, X


@pytest.fixture(scope="module")
def shaped_images():
    """A CNN on (N, 1, 8, 8) digit images."""
    X, y = load_digits(return_X_y=True)
    X = X[:200].reshape(-1, 1, 8, 8)
    space = CNNSpace(max_layers=2, channels=(8,), stem_channels=(8,))
    return AutoNASClassifier(search_space=space, max_trials=1, max_epochs=1, random_state=0).fit(X, y[:200]), X


CLASSIFIERS = ["tabular", "images", "shaped_images"]
REGRESSORS = ["regression_vector", "regression_columns", "regression_images"]


@pytest.fixture(params=CLASSIFIERS)
def fitted(request):
    return request.getfixturevalue(request.param)


def _assert_outputs_as_the_estimator(outputs, model, rows):
    """A classifier's file outputs ``predict_proba`` (within 1e-5), a regressor's ``predict`` (within 1e-5 of
    each value: float32 in the file, float64 in ``predict``), shaped the same."""
    if isinstance(model, AutoNASRegressor):
        expected, tolerance = model.predict(rows), {"rtol": 1e-5, "atol": 1e-6}
    else:
        expected, tolerance = model.predict_proba(rows), {"atol": 1e-5}
    assert outputs.shape == expected.shape
    np.testing.assert_allclose(outputs, expected, **tolerance)


@pytest.mark.parametrize("name", [*CLASSIFIERS, *REGRESSORS])
def test_torchscript_predicts_as_the_estimator_for_any_batch_size(name, request, tmp_path):
    model, X = request.getfixturevalue(name)
    extra = {"skautoml.json": ""}
    network = torch.jit.load(str(export(model, tmp_path / "model.pt")), _extra_files=extra)
    for rows in (X[:1], X[:37]):
        with torch.no_grad():
            outputs = network(torch.as_tensor(rows, dtype=torch.float32)).numpy()
        _assert_outputs_as_the_estimator(outputs, model, rows)
    metadata = json.loads(extra["skautoml.json"])
    assert metadata["estimator"] == type(model).__name__
    assert metadata["input_shape"] == list(model.input_shape_)
    assert metadata["architecture"] == str(model.best_architecture_)
    if isinstance(model, AutoNASRegressor):
        assert metadata["task"] == "regression" and "classes" not in metadata
        assert metadata["target_mean"] == model.target_mean_.tolist()
        assert metadata["target_scale"] == model.target_scale_.tolist() and metadata["n_outputs"] == model.n_outputs_
    else:
        assert metadata["task"] == "classification" and metadata["classes"] == model.classes_.tolist()


def test_torchscript_runs_with_torch_alone(images, tmp_path):
    clf, X = images
    path = export(clf, tmp_path / "model.pt")
    np.save(tmp_path / "rows.npy", X[:5].astype(np.float32))
    script = (
        "import sys, json, numpy, torch\n"
        "sys.modules['skautoml'] = None  # importing skautoml would fail\n"
        f"extra = {{'skautoml.json': ''}}\n"
        f"network = torch.jit.load({str(path)!r}, _extra_files=extra)\n"
        f"proba = network(torch.as_tensor(numpy.load({str(tmp_path / 'rows.npy')!r})))\n"
        "classes = json.loads(extra['skautoml.json'])['classes']\n"
        "print(json.dumps([classes[i] for i in proba.argmax(1).tolist()]))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == clf.predict(X[:5]).tolist()


@pytest.mark.parametrize("name", [*CLASSIFIERS, *REGRESSORS])
def test_onnx_runtime_predicts_as_the_estimator_for_any_batch_size(name, request, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    model, X = request.getfixturevalue(name)
    session = ort.InferenceSession(str(export(model, tmp_path / "model.onnx", format="onnx")))
    output = "predictions" if isinstance(model, AutoNASRegressor) else "probabilities"
    assert [i.name for i in session.get_inputs()] == ["input"] and [o.name for o in session.get_outputs()] == [output]
    for rows in (X[:1], X[:50]):
        (outputs,) = session.run([output], {"input": rows.astype(np.float32)})
        _assert_outputs_as_the_estimator(outputs, model, rows)
    metadata = json.loads(session.get_modelmeta().custom_metadata_map["skautoml"])
    if isinstance(model, AutoNASRegressor):
        assert metadata["target_ndim"] == np.ndim(model.predict(X[:2])) and "classes" not in metadata
    else:
        assert metadata["classes"] == model.classes_.tolist()


def test_onnx_without_the_extra_says_what_to_install(tabular, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    with pytest.raises(ImportError, match=r"pip install 'skautoml\[onnx\]'"):
        export(tabular[0], tmp_path / "model.onnx", format="onnx")


def test_weights_only_files_load_without_unpickling_and_predict_the_same(fitted, tmp_path):
    clf, X = fitted
    path = save_weights(clf, tmp_path / "model.weights")
    payload = torch.load(path, weights_only=True)  # plain tensors and strings
    assert set(payload) == {"format", "version", "metadata", "state"}
    loaded = load_weights(path)
    assert isinstance(loaded, LoadedClassifier)
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    assert loaded.classes_.tolist() == clf.classes_.tolist()
    with pytest.raises(ValueError, match="this network reads samples of shape"):
        loaded.predict(X.reshape(len(X), -1)[:, :3])


class _RunsCode:
    def __reduce__(self):
        return (print, ("this ran while loading",))


def test_load_weights_refuses_pickled_objects_and_other_files(tmp_path, capsys):
    evil = tmp_path / "evil.weights"
    torch.save({"format": "skautoml-weights", "payload": _RunsCode()}, evil)
    with pytest.raises(ValueError, match="not a weights file"):
        load_weights(evil)
    assert "this ran" not in capsys.readouterr().out
    plain = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(2)}, plain)
    with pytest.raises(ValueError, match="not a weights file"):
        load_weights(plain)
    with open(tmp_path / "pickled.pkl", "wb") as f:
        pickle.dump([1, 2], f)
    with pytest.raises(ValueError, match="not a weights file"):
        load_weights(tmp_path / "pickled.pkl")


def test_a_newer_weights_format_is_refused(tabular, tmp_path):
    path = save_weights(tabular[0], tmp_path / "model.weights")
    payload = torch.load(path, weights_only=True)
    payload["version"] = 99
    torch.save(payload, path)
    with pytest.raises(ValueError, match="version 99 of the weights format"):
        load_weights(path)


def test_exporting_leaves_the_estimator_as_it_was(tabular, tmp_path):
    clf, X = tabular
    before = clf.predict_proba(X)
    module = clf.best_estimator_.module_
    export(clf, tmp_path / "model.pt")
    save_weights(clf, tmp_path / "model.weights")
    assert clf.best_estimator_.module_ is module
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_bad_input_gets_clear_errors(tabular, tmp_path):
    clf, X = tabular
    with pytest.raises(ValueError, match="format must be one of"):
        export(clf, tmp_path / "model.tflite", format="tflite")
    with pytest.raises(NotFittedError):
        export(AutoNASClassifier(), tmp_path / "model.pt")
    unrefit = AutoNASClassifier(max_trials=1, max_epochs=1, refit=False, random_state=0).fit(X, load_iris().target)
    with pytest.raises(ValueError, match="refit=False"):
        export(unrefit, tmp_path / "model.pt")


def test_save_weights_needs_a_space_of_skautoml(tabular, tmp_path):
    class MySpace(MLPSpace):
        pass

    clf = copy.copy(tabular[0])
    clf.final_space_ = MySpace()
    with pytest.raises(NotImplementedError, match="MySpace is not one of them"):
        save_weights(clf, tmp_path / "model.weights")


@pytest.mark.parametrize(
    "space",
    [MLPSpace(), CNNSpace(stem_stride=2), CellSpace(), FactorizedSpace(), HierarchicalSpace(), MorphismSpace("cnn")],
    ids=lambda s: type(s).__name__,
)
def test_spaces_and_their_architectures_survive_json(space):
    rng = np.random.default_rng(0)
    for architecture in [space.sample(rng) for _ in range(5)]:
        assert _decode(json.loads(json.dumps(_encode(architecture)))) == architecture
    params = _decode(json.loads(json.dumps(_encode(vars(space)))))
    assert vars(type(space)(**params)) == vars(space)


def test_only_architecture_types_of_skautoml_are_decoded():
    with pytest.raises(ValueError, match="unknown architecture type 'Popen'"):
        _decode({"dataclass": "Popen", "fields": {"args": "rm -rf /"}})


# --------------------------------------------------------------------------- AutoNASRegressor


def _regression_data(n=200):
    """Targets around 50 and -100, far from the standardised ones the network learns."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 4))
    y = 50 + 10 * (X[:, 0] - X[:, 1])
    return X, y, np.c_[y, -100 + 5 * X[:, 2]]


@pytest.fixture(scope="module")
def regression_vector():
    X, y, _ = _regression_data()
    return AutoNASRegressor(max_trials=1, max_epochs=2, random_state=0).fit(X, y), X


@pytest.fixture(scope="module")
def regression_columns():
    """Two targets, with a constant third (scale 0: predicted as the constant)."""
    X, _, Y = _regression_data()
    Y = np.c_[Y, np.full(len(Y), 0.1)]
    return AutoNASRegressor(max_trials=1, max_epochs=2, random_state=0).fit(X, Y), X


@pytest.fixture(scope="module")
def regression_images():
    """A CNN regressor on flat rows of 8x8 digits (input_shape), predicting their brightness."""
    X = load_digits().data[:200]
    return AutoNASRegressor(
        search_space=CNNSpace(max_layers=2, channels=(8,), stem_channels=(8,)), input_shape=(1, 8, 8),
        max_trials=1, max_epochs=1, random_state=0,
    ).fit(X, 10 + X.mean(axis=1)), X


@pytest.fixture(params=REGRESSORS)
def fitted_regressor(request):
    return request.getfixturevalue(request.param)


def test_weights_of_a_regressor_load_as_a_regressor_that_predicts_the_same(fitted_regressor, tmp_path):
    reg, X = fitted_regressor
    path = save_weights(reg, tmp_path / "model.weights")
    assert torch.load(path, weights_only=True)["version"] == 2  # a version that older readers refuse clearly
    loaded = load_weights(path)
    assert isinstance(loaded, LoadedRegressor) and loaded.n_outputs_ == reg.n_outputs_
    _assert_outputs_as_the_estimator(loaded.predict(X), reg, X)
    with pytest.raises(ValueError, match="this network reads samples of shape"):
        loaded.predict(X.reshape(len(X), -1)[:, :3])


def test_a_constant_target_is_exported_as_the_constant(regression_columns, tmp_path):
    reg, X = regression_columns
    assert reg.target_scale_[2] == 0.0
    network = torch.jit.load(str(export(reg, tmp_path / "model.pt")))
    with torch.no_grad():
        outputs = network(torch.as_tensor(X, dtype=torch.float32)).numpy()
    np.testing.assert_array_equal(outputs[:, 2], np.float32(0.1))
