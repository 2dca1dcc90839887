"""Make what a config needs on disk before its datasets and model can be built.

``tools/train.py`` and ``tools/test.py`` call :func:`prepare_experiment` before ``Runner.from_cfg``:

1. the synthetic world of every dataset config with a ``synthetic=dict(...)`` recipe among the dataloaders the run
   builds (training: train, val and test; testing a checkpoint: test only): generated with
   :func:`hoirecon.synthetic.generate_synthetic_behave` when its ``data_root`` does not exist yet, resumed when it
   holds an interrupted generation. The datasets themselves only read (``BEHAVEFrameDataset`` raises a
   ``FileNotFoundError`` naming the folder and this fix when it is missing);
2. the relation encoder's PCA file (``OffsetPCA``): fitted on the training split when it does not exist, unless a
   ``checkpoint`` to test is given that holds the PCA buffers (every hoirecon checkpoint does): then the encoder is
   told to take them from it (``missing_file='checkpoint'``) and nothing is fitted (nor is the training world
   generated for it).

Both steps take a file lock, so concurrent ranks of a distributed run do the work once. A config opts out with
``auto_prepare = False``. ``tools/make_synthetic_dataset.py`` generates a world without a config.
"""
import os.path as osp
from typing import Iterator, Optional, Sequence

from mmengine.config import Config
from mmengine.logging import print_log

from hoirecon.datasets.behave_frames import synthetic_state
from hoirecon.utils.file_lock import file_lock
from .relation_pca import fit_relation_pca

#: Dataloaders whose datasets a training run builds (validation each epoch, the test after training).
TRAIN_DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
#: Dataloaders whose datasets testing a checkpoint builds.
TEST_DATALOADERS = ('test_dataloader', )


def checkpoint_has_relation_pca(checkpoint: str) -> bool:
    """Whether a checkpoint's state dict holds the offset-PCA buffers of the relation encoder."""
    from hoirecon.engine.checkpoint_compat import load_checkpoint_file
    from hoirecon.models.relation_encoders.offset_pca import OffsetPCA
    if not osp.isfile(checkpoint):
        return False
    state = load_checkpoint_file(checkpoint)
    state = state.get('state_dict', state) if isinstance(state, dict) else {}
    return all(any(key.endswith(f'relation_encoder.{name}') for key in state) for name, _ in OffsetPCA.BUFFERS)


def dataset_layout(dataset: dict) -> str:
    """The on-disk layout (:mod:`hoirecon.datasets.frame_sources`) that a dataset config reads: its class's
    ``FRAME_SOURCE.name`` ('behave' for ``BEHAVEFrameDataset``, 'behave_extended' for ``BEHAVEExtendedDataset``,
    'intercap' for ``InterCapDataset``)."""
    from hoirecon.registry import DATASETS
    cls = DATASETS.get(dataset.get('type', 'BEHAVEFrameDataset')) if isinstance(dataset.get('type', ''), str) \
        else dataset['type']
    source = getattr(cls, 'FRAME_SOURCE', None)
    return source.name if source is not None else 'behave'


def prepare_synthetic_data(data_root: str, synthetic: dict, layout: str = 'behave') -> str:
    """Generate the synthetic world of a ``synthetic=`` recipe in ``data_root`` unless it is there.

    Nothing is written when ``data_root`` holds a complete synthetic world or any other data (a folder without a
    synthetic manifest, e.g. real BEHAVE); a missing folder is generated and an interrupted generation resumed (the
    generator refuses a folder made with other parameters). A file lock next to the folder makes concurrent callers
    generate it once.

    Args:
        data_root: the dataset root.
        synthetic: keyword arguments of :func:`hoirecon.synthetic.generate_synthetic_behave` (``num_sequences``,
            ``frames_per_sequence``, ``seed``, ``image_size``, ...), or for ``layout='behave_extended'`` of
            :func:`hoirecon.synthetic.generate_synthetic_sequences` (30 fps sequences), for ``layout='intercap'``
            of :func:`hoirecon.synthetic.generate_synthetic_intercap`.
        layout: ``'behave'``, ``'behave_extended'`` or ``'intercap'``, the layout the dataset reads
            (:func:`dataset_layout`).

    Returns:
        The absolute ``data_root``.
    """
    data_root = osp.abspath(data_root)
    with file_lock(data_root + '.lock'):
        state = synthetic_state(data_root)
        if state in ('missing', 'incomplete'):
            from hoirecon.synthetic import (generate_synthetic_behave, generate_synthetic_intercap,
                                            generate_synthetic_sequences)
            what = 'holds an incomplete synthetic dataset' if state == 'incomplete' else 'does not exist'
            generate, world = {
                'behave': (generate_synthetic_behave, 'the synthetic BEHAVE twin'),
                'behave_extended': (generate_synthetic_sequences,
                                    'synthetic 30 fps sequences (BEHAVE-extended layout)'),
                'intercap': (generate_synthetic_intercap, 'synthetic 30 fps sequences (InterCap layout)'),
            }[layout]
            print_log(f'{data_root} {what}: generating {world} there with {dict(synthetic)}.', logger='current')
            generate(data_root, **synthetic)
    return data_root


def synthetic_dataset_configs(cfg: Config, dataloaders: Sequence[str] = TRAIN_DATALOADERS) -> Iterator[dict]:
    """The dataset configs with ``data_root`` and a ``synthetic`` recipe among the given dataloaders of ``cfg``.

    Wrapped datasets (``dataset=`` of a ``RepeatDataset``, ``datasets=[...]`` of a ``ConcatDataset``) are searched too.
    """
    def walk(node):
        if isinstance(node, dict):
            if node.get('data_root') is not None and node.get('synthetic') is not None:
                yield node
            for key in ('dataset', 'datasets'):
                yield from walk(node.get(key))
        elif isinstance(node, (list, tuple)):
            for item in node:
                yield from walk(item)

    for name in dataloaders:
        yield from walk((cfg.get(name) or {}).get('dataset'))


def prepare_experiment(cfg: Config, checkpoint: Optional[str] = None,
                       dataloaders: Optional[Sequence[str]] = None) -> None:
    """Generate the synthetic datasets and fit the relation PCA of ``cfg`` if they are missing.

    Args:
        cfg: the experiment's config (changed in place: ``missing_file='checkpoint'`` when the PCA comes from it).
        checkpoint: the checkpoint to be tested, if any; one holding the PCA makes the PCA fit unnecessary.
        dataloaders: the dataloaders whose synthetic datasets to generate; default :data:`TEST_DATALOADERS` when a
            ``checkpoint`` is given, else :data:`TRAIN_DATALOADERS`.
    """
    if not cfg.get('auto_prepare', True):
        return
    if dataloaders is None:
        dataloaders = TEST_DATALOADERS if checkpoint is not None else TRAIN_DATALOADERS
    for dataset in synthetic_dataset_configs(cfg, dataloaders):
        prepare_synthetic_data(dataset['data_root'], dataset['synthetic'], dataset_layout(dataset))
    encoder = cfg.get('model', {}).get('relation_encoder', {})
    if encoder.get('type') != 'OffsetPCA' or osp.isfile(encoder['pca_file']):
        return
    if checkpoint is not None and checkpoint_has_relation_pca(checkpoint):
        print_log(f"{encoder['pca_file']} not found: the relation PCA comes from {checkpoint}.", logger='current')
        encoder['missing_file'] = 'checkpoint'
        return
    train_dataset = (cfg.get('train_dataloader') or {}).get('dataset', {})
    data_root = train_dataset.get('data_root')
    layout = dataset_layout(train_dataset)
    if data_root is not None and train_dataset.get('synthetic') is not None:
        prepare_synthetic_data(data_root, train_dataset['synthetic'], layout)  # the PCA is fitted on the training split
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
                         object_anchor_num=encoder.get('object_anchor_num', 64),
                         **dict(dict(layout=layout), **dict(cfg.get('relation_pca_fit') or {})))
