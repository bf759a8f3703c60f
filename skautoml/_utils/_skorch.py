"""The sink of skorch's callbacks."""


def callback_sink(verbose):
    """``print`` when ``verbose``; otherwise a sink that drops what a skorch callback says.

    skorch's callbacks print their messages (early stopping's "Restoring best
    model from epoch ...") whenever their ``sink is not print``, whatever the
    net's verbosity. ``ray.shutdown()`` leaves ``builtins.print`` replaced, so
    after it the default sink is no longer ``print`` and a quiet trial printed.
    """
    return print if verbose else _drop


def _drop(text):
    """Drop ``text``."""
