#pragma once
// Random image augmentation for training (the book's §5.2 and §8.2.5, Keras's RandomFlip,
// RandomRotation, RandomZoom and RandomTranslation, and a random crop scaled back to full
// size). The random operations of one sample compose into one affine map from output to
// input pixels, sampled bilinearly in one pass: Keras resamples once per layer, so its
// results differ by that interpolation (and, for reflect, by reflecting the original image
// rather than an already transformed one), not in distribution.
//
// Every draw comes from the sample's own seed (the caller derives it from the experiment
// seed, the epoch and the sample index), so the result does not depend on threads or order.

#include <cstdint>

namespace loom {

struct AugmentationSpec {
  enum class Flip { none, horizontal, vertical, horizontal_and_vertical };
  enum class Fill { reflect, nearest, constant };

  Flip flip = Flip::none;  // each enabled flip happens with probability 1/2
  // A fraction of a full turn: the angle is uniform in ±rotation · 2π, counter-clockwise
  // for positive angles (Keras's RandomRotation factor).
  double rotation = 0;
  // Keras's RandomZoom: the scale is 1 + uniform(±zoom_height); positive zooms out. Without
  // zoom_width the width takes the same scale (the aspect ratio is kept).
  double zoom_height = 0;
  double zoom_width = 0;
  bool zoom_width_given = false;
  // Keras's RandomTranslation: shifts uniform in ±fraction of the height and width.
  double translation_height = 0;
  double translation_width = 0;
  // A window of these fractions of the height and width (1: off) at a random place, scaled
  // back to the full image.
  double crop_height = 1;
  double crop_width = 1;
  // Outside the image: Keras's default reflect (d c b a | a b c d | d c b a), nearest (the
  // edge pixel) or constant (fill_value).
  Fill fill = Fill::reflect;
  float fill_value = 0;
};

// Whether the spec changes anything at all.
bool is_identity(const AugmentationSpec& spec);

// Transforms one sample [height, width, channels] (channels last) in place.
void augment_image(const AugmentationSpec& spec, uint64_t seed, float* sample, int64_t height,
                   int64_t width, int64_t channels);

}  // namespace loom
