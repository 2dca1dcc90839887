"""StackFLOW's offset PCA, computed and stored exactly in the small anchor space.

StackFLOW flattens the offsets ``x_ij = o_j - h_i`` between every human anchor
``h_i`` (A of them) and every object anchor ``o_j`` (K of them) into one vector
of ``A * K * 3`` numbers (135168 for A=704, K=64) and fits a PCA on it per
object. That vector is a linear function of the anchors themselves,
``x = M y`` with ``y = [h; o]`` of ``(A + K) * 3`` numbers (2304), so every
sample, the PCA mean and the PCA components lie in ``range(M)``. This module
fits the same PCA in ``y``-space:

* ``G = M^T M`` is, for each coordinate, the ``(A+K) x (A+K)`` matrix
  ``[[K I_A, -1], [-1^T, A I_K]]``; its only null direction is a common
  translation of all anchors (which leaves every offset unchanged).
* With ``G_c = E S E^T`` restricted to its range, the coordinates
  ``u = S^{1/2} E^T y`` (per coordinate) satisfy ``|x - x'| = |u - u'|``: the map
  ``u -> x`` is an isometry onto ``range(M)``. A PCA on ``u`` therefore has the
  same explained variances as the PCA on ``x`` and components that map one to
  one onto the components of ``x`` (up to the usual per-component sign).
* Mapped back: decoding ``(h_hat, o_hat) = mean_y + B gamma`` gives
  ``x_hat_ij = o_hat_j - h_hat_i = C^T gamma + mean_x`` and encoding
  ``gamma = W (y - mean_y)`` equals ``C (x - mean_x)``.

Layout of ``y``: the ``A`` human anchors, then the ``K`` object anchors, each
point's (x, y, z) in turn: ``y.reshape(A + K, 3)`` gives the points.
"""
from typing import Dict, Tuple

import numpy as np
from sklearn.decomposition import PCA


def pairwise_offsets(human_anchors, object_anchors):
    """All human-to-object anchor offsets ``x_ij = o_j - h_i`` (numpy arrays or torch tensors).

    Args:
        human_anchors: (..., A, 3) human anchors h, metres.
        object_anchors: (..., K, 3) object anchors o, metres.

    Returns:
        (..., A, K, 3) offsets, metres; ``.reshape(..., -1)`` is StackFLOW's flattened offset vector.
    """
    return object_anchors[..., None, :, :] - human_anchors[..., :, None, :]


def offset_gram_matrix(num_human: int, num_object: int) -> np.ndarray:
    """Per-coordinate Gram matrix ``G_c`` of the anchor-to-offset map (``G = M^T M = G_c (x) I_3``).

    Args:
        num_human: number of human anchors A.
        num_object: number of object anchors K.

    Returns:
        (A + K, A + K) float64 ``[[K I_A, -1], [-1^T, A I_K]]``.
    """
    size = num_human + num_object
    gram = -np.ones((size, size))
    gram[:num_human, :num_human] = num_object * np.eye(num_human)
    gram[num_human:, num_human:] = num_human * np.eye(num_object)
    return gram


def centred_basis(size: int) -> np.ndarray:
    """Orthonormal basis of the vectors of R^size with zero sum (Helmert's columns).

    Column k-1 (k = 1 .. size-1) is ``(1, ..., 1, -k, 0, ..., 0) / sqrt(k (k + 1))`` with k ones.

    Returns:
        (size, size - 1) float64.
    """
    k = np.arange(1, size)
    basis = (np.arange(size)[:, None] < k).astype(np.float64)
    basis[k, k - 1] = -k
    return basis / np.sqrt(k * (k + 1.0))


def isometric_basis(num_human: int, num_object: int) -> Tuple[np.ndarray, np.ndarray]:
    """Eigenvectors and square-rooted eigenvalues of ``G_c`` on its range, in closed form.

    ``G_c`` has eigenvalue K on zero-sum human-anchor vectors (A - 1 of them), A on zero-sum object-anchor vectors
    (K - 1), A + K on ``(K 1_A, -A 1_K)`` and 0 on the common translation ``(1_A, 1_K)``, which is left out.

    Args:
        num_human: number of human anchors A (>= 1).
        num_object: number of object anchors K (>= 1).

    Returns:
        ``E`` (A + K, A + K - 1) orthonormal columns and ``sqrt(S)`` (A + K - 1,) positive, float64, such that
        ``u = sqrt(S) * (E^T y_c)`` are isometric coordinates of the offsets (per coordinate c).
    """
    if num_human < 1 or num_object < 1:
        raise ValueError(f'need at least one human and one object anchor, got {num_human} and {num_object}')
    size = num_human + num_object
    eigvecs = np.zeros((size, size - 1))
    eigvecs[:num_human, :num_human - 1] = centred_basis(num_human)
    eigvecs[num_human:, num_human - 1:size - 2] = centred_basis(num_object)
    eigvecs[:num_human, -1] = num_object
    eigvecs[num_human:, -1] = -num_human
    eigvecs[:, -1] /= np.linalg.norm(eigvecs[:, -1])
    eigenvalues = np.concatenate([np.full(num_human - 1, num_object),
                                  np.full(num_object - 1, num_human), [size]]).astype(np.float64)
    return eigvecs, np.sqrt(eigenvalues)


def fit_anchor_space_pca(anchors: np.ndarray, num_human: int, pca_dim: int) -> Dict[str, np.ndarray]:
    """PCA of the pairwise offsets of ``anchors``, fitted and expressed in anchor space.

    Fits ``sklearn.decomposition.PCA`` on isometric coordinates of the offsets (see the module docstring), so the
    result equals a PCA fitted on the flattened ``(N, A*K*3)`` offsets. With N samples at most ``N - 1`` components
    carry variance: when ``pca_dim > N - 1`` only ``N - 1`` are fitted and the rest are zero (``num_components``
    says how many are real); a single sample gives the mean alone.

    Args:
        anchors: (N, A + K, 3) float anchors per sample, human anchors first (metres, HOI frame), N >= 1.
        num_human: A, the number of human anchors in each sample.
        pca_dim: number of components d.

    Returns:
        dict of float64 arrays (P = A + K)::

            mean_y                   (3P,)    mean anchors; their pairwise offsets are the PCA mean of x
            decode_basis             (3P, d)  B: anchors of the reconstruction = mean_y + B gamma
            encode_basis             (d, 3P)  W: gamma = W (y - mean_y) = C (x - mean_x)
            explained_variance       (d,)     variance of x along each component, m^2
            explained_variance_ratio (d,)     its fraction of the total variance of x
            num_components           ()       int64, components fitted (<= d)
    """
    anchors = np.asarray(anchors, dtype=np.float64)
    if anchors.ndim != 3 or anchors.shape[2] != 3 or len(anchors) < 1 or not 0 < num_human < anchors.shape[1]:
        raise ValueError(f'anchors must have shape (N >= 1, A + K, 3) with 0 < A={num_human} < A + K, '
                         f'got {anchors.shape}')
    num_samples, num_points, _ = anchors.shape
    eigvecs, sqrt_eig = isometric_basis(num_human, num_points - num_human)
    to_isometric = eigvecs * sqrt_eig  # (P, r): u_c = y_c @ to_isometric
    from_isometric = eigvecs / sqrt_eig  # (P, r): y_c = from_isometric @ u_c (the component without null part)
    coords = (anchors.transpose(0, 2, 1) @ to_isometric).reshape(num_samples, -1)  # (N, 3r), layout (c, r)

    num_components = min(pca_dim, num_samples - 1)
    mean_u = coords.mean(axis=0)
    components = np.zeros((pca_dim, coords.shape[1]))
    variance = np.zeros(pca_dim)
    variance_ratio = np.zeros(pca_dim)
    if num_components > 0:
        # covariance_eigh is exact and fast for tall data; 'full' SVD otherwise (never the randomised solver).
        solver = 'covariance_eigh' if num_samples >= coords.shape[1] else 'full'
        pca = PCA(n_components=num_components, svd_solver=solver).fit(coords)
        mean_u = pca.mean_
        components[:num_components] = pca.components_
        variance[:num_components] = pca.explained_variance_
        variance_ratio[:num_components] = pca.explained_variance_ratio_

    def to_anchor_space(vectors: np.ndarray, basis: np.ndarray) -> np.ndarray:
        """(n, 3r) isometric vectors -> (n, 3P) anchor vectors through ``basis`` (P, r)."""
        return (vectors.reshape(len(vectors), 3, -1) @ basis.T).transpose(0, 2, 1).reshape(len(vectors), -1)

    return {
        'mean_y': to_anchor_space(mean_u[None], from_isometric)[0],
        'decode_basis': to_anchor_space(components, from_isometric).T,
        'encode_basis': to_anchor_space(components, to_isometric),
        'explained_variance': variance,
        'explained_variance_ratio': variance_ratio,
        'num_components': np.int64(num_components),
    }
