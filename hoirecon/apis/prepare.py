"""Make what a config needs on disk before its model can be built.

``tools/train.py`` and ``tools/test.py`` call :func:`prepare_experiment` before ``Runner.from_cfg``:

1. the training dataset's ``data_root``: generated when the config asks for the synthetic world and the folder
   does not exist yet (or holds an interrupted generation);
2. the relation encoder's PCA file (``OffsetPCA``): fitted on the training split when it does not exist, unless a
   ``checkpoint`` to test is given that holds the PCA buffers (every hoirecon checkpoint does): then the encoder is
   told to take them from it (``missing_file='checkpoint'``) and nothing is fitted.

Both steps take a file lock, so concurrent ranks of a distributed run do the work once. A config opts out with
``auto_prepare = False``.
"""
import os.path as osp
from typing import Optional

from mmengine.config import Config
from mmengine.logging import print_log

from hoirecon.datasets.behave_frames import ensure_data_root
from hoirecon.utils.file_lock import file_lock
from .relation_pca import fit_relation_pca


def checkpoint_has_relation_pca(checkpoint: str) -> bool:
    """Whether a checkpoint's state dict holds the offset-PCA buffers of the relation encoder."""
    from hoirecon.engine.checkpoint_compat import load_checkpoint_file
    from hoirecon.models.relation_encoders.offset_pca import OffsetPCA
    if not osp.isfile(checkpoint):
        return False
    state = load_checkpoint_file(checkpoint)
    state = state.get('state_dict', state) if isinstance(state, dict) else {}
    return all(any(key.endswith(f'relation_encoder.{name}') for key in state) for name, _ in OffsetPCA.BUFFERS)


def prepare_experiment(cfg: Config, checkpoint: Optional[str] = None) -> None:
    """Generate the synthetic dataset and fit the relation PCA of ``cfg`` if they are missing.

    Args:
        cfg: the experiment's config (changed in place: ``missing_file='checkpoint'`` when the PCA comes from it).
        checkpoint: the checkpoint to be tested, if any; one holding the PCA makes the PCA fit unnecessary.
    """
    if not cfg.get('auto_prepare', True):
        return
    dataset = cfg.get('train_dataloader', {}).get('dataset', {})
    data_root = dataset.get('data_root')
    if data_root is not None and dataset.get('synthetic') is not None:
        ensure_data_root(data_root, dataset['synthetic'])
    encoder = cfg.get('model', {}).get('relation_encoder', {})
    if encoder.get('type') != 'OffsetPCA' or osp.isfile(encoder['pca_file']):
        return
    if checkpoint is not None and checkpoint_has_relation_pca(checkpoint):
        print_log(f"{encoder['pca_file']} not found: the relation PCA comes from {checkpoint}.", logger='current')
        encoder['missing_file'] = 'checkpoint'
        return
    if data_root is None or not osp.isdir(data_root):
        raise FileNotFoundError(
            f"The relation encoder's PCA file {encoder['pca_file']} does not exist and there is no training data to "
            f'fit it from (train_dataloader.dataset.data_root = {data_root}). Fit it with '
            '`python tools/fit_relation_pca.py --data-root DATA_ROOT --out PCA_FILE` or point '
            'model.relation_encoder.pca_file to an existing file.')
    with file_lock(encoder['pca_file'] + '.lock'):
        if osp.isfile(encoder['pca_file']):
            return
        print_log(f"{encoder['pca_file']} not found: fitting the offset PCA on the training split of {data_root}.",
                  logger='current')
        fit_relation_pca(data_root, encoder['pca_file'], dict(cfg.model.body_model), split='train',
                         pca_dim=encoder.get('pca_dim', 32), smpl_anchor_num=encoder.get('smpl_anchor_num', 32),
                         object_anchor_num=encoder.get('object_anchor_num', 64))
