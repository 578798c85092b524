#pragma once
// Every differentiable op normlab has, as free functions in nl::.
// Each is defined (shape checks, forward kernel, gradient rule) in one place
// under core/ops/; the file is named in the group comment.
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "core/tensor.h"

namespace nl {

// ---- arithmetic with broadcasting (core/ops/binary.cpp) -----------------------------
// Both tensors must have the same dtype (convert with .to()); shapes broadcast
// as in NumPy/PyTorch.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);  // gradient goes to the larger (split evenly on ties)
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
// scalar forms keep the tensor's dtype
Tensor operator+(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(const Tensor& a, double b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(const Tensor& a, double b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(const Tensor& a, double b);
Tensor operator/(double a, const Tensor& b);
Tensor operator-(const Tensor& a);
// Comparisons give 0/1 in the inputs' dtype (normlab has no bool dtype); no gradient.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
// where(cond, a, b): a where cond != 0, else b; all three broadcast together.
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);
// x with value wherever mask != 0 (mask broadcasts to x).
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);

// ---- elementwise math (core/ops/unary.cpp) ----------------------------------------
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);  // 1/sqrt(x)
Tensor abs(const Tensor& x);    // gradient sign(x), 0 at 0
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
// GELU: approximate "none" is x·Φ(x) with the erf; "tanh" is
// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as torch.nn.functional.gelu.
Tensor gelu(const Tensor& x, std::string_view approximate = "none");
Tensor pow(const Tensor& x, double exponent);
// Clamp to [min, max]; either bound may be absent. Gradient 1 inside, 0 outside.
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max);

// ---- reductions (core/ops/reduce.cpp) -------------------------------------------
// dims may be negative; an empty dims list reduces over all dims.
Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, const Shape& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const Shape& dims, bool keepdim = false);
// Variance; unbiased divides by n-1 (Bessel), otherwise by n.
Tensor var(const Tensor& x, const Shape& dims, bool unbiased = true, bool keepdim = false);
Tensor max(const Tensor& x);
Tensor max(const Tensor& x, const Shape& dims, bool keepdim = false);
// Index of the (first) largest value, int64; over all elements when dim is absent.
Tensor argmax(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
// log(sum(exp(x))) computed stably as m + log(sum(exp(x - m))), m = max.
Tensor logsumexp(const Tensor& x, const Shape& dims, bool keepdim = false);
// Sums x down to shape (the reverse of broadcasting); used by gradient rules.
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---- softmax (core/ops/softmax.cpp) ------------------------------------------------
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

// ---- shapes, views and copies (core/ops/shape.cpp) -----------------------------------
// The view methods live on Tensor (reshape, transpose, slice, ...); these join tensors.
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
// The slices of x along dim as views: x.select(dim, i) for every i. Their
// gradients are gathered into one buffer (cost O(x.numel()) in total), where
// separate select()s would each build a full-size zero gradient — what an RNN
// needs to take its time steps apart.
std::vector<Tensor> unbind(const Tensor& x, int64_t dim = 0);

// ---- linear algebra (core/ops/matmul.cpp, core/ops/linear.cpp) ----------------------
// 1-D, 2-D and batched (3-D and up, batch dims broadcast) products through BLAS
// sgemm/dgemm; transposed views are handed to BLAS as transposes, not copied.
Tensor matmul(const Tensor& a, const Tensor& b);
// y = x·weightᵀ + bias, as torch.nn.functional.linear: x (..., in), weight
// (out, in), bias (out) or undefined. One GEMM and one graph node
// (core/ops/linear.cpp); the same values as matmul(x, weight.t()) + bias.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// ---- neural-network ops (core/ops/nn.cpp) -------------------------------------------
// Rows of weight (V, D) picked by int64 indices of any shape -> indices.shape + [D].
Tensor embedding(const Tensor& weight, const Tensor& indices);
// Mean cross-entropy of logits (N, C) against int64 class targets (N);
// targets equal to ignore_index count neither in the loss nor in the mean.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index = -100);
// Mean squared error over all elements.
Tensor mse_loss(const Tensor& input, const Tensor& target);
// Inverted dropout: zero each element with probability p, scale the rest by
// 1/(1-p); identity when !training or p == 0. Masks come from the global generator.
Tensor dropout(const Tensor& x, double p, bool training = true);

// ---- fused normalization (core/ops/layer_norm.cpp, batch_norm.cpp, group_norm.cpp, ...) ---
// As torch.nn.functional; weight and bias may be undefined Tensors (no affine).
// Each has a composed-from-primitives reference in nl::reference (below),
// defined next to it in the same file.
//
// LayerNorm over the trailing dims equal to normalized_shape:
//   y = (x − mean) / √(var + eps) · weight + bias, statistics per row.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);
// RMSNorm over the trailing dims: y = x / √(mean(x²) + eps) · weight.
Tensor rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(), double eps = 1e-6);
// BatchNorm over dim 1 of (N, C) or (N, C, *) — (N, C, L), images (N, C, H, W) —
// as torch.nn.functional.batch_norm:
// training normalizes with batch statistics and updates running_mean and
// running_var (if given) in place; eval normalizes with them. The formula,
// forward and backward: core/ops/batch_norm.cpp.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), bool training = true,
                  double momentum = 0.1, double eps = 1e-5);
// The same op over a batch split across processes (nl::dist::SyncBatchNorm):
// in training, sum_across_processes(values, n) must replace values[0..n) by
// their sum over all processes (an allreduce; every process calls it at the
// same point). Forward calls it once, backward once (what they sum:
// core/ops/batch_norm.cpp); statistics, dx and the running statistics are then
// those of the global batch, dweight and dbias stay local sums. An empty
// function: batch_norm above.
using CrossProcessSum = std::function<void(double* values, int64_t n)>;
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps,
                  const CrossProcessSum& sum_across_processes);

// GroupNorm (Wu & He 2018), as torch.nn.functional.group_norm: the C channels of
// x (N, C) or (N, C, *) in num_groups groups of C/G consecutive channels;
// each sample's group is normalized over its C/G·L values (biased variance),
// then y = xhat·weight[c] + bias[c]. The LayerNorm kernels on the N·G rows plus
// the per-channel affine, one gradient rule for all of it. weight and bias: [C].
Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight = Tensor(), const Tensor& bias = Tensor(),
                  double eps = 1e-5);

// InstanceNorm (Ulyanov et al. 2016), as torch.nn.functional.instance_norm:
// each sample's channel of x (N, C, *) normalized over its positions (biased
// variance), y = xhat·weight[c] + bias[c] — GroupNorm with G = C. With
// use_input_stats, running_mean and running_var (if given) move towards the
// batch's mean of the instance statistics (unbiased variance); without, they
// normalize, per channel (batch_norm in eval). core/ops/instance_norm.cpp.
Tensor instance_norm(const Tensor& x, const Tensor& running_mean = Tensor(), const Tensor& running_var = Tensor(),
                     const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), bool use_input_stats = true,
                     double momentum = 0.1, double eps = 1e-5);
// Batch Renormalization (Ioffe 2017) over dim 1 of (N, C) or (N, C, *). Training:
//   xhat = (x − μ_B)/σ_B · r + d,  y = xhat·weight + bias,  σ_B = √(var_B + eps), σ = √(running_var + eps),
//   r = clip(σ_B/σ, 1/r_max, r_max),  d = clip((μ_B − running_mean)/σ, −d_max, d_max),
// r and d constants in the backward; the running statistics then move as
// BatchNorm's. Eval: batch_norm with the running statistics. r_max = 1,
// d_max = 0 is BatchNorm. core/ops/batch_renorm.cpp.
Tensor batch_renorm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                    const Tensor& bias, bool training, double momentum, double eps, double r_max, double d_max);

// Weight normalization (Salimans & Kingma 2016), as torch._weight_norm:
//   w = g · v / ‖v‖,  ‖v‖ the 2-norm over every dim of v but `dim`,
// one norm per slice along dim (dim 0: per output row or channel). g has v's
// shape with 1 in every dim but dim; dim may be negative, counting from the
// end. std::nullopt takes one norm over all of v, g then of shape [] as
// PyTorch's dim=None (or all ones). PyTorch 1.13 reads dim=-1 as None, its
// sentinel; here -1 is the last dim. One graph node; with ŵ = v/‖v‖ and
// s = Σ(dw·ŵ) per slice, the gradient rule is
//   dv = g/‖v‖ · (dw − ŵ·s),  dg = s.  core/ops/weight_norm.cpp.
Tensor weight_norm(const Tensor& v, const Tensor& g, std::optional<int64_t> dim = 0);
// ‖v‖ over every dim but dim, keeping dims — g's shape above (as
// torch.norm_except_dim with pow 2; std::nullopt: over all of v, shape []).
// Composed from primitive ops, so it differentiates; weight_norm's g starts as this.
Tensor norm_except_dim(const Tensor& v, std::optional<int64_t> dim = 0);

// The composed references: the same norms from primitive ops (mean, var,
// rsqrt, broadcasting), with the same arguments and results. Autograd derives
// their backward; the fused ops above use the closed form, and the tests hold
// the two equal. The clearest statement of what each norm computes.
namespace reference {
// mean and biased var over the trailing dims; y = (x − mean)/√(var + eps)·w + b  (layer_norm.cpp)
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);
// y = x / √(mean(x²) + eps)·w over the trailing dims  (layer_norm.cpp)
Tensor rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(), double eps = 1e-6);
// statistics over every dim but 1 of (N, C) or (N, C, *); running statistics
// updated in place in training when given  (batch_norm.cpp)
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), bool training = true,
                  double momentum = 0.1, double eps = 1e-5);
// mean and biased var over each sample's group of channels  (group_norm.cpp)
Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight = Tensor(), const Tensor& bias = Tensor(),
                  double eps = 1e-5);
// group_norm with G = C, and the running statistics' update  (instance_norm.cpp)
Tensor instance_norm(const Tensor& x, const Tensor& running_mean = Tensor(), const Tensor& running_var = Tensor(),
                     const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), bool use_input_stats = true,
                     double momentum = 0.1, double eps = 1e-5);
// r and d detached, then batch_norm with weight·r and weight·d + bias  (batch_renorm.cpp)
Tensor batch_renorm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                    const Tensor& bias, bool training, double momentum, double eps, double r_max, double d_max);
// g · v / norm_except_dim(v, dim), broadcasting  (weight_norm.cpp)
Tensor weight_norm(const Tensor& v, const Tensor& g, std::optional<int64_t> dim = 0);
}  // namespace reference

// The same three norms step by step, without autograd: the forward with the
// statistics it saves, the backward with its two sums per group. The ops
// above are exactly these two calls (forward, then backward in the gradient
// rule); examples/backprop_tour prints every piece and group_norm builds on
// LayerNorm's. A group is a row for LayerNorm/RMSNorm (mean and rstd have
// shape [rows], rows = x.numel() / numel(normalized_shape)) and a channel for
// BatchNorm (shape [C]).
struct NormForward {
  Tensor y;
  Tensor mean;  // per group (all zeros for RMSNorm; BatchNorm in eval: running_mean)
  Tensor rstd;  // per group: 1 / √(var + eps)
};
struct NormGradsWanted {
  bool input = true, weight = true, bias = true;
  bool sums = false;  // also return sum_dxhat and sum_dxhat_xhat
};
struct NormBackward {
  Tensor dx, dweight, dbias;  // undefined when not wanted (no dbias for RMSNorm)
  // per group, with dxhat = dy · weight: Σ dxhat (zeros for RMSNorm, which does
  // not center) and Σ dxhat · xhat, where xhat = (x − mean) · rstd
  Tensor sum_dxhat, sum_dxhat_xhat;
};
NormForward layer_norm_forward(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                               const Tensor& bias = Tensor(), double eps = 1e-5);
// dx = rstd / n · (n·dxhat − Σdxhat − xhat·Σ(dxhat·xhat)),  dw = Σ_rows dy·xhat,  db = Σ_rows dy
NormBackward layer_norm_backward(const Tensor& grad_output, const Tensor& x, const Shape& normalized_shape,
                                 const Tensor& weight, const Tensor& mean, const Tensor& rstd,
                                 NormGradsWanted wanted = {});
NormForward rms_norm_forward(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                             double eps = 1e-6);
// dx = rstd / n · (n·dxhat − xhat·Σ(dxhat·xhat)),  dw = Σ_rows dy·xhat
NormBackward rms_norm_backward(const Tensor& grad_output, const Tensor& x, const Shape& normalized_shape,
                               const Tensor& weight, const Tensor& rstd, NormGradsWanted wanted = {});
NormForward batch_norm_forward(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                               const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), bool training = true,
                               double momentum = 0.1, double eps = 1e-5);
// the formula: core/ops/batch_norm.cpp (training: through the batch statistics; eval: they are constants)
NormBackward batch_norm_backward(const Tensor& grad_output, const Tensor& x, const Tensor& weight, const Tensor& mean,
                                 const Tensor& rstd, bool training = true, NormGradsWanted wanted = {});

// ---- convolution and pooling (core/ops/conv2d.cpp, core/ops/pool2d.cpp) ----------------
// A size for the two spatial dims (H, W), as the int-or-pair arguments of
// torch.nn.functional: Size2(3) is (3, 3), Size2{1, 2} is (1, 2).
struct Size2 {
  int64_t h = 0, w = 0;
  Size2(int64_t both) : h(both), w(both) {}  // NOLINT: implicit, as PyTorch's int
  Size2(int64_t h_, int64_t w_) : h(h_), w(w_) {}
  bool operator==(const Size2&) const = default;
};
// As torch.nn.functional.conv2d: x (N, C_in, H, W), weight (C_out, C_in/groups,
// kH, kW), bias (C_out) or undefined -> y (N, C_out, H_out, W_out) with
//   H_out = (H + 2·padding.h − dilation.h·(kH − 1) − 1) / stride.h + 1  (floor; W alike)
//   y[n,o,i,j] = bias[o] + Σ_{c,p,q} weight[o,c,p,q] ·
//                x[n, g·C_in/groups + c, i·stride.h − padding.h + p·dilation.h, j·stride.w − padding.w + q·dilation.w]
// where g = o / (C_out/groups) and x is 0 outside the image. groups = C_in with
// C_out = k·C_in is depthwise. im2col and one GEMM per group, col2im for dx;
// gradients for x, weight and bias in one rule.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), Size2 stride = 1, Size2 padding = 0,
              Size2 dilation = 1, int64_t groups = 1);
// As torch.nn.functional.conv1d: x (N, C_in, L), weight (C_out, C_in/groups, K),
// bias (C_out) -> (N, C_out, L_out): conv2d on (N, C_in, 1, L).
Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), int64_t stride = 1,
              int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1);
// Pools over the windows of x (N, C, H, W) or (C, H, W), as torch.nn.functional:
// H_out = (H + 2·padding.h − dilation.h·(kernel.h − 1) − 1) / stride.h + 1,
// rounded down, or up with ceil_mode (then a last window that would start in
// the right padding is dropped); W alike; padding ≤ kernel/2. Without a
// stride, stride = kernel_size.
// max_pool2d: y = max over the window's kernel.h × kernel.w positions, dilation
// apart; padding counts as −inf; dx goes to the (first) argmax.
Tensor max_pool2d(const Tensor& x, Size2 kernel_size, Size2 stride, Size2 padding = 0, Size2 dilation = 1,
                  bool ceil_mode = false);
Tensor max_pool2d(const Tensor& x, Size2 kernel_size);
// avg_pool2d: y = Σ window / divisor, padding counting as zeros; the divisor is
// divisor_override when > 0, else with count_include_pad the window's size
// up to the padded border (kernel.h·kernel.w unless ceil_mode cuts it), else
// the number of input elements in the window. dx = dy / divisor over the window.
Tensor avg_pool2d(const Tensor& x, Size2 kernel_size, Size2 stride, Size2 padding = 0, bool ceil_mode = false,
                  bool count_include_pad = true, int64_t divisor_override = 0);
Tensor avg_pool2d(const Tensor& x, Size2 kernel_size);
// adaptive_avg_pool2d: output cell i averages rows floor(i·H/out.h) ..
// ceil((i+1)·H/out.h) − 1 (W alike), so windows may overlap or differ in size.
Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size);

// ---- recurrent cells (core/ops/lstm.cpp, lstm_sequence.cpp, {layer,batch}_norm_lstm_sequence.cpp)
// One LSTM step from gate pre-activations (N, 4H), order [i | f | g | o], and
// the previous cell state (N, H): c = σ(f)·c_prev + σ(i)·tanh(g), h = σ(o)·tanh(c).
// h and c are the two outputs of one node, fused forward and backward.
struct LSTMState {
  Tensor h;  // (N, H)
  Tensor c;  // (N, H)
};
LSTMState lstm_cell(const Tensor& gates, const Tensor& c_prev);
// The same step without the output gate: returns c (N, H) only.
Tensor lstm_cell_state(const Tensor& gates, const Tensor& c_prev);
// The plain LSTM over all T steps as one op (core/ops/lstm_sequence.cpp):
// x_proj (T, N, 4H) = the input projections W_ih·x_t + b_ih + b_hh, h0 and c0
// (N, H), weight_hh (4H, H). The three results are the outputs of one node.
struct LSTMSequenceResult {
  Tensor output;  // (T, N, H): h_1 .. h_T
  Tensor h_n;     // (N, H): h_T (a view of output's last step)
  Tensor c_n;     // (N, H): c_T
};
LSTMSequenceResult lstm_sequence(const Tensor& x_proj, const Tensor& h0, const Tensor& c0, const Tensor& weight_hh);
// The layer-normalized LSTM (Ba et al. 2016; layers::LSTM's layer_norm cell)
// over all T steps as one op (core/ops/layer_norm_lstm_sequence.cpp): x_proj
// (T, N, 4H) = LN_ih(W_ih·x_t) of every step; each step adds
// LN_hh(h_{t−1}·W_hhᵀ) (hh_weight, hh_bias (4H)), runs the cell, and outputs
// h_t = σ(o)·tanh(LN_c(c_t)) (c_weight, c_bias (H)).
LSTMSequenceResult layer_norm_lstm_sequence(const Tensor& x_proj, const Tensor& h0, const Tensor& c0,
                                            const Tensor& weight_hh, const Tensor& hh_weight, const Tensor& hh_bias,
                                            const Tensor& c_weight, const Tensor& c_bias, double eps = 1e-5);
// The recurrent BatchNorm LSTM (Cooijmans et al. 2016; layers::LSTM's
// batch_norm cell) over all T steps as one op (core/ops/batch_norm_lstm_sequence.cpp):
// x_proj (T, N, 4H) = W_ih·x_t; each step's gates are BN_ih(x_proj[t]) +
// BN_hh(h_{t−1}·W_hhᵀ) + bias (γ only: ih_weight, hh_weight (4H); bias (4H)
// may be undefined), and h_t = σ(o)·tanh(BN_c(c_t)) (c_weight, c_bias (H)).
// Each BN uses step t's statistics: in training the batch's, and row
// min(start_step + t, max_steps − 1) of its running statistics is updated as
// batch_norm updates them; in eval that row normalizes.
struct BNLSTMRunningStats {
  Tensor mean_ih, var_ih, mean_hh, var_hh;  // (max_steps, 4H)
  Tensor mean_c, var_c;                     // (max_steps, H)
};
LSTMSequenceResult batch_norm_lstm_sequence(const Tensor& x_proj, const Tensor& h0, const Tensor& c0,
                                            const Tensor& weight_hh, const Tensor& ih_weight, const Tensor& hh_weight,
                                            const Tensor& bias, const Tensor& c_weight, const Tensor& c_bias,
                                            const BNLSTMRunningStats& running, int64_t start_step, bool training,
                                            double momentum = 0.1, double eps = 1e-5);
// The composed references of the three sequence ops: their steps from
// matmul, layer_norm / batch_norm, lstm_cell_state (or lstm_cell), sigmoid
// and tanh, one step at a time; autograd derives the backward. The tests hold
// the fused ops equal to them (h_n here is a separate tensor, not a view).
namespace reference {
LSTMSequenceResult lstm_sequence(const Tensor& x_proj, const Tensor& h0, const Tensor& c0, const Tensor& weight_hh);
LSTMSequenceResult layer_norm_lstm_sequence(const Tensor& x_proj, const Tensor& h0, const Tensor& c0,
                                            const Tensor& weight_hh, const Tensor& hh_weight, const Tensor& hh_bias,
                                            const Tensor& c_weight, const Tensor& c_bias, double eps = 1e-5);
LSTMSequenceResult batch_norm_lstm_sequence(const Tensor& x_proj, const Tensor& h0, const Tensor& c0,
                                            const Tensor& weight_hh, const Tensor& ih_weight, const Tensor& hh_weight,
                                            const Tensor& bias, const Tensor& c_weight, const Tensor& c_bias,
                                            const BNLSTMRunningStats& running, int64_t start_step, bool training,
                                            double momentum = 0.1, double eps = 1e-5);
}  // namespace reference

// ---- attention (core/ops/attention.cpp) -----------------------------------------------
// softmax over the last dim of scores (..., L, S), where −inf entries and, when
// is_causal, keys j > i (query i) get weight 0; a row with every key blocked
// gives all zeros (not NaN). Fused forward and backward.
Tensor masked_softmax(const Tensor& scores, bool is_causal = false);
// As torch.nn.functional.scaled_dot_product_attention: q (..., L, E),
// k (..., S, E), v (..., S, Ev) -> (..., L, Ev). attn_mask is additive (0 keeps,
// −inf blocks) and broadcasts to (..., L, S).
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& attn_mask = Tensor(), bool is_causal = false, double dropout_p = 0.0,
                                    bool training = true);
struct AttentionResult {
  Tensor output;   // (..., L, Ev)
  Tensor weights;  // (..., L, S), before dropout
};
AttentionResult scaled_dot_product_attention_with_weights(const Tensor& q, const Tensor& k, const Tensor& v,
                                                          const Tensor& attn_mask = Tensor(), bool is_causal = false,
                                                          double dropout_p = 0.0, bool training = true);

// ---- multi-head attention in one op (core/ops/multi_head_attention.cpp) ----------------
// The attention of MultiheadAttention after its input projection, heads side
// by side in the last dim: query (N, L, E), key and value (N, S, E), head h =
// columns h·E/H .. (h+1)·E/H. Returns (N, L, E), the heads' outputs
// concatenated: softmax(q_h·k_hᵀ/√(E/H) + attn_mask, causal)·v_h per head.
// attn_mask is additive and broadcasts to (N, H, L, S); it gets no gradient.
// One node, no head-split copies; no dropout (compose the ops for that).
Tensor multi_head_attention(const Tensor& query, const Tensor& key, const Tensor& value, int64_t num_heads,
                            const Tensor& attn_mask = Tensor(), bool is_causal = false);
// Self-attention from the packed projection qkv (N, L, 3E) = [q | k | v]
// (x·in_proj_weightᵀ + in_proj_bias in one GEMM): the same, one gradient for qkv.
Tensor multi_head_self_attention(const Tensor& qkv, int64_t num_heads, const Tensor& attn_mask = Tensor(),
                                 bool is_causal = false);

}  // namespace nl
