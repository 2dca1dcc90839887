"""Which points lie inside a closed triangle mesh: the generalised winding number (the solid angles of the faces seen
from the point, summed over the mesh, over 4 pi; Van Oosterom and Strackee's formula for one triangle). It is exact
for any watertight mesh whatever its shape (chairs, tables), where the sign of the nearest surface sample's normal
is not (a point outside near an edge or under a seat reads as inside)."""
import torch


def winding_numbers(points: torch.Tensor, vertices: torch.Tensor, faces: torch.Tensor,
                    chunk: int = 2048) -> torch.Tensor:
    """(N,) winding numbers of ``points`` (N, 3) about the mesh ``vertices`` (V, 3), ``faces`` (F, 3) (outward or
    inward winding gives +1 / -1 inside, 0 outside), summed over chunks of ``chunk`` faces. No gradient is kept."""
    with torch.no_grad():
        total = torch.zeros(len(points), dtype=points.dtype, device=points.device)
        for start in range(0, len(faces), chunk):
            tri = vertices[faces[start:start + chunk]]  # (f, 3, 3)
            a, b, c = (tri[None, :, k] - points[:, None] for k in range(3))  # (N, f, 3)
            la, lb, lc = a.norm(dim=-1), b.norm(dim=-1), c.norm(dim=-1)
            numerator = (a * torch.cross(b, c, dim=-1)).sum(-1)
            denominator = la * lb * lc + (a * b).sum(-1) * lc + (b * c).sum(-1) * la + (c * a).sum(-1) * lb
            total += 2 * torch.atan2(numerator, denominator).sum(-1)
        return total / (4 * torch.pi)


def inside_mesh(points: torch.Tensor, vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """(N,) bool: the points whose winding number about the closed mesh is above one half in magnitude."""
    return winding_numbers(points, vertices, faces).abs() > 0.5


__all__ = ['inside_mesh', 'winding_numbers']
