"""Choice of the torch device."""
import torch


def resolve_device(device):
    """Return the torch device string that ``device`` asks for.

    ``'auto'`` picks ``'cuda'`` when a CUDA GPU is available and ``'cpu'``
    otherwise; any other value is checked by torch and returned unchanged.
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a torch device; use 'auto', 'cpu', 'cuda' "
            "or 'cuda:N'."
        ) from exc
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was asked for but torch sees no CUDA GPU; "
            "use device='auto' to fall back to the CPU."
        )
    return str(device)
