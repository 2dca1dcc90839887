"""Datasets of hoirecon: readers of the BEHAVE / BEHAVE-extended / InterCap on-disk files (real or synthetic) and
dataset classes."""
from .annotations import build_annotations, load_annotations
from .behave_extended_frames import BEHAVEExtendedDataset
from .intercap_frames import InterCapDataset
from .behave_frames import BEHAVEFrameDataset
from .correspondence_frames import (BEHAVEExtendedCorrespondenceDataset, InterCapCorrespondenceDataset,
                                    ObjectCorrespondenceDataset)
from .chore_frames import CHOREFrameDataset
from .behave_augmentation import BEHAVEAugmentationDataset, BEHAVEFrameAugDataset, RandomMixDataset
from .behave_io import (FRAME_FILE_NAMES, NUM_KINECTS, BehaveFormatError, find_frame_file, find_object_fit,
                        frame_folder_name, intrinsic_matrix, invert_rigid, list_frame_folders,
                        load_body_keypoints, load_correspondences, load_extrinsics, load_image, load_intrinsics,
                        load_mask, load_object_fit, load_person_fit, load_sequence_info,
                        load_split, object_pose_to_camera, object_vertices, smplh_params_to_camera,
                        transform_points, transform_smplh_params, world_to_camera_points)
from .body_estimates import DumpBodyEstimates, body_estimate_path, read_body_estimate, write_body_estimate
from .transforms import BackgroundSwap, ColorGain, HOICrop, LoadHOIImage, PackHOIInputs

__all__ = [
    'BEHAVEAugmentationDataset', 'BEHAVEExtendedDataset', 'BEHAVEFrameAugDataset', 'BEHAVEFrameDataset',
    'BackgroundSwap', 'ColorGain', 'HOICrop', 'InterCapDataset', 'LoadHOIImage', 'PackHOIInputs', 'RandomMixDataset',
    'ObjectCorrespondenceDataset', 'InterCapCorrespondenceDataset', 'BEHAVEExtendedCorrespondenceDataset',
    'CHOREFrameDataset',
    'DumpBodyEstimates', 'body_estimate_path', 'read_body_estimate', 'write_body_estimate',
    'build_annotations', 'load_annotations',
    'FRAME_FILE_NAMES', 'NUM_KINECTS', 'BehaveFormatError', 'find_frame_file', 'find_object_fit',
    'frame_folder_name', 'intrinsic_matrix', 'invert_rigid', 'list_frame_folders',
    'load_body_keypoints', 'load_correspondences', 'load_extrinsics', 'load_image', 'load_intrinsics', 'load_mask',
    'load_object_fit', 'load_person_fit', 'load_sequence_info', 'load_split',
    'object_pose_to_camera', 'object_vertices', 'smplh_params_to_camera', 'transform_points',
    'transform_smplh_params', 'world_to_camera_points'
]
