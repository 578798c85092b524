// Multi-head attention on projected inputs as one op: for each sample n and
// head h, with d = E/H and q_h, k_h, v_h that head's columns,
//
//   forward    P = softmax(q_h·k_hᵀ/√d + mask, causal)      (L, S), saved
//              out_h = P·v_h                                 written into out[:, h·d:(h+1)·d]
//   backward   dP = dout_h·v_hᵀ
//              dS = P ⊙ (dP − Σ_j dP·P)                      (the softmax rule, row by row)
//              dq_h = dS·k_h/√d,  dk_h = dSᵀ·q_h/√d,  dv_h = Pᵀ·dout_h
//
// The composed path (scaled_dot_product_attention on head-split views) makes
// a node and a buffer for each step and copies q, k, v and the output between
// the (N, L, E) and (N, H, L, d) layouts; here the heads are read and written
// in place as column blocks of (N, L, E) (or of the packed (N, L, 3E)
// projection), and a (sample, head) pair's scores stay in cache from the
// product through the softmax to the weighted sum. The pairs run in parallel,
// each calling single-threaded GEMMs. The softmax rows are the masked_softmax
// op's own (core/kernels/softmax_rows.h), so both paths give the same numbers.
//
// Causal self-attention (L = S) skips the blocked upper triangle: the rows go
// in blocks of kCausalBlock, and block [i0, i1) multiplies only the keys
// j < i1 it can see (at T 512, 56% of the square's products for blocks of 64). The gradients
// of k and v go by the same blocks as columns: dk[j0:j1] = dS[j0:L, j0:j1]ᵀ·q[j0:L]
// (rows i < j0 see none of those keys). Entries above a block's diagonal are
// never computed; P is still written whole (zeros beyond each row's keys).
#include <cmath>

#include "core/kernels/blas.h"
#include "core/kernels/softmax_rows.h"
#include "core/ops/helpers.h"
#include "core/parallel.h"

namespace nl {

namespace {
// Where the rows of one operand live: sample n's row i starts at
// data + n·batch_stride + i·row_stride; head h is columns h·d .. (h+1)·d of it.
template <typename T>
struct Rows {
  T* data;
  int64_t batch_stride, row_stride;
  T* head(int64_t n, int64_t h, int64_t d) const { return data + n * batch_stride + h * d; }
};

struct Sizes {
  int64_t N, H, L, S, d;
};

// The additive mask expanded to (N, H, L, S) (strides may be 0), or none.
template <typename T>
struct Mask {
  const T* data = nullptr;
  int64_t stride[4] = {0, 0, 0, 0};
  const T* row(int64_t n, int64_t h, int64_t i) const { return data + n * stride[0] + h * stride[1] + i * stride[2]; }
};

// Row blocks of the causal path: small enough that the triangle is mostly
// skipped, large enough for the products to run near GEMM speed. Measured at
// 1 thread, forward + backward, 4 heads of 32 (the sweep's GPT shapes): T 512
// 58.8 ms unblocked, 45.6-51.7 with blocks of 16 or 32, 46.5-48.0 with 64;
// T 256 31 ms against 26-28; at T 64 no block size was a clear gain.
constexpr int64_t kCausalBlock = 64;

// How a pair's products are cut: all at once, or (causal with L = S and more
// than one block) by blocks of kCausalBlock rows, and in the backward columns.
struct Blocks {
  bool causal_blocks;
  int64_t rows, cols, S;
  Blocks(bool causal, const Sizes& s)
      : causal_blocks(causal && s.L == s.S && s.L > kCausalBlock),
        rows(causal_blocks ? kCausalBlock : s.L),
        cols(causal_blocks ? kCausalBlock : s.S),
        S(s.S) {}
  // the keys rows i0 .. i1 can see, and the first row that sees key j0
  int64_t keys(int64_t i1) const { return causal_blocks ? i1 : S; }
  int64_t first_row(int64_t j0) const { return causal_blocks ? j0 : 0; }
};

// The (sample, head) pairs on the threads: each does a few small GEMMs, so
// hand each thread whole pairs once there is enough work.
template <typename Fn>
void for_each_head(const Sizes& s, Fn&& fn) {
  int64_t work = std::max<int64_t>(1, s.L * s.S * std::max<int64_t>(s.d, 1));
  parallel_for(0, s.N * s.H, std::max<int64_t>(1, kParallelGrain / work), [&](int64_t lo, int64_t hi) {
    for (int64_t pair = lo; pair < hi; ++pair) fn(pair / s.H, pair % s.H, pair);
  });
}

template <typename T>
void attention_forward(Rows<const T> q, Rows<const T> k, Rows<const T> v, Mask<T> mask, bool causal, Sizes s,
                       T* weights, T* out) {
  const T scale = T(1 / std::sqrt(double(s.d)));
  const int64_t E = s.H * s.d;
  const Blocks blocks(causal, s);
  for_each_head(s, [&](int64_t n, int64_t h, int64_t pair) {
    T* P = weights + pair * s.L * s.S;
    for (int64_t i0 = 0; i0 < s.L; i0 += blocks.rows) {  // rows i0 .. i1 see keys 0 .. keys
      const int64_t i1 = std::min(s.L, i0 + blocks.rows), rows = i1 - i0, keys = blocks.keys(i1);
      kernels::gemm<T>(CblasNoTrans, CblasTrans, rows, keys, s.d, scale, q.head(n, h, s.d) + i0 * q.row_stride,
                       q.row_stride, k.head(n, h, s.d), k.row_stride, T(0), P + i0 * s.S,
                       s.S);  // scores = q_h·k_hᵀ/√d
      for (int64_t i = i0; i < i1; ++i) {
        T* row = P + i * s.S;
        if (mask.data) {
          const T* m = mask.row(n, h, i);
          for (int64_t j = 0; j < keys; ++j) row[j] += m[j * mask.stride[3]];
        }
        kernels::masked_softmax_row(row, row, s.S, causal ? std::min(s.S, i + 1) : s.S);  // zeros past the keys
      }
      kernels::gemm<T>(CblasNoTrans, CblasNoTrans, rows, s.d, keys, T(1), P + i0 * s.S, s.S, v.head(n, h, s.d),
                       v.row_stride, T(0), out + (n * s.L + i0) * E + h * s.d, E);  // out_h = P·v_h
    }
  });
}

// dq, dk, dv: where each gradient goes (null data: not wanted); scratch holds dS.
template <typename T>
void attention_backward(Rows<const T> q, Rows<const T> k, Rows<const T> v, const T* weights, const T* dout, bool causal,
                        Sizes s, T* scratch, Rows<T> dq, Rows<T> dk, Rows<T> dv) {
  const T scale = T(1 / std::sqrt(double(s.d)));
  const int64_t E = s.H * s.d;
  const Blocks blocks(causal, s);
  for_each_head(s, [&](int64_t n, int64_t h, int64_t pair) {
    const T* P = weights + pair * s.L * s.S;
    const T* dout_h = dout + n * s.L * E + h * s.d;
    T* dS = scratch + pair * s.L * s.S;
    for (int64_t i0 = 0; i0 < s.L; i0 += blocks.rows) {  // by row blocks: dS and dq
      const int64_t i1 = std::min(s.L, i0 + blocks.rows), rows = i1 - i0, keys = blocks.keys(i1);
      kernels::gemm<T>(CblasNoTrans, CblasTrans, rows, keys, s.d, T(1), dout_h + i0 * E, E, v.head(n, h, s.d),
                       v.row_stride, T(0), dS + i0 * s.S, s.S);  // dP = dout_h·v_hᵀ
      for (int64_t i = i0; i < i1; ++i)  // dS = P ⊙ (dP − Σ dP·P); P is 0 past the keys
        kernels::masked_softmax_row_backward(dS + i * s.S, P + i * s.S, dS + i * s.S, keys);
      if (dq.data)  // dq_h = dS·k_h/√d
        kernels::gemm<T>(CblasNoTrans, CblasNoTrans, rows, s.d, keys, scale, dS + i0 * s.S, s.S, k.head(n, h, s.d),
                         k.row_stride, T(0), dq.head(n, h, s.d) + i0 * dq.row_stride, dq.row_stride);
    }
    for (int64_t j0 = 0; j0 < s.S; j0 += blocks.cols) {  // by column blocks: keys j0 .. j1, seen from row first on
      const int64_t j1 = std::min(s.S, j0 + blocks.cols), cols = j1 - j0, first = blocks.first_row(j0);
      if (dk.data)  // dk_h = dSᵀ·q_h/√d
        kernels::gemm<T>(CblasTrans, CblasNoTrans, cols, s.d, s.L - first, scale, dS + first * s.S + j0, s.S,
                         q.head(n, h, s.d) + first * q.row_stride, q.row_stride, T(0),
                         dk.head(n, h, s.d) + j0 * dk.row_stride, dk.row_stride);
      if (dv.data)  // dv_h = Pᵀ·dout_h
        kernels::gemm<T>(CblasTrans, CblasNoTrans, cols, s.d, s.L - first, T(1), P + first * s.S + j0, s.S,
                         dout_h + first * E, E, T(0), dv.head(n, h, s.d) + j0 * dv.row_stride, dv.row_stride);
    }
  });
}

// The checks both entry points share: the mask's dtype and shape, no gradient for it.
Tensor expanded_mask(const char* op, const Tensor& attn_mask, DType dtype, const Sizes& s) {
  if (!attn_mask.defined()) return attn_mask;
  if (attn_mask.dtype() != dtype)
    fail("{}: attn_mask must be additive with the inputs' dtype {}, got {}", op, dtype, attn_mask.dtype());
  const Shape target{s.N, s.H, s.L, s.S};
  if (!broadcasts_to(attn_mask.shape(), target))
    fail("{}: attn_mask of shape {} does not broadcast to (N, H, L, S) = {}", op, attn_mask.shape(), target);
  if (attn_mask.requires_grad() && is_grad_enabled())
    fail("{}: attn_mask {} requires grad, but this op gives the mask no gradient (use scaled_dot_product_attention)",
         op, attn_mask.shape());
  return attn_mask.detach().expand(target);  // missing leading dims become stride-0 dims
}

template <typename T>
Mask<T> mask_of(const Tensor& mask) {
  Mask<T> m;
  if (!mask.defined()) return m;
  m.data = mask.data<T>();
  for (int i = 0; i < 4; ++i) m.stride[i] = mask.strides()[i];
  return m;
}

// What both entry points run once their operands are laid out: the forward
// into out (N, L, E), and the node whose rule writes the gradients into the
// tensors make_grads() returns (Rows for dq, dk, dv plus the Grads to hand back).
// source is q or the packed qkv; key and value are undefined for the packed one.
template <typename Operands, typename MakeGrads>
Tensor run_attention(const char* op, const std::vector<Tensor>& inputs, const Tensor& source, const Tensor& key,
                     const Tensor& value, Operands operands, const Tensor& mask, bool causal, Sizes s,
                     MakeGrads make_grads) {
  DType dtype = source.dtype();
  Tensor out = Tensor::make({s.N, s.L, s.H * s.d}, dtype, op);
  Tensor weights = Tensor::make({s.N, s.H, s.L, s.S}, dtype, op);
  dispatch_floating(op, dtype, [&]<typename T>() {
    auto [q, k, v] = operands.template rows<T>(source, key, value);
    attention_forward<T>(q, k, v, mask_of<T>(mask), causal, s, weights.data<T>(), out.data<T>());
  });
  if (!needs_grad(inputs)) return out;
  std::vector<bool> wanted;
  for (const Tensor& t : inputs) wanted.push_back(needs_grad(t));
  attach(out, op, inputs, save(source, weights, key, value),
         [operands, causal, s, wanted, make_grads](const Tensor& grad, const Tensor& source, const Tensor& weights,
                                           const Tensor& key, const Tensor& value) -> Grads {
           Tensor dout = grad.contiguous();
           Tensor scratch = Tensor::make({s.N, s.H, s.L, s.S}, dout.dtype(), "multi_head_attention_backward");
           Grads grads;
           dispatch_floating("multi_head_attention_backward", dout.dtype(), [&]<typename T>() {
             auto [q, k, v] = operands.template rows<T>(source, key, value);
             auto [dq, dk, dv] = make_grads.template operator()<T>(wanted, grads);
             attention_backward<T>(q, k, v, weights.data<T>(), dout.data<T>(), causal, s, scratch.data<T>(), dq, dk,
                                  dv);
           });
           return grads;
         });
  return out;
}

// Separate q, k, v tensors, each (N, len, E) contiguous.
struct SeparateOperands {
  int64_t L, S, E;
  template <typename T>
  std::tuple<Rows<const T>, Rows<const T>, Rows<const T>> rows(const Tensor& q, const Tensor& k,
                                                               const Tensor& v) const {
    return {{q.data<T>(), L * E, E}, {k.data<T>(), S * E, E}, {v.data<T>(), S * E, E}};
  }
};

// One packed (N, L, 3E) tensor [q | k | v].
struct PackedOperands {
  int64_t L, E;
  template <typename T>
  std::tuple<Rows<const T>, Rows<const T>, Rows<const T>> rows(const Tensor& qkv, const Tensor&, const Tensor&) const {
    const T* base = qkv.data<T>();
    return {{base, L * 3 * E, 3 * E}, {base + E, L * 3 * E, 3 * E}, {base + 2 * E, L * 3 * E, 3 * E}};
  }
};

void check_sizes(const char* op, const Shape& input, int64_t N, int64_t L, int64_t S, int64_t E, int64_t num_heads) {
  if (num_heads < 1 || E % num_heads != 0)
    fail("{}: num_heads must be >= 1 and divide the embedding size {}, got {}", op, E, num_heads);
  if (N == 0 || L == 0 || S == 0 || E == 0)  // (the composed scaled_dot_product_attention takes empty inputs)
    fail("{}: expected a batch, lengths and embedding size > 0, got {}", op, input);
}
}  // namespace

Tensor multi_head_attention(const Tensor& query, const Tensor& key, const Tensor& value, int64_t num_heads,
                            const Tensor& attn_mask, bool is_causal) {
  const char* op = "multi_head_attention";
  ops::check_floating(op, query);
  ops::check_same_dtype(op, query, key);
  ops::check_same_dtype(op, query, value);
  if (query.dim() != 3 || key.dim() != 3 || value.dim() != 3 || key.shape() != value.shape() ||
      key.size(0) != query.size(0) || key.size(2) != query.size(2))
    fail("{}: expected query (N, L, E), key and value (N, S, E), got {}, {} and {}", op, query.shape(), key.shape(),
         value.shape());
  const int64_t N = query.size(0), L = query.size(1), S = key.size(1), E = query.size(2);
  check_sizes(op, query.shape(), N, L, S, E, num_heads);
  Sizes s{N, num_heads, L, S, E / num_heads};
  Tensor mask = expanded_mask(op, attn_mask, query.dtype(), s);
  Tensor q = query.contiguous();
  Tensor k = key.contiguous(), v = value.contiguous();
  auto make_grads = [N, L, S, E]<typename T>(const std::vector<bool>& wanted, Grads& grads) {
    const Shape shapes[3] = {{N, L, E}, {N, S, E}, {N, S, E}};
    Rows<T> rows[3] = {};
    for (int i = 0; i < 3; ++i) {
      grads.push_back(wanted[i] ? Tensor::make(shapes[i], dtype_of<T>(), "multi_head_attention_backward") : Tensor());
      if (wanted[i]) rows[i] = {grads.back().data<T>(), shapes[i][1] * E, E};
    }
    return std::tuple{rows[0], rows[1], rows[2]};
  };
  return run_attention(op, {query, key, value}, q, k, v, SeparateOperands{L, S, E}, mask, is_causal, s, make_grads);
}

Tensor multi_head_self_attention(const Tensor& qkv_in, int64_t num_heads, const Tensor& attn_mask, bool is_causal) {
  const char* op = "multi_head_self_attention";
  ops::check_floating(op, qkv_in);
  if (qkv_in.dim() != 3 || qkv_in.size(2) % 3 != 0)
    fail("{}: expected the packed projection qkv (N, L, 3E), got {}", op, qkv_in.shape());
  const int64_t N = qkv_in.size(0), L = qkv_in.size(1), E = qkv_in.size(2) / 3;
  check_sizes(op, qkv_in.shape(), N, L, L, E, num_heads);
  Sizes s{N, num_heads, L, L, E / num_heads};
  Tensor mask = expanded_mask(op, attn_mask, qkv_in.dtype(), s);
  auto make_grads = [N, L, E]<typename T>(const std::vector<bool>& wanted, Grads& grads) {
    grads.push_back(Tensor::make({N, L, 3 * E}, dtype_of<T>(), "multi_head_self_attention_backward"));
    T* base = grads.back().data<T>();
    return std::tuple{Rows<T>{base, L * 3 * E, 3 * E}, Rows<T>{base + E, L * 3 * E, 3 * E},
                      Rows<T>{base + 2 * E, L * 3 * E, 3 * E}};
  };
  return run_attention(op, {qkv_in}, qkv_in.contiguous(), Tensor(), Tensor(), PackedOperands{L, E}, mask, is_causal, s,
                       make_grads);
}

}  // namespace nl
