"""Data augmentation: samplers that add rows (tabular over-sampling) and image augmenters."""
from ..._utils._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "._image": ["Brightness", "ChannelShuffle", "Contrast", "Cutout", "ElasticDeform", "GaussianBlur", "HorizontalFlip", "ImageAugmenter", "RandAugment", "RandomCrop", "Rotate", "Scale", "Translate", "UniformAugment", "VerticalFlip", "cutmix", "mixup"],
        "._batch": ["BatchAugment"],
        "._policy": ["AugmentPolicy", "AugmentPolicySearch", "PolicyOp", "PolicySpace"],
        "._tabular": ["AutoSMOTE", "GaussianNoiseOversampler", "MixupOversampler"],
    },
)
