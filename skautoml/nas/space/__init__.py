"""Search spaces: how an architecture is sampled, mutated, encoded and built."""
from ._base import SearchSpace
from ._chain import CNNArchitecture, CNNLayer, CNNSpace, MLPArchitecture, MLPSpace

__all__ = ["CNNArchitecture", "CNNLayer", "CNNSpace", "MLPArchitecture", "MLPSpace", "SearchSpace"]
