"""Morphism-based architecture search: grow trained networks by function-preserving steps.

:class:`MorphismSpace` holds plain chains of batch-normalised layers; the
transforms :func:`net2wider`, :func:`net2deeper` and :func:`widen_kernel`
(Chen et al., 2016) turn a trained network into a larger one that computes
the same function, so a child starts where its parent stopped.
:class:`MorphismHillClimbing` (Elsken et al., 2017) and
:class:`MorphismBayesian` (after Auto-Keras, Jin et al., 2019) search by
training such children, as ask/tell strategies of the one search loop: a
proposal carries its parent's trained network (:class:`MorphedParent`).
"""
from ..._utils._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "._modules": ["MorphLayer", "MorphNet"],
        "._space": ["MorphArchitecture", "Morphism", "MorphismSpace"],
        "._strategies": ["MorphedParent", "MorphismBayesian", "MorphismHillClimbing", "MorphismStrategy"],
        "._transforms": ["apply_morphism", "find_morph_net", "net2deeper", "net2wider", "widen_kernel"],
    },
)
