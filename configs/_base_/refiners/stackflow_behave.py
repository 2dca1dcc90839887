# StackFLOW's post-optimisation with its BEHAVE settings (method.md §6): Adam lr 4e-2, 2 stages x 150 steps, loss
# weights w0 / (1 + 10 * stage). Applied by `python tools/test.py CONFIG CKPT --refine` (scores before and after)
# and `python tools/demo.py ... --refine`. Residuals are in pixels of the full image (pixel_scale=1 for BEHAVE's
# 2048 x 1536 images; the refiner warns when an image's width is far from reference_width / pixel_scale, and
# pixel_scale='auto' rescales every image to reference_width); the object weight assumes EPro-PnP's w2d scale.
# A PnP start must pass pnp_check (inliers, inlier ratio, mean error, object mask). See docs/refiners.md.
refiner = dict(
    type='StackFLOWRefiner',
    num_stages=2,
    steps_per_stage=150,  # InterCap: 300, BEHAVE-extended: 200
    lr=4e-2,
    loss_weights=dict(person_keypoints=0.1, object_correspondences=10.0, pose_posterior=1.0, relation_posterior=1.0,
                      offsets=0.0),
    weight_decay=10.0,
    pixel_scale=1.0,
    reference_width=2048,
    pnp_check=dict(min_inliers=12, min_inlier_ratio=0.2, max_mean_error=8.0, min_mask_overlap=0.5),
    object_init=None,  # 'pnp': start the object from RANSAC PnP on the correspondences
    # StackFLOW keeps the body shape and runs one Adam through both stages (the stage factor then anneals the steps)
    optimize=('body_pose', 'hoi_R', 'hoi_t', 'rel_R', 'rel_t'),
    optimizer_per_stage=False,
)
