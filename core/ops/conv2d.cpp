// conv2d and conv1d, as torch.nn.functional: im2col into a column buffer, one
// GEMM per group with a chunk of the batch folded into the GEMM's columns,
// col2im for the input gradient. Forward and backward side by side.
//
// With K = (C_in/groups)·kH·kW rows per group and P = H_out·W_out positions,
// the column buffer of nb samples is (C_in·kH·kW, nb·P):
//   col[(c,p,q), (n,i,j)] = x[n, c, i·sh − ph + p·dh, j·sw − pw + q·dw]   (0 outside)
// and for group g (rows g·K.., output channels g·Og..):
//   y_g   = W_g · col_g + b                  (Og, nb·P)    forward
//   dW_g += dy_g · col_gᵀ                    (Og, K)       backward, summed over the chunks in order
//   dcol_g = W_gᵀ · dy_g                     (K, nb·P)     then col2im: dx[n,c,h,w] = Σ dcol over the
//                                                          (p,q,i,j) that read x[n,c,h,w]
//   db[o]  = Σ_{n,i,j} dy[n,o,i,j]           (C_out)       in double
// The batch is cut into equal chunks and the chunks into at most 8 parts;
// with a single part, the GEMMs are cut into blocks (columns of y_g and
// dcol_g, columns of dW_g: equal widths up to a fixed most). All of it is
// set by the shape alone, and each block is one single-threaded GEMM with the
// whole sum. The threads take whole parts when there are several, else
// share the chunk's blocks (Chunks, below). So every output element comes
// from the same BLAS call whatever the thread count — kernels::gemm cuts one
// big call by the thread count — dW adds the parts' partial sums in part
// order, and results do not depend on the thread count.
#include <algorithm>
#include <vector>

#include "core/kernels/blas.h"
#include "core/kernels/channel_rows.h"
#include "core/kernels/lane_sum.h"
#include "core/kernels/simd.h"
#include "core/ops/helpers.h"
#include "core/storage.h"

namespace nl {

namespace {

struct ConvDims {
  int64_t N, C_in, H, W, C_out, kH, kW, G;
  int64_t sh, sw, ph, pw, dh, dw;
  int64_t Ho, Wo;
  int64_t in_per_group() const { return C_in / G; }
  int64_t out_per_group() const { return C_out / G; }
  int64_t K() const { return in_per_group() * kH * kW; }  // rows of col per group
  int64_t P() const { return Ho * Wo; }                   // output positions per sample
};

// Checks the arguments of conv2d (spatial = 2: x (N, C, H, W)) or conv1d
// (spatial = 1: x (N, C, L), seen as H = 1) and returns the sizes.
ConvDims check_arguments(const char* op, int spatial, const Tensor& x, const Tensor& weight, const Tensor& bias,
                         Size2 stride, Size2 padding, Size2 dilation, int64_t groups) {
  ops::check_floating(op, x);
  if (!weight.defined()) fail("{}: weight is undefined (input {})", op, x.shape());
  ops::check_same_dtype(op, x, weight);
  if (bias.defined()) ops::check_same_dtype(op, x, bias);
  const char* layout = spatial == 2 ? "(N, C_in, H, W)" : "(N, C_in, L)";
  const char* wlayout = spatial == 2 ? "(C_out, C_in/groups, kH, kW)" : "(C_out, C_in/groups, K)";
  if (x.dim() != spatial + 2) fail("{}: expected input {} of {} dims, got {}", op, layout, spatial + 2, x.shape());
  if (weight.dim() != spatial + 2)
    fail("{}: expected weight {} of {} dims, got {} (input {})", op, wlayout, spatial + 2, weight.shape(), x.shape());
  if (groups <= 0)
    fail("{}: groups must be positive, got {} (input {}, weight {})", op, groups, x.shape(), weight.shape());
  ConvDims d{};
  d.N = x.size(0);
  d.C_in = x.size(1);
  d.H = spatial == 2 ? x.size(2) : 1;
  d.W = x.size(-1);
  d.C_out = weight.size(0);
  d.kH = spatial == 2 ? weight.size(2) : 1;
  d.kW = weight.size(-1);
  d.G = groups;
  d.sh = stride.h, d.sw = stride.w, d.ph = padding.h, d.pw = padding.w, d.dh = dilation.h, d.dw = dilation.w;
  if (d.C_in % groups != 0)
    fail("{}: groups={} must divide the {} input channels of input {}", op, groups, d.C_in, x.shape());
  if (d.C_out % groups != 0)
    fail("{}: groups={} must divide the {} output channels of weight {}", op, groups, d.C_out, weight.shape());
  if (weight.size(1) * groups != d.C_in)
    fail("{}: weight {} with groups={} expects {} input channels (weight.size(1)·groups), input {} has {}", op,
         weight.shape(), groups, weight.size(1) * groups, x.shape(), d.C_in);
  if (bias.defined() && !(bias.shape() == Shape{d.C_out}))
    fail("{}: bias must have shape [{}] for weight {}, got {}", op, d.C_out, weight.shape(), bias.shape());
  if (d.kH <= 0 || d.kW <= 0) fail("{}: weight {} has an empty kernel", op, weight.shape());
  auto pair = [&](Size2 s) { return spatial == 2 ? fmt::format("({}, {})", s.h, s.w) : fmt::format("{}", s.w); };
  if (d.sh <= 0 || d.sw <= 0) fail("{}: stride must be positive, got {} (input {})", op, pair(stride), x.shape());
  if (d.dh <= 0 || d.dw <= 0) fail("{}: dilation must be positive, got {} (input {})", op, pair(dilation), x.shape());
  if (d.ph < 0 || d.pw < 0) fail("{}: padding must be non-negative, got {} (input {})", op, pair(padding), x.shape());
  int64_t span_h = d.dh * (d.kH - 1) + 1, span_w = d.dw * (d.kW - 1) + 1;  // the dilated kernel
  int64_t padded_h = d.H + 2 * d.ph, padded_w = d.W + 2 * d.pw;
  if (span_h > padded_h || span_w > padded_w)
    fail("{}: kernel {} (dilated: {}) is larger than the padded input {} of input {} (weight {}, padding {})", op,
         pair({d.kH, d.kW}), pair({span_h, span_w}), pair({padded_h, padded_w}), x.shape(), weight.shape(),
         pair(padding));
  d.Ho = (padded_h - span_h) / d.sh + 1;
  d.Wo = (padded_w - span_w) / d.sw + 1;
  return d;
}

// Samples per chunk: the column buffers (input columns, output columns) hold
// at most about kColumnBudget values each. A sample whose P positions fill a
// GEMM column block (kColumnBlock, below) by itself is a chunk alone: its
// output columns are then y's own (C_out, P) block, so the forward's GEMM
// writes y and the backward's read dy where they are, with no copy between
// the column layout and (N, C, H, W).
constexpr int64_t kColumnBudget = int64_t(1) << 20;

// Block sizes of the GEMMs (at most): columns of y_g and dcol_g, columns of dW_g.
constexpr int64_t kColumnBlock = 512, kWeightBlock = 160;

// Most parts of a batch's chunks (Chunks, below): up to 8 threads take whole parts.
constexpr int64_t kParts = 8;

int64_t chunk_samples(const ConvDims& d) {
  if (d.P() >= kColumnBlock) return 1;
  int64_t per_sample = std::max<int64_t>(1, std::max(d.C_in * d.kH * d.kW, d.C_out) * d.P());
  const int64_t most = std::clamp<int64_t>(kColumnBudget / per_sample, 1, std::max<int64_t>(d.N, 1));
  // at least kParts chunks (when there are as many samples), so that a small
  // batch too is spread over the threads by whole chunks (Chunks, below):
  // cnn_step_bn_b4 2.02 → 1.78 ms, and 3.52 → 2.77 ms in the slow phase (4 parts)
  const int64_t chunks = std::max((d.N + most - 1) / std::max<int64_t>(most, 1), std::min(d.N, kParts));
  return std::max<int64_t>(1, (d.N + chunks - 1) / std::max<int64_t>(chunks, 1));  // equal chunks: 128 as 8 of 16
}

// Output columns j in [lo, hi) read input column j·s − pad + q·dil inside [0, size).
struct ValidRange {
  int64_t lo, hi;
};
ValidRange valid_range(int64_t offset, int64_t step, int64_t size, int64_t count) {
  // 0 ≤ offset + j·step < size  ⇔  ceil(−offset/step) ≤ j < ceil((size − offset)/step)
  auto ceil_div = [](int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); };
  int64_t lo = std::clamp<int64_t>(ceil_div(-offset, step), 0, count);
  int64_t hi = std::clamp<int64_t>(ceil_div(size - offset, step), lo, count);
  return {lo, hi};
}

// One (c, p, q) row of one sample's columns when the stride is 1 and the
// output is as wide as the input (a 3×3 kernel with padding 1): then
//   out[t] = plane[t + shift],  t = i·W + j,  shift = (p·dh − ph)·W + q·dw − pw,
// so the rows i in I that read inside the plane are one range [begin, end)
// of t, not a short range per row. Inside it the columns j outside J (left
// or right of the row) meet the neighbouring row's values; the range starts
// and ends inside the plane.
struct ShiftedBlock {
  ValidRange I, J;
  int64_t shift, begin, end;
  bool empty() const { return I.lo == I.hi || J.lo == J.hi; }
};

// The kH·kW shifted blocks in (p, q) order, computed once per conv2d call
// (Chunks holds them); none (empty) for other shapes, which take the
// row-by-row loops.
std::vector<ShiftedBlock> shifted_blocks(const ConvDims& d) {
  std::vector<ShiftedBlock> blocks;
  if (d.sh != 1 || d.sw != 1 || d.Wo != d.W) return blocks;
  for (int64_t p = 0; p < d.kH; ++p) {
    const ValidRange I = valid_range(p * d.dh - d.ph, 1, d.H, d.Ho);
    for (int64_t q = 0; q < d.kW; ++q) {
      const ValidRange J = valid_range(q * d.dw - d.pw, 1, d.W, d.Wo);
      blocks.push_back({I, J, (p * d.dh - d.ph) * d.W + q * d.dw - d.pw, I.lo * d.W + J.lo, (I.hi - 1) * d.W + J.hi});
    }
  }
  return blocks;
}

// Zeroes the columns outside J of the rows in I, down the rows (strided
// stores: the padding's few columns, no call per row).
template <typename T>
inline void zero_wrapped_columns(T* block, int64_t W, const ShiftedBlock& s) {
  for (int64_t j = 0; j < s.J.lo; ++j)
    for (int64_t i = s.I.lo; i < s.I.hi; ++i) block[i * W + j] = T(0);
  for (int64_t j = s.J.hi; j < W; ++j)
    for (int64_t i = s.I.lo; i < s.I.hi; ++i) block[i * W + j] = T(0);
}

// im2col of one (sample, channel) plane by shifted blocks: its kH·kW rows of
// P values, `cols` apart. Each row is one copy, then zeros outside I and J.
// At the CNN's 7×7 and 14×14 planes a row is 49 or 196 values, so what
// surrounds the copy counts: the blocks come computed once per call, not
// per row (divisions and ranges), and a plane's rows are one call of a
// cloned function (the zero fills still become memset calls). The batch's
// im2col of the 64-channel 7×7 layer, one thread: 1.12 → 0.66 ms.
template <typename T>
NL_SIMD_CLONES void im2col_plane(const T* plane, T* out, int64_t cols, int64_t P, int64_t W, const ShiftedBlock* blocks,
                                 int64_t count) {
  for (int64_t k = 0; k < count; ++k, out += cols) {
    const ShiftedBlock& s = blocks[k];
    if (s.empty()) {
      for (int64_t t = 0; t < P; ++t) out[t] = T(0);
      continue;
    }
    for (int64_t t = 0; t < s.begin; ++t) out[t] = T(0);
    for (int64_t t = s.begin; t < s.end; ++t) out[t] = plane[t + s.shift];  // inside the plane
    for (int64_t t = s.end; t < P; ++t) out[t] = T(0);
    zero_wrapped_columns(out, W, s);
  }
}

// The reverse, for one plane of dx: plane[t + shift] += in[t] over each
// block's range as one loop, after the columns outside J (which would land
// on the neighbouring row) are zeroed in the scratch `in`; adding those
// zeros changes no value. Blocks in (p, q) order, as the general loop.
template <typename T>
NL_SIMD_CLONES void col2im_plane(T* in, T* plane, int64_t cols, int64_t W, const ShiftedBlock* blocks, int64_t count) {
  for (int64_t k = 0; k < count; ++k, in += cols) {
    const ShiftedBlock& s = blocks[k];
    if (s.empty()) continue;
    zero_wrapped_columns(in, W, s);
    for (int64_t t = s.begin; t < s.end; ++t) plane[t + s.shift] += in[t];
  }
}

// col[(c,p,q), (n,i,j)] for samples n0 .. n0+nb of contiguous x: by
// shifted blocks (shifted_blocks(d)) a plane at a time where the shape has
// them, else row by row.
template <typename T>
void im2col(const T* x, T* col, const ConvDims& d, const std::vector<ShiftedBlock>& blocks, int64_t n0, int64_t nb) {
  const int64_t P = d.P(), taps = d.kH * d.kW, rows = d.C_in * taps, cols = nb * P;
  if (!blocks.empty()) {
    parallel_for(0, d.C_in * nb, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(taps * P, 1)),
                 [&](int64_t lo, int64_t hi) {
                   for (int64_t t = lo; t < hi; ++t) {
                     const int64_t c = t / nb, n = t % nb;
                     im2col_plane(x + ((n0 + n) * d.C_in + c) * d.H * d.W, col + c * taps * cols + n * P, cols, P, d.W,
                                  blocks.data(), taps);
                   }
                 });
    return;
  }
  parallel_for(0, rows * nb, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(P, 1)),
               [&](int64_t lo, int64_t hi) {
                 for (int64_t t = lo; t < hi; ++t) {
                   int64_t r = t / nb, n = t % nb;
                   int64_t c = r / taps, p = (r / d.kW) % d.kH, q = r % d.kW;
                   const T* plane = x + ((n0 + n) * d.C_in + c) * d.H * d.W;
                   T* out = col + r * cols + n * P;
                   ValidRange J = valid_range(q * d.dw - d.pw, d.sw, d.W, d.Wo);
                   for (int64_t i = 0; i < d.Ho; ++i) {
                     T* row = out + i * d.Wo;
                     int64_t h = i * d.sh - d.ph + p * d.dh;
                     if (h < 0 || h >= d.H) {
                       std::fill(row, row + d.Wo, T(0));
                       continue;
                     }
                     const T* src = plane + h * d.W + q * d.dw - d.pw;
                     std::fill(row, row + J.lo, T(0));
                     if (d.sw == 1)  // contiguous: a plain copy
                       std::copy(src + J.lo, src + J.hi, row + J.lo);
                     else
                       for (int64_t j = J.lo; j < J.hi; ++j) row[j] = src[j * d.sw];
                     std::fill(row + J.hi, row + d.Wo, T(0));
                   }
                 }
               });
}

// dx[n0+n, c, h, w] = Σ dcol[(c,p,q), (n,i,j)] over the (p,q,i,j) that read (h, w);
// one thread per (sample, channel) plane, kernel positions in a fixed order;
// blocks as im2col's. dcol is scratch: its padding columns may be zeroed on
// the way.
template <typename T>
void col2im(T* dcol, T* dx, const ConvDims& d, const std::vector<ShiftedBlock>& blocks, int64_t n0, int64_t nb) {
  const int64_t P = d.P(), cols = nb * P, plane_size = d.H * d.W, taps = d.kH * d.kW;
  parallel_for(0, nb * d.C_in, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(taps * P, 1)),
               [&](int64_t lo, int64_t hi) {
                 for (int64_t t = lo; t < hi; ++t) {
                   int64_t n = t / d.C_in, c = t % d.C_in;
                   T* plane = dx + ((n0 + n) * d.C_in + c) * plane_size;
                   std::fill(plane, plane + plane_size, T(0));
                   T* in = dcol + c * taps * cols + n * P;  // row (c, p, q) is in + (p·kW + q)·cols
                   if (!blocks.empty()) {
                     col2im_plane(in, plane, cols, d.W, blocks.data(), taps);
                     continue;
                   }
                   for (int64_t p = 0; p < d.kH; ++p)
                     for (int64_t q = 0; q < d.kW; ++q) {
                       const T* row = in + (p * d.kW + q) * cols;
                       ValidRange J = valid_range(q * d.dw - d.pw, d.sw, d.W, d.Wo);
                       for (int64_t i = 0; i < d.Ho; ++i) {
                         int64_t h = i * d.sh - d.ph + p * d.dh;
                         if (h < 0 || h >= d.H) continue;
                         T* dst = plane + h * d.W + q * d.dw - d.pw;
                         const T* src = row + i * d.Wo;
                         if (d.sw == 1)  // contiguous: a loop the compiler vectorizes
                           for (int64_t j = J.lo; j < J.hi; ++j) dst[j] += src[j];
                         else
                           for (int64_t j = J.lo; j < J.hi; ++j) dst[j * d.sw] += src[j];
                       }
                     }
                 }
               });
}

// Calls fn(task) for tasks [0, n), each a GEMM of at most `work` = m·n·k,
// inside an OpenMP team of all threads (BLAS runs single-threaded in there,
// also when there are fewer tasks than threads), one task per thread at a
// time. Below 262144 multiply-adds in all, a plain loop: waking the team
// costs more, and OpenBLAS runs a GEMM that small on one thread anyway (its
// GEMM_MULTITHREAD_THRESHOLD, as matmul.cpp counts), so the bits are the same.
template <typename Fn>
void for_each_gemm_block(int64_t n, int64_t work, Fn&& fn) {
  int threads = get_num_threads();
  if (threads <= 1 || omp_in_parallel() || double(n) * double(work) <= 262144.0) {
    for (int64_t t = 0; t < n; ++t) fn(t);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static, 1)
  for (int64_t t = 0; t < n; ++t) fn(t);
}

// `cols` columns in blocks of equal width, at most `most`: the 1568 columns of
// y_g are 4 blocks of 392, so 2 threads get 784 each (blocks of 1024 and 544
// left one thread idle for a third of the product), and dW_g's 576 are 4 of
// 144. The cut depends on cols alone, never on the thread count.
struct ColumnBlocks {
  int64_t cols, count;
  ColumnBlocks(int64_t c, int64_t most) : cols(c), count((c + most - 1) / most) {}
  int64_t begin(int64_t i) const { return cols * i / count; }
  int64_t width(int64_t i) const { return begin(i + 1) - begin(i); }
  // Task t of the G·count GEMMs: group t / count, block t % count.
  struct Task {
    int64_t g, c0, width;
  };
  Task task(int64_t t) const { return {t / count, begin(t % count), width(t % count)}; }
};

// Scratch of n values of T from the storage cache.
template <typename T>
struct Scratch {
  Storage storage;
  Scratch(const char* name, int64_t n) : storage(name, size_t(std::max<int64_t>(n, 1)) * sizeof(T)) {}
  T* data() const { return static_cast<T*>(storage.data()); }
};

// The chunks of samples, [n0, n0 + nb) for chunk c, and how they are spread
// over the threads. The chunks form parts (contiguous ranges of chunks), at
// most kParts, set by the shape alone. With several parts, the threads take
// whole parts, each with its own scratch: a thread then reads only columns
// it wrote itself, and the threads share nothing but the weights. Columns
// written by one core and read by another must cross between the cores'
// caches, and on the 2-core VM of bench/RESULTS.md that was slow in the
// phases when its triad measured 46–55 GB/s rather than 33–38 (probably its
// two vCPUs then sat on separate L3s): conv2d forward + backward took
// 59–64 ms at 2 threads, no faster than at 1 (65), where whole chunks per
// thread take 33–34 ms in either phase. Each chunk's products are then one
// GEMM per group, so W or dy is packed once per chunk, not once per block
// (conv2d 33.4 → 32.7 ms). With one part (one chunk), the threads share the
// chunk: its im2col rows, GEMM blocks and col2im planes (inside a part every
// parallel_for and GEMM block below runs on the calling thread). The same
// calls compute every value either way, and the backward's dW adds the
// parts' partial sums in part order, so no result depends on the thread
// count. More threads than parts leave the rest idle.
struct Chunks {
  int64_t N, size, count, parts;
  std::vector<ShiftedBlock> blocks;  // im2col's and col2im's, once per call
  explicit Chunks(const ConvDims& d)
      : N(d.N),
        size(chunk_samples(d)),
        count((d.N + size - 1) / size),
        parts(std::min(count, kParts)),
        blocks(shifted_blocks(d)) {}
  int64_t first(int64_t part) const { return count * part / parts; }  // chunks [first(i), first(i + 1))
  int64_t n0(int64_t chunk) const { return chunk * size; }
  int64_t nb(int64_t chunk) const { return std::min(size, N - chunk * size); }
  bool one_gemm() const { return parts > 1; }  // a chunk's product of a group as one GEMM (above)
  // fn(part) for every part, in parallel when there are several.
  template <typename Fn>
  void for_each_part(Fn&& fn) const {
    const int threads = int(std::min<int64_t>(get_num_threads(), parts));
    if (threads > 1 && !omp_in_parallel()) {
#pragma omp parallel for num_threads(threads) schedule(static)
      for (int64_t part = 0; part < parts; ++part) fn(part);
    } else {
      for (int64_t part = 0; part < parts; ++part) fn(part);
    }
  }
};

// A part's scratch: the columns of a chunk, and its output columns (y's in
// the forward, dy's in the backward) when a chunk holds more than one sample.
template <typename T>
struct ChunkScratch {
  Scratch<T> columns, output_columns;
  ChunkScratch(const ConvDims& d, const Chunks& chunks)
      : columns("conv2d columns", d.C_in * d.kH * d.kW * chunks.size * d.P()),
        output_columns("conv2d output columns", chunks.size > 1 ? d.C_out * chunks.size * d.P() : 0) {}
};

// y for the samples [n0, n0 + nb) of a chunk: im2col into col, y_g = W_g ·
// col_g (+ b) into y's block (one sample) or the scratch out, then out to y
// with the bias; y_g as one GEMM or in column blocks (Chunks::one_gemm).
template <typename T>
void conv2d_forward_chunk(const T* x, const T* w, const T* b, T* y, const ConvDims& d, const Chunks& chunks,
                          int64_t chunk, T* col, T* out) {
  const int64_t n0 = chunks.n0(chunk), nb = chunks.nb(chunk), P = d.P(), K = d.K(), Og = d.out_per_group(),
                cols = nb * P;
  const bool one_gemm = chunks.one_gemm();
  T* outp = nb == 1 ? y + n0 * d.C_out * P : out;  // one sample: its columns are y's
  im2col(x, col, d, chunks.blocks, n0, nb);
  // One sample with a bias: y's block starts as b and the GEMM adds onto it
  // (β = 1), so no pass over y follows; only where b joins the sum differs
  // from the chunks' (W·col) + b below, a rounding.
  const bool bias_first = nb == 1 && b;
  const ColumnBlocks blocks(cols, one_gemm ? cols : kColumnBlock);
  for_each_gemm_block(d.G * blocks.count, Og * blocks.width(0) * K, [&](int64_t task) {  // y_g = W_g · col_g
    auto [g, c0, width] = blocks.task(task);
    T* out_block = outp + g * Og * cols + c0;
    if (bias_first)
      for (int64_t o = 0; o < Og; ++o) std::fill_n(out_block + o * cols, width, b[g * Og + o]);
    kernels::gemm<T>(CblasNoTrans, CblasNoTrans, Og, width, K, T(1), w + g * Og * K, K, col + g * K * cols + c0, cols,
                     bias_first ? T(1) : T(0), out_block, cols);
  });
  if (nb == 1) return;
  // y[n0+n, o, :] = out[o, n·P ..] + b[o]
  kernels::for_each_channel_row(nb, d.C_out, P, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      int64_t n = t / d.C_out, o = t % d.C_out;
      const T* src = outp + o * cols + n * P;
      T* dst = y + ((n0 + n) * d.C_out + o) * P;
      T shift = b ? b[o] : T(0);
      for (int64_t k = 0; k < P; ++k) dst[k] = src[k] + shift;
    }
  });
}

// y = conv(x, w) + b over contiguous data.
template <typename T>
void conv2d_forward(const T* x, const T* w, const T* b, T* y, const ConvDims& d) {
  const int64_t P = d.P(), K = d.K();
  if (K == 0) {  // no input channels: y = b
    for (int64_t t = 0; t < d.N * d.C_out; ++t) std::fill(y + t * P, y + (t + 1) * P, b ? b[t % d.C_out] : T(0));
    return;
  }
  const Chunks chunks(d);
  chunks.for_each_part([&](int64_t part) {
    ChunkScratch<T> scratch(d, chunks);
    for (int64_t chunk = chunks.first(part); chunk < chunks.first(part + 1); ++chunk)
      conv2d_forward_chunk(x, w, b, y, d, chunks, chunk, scratch.columns.data(), scratch.output_columns.data());
  });
}

// Each row's Σ dy over its positions, rows [lo, hi) of dy (N, C_out, P), in
// double, in lanes: not one chain of adds.
template <typename T>
NL_SIMD_CLONES void row_sums(const T* dy, int64_t P, int64_t lo, int64_t hi, double* rows) {
  for (int64_t t = lo; t < hi; ++t)
    rows[t] = kernels::lane_sum<double>(P, [&](int64_t k) { return double(dy[t * P + k]); });
}

// A chunk's samples [n0, n0 + nb): dw += dy_g · col_gᵀ and dx from dcol_g =
// W_gᵀ · dy_g (dx or dw null: not wanted); col and dyc are scratch; the
// GEMMs whole or in blocks as the forward's.
template <typename T>
void conv2d_backward_chunk(const T* dy, const T* x, const T* w, T* dx, T* dw, const ConvDims& d, const Chunks& chunks,
                           int64_t chunk, T* col, T* dyc) {
  const int64_t n0 = chunks.n0(chunk), nb = chunks.nb(chunk), P = d.P(), K = d.K(), Og = d.out_per_group(),
                cols = nb * P;
  const bool one_gemm = chunks.one_gemm();
  const T* dyp = nb == 1 ? dy + n0 * d.C_out * P : dyc;  // one sample: dy's block is its columns
  if (nb > 1)                                            // dyc[o, n·P ..] = dy[n0+n, o, :]
    kernels::for_each_channel_row(nb, d.C_out, P, [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; ++t) {
        int64_t n = t / d.C_out, o = t % d.C_out;
        std::copy_n(dy + ((n0 + n) * d.C_out + o) * P, P, dyc + o * cols + n * P);
      }
    });
  if (dw) {  // dW_g += dy_g · col_gᵀ   (Og, K)
    im2col(x, col, d, chunks.blocks, n0, nb);
    const ColumnBlocks blocks(K, one_gemm ? K : kWeightBlock);
    for_each_gemm_block(d.G * blocks.count, Og * blocks.width(0) * cols, [&](int64_t task) {  // dW_g[:, k0..]
      auto [g, k0, width] = blocks.task(task);
      kernels::gemm<T>(CblasNoTrans, CblasTrans, Og, width, cols, T(1), dyp + g * Og * cols, cols,
                       col + (g * K + k0) * cols, cols, T(1), dw + g * Og * K + k0, K);
    });
  }
  if (dx) {  // dcol_g = W_gᵀ · dy_g   (K, nb·P), into the same buffer, then col2im
    const ColumnBlocks blocks(cols, one_gemm ? cols : kColumnBlock);
    for_each_gemm_block(d.G * blocks.count, K * blocks.width(0) * Og, [&](int64_t task) {
      auto [g, c0, width] = blocks.task(task);
      kernels::gemm<T>(CblasTrans, CblasNoTrans, K, width, Og, T(1), w + g * Og * K, K, dyp + g * Og * cols + c0, cols,
                       T(0), col + g * K * cols + c0, cols);
    });
    col2im(col, dx, d, chunks.blocks, n0, nb);
  }
}

// dx, dw, db (each may be null: not wanted) from dy, all contiguous.
template <typename T>
void conv2d_backward(const T* dy, const T* x, const T* w, T* dx, T* dw, T* db, const ConvDims& d) {
  const int64_t P = d.P(), K = d.K();
  if (db) {  // db[o] = Σ_{n,i,j} dy[n,o,i,j]: row by row, then per channel in sample order (kernels/channel_rows.h)
    std::vector<double> row_dy(size_t(d.N * d.C_out)), sums(size_t(d.C_out));
    kernels::for_each_channel_row(d.N, d.C_out, P,
                                  [&](int64_t lo, int64_t hi) { row_sums(dy, P, lo, hi, row_dy.data()); });
    kernels::add_channel_rows(d.N, d.C_out, row_dy.data(), sums.data());
    for (int64_t o = 0; o < d.C_out; ++o) db[o] = T(sums[size_t(o)]);
  }
  if ((!dx && !dw) || K == 0) return;  // K = 0: dx and dw have no values
  const Chunks chunks(d);
  const int64_t weights = d.C_out * K;
  // dW: part 0 sums its chunks into dw, part i > 0 into partials[i − 1]; then
  // dw += partials[0] + ... in part order.
  Scratch<T> partials("conv2d weight partials", dw ? (chunks.parts - 1) * weights : 0);
  chunks.for_each_part([&](int64_t part) {
    T* dw_part = !dw ? nullptr : part == 0 ? dw : partials.data() + (part - 1) * weights;
    if (dw_part) std::fill(dw_part, dw_part + weights, T(0));
    ChunkScratch<T> scratch(d, chunks);
    for (int64_t chunk = chunks.first(part); chunk < chunks.first(part + 1); ++chunk)
      conv2d_backward_chunk(dy, x, w, dx, dw_part, d, chunks, chunk, scratch.columns.data(),
                            scratch.output_columns.data());
  });
  if (dw && chunks.parts > 1)
    parallel_for(0, weights, kParallelGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t e = lo; e < hi; ++e)
        for (int64_t part = 1; part < chunks.parts; ++part) dw[e] += partials.data()[(part - 1) * weights + e];
    });
}

Tensor convolution(const char* op, const ConvDims& d, const Tensor& input, const Tensor& weight, const Tensor& bias,
                   const Shape& out_shape) {
  Tensor x = input.detach().contiguous(), w = weight.detach().contiguous();
  Tensor b = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor y = Tensor::make(out_shape, x.dtype(), op);
  bool empty = d.N == 0 || d.C_out == 0;
  if (!empty)
    dispatch_floating(op, x.dtype(), [&]<typename T>() {
      conv2d_forward<T>(x.data<T>(), w.data<T>(), ops::data_or_null<T>(b), y.data<T>(), d);
    });
  if (!needs_grad(input, weight, bias)) return y;

  bool want_dx = needs_grad(input), want_dw = needs_grad(weight), want_db = needs_grad(bias);
  attach(y, op, {input, weight, bias}, save(x, w),
         [d, op, empty, want_dx, want_dw, want_db](const Tensor& grad, const Tensor& x, const Tensor& w) -> Grads {
           Tensor dy = grad.contiguous();
           // every value is written by the kernels unless there is nothing to compute
           auto make = [&](bool wanted, const Shape& shape) {
             return !wanted ? Tensor() : empty ? zeros(shape, x.dtype()) : Tensor::make(shape, x.dtype(), op);
           };
           Tensor dx = make(want_dx, x.shape()), dw = make(want_dw, w.shape()), db = make(want_db, {d.C_out});
           if (!empty)
             dispatch_floating(op, x.dtype(), [&]<typename T>() {
               conv2d_backward<T>(dy.data<T>(), x.data<T>(), w.data<T>(), ops::data_or_null<T>(dx),
                                  ops::data_or_null<T>(dw), ops::data_or_null<T>(db), d);
             });
           return {dx, dw, db};
         });
  return y;
}

}  // namespace

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, Size2 stride, Size2 padding,
              Size2 dilation, int64_t groups) {
  ConvDims d = check_arguments("conv2d", 2, input, weight, bias, stride, padding, dilation, groups);
  return convolution("conv2d", d, input, weight, bias, {d.N, d.C_out, d.Ho, d.Wo});
}

Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding,
              int64_t dilation, int64_t groups) {
  ConvDims d = check_arguments("conv1d", 1, input, weight, bias, {1, stride}, {0, padding}, {1, dilation}, groups);
  // the same kernels on (N, C_in, 1, L) and (C_out, C_in/groups, 1, K): only the shapes differ
  return convolution("conv1d", d, input, weight, bias, {d.N, d.C_out, d.Wo});
}

}  // namespace nl
