"""Lazy exports (PEP 562): a package names its public objects without importing their modules."""
import importlib


def lazy_exports(package, exports):
    """``__getattr__``, ``__dir__`` and ``__all__`` for ``package`` exporting ``exports``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : dict of str to iterable of str
        Module (relative to ``package``, e.g. ``'._budget'``) -> the names it exports.

    Examples
    --------
    In a package's ``__init__.py``::

        __getattr__, __dir__, __all__ = lazy_exports(__name__, {"._budget": ["Budget"]})
    """
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where[name], package), name)
        globals_ = importlib.import_module(package).__dict__
        globals_[name] = value  # later look-ups skip __getattr__
        return value

    def __dir__():
        return sorted(where)

    return __getattr__, __dir__, sorted(where)
