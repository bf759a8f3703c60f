"""Deploy a fitted network: files that run without skautoml, and weights-only files that never unpickle.

* :func:`export` writes the final network of a fitted
  :class:`~skautoml.AutoNASClassifier`, with its input standardisation, a
  reshape of flat rows to the training shape and the softmax (of a fitted
  :class:`~skautoml.AutoNASRegressor`: the targets' de-standardisation
  instead, so that it outputs values in the units of ``y``), as a
  TorchScript file (runs with torch alone: ``torch.jit.load``) or an ONNX
  file (runs with ONNX Runtime; the ``onnx`` extra: ``pip install
  skautoml[onnx]``). The batch axis is dynamic; the class labels (or the
  targets' mean and scale), the input shape and the architecture travel in
  the file as JSON (TorchScript: the extra file ``skautoml.json``; ONNX:
  the metadata entry ``skautoml``).
* :func:`save_weights` / :func:`load_weights` keep the weights as tensors
  and everything else (space, architecture, classes or target statistics)
  as JSON in one ``torch.save`` file that :func:`load_weights` reads with
  ``torch.load(weights_only=True)``: loading runs no code from the file,
  unlike unpickling an estimator (``pickle.load`` runs whatever the file
  says: load pickles only from sources you trust).
"""
import copy
import dataclasses
import importlib
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

#: What :func:`export` writes.
FORMATS = ("torchscript", "onnx")
#: Name of the JSON description in an exported file (TorchScript extra file, ONNX metadata key).
METADATA_KEY = "skautoml"
_WEIGHTS_FORMAT = "skautoml-weights"
#: The weights format's versions: 1 holds a classifier; 2 (written for a regressor only, so that a classifier's
#: files stay readable by the skautoml that wrote version 1) adds the targets' statistics.
_WEIGHTS_VERSION, _REGRESSION_WEIGHTS_VERSION = 1, 2


class ExportedNetwork(nn.Module):
    """The final network as deployed: flat or shaped float32 rows in, class probabilities out.

    ``forward(x)`` reshapes ``x`` to ``(-1, *input_shape)`` (so rows of
    flattened images work too), applies the standardised network and a
    softmax over the classes.

    Parameters
    ----------
    module : nn.Module
        The fitted network behind its :class:`~skautoml.nas.space.Standardize` layer.
    input_shape : tuple of int
        Shape of one sample as the network reads it.
    """

    def __init__(self, module, input_shape):
        super().__init__()
        self.module = module
        self.input_shape = tuple(int(v) for v in input_shape)

    def forward(self, x):
        return torch.softmax(self._outputs(x), dim=1)

    def _outputs(self, x):
        return self.module(x.reshape((-1,) + self.input_shape))


class ExportedRegressorNetwork(ExportedNetwork):
    """The final network of a regressor as deployed: float32 rows in, predictions in the units of ``y`` out.

    ``forward(x)`` reshapes ``x`` as :class:`ExportedNetwork` does, applies
    the standardised network and de-standardises its outputs (times
    ``target_scale``, plus ``target_mean``); with ``vector``, the one
    output comes as a vector ``(N,)``, as the estimator predicts for 1-D
    ``y``, else as ``(N, n_outputs)``.

    Parameters
    ----------
    module : nn.Module
        The fitted network behind its :class:`~skautoml.nas.space.Standardize` layer.
    input_shape : tuple of int
    target_mean, target_scale : array-like of shape (n_outputs,)
    vector : bool
    """

    def __init__(self, module, input_shape, target_mean, target_scale, vector):
        super().__init__(module, input_shape)
        self.register_buffer("target_mean", torch.as_tensor(np.asarray(target_mean), dtype=torch.float32))
        self.register_buffer("target_scale", torch.as_tensor(np.asarray(target_scale), dtype=torch.float32))
        self.vector = bool(vector)

    def forward(self, x):
        y = self._outputs(x) * self.target_scale + self.target_mean
        return y[:, 0] if self.vector else y


class _LoadedNetwork:
    """A network read by :func:`load_weights`, run in batches on float rows or shaped samples."""

    def __init__(self, network, metadata):
        self.network = network.eval()
        self.metadata = metadata

    def _outputs(self, X, batch_size):
        X = np.asarray(X, dtype=np.float32)
        shape = tuple(self.network.input_shape)
        if X.ndim < 2 or X[0].size != int(np.prod(shape)):
            raise ValueError(
                f"X holds samples of shape {X.shape[1:]}; this network reads samples of shape {shape} "
                f"({int(np.prod(shape))} values each, as rows or shaped)."
            )
        X = torch.as_tensor(X)
        with torch.no_grad():
            outputs = torch.cat([self.network(X[i : i + batch_size]) for i in range(0, len(X), batch_size)])
        return outputs.numpy().astype(np.float64)


class LoadedClassifier(_LoadedNetwork):
    """A classifier's network read by :func:`load_weights`: ``predict_proba`` and ``predict`` as the estimator's.

    Attributes
    ----------
    network : ExportedNetwork
        In evaluation mode, on the CPU.
    classes_ : ndarray
    metadata : dict
        The JSON description saved with the weights.
    """

    def __init__(self, network, classes, metadata):
        super().__init__(network, metadata)
        self.classes_ = classes

    def predict_proba(self, X, batch_size=1024):
        """Class probabilities of float rows ``X`` (shaped like the training data), columns in ``classes_`` order."""
        proba = self._outputs(X, batch_size)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Predicted class labels."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class LoadedRegressor(_LoadedNetwork):
    """A regressor's network read by :func:`load_weights`: ``predict`` as the estimator's.

    Attributes
    ----------
    network : ExportedRegressorNetwork
        In evaluation mode, on the CPU; it de-standardises its outputs.
    n_outputs_ : int
    metadata : dict
        The JSON description saved with the weights.
    """

    def __init__(self, network, metadata):
        super().__init__(network, metadata)
        self.n_outputs_ = int(metadata["n_outputs"])

    def predict(self, X, batch_size=1024):
        """Predicted targets of float rows ``X`` (shaped like the training data), in the units of ``y``: shaped
        ``(n_samples,)`` for a regressor fitted on 1-D ``y``, else ``(n_samples, n_outputs_)``."""
        return self._outputs(X, batch_size)


def export(model, path, format="torchscript"):
    """Write the final network of a fitted ``model`` to ``path``, runnable without skautoml.

    The network outputs class probabilities (a classifier's, columns in the
    order of ``classes_``) or predictions in the units of ``y`` (a
    regressor's, shaped as its ``predict``: the network de-standardises the
    targets).

    Parameters
    ----------
    model : AutoNASClassifier or AutoNASRegressor
        Fitted with ``refit=True``.
    path : str or Path
        The file to write.
    format : {'torchscript', 'onnx'}, default='torchscript'
        ``'torchscript'``: load with ``torch.jit.load(path)`` (torch 2.13
        deprecates TorchScript in favour of ``torch.export``, but still runs
        it); ``'onnx'``: run with ``onnxruntime.InferenceSession(path)``
        (input ``'input'``, output ``'probabilities'``, or ``'predictions'``
        for a regressor); needs the ``onnx`` extra. The input takes samples as the estimator was fitted on them:
        rows of ``n_features_in_`` values for tables and for flattened images
        (``input_shape`` set), else images ``(N, C, H, W)`` (the TorchScript
        file takes either).

    Returns
    -------
    path : Path

    Examples
    --------
    >>> import json, tempfile, torch
    >>> from pathlib import Path
    >>> from sklearn.datasets import load_iris
    >>> from skautoml import AutoNASClassifier, export
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = AutoNASClassifier(max_trials=1, max_epochs=2, random_state=0).fit(X, y)
    >>> path = export(clf, Path(tempfile.mkdtemp()) / "iris.pt")
    >>> extra = {"skautoml.json": ""}
    >>> network = torch.jit.load(str(path), _extra_files=extra)
    >>> proba = network(torch.as_tensor(X[:3], dtype=torch.float32))
    >>> bool(torch.allclose(proba, torch.as_tensor(clf.predict_proba(X[:3]), dtype=torch.float32), atol=1e-5))
    True
    >>> json.loads(extra["skautoml.json"])["classes"]
    [0, 1, 2]
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}; got format={format!r}.")
    network, metadata = _deployable(model)
    path = Path(path)
    example = torch.zeros((2, *metadata["sample_shape"]))
    if format == "torchscript":
        with torch.no_grad(), warnings.catch_warnings():
            # torch 2.13 deprecates TorchScript in favour of torch.export; the format was asked for by name.
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
            traced = torch.jit.trace(network, example)
            torch.jit.save(traced, str(path), _extra_files={f"{METADATA_KEY}.json": json.dumps(metadata)})
        return path
    onnx = _require_onnx()
    batch = torch.export.Dim("batch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on its own internals
        torch.onnx.export(
            network, (example,), str(path), input_names=["input"], output_names=[_output_name(metadata)],
            dynamic_shapes=({0: batch},), dynamo=True, external_data=False, verbose=False,
        )
    document = onnx.load(str(path))
    entry = document.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(metadata)
    onnx.save(document, str(path))
    return path


def save_weights(model, path):
    """Write the final network of a fitted ``model`` as tensors and JSON to ``path`` (no pickled objects).

    :func:`load_weights` rebuilds it from its search space and architecture,
    so the architecture's space must be one of skautoml's.

    Parameters
    ----------
    model : AutoNASClassifier or AutoNASRegressor
        Fitted with ``refit=True``.
    path : str or Path

    Returns
    -------
    path : Path

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from skautoml import AutoNASClassifier
    >>> from skautoml import load_weights, save_weights
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = AutoNASClassifier(max_trials=1, max_epochs=2, random_state=0).fit(X, y)
    >>> loaded = load_weights(save_weights(clf, Path(tempfile.mkdtemp()) / "iris.weights"))
    >>> bool(np.allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-6))
    True
    """
    network, metadata = _deployable(model)
    from .nas import JointArchitecture

    space, architecture = model.final_space_, model.best_architecture_
    if isinstance(architecture, JointArchitecture):
        # Training settings do not change the weights' layout (a HeadDropout head keeps an nn.Linear's keys).
        space, architecture = space.network, architecture.architecture
    name = type(space).__name__
    if name not in _spaces():
        raise NotImplementedError(
            f"save_weights rebuilds networks from skautoml's spaces; {name} is not one of them "
            f"({sorted(_spaces())}). Use export(model, path) (TorchScript or ONNX) instead."
        )
    metadata["space"] = {"name": name, "params": _encode(vars(space))}
    metadata["architecture_value"] = _encode(architecture)
    state = {k: v.detach().cpu().clone() for k, v in network.module.state_dict().items()}
    version = _REGRESSION_WEIGHTS_VERSION if metadata["task"] == "regression" else _WEIGHTS_VERSION
    payload = {"format": _WEIGHTS_FORMAT, "version": version, "metadata": json.dumps(metadata), "state": state}
    path = Path(path)
    torch.save(payload, path)
    return path


def load_weights(path):
    """Read a file of :func:`save_weights` with ``torch.load(weights_only=True)``: no code from the file runs.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    LoadedClassifier or LoadedRegressor
        As the file holds a classifier's network or a regressor's.
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises its own unpickling errors for anything not plain data
        raise ValueError(f"{path} is not a weights file of skautoml.save_weights: {error}") from error
    if not isinstance(payload, dict) or payload.get("format") != _WEIGHTS_FORMAT:
        raise ValueError(f"{path} is not a weights file of skautoml.save_weights.")
    if payload.get("version") not in (_WEIGHTS_VERSION, _REGRESSION_WEIGHTS_VERSION):
        raise ValueError(
            f"{path} is version {payload.get('version')} of the weights format; this skautoml reads versions "
            f"{_WEIGHTS_VERSION} and {_REGRESSION_WEIGHTS_VERSION}."
        )
    from .nas.space import Standardize

    metadata = json.loads(payload["metadata"])
    space_entry = metadata["space"]
    space = _spaces()[space_entry["name"]](**_decode(space_entry["params"]))
    architecture = _decode(metadata["architecture_value"])
    state = payload["state"]
    regression = metadata.get("task") == "regression"
    n_outputs = metadata["n_outputs"] if regression else len(metadata["classes"])
    body = space.build(architecture, tuple(metadata["input_shape"]), n_outputs)
    module = nn.Sequential(Standardize(state["0.mean"], state["0.scale"]), body)
    module.load_state_dict(state)
    if regression:
        network = ExportedRegressorNetwork(
            module, metadata["input_shape"], metadata["target_mean"], metadata["target_scale"],
            metadata["target_ndim"] == 1,
        )
        return LoadedRegressor(network, metadata)
    classes = np.asarray(metadata["classes"])
    return LoadedClassifier(ExportedNetwork(module, metadata["input_shape"]), classes, metadata)


def _deployable(model):
    """The :class:`ExportedNetwork` of a fitted ``model`` (a CPU copy) and its JSON description."""
    from . import __version__

    check_is_fitted(model, "search_results_")
    if not hasattr(model, "best_estimator_"):
        raise ValueError(
            f"This {type(model).__name__} was fitted with refit=False and has no final network to export; "
            "fit it with refit=True."
        )
    module = copy.deepcopy(model.best_estimator_.module_).cpu()  # the estimator's own stays where it is
    metadata = {
        "estimator": type(model).__name__,
        "skautoml_version": __version__,
        "task": model._task,
        "input_shape": list(model.input_shape_),
        # What the exported file's input takes per sample: what the estimator was fitted on.
        "sample_shape": list(_sample_shape(model)),
        "n_features_in": int(model.n_features_in_),
        "architecture": str(model.best_architecture_),
    }
    if model._task != "regression":
        metadata.update(classes=model.classes_.tolist(), output="probabilities of the classes, in the order of 'classes'")
        return ExportedNetwork(module, model.input_shape_).eval(), metadata
    vector = model._target_ndim == 1
    metadata.update(
        n_outputs=int(model.n_outputs_),
        target_ndim=int(model._target_ndim),
        # float64 in JSON: the same float32 buffers as the exported network's after loading.
        target_mean=model.target_mean_.tolist(),
        target_scale=model.target_scale_.tolist(),
        output="predictions in the units of y, " + ("one value per sample" if vector else "one column per target"),
    )
    network = ExportedRegressorNetwork(module, model.input_shape_, model.target_mean_, model.target_scale_, vector)
    return network.eval(), metadata


def _output_name(metadata):
    """The name of the ONNX file's output."""
    return "predictions" if metadata["task"] == "regression" else "probabilities"


def _sample_shape(model):
    """One sample as ``model`` reads it: rows of ``n_features_in_`` values (tables, flattened images), else images."""
    if len(model.input_shape_) == 1 or getattr(model, "input_shape", None) is not None:
        return (int(model.n_features_in_),)
    return tuple(int(v) for v in model.input_shape_)


def _require_onnx():
    try:
        import onnx

        importlib.import_module("onnxscript")  # torch's ONNX exporter needs it
    except ImportError as error:
        raise ImportError(
            "format='onnx' needs the onnx extra: pip install 'skautoml[onnx]' (onnx, onnxscript and onnxruntime)."
        ) from error
    return onnx


def _spaces():
    from .nas import SPACES, MorphismSpace

    return {cls.__name__: cls for cls in [*SPACES.values(), MorphismSpace]}


def _architecture_types():
    from .nas import (
        Block,
        CellArchitecture,
        CNNArchitecture,
        CNNLayer,
        FactorizedArchitecture,
        HierarchicalArchitecture,
        MLPArchitecture,
        MorphArchitecture,
        StageChoice,
    )

    types = (
        Block, CellArchitecture, CNNArchitecture, CNNLayer, FactorizedArchitecture, HierarchicalArchitecture,
        MLPArchitecture, MorphArchitecture, StageChoice,
    )
    return {cls.__name__: cls for cls in types}


def _encode(value):
    """JSON-able form of a value of a space's settings or an architecture (dataclasses named, tuples kept apart)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"dataclass": type(value).__name__, "fields": fields}
    if isinstance(value, tuple):
        return {"tuple": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {"dict": {str(k): _encode(v) for k, v in value.items()}}
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot save a value of type {type(value).__name__} as JSON: {value!r}")


def _decode(value):
    """The inverse of :func:`_encode`; builds only skautoml's architecture dataclasses."""
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "tuple" in value:
        return tuple(_decode(v) for v in value["tuple"])
    if "dict" in value:
        return {k: _decode(v) for k, v in value["dict"].items()}
    types = _architecture_types()
    if value.get("dataclass") not in types:
        raise ValueError(f"unknown architecture type {value.get('dataclass')!r} in a weights file.")
    return types[value["dataclass"]](**{k: _decode(v) for k, v in value["fields"].items()})
