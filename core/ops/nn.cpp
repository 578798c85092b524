// Neural-network ops: embedding lookup, the two losses, dropout.
#include <cmath>

#include "core/kernels/simd.h"
#include "core/kernels/softmax_rows.h"
#include "core/kernels/vec_math.h"
#include "core/ops/helpers.h"
#include "core/random.h"

namespace nl {

namespace {
void check_indices(const char* op, const Tensor& indices, int64_t limit, int64_t allowed = INT64_MIN) {
  if (indices.dtype() != DType::int64)
    fail("{}: indices must be int64, got {} of shape {}", op, indices.dtype(), indices.shape());
  for (int64_t v : indices.to_vector<int64_t>())
    if ((v < 0 || v >= limit) && v != allowed)
      fail("{}: index {} out of range [0, {}) (indices of shape {})", op, v, limit, indices.shape());
}

// cross_entropy's rows, forward and backward, compiled for AVX2 as well
// (NL_SIMD_CLONES: the parallel regions that call them are not cloned, and
// the exponentials are the rows' cost).
//   lse_i = m + log Σ_c exp(x_i,c − m),  m = max_c x_i,c (core/kernels/softmax_rows.h)
template <typename T>
NL_SIMD_CLONES void log_sum_exp_rows(const T* x, T* lse, int64_t classes, int64_t lo, int64_t hi) {
  for (int64_t i = lo; i < hi; ++i) {
    const auto [m, s] = kernels::shifted_exp_sum(x + i * classes, 1, classes);
    lse[i] = T(m + std::log(s));
  }
}

//   dx_i,c = (exp(x_i,c − lse_i) − [c = t_i]) · scale, and 0 for ignored rows
template <typename T>
NL_SIMD_CLONES void cross_entropy_grad_rows(const T* x, const T* lse, const int64_t* targets, int64_t ignore_index,
                                            T scale, T* dx, int64_t classes, int64_t lo, int64_t hi) {
  for (int64_t i = lo; i < hi; ++i) {
    T* o = dx + i * classes;
    if (targets[i] == ignore_index) {
      std::fill(o, o + classes, T(0));
      continue;
    }
    for (int64_t c = 0; c < classes; ++c) o[c] = kernels::vec::exp(x[i * classes + c] - lse[i]) * scale;
    o[targets[i]] -= scale;
  }
}
}  // namespace

Tensor embedding(const Tensor& weight, const Tensor& indices) {
  if (weight.dim() != 2) fail("embedding: weight must be 2-D (num_embeddings, dim), got shape {}", weight.shape());
  ops::check_floating("embedding", weight);
  int64_t vocab = weight.shape()[0], width = weight.shape()[1];
  check_indices("embedding", indices, vocab);
  Tensor idx = indices.contiguous();
  Shape out_shape = indices.shape();
  out_shape.push_back(width);
  Tensor y = Tensor::make(out_shape, weight.dtype(), "embedding");
  Tensor w = weight.contiguous();
  int64_t rows = idx.numel();
  const int64_t* ip = idx.data<int64_t>();
  // y[i, :] = weight[indices[i], :]
  dispatch_floating("embedding", w.dtype(), [&]<typename T>() {
    const T* wp = w.data<T>();
    T* yp = y.data<T>();
    parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(width, 1)),
                 [&](int64_t lo, int64_t hi) {
                   for (int64_t r = lo; r < hi; ++r)
                     std::copy(wp + ip[r] * width, wp + (ip[r] + 1) * width, yp + r * width);
                 });
  });
  // dweight[indices[i], :] += dy[i, :]   (scatter-add; repeated indices sum)
  if (needs_grad(weight))
    attach(y, "embedding", {weight}, save(idx), [vocab, width](const Tensor& grad, const Tensor& idx) -> Grads {
      Tensor g = grad.contiguous();
      Tensor gw = zeros(Shape{vocab, width}, g.dtype());
      const int64_t* ip = idx.data<int64_t>();
      dispatch_floating("embedding_backward", g.dtype(), [&]<typename T>() {
        const T* gp = g.data<T>();
        T* out = gw.data<T>();
        for (int64_t r = 0; r < idx.numel(); ++r) {
          T* dst = out + ip[r] * width;
          const T* src = gp + r * width;
          for (int64_t j = 0; j < width; ++j) dst[j] += src[j];
        }
      });
      return {gw};
    });
  return y;
}

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index) {
  if (logits.dim() != 2) fail("cross_entropy: logits must be 2-D (N, C), got shape {}", logits.shape());
  ops::check_floating("cross_entropy", logits);
  int64_t n = logits.shape()[0], classes = logits.shape()[1];
  if (targets.dim() != 1 || targets.shape()[0] != n)
    fail("cross_entropy: targets must have shape [{}] to match logits {}, got {}", n, logits.shape(), targets.shape());
  check_indices("cross_entropy", targets, classes, ignore_index);
  Tensor x = logits.contiguous();
  Tensor t = targets.contiguous();
  Tensor lse = Tensor::make(Shape{n}, x.dtype(), "cross_entropy");
  Tensor loss = Tensor::make(Shape{}, x.dtype(), "cross_entropy");
  int64_t count = 0;
  const int64_t* tp = t.data<int64_t>();
  // loss = (1/count) Σ_i [lse_i - x_i,t_i],  lse_i = log Σ_c exp(x_i,c); ignored rows are skipped.
  // The rows' lse in parallel, then the loss summed in row order (the same for any thread count).
  dispatch_floating("cross_entropy", x.dtype(), [&]<typename T>() {
    const T* xp = x.data<T>();
    T* lp = lse.data<T>();
    parallel_for(0, n, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(classes, 1)),
                 [&](int64_t lo, int64_t hi) { log_sum_exp_rows(xp, lp, classes, lo, hi); });
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
      const T* row = xp + i * classes;
      if (tp[i] == ignore_index) continue;
      total += double(lp[i]) - double(row[tp[i]]);
      ++count;
    }
    *loss.data<T>() = T(total / double(count));  // count 0 gives NaN, as PyTorch
  });
  // dlogits_i = (softmax(x_i) - onehot(t_i)) · dloss / count, and 0 for ignored rows
  if (needs_grad(logits))
    attach(loss, "cross_entropy", {logits}, save(x, t, lse),
           [count, ignore_index](const Tensor& grad, const Tensor& x, const Tensor& t, const Tensor& lse) -> Grads {
             Tensor gx = Tensor::make(x.shape(), x.dtype(), "cross_entropy_backward");
             int64_t rows = x.shape()[0], classes = x.shape()[1];
             const int64_t* tp = t.data<int64_t>();
             dispatch_floating("cross_entropy_backward", x.dtype(), [&]<typename T>() {
               const T* xp = x.data<T>();
               const T* lp = lse.data<T>();
               T* out = gx.data<T>();
               T scale = grad.item<T>() / T(count);
               parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(classes, 1)),
                            [&](int64_t lo, int64_t hi) {
                              cross_entropy_grad_rows(xp, lp, tp, ignore_index, scale, out, classes, lo, hi);
                            });
             });
             return {gx};
           });
  return loss;
}

Tensor mse_loss(const Tensor& input, const Tensor& target) {
  if (!(input.shape() == target.shape()))
    fail("mse_loss: input shape {} and target shape {} must match", input.shape(), target.shape());
  ops::check_same_dtype("mse_loss", input, target);
  ops::check_floating("mse_loss", input);
  Tensor diff;
  Tensor loss;
  {
    NoGradGuard no_grad;
    diff = input - target;
    loss = mean(diff * diff);
  }
  // loss = Σ (x - t)² / n;  dx = dloss · 2(x - t)/n,  dt = -dx
  if (needs_grad(input, target))
    attach(loss, "mse_loss", {input, target}, save(diff),
           [n = double(input.numel()), t_req = target.requires_grad()](const Tensor& g, const Tensor& diff) -> Grads {
             Tensor gx = diff * (2.0 * g.item<double>() / n);
             return {gx, t_req ? neg(gx) : Tensor()};
           });
  return loss;
}

Tensor dropout(const Tensor& x, double p, bool training) {
  if (!(p >= 0.0 && p <= 1.0)) fail("dropout: probability must be in [0, 1], got {}", p);
  ops::check_floating("dropout", x);
  if (!training || p == 0.0) return x;
  // mask_i = 1/(1-p) with probability 1-p, else 0  (so E[y] = x); p = 1 drops all
  Tensor mask = Tensor::make(x.shape(), x.dtype(), "dropout");
  Generator& gen = default_generator();
  uint64_t first = gen.take(uint64_t(x.numel()));
  dispatch_floating("dropout", x.dtype(), [&]<typename T>() {
    T* mp = mask.data<T>();
    T keep = p < 1.0 ? T(1.0 / (1.0 - p)) : T(0);
    parallel_for(0, mask.numel(), kParallelGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) mp[i] = gen.uniform(first + uint64_t(i)) >= p ? keep : T(0);
    });
  });
  Tensor y;
  {
    NoGradGuard no_grad;
    y = x * mask;
  }
  // dx = dy · mask
  if (needs_grad(x))
    attach(y, "dropout", {x}, save(mask), [](const Tensor& g, const Tensor& mask) -> Grads { return {g * mask}; });
  return y;
}

}  // namespace nl
