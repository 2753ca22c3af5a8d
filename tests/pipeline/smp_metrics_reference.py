"""The test metrics as segmentation_models_pytorch reports them, written
from its documented definitions (smp.utils.functional, the training
utilities the SinGAN-Seg paper names) for test_metrics.c.

smp thresholds the prediction (x > 0.5), sums over the whole batch tensor,
adds eps = 1e-7 to numerator and denominator (DiceLoss: eps = 1, on the
unthresholded prediction), and its ValidEpoch averages the per-batch values
over the batches. Test loaders of batch 1 (DataLoader's default, as in
smp's own examples) make that the mean of per-image values.

Usage: smp_metrics_reference.py DIR writes DIR/cases.f32 (K cases, each N
predicted probabilities then N truth values, float32) and DIR/metrics.txt
(one line per case: dice_loss iou f1 accuracy recall precision; then their
mean over the cases, as ValidEpoch reports a test loader of batch 1).
"""
import os
import sys

import numpy as np

EPS = 1e-7
N = 64


def metrics(pr, gt):
    """smp's six values for one batch (any shape), as float64."""
    pr = pr.astype(np.float64)
    gt = gt.astype(np.float64)
    soft_tp = np.sum(gt * pr)
    dice_loss = 1 - (2 * soft_tp + 1) / (2 * soft_tp + (np.sum(gt) - soft_tp)
                                         + (np.sum(pr) - soft_tp) + 1)
    hard = (pr > 0.5).astype(np.float64)
    tp = np.sum(gt * hard)
    fp = np.sum(hard) - tp
    fn = np.sum(gt) - tp
    iou = (tp + EPS) / (np.sum(gt) + np.sum(hard) - tp + EPS)
    f1 = (2 * tp + EPS) / (2 * tp + fn + fp + EPS)
    accuracy = np.sum(gt == hard) / gt.size
    recall = (tp + EPS) / (tp + fn + EPS)
    precision = (tp + EPS) / (tp + fp + EPS)
    return [dice_loss, iou, f1, accuracy, recall, precision]


def cases(rng):
    """Random images, and the ones where the conventions matter: empty
    truth, empty prediction, both empty, everything foreground, and
    probabilities exactly at the threshold."""
    out = []
    for _ in range(12):
        gt = (rng.random(N) < rng.random()).astype(np.float32)
        pr = np.clip(gt * 0.5 + rng.random(N) * 0.7 - 0.1, 0, 1).astype(np.float32)
        out.append((pr, gt))
    zeros, ones = np.zeros(N, np.float32), np.ones(N, np.float32)
    some = (rng.random(N) < 0.3).astype(np.float32)
    out.append((rng.random(N).astype(np.float32) * 0.5, zeros))  # both empty
    out.append((some * 0.9, zeros))                                # empty truth
    out.append((zeros + 0.2, some))                                # empty prediction
    out.append((ones, ones))                                       # all foreground
    out.append((np.full(N, 0.5, np.float32), some))                # at the threshold
    return out


def main():
    folder = sys.argv[1]
    all_cases = cases(np.random.default_rng(20221))
    with open(os.path.join(folder, "cases.f32"), "wb") as f:
        for pr, gt in all_cases:
            f.write(pr.tobytes() + gt.tobytes())
    per_image = [metrics(pr, gt) for pr, gt in all_cases]
    with open(os.path.join(folder, "metrics.txt"), "w") as f:
        for row in per_image + [list(np.mean(per_image, axis=0))]:
            f.write(" ".join("%.17g" % v for v in row) + "\n")
    print(len(all_cases), N)


if __name__ == "__main__":
    main()
