"""Official StackFLOW checkpoints and offset-PCA pickles <-> hoirecon state dicts and offset-PCA files.

The official training script saves ``{'epoch', 'backbone', 'header', 'stackflow'}`` (plus ``'optimizer'`` before
cleaning), three state dicts (docs/fidelity.md, "Official checkpoints"). This module maps their keys onto the modules
of ``configs/stackflow_behave_official.py`` (the paper model with ``rot6d_convention='pytorch3d'``) and back; the
numbers are copied unchanged except ``init_cam`` (reshaped to (1, 3)). The offset-PCA pickle (per object: ``mean``
(A*K*3,), ``components`` (d, A*K*3), ``smpl_anchor_indices``, ``object_anchor_indices``) becomes hoirecon's anchor-space
``.npz`` exactly (docs/relation_encoders.md §2: encoding and decoding agree with the pickle's PCA to float rounding).

Key map (``l`` = flow layer, ``b`` = residual block; official -> hoirecon)::

    backbone.0.* / 1.* / 4.*..7.* / 9.*            backbone.conv1.* / bn1.* / layer1.*..layer4.* / out_proj.*
    header.init_cam, layers.{0,2}.*                shape_head.init_cam (1, 3), layers.{0,2}.*
    stackflow.smpl_flow.flow._transform._transforms.{i}.*   head.pose_flow.layers.{i}.*
    stackflow.offset_flow.flow._transform._transforms.{i}.* head.relation_flow.layers.{i}.*
        {3l}: log_scale, shift, initialized                     (ActNorm, same names)
        {3l+1}: lower_entries, upper_entries, unconstrained_upper_diag, bias   (TriangularLULinear, same names)
        {3l+2}: transform_net.initial_layer.*                   shift_net.input_layer.*
                transform_net.blocks.b.batch_norm_layers.0/1.*  shift_net.blocks.b.norm1/norm2.*
                transform_net.blocks.b.linear_layers.0/1.*      shift_net.blocks.b.linear1/linear2.*
                transform_net.final_layer.*                     shift_net.output_layer.*
                identity_features, transform_features           checked (even/odd split alternating), dropped
    stackflow.smpl_pose_embedding.*                head.relation_context.pose_embedding.*
    stackflow.object_embedding.weight              head.relation_context.object_embedding.weight
    any *dummy_buffer, *_distribution._log_z       dropped
"""
import pickle
import re
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch

from hoirecon.models.relation_encoders.offset_space import isometric_basis
from hoirecon.models.relation_encoders.pca_file import OFFSET_PCA_FORMAT_VERSION

#: The three state dicts of an official checkpoint.
OFFICIAL_PARTS = ('backbone', 'header', 'stackflow')
#: Positional modules of the official backbone (``nn.Sequential(*resnet50.children()[:-1], Conv2d(2048, C, 1))``).
BACKBONE_INDEX = {'0': 'conv1', '1': 'bn1', '4': 'layer1', '5': 'layer2', '6': 'layer3', '7': 'layer4', '9': 'out_proj'}
#: The two flows: official prefix -> hoirecon prefix.
FLOW_PREFIXES = (('smpl_flow.flow._transform._transforms.', 'head.pose_flow.layers.'),
                 ('offset_flow.flow._transform._transforms.', 'head.relation_flow.layers.'))
#: Coupling-layer names inside one transform (official -> hoirecon), matched at the start of the rest of the key.
COUPLING_NAMES = (('transform_net.initial_layer.', 'shift_net.input_layer.'),
                  ('transform_net.final_layer.', 'shift_net.output_layer.'))
BLOCK_NAMES = {('batch_norm_layers', '0'): 'norm1', ('batch_norm_layers', '1'): 'norm2',
               ('linear_layers', '0'): 'linear1', ('linear_layers', '1'): 'linear2'}
EMBEDDINGS = (('smpl_pose_embedding.', 'head.relation_context.pose_embedding.'),
              ('object_embedding.', 'head.relation_context.object_embedding.'))
#: Official keys that carry no state of hoirecon's modules.
DROPPED_SUFFIXES = ('dummy_buffer', '_distribution._log_z')


class StackFLOWCheckpointError(ValueError):
    """An official checkpoint (or PCA pickle) does not have the layout the converter knows."""


def _coupling_index(features: int, layer: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """(identity, transform) feature indices of coupling ``layer`` (nflows' mask: -1 on even ids first, then
    flipped every layer), i.e. hoirecon's ``AdditiveCoupling(parity=layer % 2)``."""
    index = torch.arange(features)
    parity = layer % 2
    return index[parity::2], index[1 - parity::2]


def _map_flow_key(rest: str, where: str) -> Optional[str]:
    """hoirecon name (after ``layers.``) of an official flow key ``rest`` (after ``_transforms.``); None to drop."""
    index, _, name = rest.partition('.')
    if not index.isdigit():
        raise StackFLOWCheckpointError(f'{where}: unexpected flow key {rest!r}')
    kind = int(index) % 3
    if kind in (0, 1):  # ActNorm / LU linear: same parameter names
        return rest
    if name in ('identity_features', 'transform_features'):
        return None
    for official, ours in COUPLING_NAMES:
        if name.startswith(official):
            return f'{index}.{ours}{name[len(official):]}'
    match = re.fullmatch(r'transform_net\.blocks\.(\d+)\.(batch_norm_layers|linear_layers)\.(\d+)\.(.+)', name)
    if match and (match.group(2), match.group(3)) in BLOCK_NAMES:
        block, kind_name, sub, leaf = match.groups()
        return f'{index}.shift_net.blocks.{block}.{BLOCK_NAMES[(kind_name, sub)]}.{leaf}'
    raise StackFLOWCheckpointError(f'{where}: unknown coupling key {rest!r} (a flow with context inside its residual '
                                   'blocks is not StackFLOW\'s; see docs/fidelity.md row 6)')


def _check_coupling_buffer(key: str, value: torch.Tensor, stackflow: Mapping, prefix: str, rest: str) -> None:
    """Raise unless an official coupling index buffer holds the split hoirecon's coupling of that layer uses."""
    index, _, name = rest.partition('.')
    features_key = f'{prefix}{int(index) - 2}.log_scale'
    if features_key not in stackflow:
        raise StackFLOWCheckpointError(f'{key}: no ActNorm {features_key} before this coupling layer')
    identity, transform = _coupling_index(int(stackflow[features_key].numel()), int(index) // 3)
    expected = identity if name == 'identity_features' else transform
    if not torch.equal(expected, value.long().cpu().reshape(-1)):
        raise StackFLOWCheckpointError(f'{key}: the coupling split {value.tolist()[:8]} is not nflows\' alternating '
                                       f'even/odd split of layer {int(index) // 3} ({expected.tolist()[:8]})')


def stackflow_to_hoirecon_state(checkpoint: Mapping) -> 'OrderedDict[str, torch.Tensor]':
    """Map an official checkpoint's three state dicts to hoirecon's model keys (docs/fidelity.md).

    Args:
        checkpoint: ``torch.load(path, map_location='cpu')`` of an official checkpoint (``'optimizer'`` and
            ``'epoch'`` are ignored).

    Returns:
        hoirecon state dict of ``backbone``, ``shape_head`` and ``head`` (no relation-encoder buffers: those come from
        the PCA, :func:`stackflow_pca_to_arrays`).

    Raises:
        StackFLOWCheckpointError: a part is missing or a key has no hoirecon counterpart (the message names it).
    """
    missing = [part for part in OFFICIAL_PARTS if part not in checkpoint]
    if missing:
        raise StackFLOWCheckpointError(f'not an official StackFLOW checkpoint: no {missing} entries (found '
                                       f'{sorted(checkpoint)[:8]}); expected {list(OFFICIAL_PARTS)}')
    state = OrderedDict()
    for key, value in checkpoint['backbone'].items():
        index, _, rest = key.partition('.')
        if index not in BACKBONE_INDEX:
            raise StackFLOWCheckpointError(f'backbone.{key}: index {index} is not a module of torchvision\'s '
                                           f'ResNet-50 + 1x1 conv ({sorted(BACKBONE_INDEX)})')
        state[f'backbone.{BACKBONE_INDEX[index]}.{rest}'] = value
    for key, value in checkpoint['header'].items():
        state[f'shape_head.{key}'] = value.reshape(1, 3) if key == 'init_cam' else value
    for key, value in checkpoint['stackflow'].items():
        where = f'stackflow.{key}'
        if key.endswith(DROPPED_SUFFIXES):
            continue
        for official, ours in FLOW_PREFIXES:
            if key.startswith(official):
                rest = key[len(official):]
                name = _map_flow_key(rest, where)
                if name is None:
                    _check_coupling_buffer(where, value, checkpoint['stackflow'], official, rest)
                else:
                    state[ours + name] = value
                break
        else:
            for official, ours in EMBEDDINGS:
                if key.startswith(official):
                    state[ours + key[len(official):]] = value
                    break
            else:
                raise StackFLOWCheckpointError(f'{where}: no hoirecon counterpart (known: the two flows, '
                                               'smpl_pose_embedding, object_embedding)')
    return state


def hoirecon_to_stackflow_state(state: Mapping[str, torch.Tensor], epoch: int = 0) -> dict:
    """The inverse of :func:`stackflow_to_hoirecon_state`: a hoirecon paper-model state dict in the official layout.

    The coupling index buffers are written from the split each layer uses; relation-encoder buffers are left out.

    Args:
        state: hoirecon state dict (``backbone.*``, ``shape_head.*``, ``head.*``; others are ignored).
        epoch: the ``'epoch'`` entry to write.

    Returns:
        ``{'epoch', 'backbone', 'header', 'stackflow'}``.
    """
    backbone_names = {name: index for index, name in BACKBONE_INDEX.items()}
    out = {'epoch': int(epoch), 'backbone': OrderedDict(), 'header': OrderedDict(), 'stackflow': OrderedDict()}
    block_names = {ours: f'{kind}.{sub}' for (kind, sub), ours in BLOCK_NAMES.items()}
    couplings = {}
    for key, value in state.items():
        if key.startswith('backbone.'):
            module, _, rest = key[len('backbone.'):].partition('.')
            if module not in backbone_names:
                raise StackFLOWCheckpointError(f'{key}: no official backbone module')
            out['backbone'][f'{backbone_names[module]}.{rest}'] = value
        elif key.startswith('shape_head.'):
            name = key[len('shape_head.'):]
            out['header'][name] = value.reshape(3) if name == 'init_cam' else value
        elif key.startswith('head.'):
            for official, ours in FLOW_PREFIXES:
                if key.startswith(ours):
                    index, _, name = key[len(ours):].partition('.')
                    if int(index) % 3 == 2:
                        couplings[(official, int(index))] = value
                        for hoirecon_name, official_name in ((b, a) for a, b in COUPLING_NAMES):
                            if name.startswith(hoirecon_name):
                                name = official_name + name[len(hoirecon_name):]
                                break
                        else:
                            match = re.fullmatch(r'shift_net\.blocks\.(\d+)\.(norm1|norm2|linear1|linear2)\.(.+)', name)
                            if match is None:
                                raise StackFLOWCheckpointError(f'{key}: no official counterpart')
                            block, module, leaf = match.groups()
                            name = f'transform_net.blocks.{block}.{block_names[module]}.{leaf}'
                    out['stackflow'][f'{official}{index}.{name}'] = value
                    break
            else:
                for official, ours in EMBEDDINGS:
                    if key.startswith(ours):
                        out['stackflow'][official + key[len(ours):]] = value
                        break
                else:
                    raise StackFLOWCheckpointError(f'{key}: no official counterpart')
    for (official, index), value in couplings.items():
        features = _flow_features(out['stackflow'], official, index)
        identity, transform = _coupling_index(features, index // 3)
        out['stackflow'][f'{official}{index}.identity_features'] = identity
        out['stackflow'][f'{official}{index}.transform_features'] = transform
    return out


def _flow_features(stackflow: Mapping, prefix: str, coupling_index: int) -> int:
    """D of a flow, from the ActNorm before coupling ``coupling_index``."""
    return int(stackflow[f'{prefix}{coupling_index - 2}.log_scale'].numel())


def load_official_checkpoint(path: str) -> dict:
    """``torch.load`` an official checkpoint on the CPU (``weights_only=True``: tensors and numbers only)."""
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f'official StackFLOW checkpoint not found: {path}') from None
    except pickle.UnpicklingError as err:
        raise StackFLOWCheckpointError(f'{path}: not a weights-only torch checkpoint ({err}); an official StackFLOW '
                                       'checkpoint holds state dicts and numbers only') from err


def stackflow_pca_to_arrays(pca: Mapping[str, Mapping], object_names: Sequence[str],
                            object_vertices: Mapping[str, np.ndarray], dataset: str, body_model_type: str,
                            gender: str, anchor_radius: float) -> Dict[str, np.ndarray]:
    """An official offset-PCA pickle as hoirecon's anchor-space offset-PCA arrays (``save_offset_pca``).

    For each object, the offsets' mean ``m`` and components ``C`` (rows) lie in ``range(M)`` (``x = M y``, the
    pairwise offsets of the anchors). With the isometric coordinates ``u = S^{-1/2} E^T M^T x`` of
    :func:`~hoirecon.models.relation_encoders.offset_space.isometric_basis`, the PCA is the same in ``u`` and maps
    back to anchor space as a fitted one does: ``gamma = W (y - mean_y) = C (M y - m)`` and
    ``M (mean_y + B gamma) = m + C^T gamma``. The explained variances are not in the pickle: they are written as NaN.

    Args:
        pca: the unpickled dict keyed by object name, each with ``mean`` (A*K*3,), ``components`` (d, A*K*3),
            ``smpl_anchor_indices`` (22 x 32 body vertex ids), ``object_anchor_indices`` (K,) template vertex ids.
        object_names: the dataset's objects in label order; objects missing from the pickle get no PCA
            (``num_samples`` 0).
        object_vertices: (V, 3) template vertices of each object, centred at their mean (``ObjectTemplate.vertices``),
            in the vertex order of the templates the pickle's indices refer to.
        dataset, body_model_type, gender, anchor_radius: recorded in the file.

    Returns:
        the arrays of :mod:`hoirecon.models.relation_encoders.pca_file`.
    """
    entries = {name: pca[name] for name in object_names if name in pca}
    unknown = sorted(set(pca) - set(object_names))
    if unknown or not entries:
        raise StackFLOWCheckpointError(f'PCA pickle objects {sorted(pca)} do not match the dataset\'s '
                                       f'{list(object_names)} (unknown: {unknown})')
    first = next(iter(entries.values()))
    human = np.asarray(first['smpl_anchor_indices'], np.int64).reshape(-1)
    num_human = len(human)
    num_object = int(np.asarray(first['object_anchor_indices']).size)
    pca_dim = int(np.asarray(first['components']).shape[0])
    size = 3 * (num_human + num_object)
    eigvecs, sqrt_eig = isometric_basis(num_human, num_object)
    to_isometric, from_isometric = eigvecs * sqrt_eig, eigvecs / sqrt_eig
    n = len(object_names)
    arrays = {
        'object_names': np.asarray(list(object_names)),
        'num_samples': np.zeros(n, np.int64),
        'num_components': np.zeros(n, np.int64),
        'mean_y': np.zeros((n, size)),
        'decode_basis': np.zeros((n, size, pca_dim)),
        'encode_basis': np.zeros((n, pca_dim, size)),
        'explained_variance': np.full((n, pca_dim), np.nan),
        'explained_variance_ratio': np.full((n, pca_dim), np.nan),
        'human_anchor_indices': human,
        'object_anchor_indices': np.zeros((n, num_object), np.int64),
        'object_anchor_points': np.zeros((n, num_object, 3)),
    }

    def isometric(offsets: np.ndarray) -> np.ndarray:
        """(r, A*K*3) offset vectors -> (r, 3, A+K-1) isometric coordinates (``(M^T x)_c`` then ``E / sqrt(S)``)."""
        x = offsets.reshape(len(offsets), num_human, num_object, 3)
        gram_side = np.concatenate([-x.sum(axis=2), x.sum(axis=1)], axis=1)  # (r, A+K, 3) = M^T x per coordinate
        return gram_side.transpose(0, 2, 1) @ from_isometric

    def to_anchor_space(coords: np.ndarray, basis: np.ndarray) -> np.ndarray:
        """(r, 3, A+K-1) -> (r, 3P) anchor vectors through ``basis`` (P, A+K-1)."""
        return (coords @ basis.T).transpose(0, 2, 1).reshape(len(coords), -1)

    for label, name in enumerate(object_names):
        if name not in entries:
            continue
        entry = entries[name]
        where = f'PCA pickle[{name!r}]'
        mean = np.asarray(entry['mean'], np.float64).reshape(1, -1)
        components = np.asarray(entry['components'], np.float64)
        object_ids = np.asarray(entry['object_anchor_indices'], np.int64).reshape(-1)
        if mean.shape[1] != num_human * num_object * 3 or components.shape != (pca_dim, mean.shape[1]):
            raise StackFLOWCheckpointError(f'{where}: mean {mean.shape[1:]} / components {components.shape} do not fit '
                                           f'{num_human} x {num_object} anchors and {pca_dim} components')
        if not np.array_equal(np.asarray(entry['smpl_anchor_indices'], np.int64).reshape(-1), human):
            raise StackFLOWCheckpointError(f'{where}: smpl_anchor_indices differ from the first object\'s; hoirecon '
                                           'keeps one set of human anchors per file')
        vertices = np.asarray(object_vertices[name], np.float64)
        if object_ids.size != num_object or object_ids.min() < 0 or object_ids.max() >= len(vertices):
            raise StackFLOWCheckpointError(f'{where}: object_anchor_indices must be {num_object} ids below the '
                                           f'template\'s {len(vertices)} vertices (load the templates unprocessed)')
        arrays['num_samples'][label] = 1  # unknown: the pickle holds no count
        arrays['num_components'][label] = pca_dim
        arrays['mean_y'][label] = to_anchor_space(isometric(mean), from_isometric)[0]
        components_u = isometric(components)
        arrays['decode_basis'][label] = to_anchor_space(components_u, from_isometric).T
        arrays['encode_basis'][label] = to_anchor_space(components_u, to_isometric)
        arrays['object_anchor_indices'][label] = object_ids
        arrays['object_anchor_points'][label] = vertices[object_ids]
    metadata = dict(format_version=OFFSET_PCA_FORMAT_VERSION, pca_dim=pca_dim, smpl_anchor_num=num_human // 22,
                    object_anchor_num=num_object, num_body_parts=22, seed=7)
    arrays.update({key: np.asarray(value, np.int64) for key, value in metadata.items()})
    arrays.update(anchor_radius=np.asarray(float(anchor_radius)), body_model_type=np.asarray(str(body_model_type)),
                  gender=np.asarray(str(gender)), dataset=np.asarray(str(dataset)), surrogate=np.asarray(False))
    return arrays


def relation_encoder_state(arrays: Mapping[str, np.ndarray],
                           prefix: str = 'relation_encoder.') -> 'OrderedDict[str, torch.Tensor]':
    """The persistent buffers of :class:`~hoirecon.models.relation_encoders.OffsetPCA` for PCA ``arrays``."""
    from hoirecon.models.relation_encoders.offset_pca import OffsetPCA
    return OrderedDict((prefix + name, torch.as_tensor(np.asarray(arrays[name]), dtype=dtype))
                       for name, dtype in OffsetPCA.BUFFERS)
