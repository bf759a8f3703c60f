"""Constructor parameters the scikit-learn way, for objects that are not estimators."""
import inspect


class ParamsMixin:
    """``get_params`` / ``set_params`` / ``repr`` over the constructor arguments.

    Strategies, subset searches and trial-stopping rules are parameters of
    estimators; with these methods ``clone``, ``get_params(deep=True)`` and
    ``set_params(strategy__name=...)`` work on the estimators that hold them.
    """

    def get_params(self, deep=True):
        """The constructor arguments, as given (``deep`` is accepted for scikit-learn's ``clone``)."""
        parameters = inspect.signature(type(self).__init__).parameters.values()
        return {
            p.name: getattr(self, p.name)
            for p in parameters
            if p.name != "self" and p.kind is p.POSITIONAL_OR_KEYWORD
        }

    def set_params(self, **params):
        """Set constructor arguments; returns ``self``."""
        valid = self.get_params()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; valid: {sorted(valid)}.")
            setattr(self, name, value)
        return self

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"
