// The reference model's forward and backward passes (see keras_reference.hpp): naive loops
// in double over batch-major, channels-last arrays.

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "tests/support/keras_reference.hpp"

namespace loom::testing::reference {

namespace {

using Shape = std::vector<int64_t>;

int64_t count(const Shape& shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
}

// z[b, o] = bias[o] + Σ_i x[b, i]·w[i, o]
Values dense_forward(const Values& x, int64_t batch, int64_t in, int64_t out, const Values& w,
                     const Values& bias) {
  Values z(size_t(batch * out));
  for (int64_t b = 0; b < batch; ++b) {
    double* row = &z[size_t(b * out)];
    for (int64_t o = 0; o < out; ++o) row[o] = bias[size_t(o)];
    for (int64_t i = 0; i < in; ++i) {
      const double xi = x[size_t(b * in + i)];
      const double* wi = &w[size_t(i * out)];
      for (int64_t o = 0; o < out; ++o) row[o] += xi * wi[o];
    }
  }
  return z;
}

// dw = xᵀ·dz, dbias = Σ_b dz, dx = dz·wᵀ (when asked for).
void dense_backward(const Values& x, const Values& dz, int64_t batch, int64_t in, int64_t out,
                    const Values& w, Values& dw, Values& dbias, Values* dx) {
  for (int64_t b = 0; b < batch; ++b) {
    const double* dzb = &dz[size_t(b * out)];
    for (int64_t o = 0; o < out; ++o) dbias[size_t(o)] += dzb[o];
    for (int64_t i = 0; i < in; ++i) {
      const double xi = x[size_t(b * in + i)];
      double* dwi = &dw[size_t(i * out)];
      const double* wi = &w[size_t(i * out)];
      double sum = 0;
      for (int64_t o = 0; o < out; ++o) {
        dwi[o] += xi * dzb[o];
        sum += wi[o] * dzb[o];
      }
      if (dx) (*dx)[size_t(b * in + i)] = sum;
    }
  }
}

// A valid 3×3 convolution, stride 1, kernel [3, 3, C, F]: the window's offsets into x.
struct ConvGeometry {
  Shape in, out;  // [H, W, C] and [H - 2, W - 2, F]
  int64_t x_index(int64_t b, int64_t h, int64_t w, int64_t c) const {
    return ((b * in[0] + h) * in[1] + w) * in[2] + c;
  }
  int64_t z_index(int64_t b, int64_t h, int64_t w) const {
    return ((b * out[0] + h) * out[1] + w) * out[2];
  }
  int64_t k_index(int64_t i, int64_t j, int64_t c) const {
    return ((i * 3 + j) * in[2] + c) * out[2];
  }
};

Values conv_forward(const Values& x, int64_t batch, const ConvGeometry& g, const Values& kernel,
                    const Values& bias) {
  const int64_t filters = g.out[2];
  Values z(size_t(batch * count(g.out)));
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t h = 0; h < g.out[0]; ++h) {
      for (int64_t w = 0; w < g.out[1]; ++w) {
        double* zf = &z[size_t(g.z_index(b, h, w))];
        for (int64_t f = 0; f < filters; ++f) zf[f] = bias[size_t(f)];
        for (int64_t i = 0; i < 3; ++i) {
          for (int64_t j = 0; j < 3; ++j) {
            for (int64_t c = 0; c < g.in[2]; ++c) {
              const double xv = x[size_t(g.x_index(b, h + i, w + j, c))];
              const double* k = &kernel[size_t(g.k_index(i, j, c))];
              for (int64_t f = 0; f < filters; ++f) zf[f] += xv * k[f];
            }
          }
        }
      }
    }
  }
  return z;
}

void conv_backward(const Values& x, const Values& dz, int64_t batch, const ConvGeometry& g,
                   const Values& kernel, Values& dkernel, Values& dbias, Values* dx) {
  const int64_t filters = g.out[2];
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t h = 0; h < g.out[0]; ++h) {
      for (int64_t w = 0; w < g.out[1]; ++w) {
        const double* dzf = &dz[size_t(g.z_index(b, h, w))];
        for (int64_t f = 0; f < filters; ++f) dbias[size_t(f)] += dzf[f];
        for (int64_t i = 0; i < 3; ++i) {
          for (int64_t j = 0; j < 3; ++j) {
            for (int64_t c = 0; c < g.in[2]; ++c) {
              const int64_t xi = g.x_index(b, h + i, w + j, c);
              const double xv = x[size_t(xi)];
              double* dk = &dkernel[size_t(g.k_index(i, j, c))];
              const double* k = &kernel[size_t(g.k_index(i, j, c))];
              double sum = 0;
              for (int64_t f = 0; f < filters; ++f) {
                dk[f] += xv * dzf[f];
                sum += k[f] * dzf[f];
              }
              if (dx) (*dx)[size_t(xi)] += sum;
            }
          }
        }
      }
    }
  }
}

// 2×2 max pooling, stride 2, valid. `from` records where each maximum came from (the first
// of equal values, as TensorFlow's kernel takes it), for the backward pass.
Values pool_forward(const Values& x, int64_t batch, const Shape& in, const Shape& out,
                    std::vector<int64_t>& from) {
  Values y(size_t(batch * count(out)));
  from.assign(y.size(), 0);
  size_t o = 0;
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t h = 0; h < out[0]; ++h) {
      for (int64_t w = 0; w < out[1]; ++w) {
        for (int64_t c = 0; c < out[2]; ++c, ++o) {
          int64_t best = -1;
          for (int64_t i = 0; i < 2; ++i) {
            for (int64_t j = 0; j < 2; ++j) {
              const int64_t at = ((b * in[0] + 2 * h + i) * in[1] + 2 * w + j) * in[2] + c;
              if (best < 0 || x[size_t(at)] > x[size_t(best)]) best = at;
            }
          }
          y[o] = x[size_t(best)];
          from[o] = best;
        }
      }
    }
  }
  return y;
}

// Softmax, then Keras's categorical crossentropy: probabilities renormalized and clipped to
// [1e-7, 1 - 1e-7], the batch mean of -log(p_label). The gradient of the mean with respect
// to the logits is (p - onehot)/batch where the label's probability is inside the clip, and
// zero where the clip holds it (the clip's gradient is zero there).
double softmax_crossentropy(const Values& logits, const std::vector<int>& labels, int64_t batch,
                            int64_t classes, Values& dlogits, int64_t& clipped) {
  constexpr double kEpsilon = 1e-7;
  double total = 0;
  dlogits.assign(logits.size(), 0.0);
  for (int64_t b = 0; b < batch; ++b) {
    const double* z = &logits[size_t(b * classes)];
    const double top = *std::max_element(z, z + classes);
    Values p(static_cast<size_t>(classes));
    double sum = 0;
    for (int64_t k = 0; k < classes; ++k) sum += p[size_t(k)] = std::exp(z[k] - top);
    for (double& value : p) value /= sum;
    const double label_p = p[size_t(labels[size_t(b)])];
    const double kept = std::clamp(label_p, kEpsilon, 1 - kEpsilon);
    total -= std::log(kept);
    if (kept != label_p) {
      ++clipped;
      continue;
    }
    for (int64_t k = 0; k < classes; ++k) {
      dlogits[size_t(b * classes + k)] =
          (p[size_t(k)] - (k == labels[size_t(b)] ? 1.0 : 0.0)) / double(batch);
    }
  }
  return total / double(batch);
}

// A kernel_regularizer's l2·Σw² (l2 a float32 in Keras) and its gradient 2·l2·w.
double l2_penalty(double factor, const Values& kernel, Values& gradient) {
  const double l2 = double(float(factor));
  double penalty = 0;
  for (size_t i = 0; i < kernel.size(); ++i) {
    penalty += l2 * kernel[i] * kernel[i];
    gradient[i] += 2 * l2 * kernel[i];
  }
  return penalty;
}

}  // namespace

Network::Network(std::vector<int64_t> input_shape, std::vector<Layer> layers)
    : input_(std::move(input_shape)) {
  Shape shape = input_;
  int parameters = 0;
  for (const Layer& layer : layers) {
    Stage stage{layer, shape, {}, -1};
    switch (layer.kind) {
      case Layer::Kind::dense:
        if (shape.size() != 1) throw std::invalid_argument("dense needs a flat input");
        stage.out = {layer.size};
        break;
      case Layer::Kind::conv2d:
        stage.out = {shape[0] - 2, shape[1] - 2, layer.size};
        break;
      case Layer::Kind::max_pool2d:
        stage.out = {shape[0] / 2, shape[1] / 2, shape[2]};
        break;
      case Layer::Kind::flatten:
        stage.out = {count(shape)};
        break;
    }
    const bool has_parameters =
        layer.kind == Layer::Kind::dense || layer.kind == Layer::Kind::conv2d;
    if (has_parameters) {
      stage.parameter = parameters;
      parameters += 2;
    }
    shape = stage.out;
    stages_.push_back(stage);
  }
}

std::vector<Parameter> Network::parameters() const {
  std::vector<Parameter> result;
  int dense = 0, conv = 0;
  for (const Stage& stage : stages_) {
    const bool is_dense = stage.layer.kind == Layer::Kind::dense;
    if (!is_dense && stage.layer.kind != Layer::Kind::conv2d) continue;
    const int index = is_dense ? dense++ : conv++;
    const std::string base = is_dense ? "dense" : "conv2d";
    const std::string name = index == 0 ? base : base + "_" + std::to_string(index);
    const Shape kernel =
        is_dense ? Shape{stage.in[0], stage.out[0]} : Shape{3, 3, stage.in[2], stage.out[2]};
    result.push_back({name + "/kernel", kernel, Values(size_t(count(kernel)))});
    result.push_back({name + "/bias", {stage.layer.size}, Values(size_t(stage.layer.size))});
  }
  return result;
}

// Stage k's output from its input x (tanh applied after dense and conv2d but the softmax).
Values Network::forward(size_t k, const Values& x, const std::vector<Parameter>& parameters,
                        int64_t batch, std::vector<int64_t>& pool_from) const {
  const Stage& s = stages_[k];
  Values y;
  if (s.layer.kind == Layer::Kind::dense) {
    y = dense_forward(x, batch, s.in[0], s.out[0], parameters[size_t(s.parameter)].values,
                      parameters[size_t(s.parameter + 1)].values);
  } else if (s.layer.kind == Layer::Kind::conv2d) {
    y = conv_forward(x, batch, {s.in, s.out}, parameters[size_t(s.parameter)].values,
                     parameters[size_t(s.parameter + 1)].values);
  } else if (s.layer.kind == Layer::Kind::max_pool2d) {
    y = pool_forward(x, batch, s.in, s.out, pool_from);
  } else {
    y = x;  // flatten: channels-last order is already the flat order
  }
  if (s.parameter >= 0 && !s.layer.softmax) {
    std::ranges::transform(y, y.begin(), [](double v) { return std::tanh(v); });
  }
  return y;
}

// From d (the loss's gradient with respect to stage k's output y): the parameters' gradients
// added into `gradients`, and the gradient with respect to the input x (empty for the first).
Values Network::backward(size_t k, const Values& x, const Values& y, Values d,
                         const std::vector<Parameter>& parameters, int64_t batch,
                         const std::vector<int64_t>& pool_from,
                         std::vector<Values>& gradients) const {
  const Stage& s = stages_[k];
  if (s.parameter >= 0 && !s.layer.softmax) {
    for (size_t i = 0; i < d.size(); ++i) d[i] *= 1 - y[i] * y[i];  // tanh' = 1 - tanh²
  }
  Values dx(k > 0 ? x.size() : 0, 0.0);
  Values* wanted = k > 0 ? &dx : nullptr;  // the images need no gradient
  const auto p = size_t(s.parameter);
  if (s.layer.kind == Layer::Kind::dense) {
    dense_backward(x, d, batch, s.in[0], s.out[0], parameters[p].values, gradients[p],
                   gradients[p + 1], wanted);
  } else if (s.layer.kind == Layer::Kind::conv2d) {
    conv_backward(x, d, batch, {s.in, s.out}, parameters[p].values, gradients[p], gradients[p + 1],
                  wanted);
  } else if (s.layer.kind == Layer::Kind::max_pool2d) {
    for (size_t o = 0; o < d.size(); ++o) dx[size_t(pool_from[o])] += d[o];
  } else {
    dx = std::move(d);
  }
  return dx;
}

double Network::loss_and_gradients(const std::vector<Parameter>& parameters, const Values& images,
                                   const std::vector<int>& labels,
                                   std::vector<Values>& gradients) const {
  if (!stages_.back().layer.softmax) throw std::invalid_argument("the last layer is softmax");
  const auto batch = int64_t(labels.size());
  std::vector<Values> activations = {images};  // [k]: stage k's input; the last, the logits
  std::vector<std::vector<int64_t>> pool_from(stages_.size());
  for (size_t k = 0; k < stages_.size(); ++k) {
    activations.push_back(forward(k, activations[k], parameters, batch, pool_from[k]));
  }
  gradients.clear();
  for (const Parameter& p : parameters) gradients.emplace_back(p.values.size(), 0.0);
  clipped_ = 0;
  Values d;  // the gradient of the loss with respect to the current stage's output
  double loss =
      softmax_crossentropy(activations.back(), labels, batch, stages_.back().out[0], d, clipped_);
  for (size_t k = stages_.size(); k-- > 0;) {
    d = backward(k, activations[k], activations[k + 1], std::move(d), parameters, batch,
                 pool_from[k], gradients);
    const Stage& s = stages_[k];
    if (s.parameter >= 0 && s.layer.l2 > 0) {
      const auto p = size_t(s.parameter);
      loss += l2_penalty(s.layer.l2, parameters[p].values, gradients[p]);
    }
  }
  return loss;
}

}  // namespace loom::testing::reference
