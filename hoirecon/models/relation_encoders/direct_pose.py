"""The ablation baseline: predict the relative object pose directly (6D rotation + translation)."""
from typing import Optional, Tuple

import torch

from hoirecon.models.utils import matrix_to_rot6d, rot6d_to_matrix
from hoirecon.registry import RELATION_ENCODERS
from .base import BaseRelationEncoder, check_batch


@RELATION_ENCODERS.register_module()
class DirectRelativePose(BaseRelationEncoder):
    """Latent ``[rot6d(R_rel) (6), t_rel / translation_scale (3)]``: no anchors, no offsets, no fitted file.

    The 6D part holds the first two columns of ``R_rel`` (see :mod:`hoirecon.models.utils.rotation`); decoding
    orthonormalises them by Gram-Schmidt, so any 6-vector with independent columns decodes to a rotation.

    Args:
        translation_scale: metres per latent translation unit (> 0), e.g. 0.5 to bring typical human-object
            translations to unit range.

    Example:
        >>> enc = DirectRelativePose()
        >>> latent = enc.encode(torch.eye(3)[None], torch.zeros(1, 3), torch.zeros(1, dtype=torch.long), None)
        >>> latent.shape
        torch.Size([1, 9])
    """

    latent_dim = 9

    def __init__(self, translation_scale: float = 1.0) -> None:
        super().__init__()
        if not translation_scale > 0:
            raise ValueError(f'DirectRelativePose: translation_scale must be > 0, got {translation_scale}')
        self.translation_scale = float(translation_scale)
        self.register_buffer('human_anchor_indices', torch.zeros(0, dtype=torch.long), persistent=False)

    def extra_repr(self) -> str:
        return f'translation_scale={self.translation_scale}'

    def encode(self,
               rel_R: torch.Tensor,
               rel_t: torch.Tensor,
               object_labels: torch.Tensor,
               human_anchors: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, 9) latent of relative poses; labels and anchors are not used (see :class:`BaseRelationEncoder`)."""
        check_batch('DirectRelativePose.encode: rel_R', rel_R, (None, 3, 3))
        check_batch('DirectRelativePose.encode: rel_t', rel_t, (rel_R.shape[0], 3))
        return torch.cat([matrix_to_rot6d(rel_R), rel_t / self.translation_scale], dim=-1)

    def decode(self,
               latent: torch.Tensor,
               object_labels: torch.Tensor,
               human_anchors: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """``rel_R`` (B, 3, 3) and ``rel_t`` (B, 3) of (B, 9) latents."""
        check_batch('DirectRelativePose.decode: latent', latent, (None, self.latent_dim))
        return rot6d_to_matrix(latent[:, :6]), latent[:, 6:] * self.translation_scale
