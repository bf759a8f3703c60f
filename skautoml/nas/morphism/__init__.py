"""Morphism-based architecture search: grow trained networks by function-preserving steps.

:class:`MorphismSpace` holds plain chains of batch-normalised layers; the
transforms :func:`net2wider`, :func:`net2deeper` and :func:`widen_kernel`
(Chen et al., 2016) turn a trained network into a larger one that computes
the same function, so a child starts where its parent stopped.
:class:`MorphismHillClimbing` (Elsken et al., 2017) and
:class:`MorphismBayesian` (after Auto-Keras, Jin et al., 2019) search by
training such children.
"""
from ._modules import MorphLayer, MorphNet
from ._space import MorphArchitecture, Morphism, MorphismSpace
from ._strategies import MorphismBayesian, MorphismHillClimbing, MorphismStrategy, MorphismTrialResult
from ._transforms import apply_morphism, find_morph_net, net2deeper, net2wider, widen_kernel

__all__ = [
    "MorphArchitecture",
    "MorphLayer",
    "MorphNet",
    "Morphism",
    "MorphismBayesian",
    "MorphismHillClimbing",
    "MorphismSpace",
    "MorphismStrategy",
    "MorphismTrialResult",
    "apply_morphism",
    "find_morph_net",
    "net2deeper",
    "net2wider",
    "widen_kernel",
]
