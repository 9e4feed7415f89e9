//! Object-detection post-processing: NonMaxSuppression.

use super::{opt, req};
use crate::error::OpError;
use crate::op_bail;
use crate::tensor::Tensor;

/// One box as `(x_min, y_min, x_max, y_max)`, whatever the input encoding.
type Corners = [f64; 4];

fn corners(b: &[f64], center_point_box: bool) -> Corners {
    if center_point_box {
        let (hw, hh) = (b[2] / 2.0, b[3] / 2.0);
        [b[0] - hw, b[1] - hh, b[0] + hw, b[1] + hh]
    } else {
        // Corner format is [y1, x1, y2, x2] with either corner first.
        [
            b[1].min(b[3]),
            b[0].min(b[2]),
            b[1].max(b[3]),
            b[0].max(b[2]),
        ]
    }
}

/// Whether the intersection-over-union of `a` and `b` exceeds `threshold`; degenerate boxes
/// never suppress.
fn overlaps(a: &Corners, b: &Corners, threshold: f64) -> bool {
    let ix = a[2].min(b[2]) - a[0].max(b[0]);
    let iy = a[3].min(b[3]) - a[1].max(b[1]);
    if ix <= 0.0 || iy <= 0.0 {
        return false;
    }
    let inter = ix * iy;
    let area_a = (a[2] - a[0]) * (a[3] - a[1]);
    let area_b = (b[2] - b[0]) * (b[3] - b[1]);
    let union = area_a + area_b - inter;
    if area_a <= 0.0 || area_b <= 0.0 || union <= 0.0 {
        return false;
    }
    inter / union > threshold
}

/// The first element of an optional scalar input.
fn scalar_or(t: Option<&Tensor>, what: &str) -> Result<Option<f64>, OpError> {
    match t {
        None => Ok(None),
        Some(t) if t.is_empty() => Ok(None),
        Some(t) if t.len() != 1 => op_bail!("{what} must hold one value, got {}", t.len()),
        Some(t) => Ok(t.to_f64_vec().first().copied()),
    }
}

/// inputs: boxes [B, N, 4], scores [B, C, N], max_output_boxes_per_class?, iou_threshold?,
/// score_threshold?; output i64 [selected, 3] rows of (batch, class, box).
pub fn non_max_suppression(
    center_point_box: bool,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, OpError> {
    let boxes = req(inputs, 0)?;
    let scores = req(inputs, 1)?;
    let &[batches, n_boxes, four] = boxes.shape() else {
        op_bail!(
            "boxes must be 3-D [batch, boxes, 4], got shape {:?}",
            boxes.shape()
        );
    };
    if four != 4 {
        op_bail!("boxes' last dim must be 4, got {four}");
    }
    let &[score_batches, classes, score_boxes] = scores.shape() else {
        op_bail!(
            "scores must be 3-D [batch, classes, boxes], got shape {:?}",
            scores.shape()
        );
    };
    if score_batches != batches || score_boxes != n_boxes {
        op_bail!(
            "scores shape {:?} does not match boxes shape {:?}",
            scores.shape(),
            boxes.shape()
        );
    }
    let max_per_class = match opt(inputs, 2) {
        Some(t) if t.len() > 1 => op_bail!("max_output_boxes_per_class must hold one value"),
        Some(t) => t.to_i64_vec()?.first().copied().unwrap_or(0).max(0) as usize,
        None => 0,
    };
    let iou_threshold = scalar_or(opt(inputs, 3), "iou_threshold")?.unwrap_or(0.0);
    let score_threshold = scalar_or(opt(inputs, 4), "score_threshold")?;
    let box_values = boxes.to_f64_vec();
    let score_values = scores.to_f64_vec();
    let mut selected_rows: Vec<i64> = Vec::new();
    for b in 0..batches {
        let batch_corners: Vec<Corners> = (0..n_boxes)
            .map(|i| {
                let at = (b * n_boxes + i) * 4;
                corners(&box_values[at..at + 4], center_point_box)
            })
            .collect();
        for c in 0..classes {
            let class_scores = &score_values[(b * classes + c) * n_boxes..][..n_boxes];
            let mut candidates: Vec<usize> = (0..n_boxes)
                .filter(|&i| score_threshold.is_none_or(|t| class_scores[i] > t))
                .collect();
            // Highest score first; ties keep the lower box index first.
            candidates.sort_by(|&i, &j| {
                class_scores[j]
                    .partial_cmp(&class_scores[i])
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then(i.cmp(&j))
            });
            let mut kept: Vec<usize> = Vec::new();
            for i in candidates {
                if kept.len() >= max_per_class {
                    break;
                }
                let suppressed = kept
                    .iter()
                    .any(|&k| overlaps(&batch_corners[i], &batch_corners[k], iou_threshold));
                if !suppressed {
                    kept.push(i);
                    selected_rows.extend([b as i64, c as i64, i as i64]);
                }
            }
        }
    }
    let n = selected_rows.len() / 3;
    Tensor::from_i64(vec![n, 3], selected_rows).map(|t| vec![t])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(boxes: Vec<f32>, scores: Vec<f32>, max: i64, iou: f32) -> Result<Vec<i64>, OpError> {
        let n = scores.len();
        let boxes = Tensor::from_f32(vec![1, n, 4], boxes)?;
        let scores = Tensor::from_f32(vec![1, 1, n], scores)?;
        let max = Tensor::scalar_i64(max);
        let iou = Tensor::scalar_f32(iou);
        let out = non_max_suppression(
            false,
            &[Some(&boxes), Some(&scores), Some(&max), Some(&iou)],
        )?;
        out[0].to_i64_vec()
    }

    #[test]
    fn overlapping_box_with_lower_score_is_suppressed() {
        // Box 1 nearly covers box 0; box 2 is disjoint.
        let boxes = vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.1, 1.0, 1.1, 5.0, 5.0, 6.0, 6.0];
        let kept = run(boxes, vec![0.5, 0.9, 0.7], 10, 0.5).unwrap();
        assert_eq!(kept, vec![0, 0, 1, 0, 0, 2]);
    }

    #[test]
    fn max_output_limits_each_class() {
        let boxes = vec![0.0, 0.0, 1.0, 1.0, 5.0, 5.0, 6.0, 6.0];
        let kept = run(boxes, vec![0.2, 0.9], 1, 0.5).unwrap();
        assert_eq!(kept, vec![0, 0, 1]);
    }

    #[test]
    fn mismatched_scores_are_an_error() {
        let boxes = Tensor::from_f32(vec![1, 2, 4], vec![0.0; 8]).unwrap();
        let scores = Tensor::from_f32(vec![1, 1, 3], vec![0.0; 3]).unwrap();
        let err = non_max_suppression(false, &[Some(&boxes), Some(&scores)]).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
    }
}
