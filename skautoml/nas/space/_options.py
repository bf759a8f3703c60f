"""Helpers the network spaces share: strict option lookups and checks of their settings and inputs."""
from numbers import Integral


def _is_member(value, options):
    """``value in options``, but strict about type: ``True`` is not ``1`` and ``3.0`` is not ``3``."""
    return any(type(value) is type(option) and value == option for option in options)


def _index(options, value):
    """Position of ``value`` in ``options``, strict about type (``True`` is not ``1``)."""
    for position, option in enumerate(options):
        if type(option) is type(value) and option == value:
            return position
    return list(options).index(value)


def _is_positive_int(value):
    return isinstance(value, Integral) and not isinstance(value, bool) and value >= 1


def _check_options(space, name, valid, what):
    values = getattr(space, name)
    if not isinstance(values, tuple) or not values or any(values.count(v) > 1 for v in values):
        raise ValueError(f"{name} must be a non-empty tuple without repeats, got {values!r}.")
    bad = [value for value in values if not valid(value)]
    if bad:
        raise ValueError(f"{name} must hold {what}; {bad!r} is not.")


def _image_shape(space, input_shape):
    if len(input_shape) != 3:
        raise ValueError(
            f"{type(space).__name__} builds networks for images of shape (channels, height, width); "
            f"got input_shape={tuple(input_shape)}. Pass image arrays (N, H, W) or (N, C, H, W), "
            "or use an MLP space (search_space='mlp') for tabular data."
        )
    return tuple(int(v) for v in input_shape)
