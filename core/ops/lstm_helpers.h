#pragma once
// What the whole-sequence LSTM ops (lstm_sequence.cpp, layer_norm_lstm_sequence.cpp,
// batch_norm_lstm_sequence.cpp) share: the threads' split, the checks of
// x_proj, h0, c0 and W_hh, and W_hh packed once per call.
#include <initializer_list>

#include "core/kernels/blas.h"
#include "core/kernels/packed_panels.h"
#include "core/ops/helpers.h"

namespace nl::ops {

// forward panels of W_hh: the four gates of 8 hidden units side by side
inline constexpr int64_t kUnitsPerPanel = kernels::kPanelWidth / 4;

// The threads' shares of `total` items (hidden units or batch rows) in whole
// blocks of `block` items, contiguous per thread, kept for the whole sequence.
// Whole blocks: an item's tiles are the same whatever the thread count.
struct SequenceSplit {
  int threads = 1;
  int64_t total = 0, block = 1, blocks = 0;
  bool by_rows = false;  // total counts batch rows (else hidden units)
  std::pair<int64_t, int64_t> range(int thread, int count) const {
    int64_t lo = blocks * thread / count * block, hi = blocks * (thread + 1) / count * block;
    return {std::min(lo, total), std::min(hi, total)};
  }
};

// What one thread of a split owns: rows [row0, row0 + rows) and, of each,
// hidden units [unit_lo, unit_hi).
struct SequenceBlock {
  int64_t row0, rows, unit_lo, unit_hi;
};
inline SequenceBlock sequence_block(const SequenceSplit& split, int64_t lo, int64_t hi, int64_t N, int64_t H) {
  return split.by_rows ? SequenceBlock{lo, hi - lo, 0, H} : SequenceBlock{0, N, lo, hi};
}

// Threads when a step is worth waking them (and, split by units, worth a
// barrier): about 2^17 multiply-adds, N·4H·H.
inline SequenceSplit split_sequence(int64_t total, int64_t block, int64_t N, int64_t H) {
  SequenceSplit split{1, total, block, (total + block - 1) / block};
  if (!omp_in_parallel() && N * 4 * H * H >= (int64_t(1) << 17))
    split.threads = int(std::min<int64_t>(get_num_threads(), split.blocks));
  return split;
}
// Hidden units in blocks of kPanelWidth (one hidden-gradient panel, four forward panels).
inline SequenceSplit split_units(int64_t N, int64_t H) { return split_sequence(H, kernels::kPanelWidth, N, H); }
// Batch rows, evenly (16 and 16 of 32, where whole tiles of 3 rows would
// give 15 and 17). A row's values do not depend on the tile it is computed in:
// each row of a tile is its own chain of multiply-adds. With block > 1 each
// thread gets whole blocks of rows (batch_norm_lstm_sequence.cpp: its
// statistics are summed per block).
inline SequenceSplit split_rows(int64_t N, int64_t H, int64_t block = 1) {
  SequenceSplit split = split_sequence(N, block, N, H);
  split.by_rows = true;
  return split;
}

// The plain LSTM's split (lstm_sequence.cpp): the batch rows when all of
// W_hh fits in a core's L2 (1 MB on Zen 4) and every thread gets whole
// tiles; else the hidden units.
//  - By rows, a thread runs its rows' every step alone, with no barrier, but
//    streams all of W_hh each step.
//  - By units, it streams only its units' share, but waits once per step for
//    the other threads' h_t.
// Measured (the lstm_lm_step sweep, 2 threads, three alternated rounds):
// rows faster by 1–20% at H 64–256 (W_hh 64 KB–1 MB), units faster by
// 10–22% at H 1024 (16 MB), H 512 (4 MB) either way. In the H 256 step's
// profile the threads spent 13% of their time waiting at barriers by units,
// 4% by rows (at the other parallel regions' ends).
inline constexpr size_t kRowSplitMaxWeightBytes = size_t(1) << 20;

inline SequenceSplit split_plain_lstm(int64_t N, int64_t H, DType dtype, int64_t row_block = 1) {
  const bool fits = size_t(4 * H * H) * itemsize(dtype) <= kRowSplitMaxWeightBytes;
  const bool whole_tiles = N >= 6 * get_num_threads();  // two tiles of 3 rows each
  return fits && whole_tiles ? split_rows(N, H, row_block) : split_units(N, H);
}

// fn(lo, hi) on each thread of the split; fn runs every step (and, where the
// threads must meet, calls step_barrier(): an orphaned barrier, a no-op on one thread).
template <typename Fn>
void on_split_threads(const SequenceSplit& split, Fn&& fn) {
  if (split.threads <= 1) {
    fn(int64_t(0), split.total);
    return;
  }
#pragma omp parallel num_threads(split.threads)
  {
    auto [lo, hi] = split.range(omp_get_thread_num(), omp_get_num_threads());
    fn(lo, hi);
  }
}

inline void step_barrier() {
#pragma omp barrier
}

struct LSTMSizes {
  int64_t T, N, H;
};

// x_proj (T, N, 4H) with T, N, H >= 1, h0 and c0 (N, H), weight_hh (4H, H), one dtype.
inline LSTMSizes check_lstm_sequence(const char* op, const Tensor& x_proj, const Tensor& h0, const Tensor& c0,
                                     const Tensor& weight_hh) {
  check_floating(op, x_proj);
  for (const Tensor* t : {&h0, &c0, &weight_hh}) check_same_dtype(op, x_proj, *t);
  if (x_proj.dim() != 3 || x_proj.size(2) % 4 != 0 || x_proj.size(0) < 1)
    fail("{}: expected x_proj (T, N, 4H) with T >= 1, got {}", op, x_proj.shape());
  const int64_t T = x_proj.size(0), N = x_proj.size(1), H = x_proj.size(2) / 4;
  if (!(h0.shape() == Shape{N, H}) || !(c0.shape() == Shape{N, H}) || !(weight_hh.shape() == Shape{4 * H, H}))
    fail("{}: for x_proj {} expected h0 and c0 ({}, {}) and weight_hh ({}, {}), got {}, {} and {}", op,
         x_proj.shape(), N, H, 4 * H, H, h0.shape(), c0.shape(), weight_hh.shape());
  if (N == 0 || H == 0) fail("{}: expected a batch and a hidden size > 0, got x_proj {}", op, x_proj.shape());
  return {T, N, H};
}

// A norm parameter of a normalized LSTM op: `size` values in x_proj's dtype;
// an optional one may be undefined.
struct LSTMNormParam {
  const char* name;
  const Tensor* tensor;
  int64_t size;
  bool required;
};
inline void check_lstm_norm_params(const char* op, const Tensor& x_proj, std::initializer_list<LSTMNormParam> params) {
  for (const LSTMNormParam& p : params) {
    const Tensor& t = *p.tensor;
    if (!t.defined() && !p.required) continue;
    if (!t.defined() || t.shape() != Shape{p.size})
      fail("{}: {} must be {} with shape [{}] (x_proj {}), got {}", op, p.name, p.required ? "defined" : "undefined or",
           p.size, x_proj.shape(), t.defined() ? fmt::format("{}", t.shape()) : std::string("undefined"));
    check_same_dtype(op, x_proj, t);
  }
}

// W_hh (4H, H) packed for the forward's h·W_hhᵀ: panel p, column c = gate·8 + j
// holds row gate·H + (8p + j) of W_hh (zero past H), so a tile is whole units.
template <typename T>
Tensor pack_gates_interleaved(const T* w, int64_t H, const char* op) {
  const int64_t panels = (H + kUnitsPerPanel - 1) / kUnitsPerPanel;
  Tensor packed = Tensor::make({panels, H, kernels::kPanelWidth}, dtype_of<T>(), op);
  kernels::pack_panels(packed.data<T>(), panels, H, [&](int64_t p, int64_t k, int64_t c) {
    int64_t gate = c / kUnitsPerPanel, unit = p * kUnitsPerPanel + c % kUnitsPerPanel;
    return unit < H ? w[(gate * H + unit) * H + k] : T(0);
  });
  return packed;
}

// W_hh (4H, H) packed for dh = da·W_hh (the backward's per-step product):
// kernels::pack_columns, panel q holding hidden units 32q .. 32q+31.
template <typename T>
Tensor pack_for_hidden_gradient(const T* w, int64_t H, const char* op) {
  Tensor packed = Tensor::make({kernels::panel_count(H), 4 * H, kernels::kPanelWidth}, dtype_of<T>(), op);
  kernels::pack_columns(packed.data<T>(), w, 4 * H, H);
  return packed;
}

// p (N, 4H), the four gates of units [lo, hi) = h (N, H)·W_hhᵀ, from W_hh
// packed by pack_gates_interleaved, in x_proj's gate order [i | f | g | o]:
// the forward's per-step product when the cell cannot run on the tile
// (batch_norm_lstm_sequence.cpp: BatchNorm needs all rows of p first).
template <typename T>
void gate_products(const T* packed, const T* h, T* p, int64_t N, int64_t H, int64_t lo, int64_t hi);

// dh (N, H), units [lo, hi) = dpre (N, 4H)·W_hh, from W_hh packed by
// pack_for_hidden_gradient: the backward's per-step product (lstm_sequence.cpp; float and double).
template <typename T>
void hidden_gradient(const T* packed, const T* dpre, T* dh, int64_t N, int64_t H, int64_t lo, int64_t hi);

// The plain cell's backward for one step, units [lo, hi) of every row: dh =
// dy + dh_next reaches h_t; dc in (the gradient reaching c_t) and out (the one
// reaching c_{t−1}); da (N, 4H) by the rule of core/kernels/lstm_unit.h from
// the saved activations acts (N, 4H) and cell states (lstm_sequence.cpp;
// float and double).
template <typename T>
void cell_backward(const T* acts, const T* c_prev, const T* c, const T* dy, const T* dh_next, T* dc, T* da, int64_t N,
                   int64_t H, int64_t lo, int64_t hi);

// dW_hh (4H, H) = Σ_t dpre_tᵀ·h_{t−1}: one GEMM over h_0, one over K = (T−1)·N
// rows for h_1..h_{T−1} (rows 0..T−2 of out). dpre (T, N, 4H) is the gradient
// reaching the recurrent products h_{t−1}·W_hhᵀ of every step.
template <typename S>
void recurrent_weight_gradient(const S* dpre, const S* h0, const S* out, int64_t T, int64_t N, int64_t H, S* dw) {
  kernels::gemm<S>(CblasTrans, CblasNoTrans, 4 * H, H, N, S(1), dpre, 4 * H, h0, H, S(0), dw, H);
  if (T > 1)
    kernels::gemm<S>(CblasTrans, CblasNoTrans, 4 * H, H, (T - 1) * N, S(1), dpre + N * 4 * H, 4 * H, out, H, S(1), dw,
                     H);
}

}  // namespace nl::ops
