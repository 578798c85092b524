// Scaled dot-product attention (Vaswani et al. 2017), with the softmax over
// masked scores as one fused row kernel (forward and backward side by side):
//
//   scores = q·kᵀ / √E + mask          (mask additive: 0 keeps, −inf blocks)
//   weights = softmax over keys, with keys j > i also blocked when causal
//   out = dropout(weights)·v
//
// The row kernels, forward and backward, are in core/kernels/softmax_rows.h: a
// row whose keys are all blocked gets all-zero weights (PyTorch gives NaN
// there), so padded queries stay finite. MultiheadAttention's fast path, all
// of this per head in one op, is core/ops/multi_head_attention.cpp.
#include <cmath>

#include "core/kernels/softmax_rows.h"
#include "core/ops/helpers.h"
#include "core/parallel.h"

namespace nl {

namespace {
// rows of length S; row r is query i = r mod L (for the causal rule j <= i)
template <typename T>
void masked_softmax_forward(const T* x, T* y, int64_t rows, int64_t L, int64_t S, bool causal) {
  parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(S, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r)
      kernels::masked_softmax_row(x + r * S, y + r * S, S, causal ? std::min(S, r % L + 1) : S);
  });
}

template <typename T>
void masked_softmax_backward(const T* g, const T* y, T* dx, int64_t rows, int64_t S) {
  parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(S, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) kernels::masked_softmax_row_backward(g + r * S, y + r * S, dx + r * S, S);
  });
}
}  // namespace

Tensor masked_softmax(const Tensor& input, bool is_causal) {
  const char* op = "masked_softmax";
  ops::check_floating(op, input);
  if (input.dim() < 2) fail("{}: expected scores (..., L, S), got {}", op, input.shape());
  Tensor x = input.contiguous();
  int64_t S = x.size(-1), L = x.size(-2), rows = S == 0 ? 0 : x.numel() / S;
  Tensor y = Tensor::make(x.shape(), x.dtype(), op);
  dispatch_floating(op, x.dtype(),
                    [&]<typename T>() { masked_softmax_forward<T>(x.data<T>(), y.data<T>(), rows, L, S, is_causal); });
  if (needs_grad(input))
    attach(y, op, {input}, save(y), [rows, S](const Tensor& grad, const Tensor& y) -> Grads {
      Tensor g = grad.contiguous();
      Tensor dx = Tensor::make(y.shape(), y.dtype(), "masked_softmax_backward");
      dispatch_floating("masked_softmax_backward", y.dtype(), [&]<typename T>() {
        masked_softmax_backward<T>(g.data<T>(), y.data<T>(), dx.data<T>(), rows, S);
      });
      return {dx};
    });
  return y;
}

AttentionResult scaled_dot_product_attention_with_weights(const Tensor& q, const Tensor& k, const Tensor& v,
                                                          const Tensor& attn_mask, bool is_causal, double dropout_p,
                                                          bool training) {
  const char* op = "scaled_dot_product_attention";
  if (q.dim() < 2 || k.dim() < 2 || v.dim() < 2 || q.size(-1) != k.size(-1) || k.size(-2) != v.size(-2))
    fail("{}: expected q (..., L, E), k (..., S, E), v (..., S, Ev), got {}, {}, {}", op, q.shape(), k.shape(),
         v.shape());
  double scale = 1.0 / std::sqrt(double(q.size(-1)));
  Tensor scores = matmul(q * scale, k.transpose(-2, -1));  // (..., L, S); kᵀ is a view BLAS takes as a transpose
  if (attn_mask.defined()) {
    if (!broadcasts_to(attn_mask.shape(), scores.shape()))
      fail("{}: attn_mask of shape {} does not broadcast to the scores {}", op, attn_mask.shape(), scores.shape());
    if (attn_mask.dtype() != scores.dtype())
      fail("{}: attn_mask must be additive with the scores' dtype {}, got {}", op, scores.dtype(), attn_mask.dtype());
    scores = scores + attn_mask;
  }
  Tensor weights = masked_softmax(scores, is_causal);
  return {matmul(dropout(weights, dropout_p, training), v), weights};
}

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask,
                                    bool is_causal, double dropout_p, bool training) {
  return scaled_dot_product_attention_with_weights(q, k, v, attn_mask, is_causal, dropout_p, training).output;
}

}  // namespace nl
