"""Convert an official StackFLOW checkpoint (and its offset-PCA pickle) into a hoirecon checkpoint (and PCA file).

The result loads with ``strict=True`` and ``weights_only=True`` into the model of
``configs/stackflow_behave_official.py`` (the paper model with the official input normalisation and pytorch3d's 6D
layout in the pose flow); the key map is in docs/fidelity.md, "Official checkpoints". ``--reverse`` writes a hoirecon
paper-model checkpoint in the official layout (the PCA is not converted back).

Examples::

    python tools/model_converters/stackflow_to_hoirecon.py outputs/stackflow/behave/checkpoint.pth \\
        work_dirs/stackflow_behave_official/converted.pth \\
        --pca data/datasets/behave_pca_models_n32_64_d32.pkl --dataset behave --template-dir data/behave/objects \\
        --pca-out data/behave/official/relation_pca_n32_64_d32.npz
    python tools/test.py configs/stackflow_behave_official.py work_dirs/stackflow_behave_official/converted.pth

The PCA pickle is a plain Python pickle (numpy arrays): reading it runs the unpickler, so convert only files you
trust (StackFLOW's own release). The checkpoint itself is read with ``weights_only=True``.
"""
import argparse
import os
import os.path as osp
import pickle
import sys

import torch

from hoirecon.apis.stackflow_checkpoint import (StackFLOWCheckpointError, hoirecon_to_stackflow_state,
                                                load_official_checkpoint, relation_encoder_state,
                                                stackflow_pca_to_arrays, stackflow_to_hoirecon_state)
from hoirecon.models.relation_encoders.pca_file import save_offset_pca

#: What StackFLOW's PCA of each dataset was fitted with (docs/fidelity.md, data_formats: anchors radius 0.02 / 0.01).
DATASET_PCA = {
    'behave': dict(library='behave', body_model_type='SMPLH', gender='male', anchor_radius=0.02),
    'behave_extended': dict(library='behave', body_model_type='SMPLH', gender='male', anchor_radius=0.02),
    'intercap': dict(library='intercap', body_model_type='SMPLX', gender='neutral', anchor_radius=0.01),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Official StackFLOW checkpoint -> hoirecon checkpoint.')
    parser.add_argument('checkpoint', help='official checkpoint ({epoch, backbone, header, stackflow[, optimizer]})')
    parser.add_argument('out', help='hoirecon checkpoint to write (.pth)')
    parser.add_argument('--pca', help="the official offset-PCA pickle (e.g. behave_pca_models_n32_64_d32.pkl); its "
                        'PCA is written into the checkpoint and, with --pca-out, as a .npz')
    parser.add_argument('--pca-out', help='write the converted PCA as this .npz (the config\'s pca_file)')
    parser.add_argument('--dataset', default='behave', choices=sorted(DATASET_PCA),
                        help='dataset the checkpoint was trained on (object order, body model of the PCA)')
    parser.add_argument('--template-dir', help='the dataset\'s object templates (BEHAVE objects/, InterCap objs/): '
                        "the PCA pickle names template vertex ids; 'procedural' for hoirecon's licence-free templates "
                        '(synthetic data only)')
    parser.add_argument('--reverse', action='store_true',
                        help='convert a hoirecon paper-model checkpoint into the official layout instead')
    args = parser.parse_args(argv)
    if args.pca and not args.template_dir and not args.reverse:
        parser.error('--pca needs --template-dir (the object templates whose vertex ids the pickle names)')
    if args.pca_out and not args.pca:
        parser.error('--pca-out needs --pca')
    return args


def convert_pca(path: str, dataset: str, template_dir: str) -> dict:
    """The official PCA pickle at ``path`` as hoirecon offset-PCA arrays."""
    from hoirecon.objects import ObjectLibrary
    if not osp.isfile(path):
        raise FileNotFoundError(f'PCA pickle not found: {path}')
    with open(path, 'rb') as f:
        pca = pickle.load(f)
    settings = DATASET_PCA[dataset]
    library = ObjectLibrary(settings['library'], None if template_dir == 'procedural' else template_dir)
    names = [name for name in library.names if name in pca]
    vertices = {name: library[name].vertices for name in names}
    return stackflow_pca_to_arrays(pca, library.names, vertices, dataset=dataset,
                                   body_model_type=settings['body_model_type'], gender=settings['gender'],
                                   anchor_radius=settings['anchor_radius'])


def main(argv=None) -> str:
    args = parse_args(argv)
    if args.reverse:
        saved = torch.load(args.checkpoint, map_location='cpu', weights_only=True)
        epoch = saved.get('meta', {}).get('epoch', 0)
        result = hoirecon_to_stackflow_state(saved.get('state_dict', saved), epoch=epoch)
    else:
        official = load_official_checkpoint(args.checkpoint)
        state = stackflow_to_hoirecon_state(official)
        if args.pca:
            arrays = convert_pca(args.pca, args.dataset, args.template_dir)
            state.update(relation_encoder_state(arrays))
            if args.pca_out:
                save_offset_pca(args.pca_out, arrays)
                print(f'offset PCA written to {args.pca_out}')
        meta = dict(epoch=int(official.get('epoch', 0)), converted_from=osp.abspath(args.checkpoint),
                    converter='tools/model_converters/stackflow_to_hoirecon.py', dataset=args.dataset,
                    config='configs/stackflow_behave_official.py')
        result = dict(meta=meta, state_dict=state)
    if osp.dirname(args.out):
        os.makedirs(osp.dirname(args.out), exist_ok=True)
    torch.save(result, args.out)
    print(f'{"official" if args.reverse else "hoirecon"} checkpoint written to {args.out}')
    return args.out


if __name__ == '__main__':
    try:
        main()
    except (StackFLOWCheckpointError, FileNotFoundError) as err:
        sys.exit(f'error: {err}')
