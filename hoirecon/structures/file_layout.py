"""Where the per-image evidence files of a BEHAVE-layout split live: one definition for the code that writes them and
the code that reads them (pure ``os.path``)."""
import os.path as osp


def correspondence_file(root: str, sequence: str, frame: str, kinect: int) -> str:
    """``<root>/epro_pnp/<sequence>/<frame>/k<kinect>.obj_coor.pkl``: StackFLOW's EPro-PnP correspondence files (the
    dataset's own under its data root, or a correspondence network's under its ``out_dir``)."""
    return osp.join(root, 'epro_pnp', str(sequence), str(frame), f'k{int(kinect)}.obj_coor.pkl')


def person_keypoints_file(root: str, sequence: str, frame: str, kinect: int) -> str:
    """``<root>/<sequence>/<frame>/k<kinect>.keypoints.json``: the person keypoints of
    ``tools/detect_person_keypoints.py``, read with ``keypoints_root``."""
    return osp.join(root, str(sequence), str(frame), f'k{int(kinect)}.keypoints.json')
