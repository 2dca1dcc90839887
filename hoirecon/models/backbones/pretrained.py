"""torchvision's ImageNet ResNet weights, found on this machine (nothing is downloaded at run time).

StackFLOW starts its ResNet-50 from ``torchvision.models.resnet50(pretrained=True)``: the IMAGENET1K_V1 file
``resnet50-0676ba61.pth``. A config names it by its public URL (or file name, or a local path)::

    backbone=dict(type='ResNet', depth=50, init_cfg=dict(type='Pretrained', checkpoint=TORCHVISION_RESNET_URLS[50]))

:func:`find_pretrained_file` turns that into a local file: the path itself when it exists, else the file name in
torch's hub cache (``$TORCH_HOME/hub/checkpoints``, where ``torchvision`` and ``torch.hub`` keep downloads) or in
``data/pretrained/`` (resolved like every ``data/`` path: ``--data-root``, ``$HOIRECON_DATA_ROOT``, ``./data``, the
checkout). Otherwise it raises an error that gives the download URL and the two ways to point at the file.
"""
import os.path as osp
from typing import Dict, List, Optional

import torch

from hoirecon.utils.paths import data_base

_BASE_URL = 'https://download.pytorch.org/models/'
#: torchvision's IMAGENET1K_V1 ResNet files, by depth.
TORCHVISION_RESNET_FILES: Dict[int, str] = {
    18: 'resnet18-f37072fd.pth',
    34: 'resnet34-b627a593.pth',
    50: 'resnet50-0676ba61.pth',
    101: 'resnet101-63fe2227.pth',
    152: 'resnet152-394f9c45.pth',
}
TORCHVISION_RESNET_URLS: Dict[int, str] = {depth: _BASE_URL + name for depth, name in TORCHVISION_RESNET_FILES.items()}


def _hub_checkpoint_dir() -> str:
    return osp.join(torch.hub.get_dir(), 'checkpoints')


def pretrained_candidates(checkpoint: str) -> List[str]:
    """Local files that may hold ``checkpoint`` (a path, a file name or a URL), in the order they are tried."""
    candidates = [] if '://' in checkpoint else [osp.expanduser(checkpoint)]
    name = osp.basename(checkpoint.split('?')[0])
    candidates += [osp.join(_hub_checkpoint_dir(), name), osp.join(data_base()[0], 'pretrained', name)]
    return list(dict.fromkeys(candidates))


def find_pretrained_file(checkpoint: str) -> str:
    """The local file of a pretrained checkpoint, or a FileNotFoundError that says how to provide it."""
    candidates = pretrained_candidates(checkpoint)
    for path in candidates:
        if osp.isfile(path):
            return path
    name = osp.basename(checkpoint.split('?')[0])
    url = checkpoint if '://' in checkpoint else next(
        (u for u in TORCHVISION_RESNET_URLS.values() if u.endswith('/' + name)), None)
    fetch = f'download {url} into {_hub_checkpoint_dir()}/ or data/pretrained/' if url else \
        f'put {name} into {_hub_checkpoint_dir()}/ or data/pretrained/'
    raise FileNotFoundError(
        f'Pretrained backbone weights {checkpoint!r} not found (looked at: {", ".join(candidates)}); hoirecon never '
        f'downloads at run time. To start from ImageNet as the paper does, {fetch} (e.g. `wget -P data/pretrained '
        f'{url or name}`), or point at your copy with `--cfg-options model.backbone.init_cfg.checkpoint=PATH`. To '
        'train from random weights instead (a departure from the paper), set model.backbone.init_cfg=None.')


def load_torchvision_resnet(module: torch.nn.Module, checkpoint: str) -> Dict[str, List[str]]:
    """Load a torchvision ResNet state dict (file found by :func:`find_pretrained_file`) into ``module``.

    Keys must match exactly, except torchvision's classifier (``fc.*``, ignored) and the module's own additions
    (``out_proj.*``, left at their initialisation).

    Returns:
        ``{'ignored': [...], 'not_loaded': [...]}`` key lists.

    Raises:
        KeyError: when any other key is missing or unexpected (naming the file and the keys).
    """
    path = find_pretrained_file(checkpoint)
    state = torch.load(path, map_location='cpu', weights_only=True)
    if isinstance(state, dict) and 'state_dict' in state and isinstance(state['state_dict'], dict):
        state = state['state_dict']
    ignored = sorted(k for k in state if k.startswith('fc.'))
    state = {k: v for k, v in state.items() if not k.startswith('fc.')}
    own = module.state_dict()
    not_loaded = sorted(k for k in own if k not in state and k.startswith('out_proj.'))
    missing = sorted(k for k in own if k not in state and not k.startswith('out_proj.'))
    unexpected = sorted(k for k in state if k not in own)
    if missing or unexpected:
        raise KeyError(f'{path}: not a torchvision ResNet state dict for this backbone: missing keys '
                       f'{missing[:5]}{" ..." if len(missing) > 5 else ""}, unexpected keys '
                       f'{unexpected[:5]}{" ..." if len(unexpected) > 5 else ""} (check the depth).')
    module.load_state_dict(state, strict=False)
    return dict(ignored=ignored, not_loaded=not_loaded)


def pretrained_checkpoint(init_cfg) -> Optional[str]:
    """The ``checkpoint`` of an ``init_cfg`` of type 'Pretrained' (a dict or one entry of a list), else None."""
    entries = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    for entry in entries:
        if isinstance(entry, dict) and entry.get('type') == 'Pretrained':
            return str(entry['checkpoint'])
    return None


__all__ = ['TORCHVISION_RESNET_FILES', 'TORCHVISION_RESNET_URLS', 'find_pretrained_file', 'load_torchvision_resnet',
           'pretrained_candidates', 'pretrained_checkpoint']
