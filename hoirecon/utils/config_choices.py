"""Check that a config's parts agree with its choices (``body_model``, ``img_size``, ``num_objects``, the PCA file).

A top-level config (``configs/stackflow_*.py``) declares each choice once and builds the pipelines, the dataset's and
the metric's body model, the model's body model, the head's object count and the relation-PCA file name from it.
mmengine (0.10.7) evaluates every config file once, before merging: a *derived* config that only sets
``img_size = 128`` changes the top-level variable but not the pipelines its base built with the old value. This check
turns that silent mismatch into an error that names every disagreeing entry. See docs/configs.md.
"""
import re
from typing import Any, Iterator, List, Mapping, Tuple

#: The relation-PCA file name that ``tools/fit_relation_pca.py`` is given by the configs; the numbers are
#: (smpl_anchor_num, object_anchor_num, pca_dim).
PCA_FILE_PATTERN = re.compile(r'relation_pca_n(\d+)_(\d+)_d(\d+)\.npz$')
DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
EVALUATORS = ('val_evaluator', 'test_evaluator')


def relation_pca_file_name(smpl_anchor_num: int, object_anchor_num: int, pca_dim: int) -> str:
    """The PCA file name the configs derive from the encoder's numbers, e.g. ``relation_pca_n32_64_d32.npz``."""
    return f'relation_pca_n{smpl_anchor_num}_{object_anchor_num}_d{pca_dim}.npz'


def _plain(value: Any) -> Any:
    """ConfigDicts and tuples as plain dicts and lists, so that equal settings compare equal."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _datasets(cfg: Mapping) -> Iterator[Tuple[str, Mapping]]:
    for name in DATALOADERS:
        dataset = (cfg.get(name) or {}).get('dataset')
        if dataset is not None:
            yield f'{name}.dataset', dataset


def _evaluators(cfg: Mapping) -> Iterator[Tuple[str, Mapping]]:
    for name in EVALUATORS:
        evaluator = cfg.get(name)
        if isinstance(evaluator, Mapping):
            yield name, evaluator
        elif isinstance(evaluator, (list, tuple)):
            for i, metric in enumerate(evaluator):
                yield f'{name}[{i}]', metric


def config_choice_mismatches(cfg: Mapping) -> List[str]:
    """Every entry of ``cfg`` that disagrees with a top-level choice, as ``'key: found, choice: expected'`` lines.

    Checked: every ``HOICrop`` of every dataloader pipeline against ``img_size``; ``model.body_model``, each dataset's
    and each evaluator's ``body_model`` against ``body_model``; ``model.head.num_objects`` against ``num_objects``;
    an OffsetPCA ``pca_file`` named ``relation_pca_n<A>_<B>_d<C>.npz`` against the encoder's three numbers. A choice
    the config does not declare is not checked.
    """
    problems = []
    if 'img_size' in cfg:
        for where, dataset in _datasets(cfg):
            for i, step in enumerate(dataset.get('pipeline') or []):
                if step.get('type') == 'HOICrop' and step.get('img_size') != cfg['img_size']:
                    problems.append(f"{where}.pipeline[{i}] (HOICrop).img_size: {step.get('img_size')}, "
                                    f"img_size: {cfg['img_size']}")
    model = cfg.get('model') or {}
    if 'body_model' in cfg:
        wanted = _plain(cfg['body_model'])
        users = [('model', model)] + list(_datasets(cfg)) + list(_evaluators(cfg))
        for where, part in users:
            if 'body_model' in part and _plain(part['body_model']) != wanted:
                problems.append(f"{where}.body_model: {_plain(part['body_model'])}, body_model: {wanted}")
    head = model.get('head') or {}
    if 'num_objects' in cfg and 'num_objects' in head and head['num_objects'] != cfg['num_objects']:
        problems.append(f"model.head.num_objects: {head['num_objects']}, num_objects: {cfg['num_objects']}")
    encoder = model.get('relation_encoder') or {}
    match = PCA_FILE_PATTERN.search(str(encoder.get('pca_file', '')))
    if encoder.get('type') == 'OffsetPCA' and match:
        numbers = tuple(int(n) for n in match.groups())
        wanted = tuple(encoder.get(k) for k in ('smpl_anchor_num', 'object_anchor_num', 'pca_dim'))
        if numbers != wanted:
            problems.append(f"model.relation_encoder.pca_file: {encoder['pca_file']}, smpl_anchor_num, "
                            f'object_anchor_num, pca_dim: {wanted} (file name {relation_pca_file_name(*wanted)})')
    return problems


def check_config_choices(cfg: Mapping) -> None:
    """Raise ValueError listing :func:`config_choice_mismatches`, with the fix; return quietly when there are none."""
    problems = config_choice_mismatches(cfg)
    if problems:
        raise ValueError('config entries disagree with the config\'s choices:\n  ' + '\n  '.join(problems) +
                         '\nmmengine evaluates each config file once, so a derived config that changes a choice '
                         '(img_size, body_model, ...) must also restate the entries its base built from it '
                         '(docs/configs.md).')
