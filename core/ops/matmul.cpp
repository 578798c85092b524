// Matrix products through BLAS (OpenBLAS sgemm/dgemm).
//
// A 2-D strided view is a BLAS matrix without copying when one of its strides
// is 1: row-major (stride (ld, 1)) is passed as is, a transposed view (stride
// (1, ld)) is passed with CblasTrans. Anything else is copied first.
//   forward:  C = A·B
//   backward: dA = dC·Bᵀ,  dB = Aᵀ·dC   (transposes are views → BLAS flags)
#include <climits>

#include "core/kernels/blas.h"
#include "core/ops/helpers.h"

namespace nl {

namespace {

struct BlasOperand {
  Tensor storage_owner;  // keeps a copy alive when one was needed
  CBLAS_TRANSPOSE trans = CblasNoTrans;
  int64_t ld = 1;
  Shape batch_strides;  // per batch dim, in elements
};

// How BLAS can read the last two dims of t (rows r, cols c) as a matrix.
BlasOperand as_blas(const Tensor& t) {
  int n = t.dim();
  int64_t r = t.shape()[n - 2], c = t.shape()[n - 1], s0 = t.strides()[n - 2], s1 = t.strides()[n - 1];
  BlasOperand op;
  if ((c == 1 || s1 == 1) && (r == 1 || s0 >= std::max<int64_t>(1, c))) {
    op.trans = CblasNoTrans;
    op.ld = r == 1 ? std::max<int64_t>(1, c) : s0;
    op.storage_owner = t;
  } else if ((r == 1 || s0 == 1) && (c == 1 || s1 >= std::max<int64_t>(1, r))) {
    op.trans = CblasTrans;
    op.ld = c == 1 ? std::max<int64_t>(1, r) : s1;
    op.storage_owner = t;
  } else {
    Tensor copy = t.contiguous();
    if (copy.is_same(t)) copy = t.clone();
    op.trans = CblasNoTrans;
    op.ld = std::max<int64_t>(1, c);
    op.storage_owner = copy;
  }
  for (int d = 0; d < n - 2; ++d) op.batch_strides.push_back(op.storage_owner.strides()[d]);
  return op;
}

// C (batch..., M, N) = A (batch..., M, K) · B (batch..., K, N); a and b are
// already expanded to the same batch shape (stride 0 where broadcast).
Tensor batched_gemm(const Tensor& a, const Tensor& b, const Shape& out_shape) {
  int n = out_shape.size();
  int64_t m = out_shape[n - 2], cols = out_shape[n - 1], k = a.shape()[a.dim() - 1];
  for (int64_t v : {m, cols, k})
    if (v > INT_MAX) fail("matmul: dimension {} exceeds what BLAS accepts", v);
  Tensor out = k == 0 ? zeros(out_shape, a.dtype()) : Tensor::make(out_shape, a.dtype(), "matmul");
  if (k == 0 || out.numel() == 0) return out;
  BlasOperand A = as_blas(a), B = as_blas(b);
  int64_t batch = out.numel() / (m * cols);
  Shape batch_shape;
  for (int d = 0; d < n - 2; ++d) batch_shape.push_back(out_shape[d]);
  dispatch_floating("matmul", a.dtype(), [&]<typename T>() {
    const T* ap = A.storage_owner.data<T>();
    const T* bp = B.storage_owner.data<T>();
    T* cp = out.data<T>();
    auto one = [&](int64_t index) {
      int64_t oa = 0, ob = 0, rest = index;
      for (int d = batch_shape.size() - 1; d >= 0; --d) {
        int64_t i = rest % batch_shape[d];
        rest /= batch_shape[d];
        oa += i * A.batch_strides[d];
        ob += i * B.batch_strides[d];
      }
      kernels::gemm<T>(A.trans, B.trans, m, cols, k, T(1), ap + oa, A.ld, bp + ob, B.ld, T(0), cp + index * m * cols,
                       cols);
    };
    // Small matrices: one thread per matrix (BLAS runs single-threaded inside
    // an OpenMP region). Big ones: one at a time, each cut over the threads
    // by kernels::gemm.
    bool small = double(m) * double(cols) * double(k) < 262144.0;
    if (batch > 1 && small)
      parallel_for(0, batch, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) one(i);
      });
    else
      for (int64_t i = 0; i < batch; ++i) one(i);
  });
  return out;
}

Tensor matmul_nd(const Tensor& a, const Tensor& b);

// lhs·rhs, laid out like x when x is a transposed 2-D matrix (strides (1, ld)):
// then computed as (rhsᵀ·lhsᵀ)ᵀ, so the gradient of Linear's weight.t() view
// arrives as a transposed view of a contiguous matrix, and the transpose's
// own backward hands the weight a contiguous gradient (no strided copy).
Tensor product_like(const Tensor& x, const Tensor& lhs, const Tensor& rhs) {
  bool transposed =
      x.dim() == 2 && lhs.dim() == 2 && rhs.dim() == 2 && x.strides()[0] == 1 && x.shape()[0] > 1 && x.shape()[1] > 1;
  return transposed ? matmul_nd(rhs.transpose(0, 1), lhs.transpose(0, 1)).transpose(0, 1) : matmul_nd(lhs, rhs);
}

Tensor matmul_nd(const Tensor& a, const Tensor& b) {
  int ra = a.dim(), rb = b.dim();
  int64_t k = a.shape()[ra - 1];
  if (b.shape()[rb - 2] != k)
    fail("matmul: shapes {} and {} do not align ({} vs {})", a.shape(), b.shape(), k, b.shape()[rb - 2]);
  // (batch..., M, K) · (K, N): fold the batch into M — one big GEMM
  if (rb == 2 && ra > 2) {
    int64_t rows = 1;  // all of a's dims but the last (explicit: a -1 cannot be inferred when k == 0)
    for (int d = 0; d < ra - 1; ++d) rows *= a.shape()[d];
    Tensor a2 = a.reshape(Shape{rows, k});
    Shape out_shape = a.shape();
    out_shape[ra - 1] = b.shape()[1];
    return matmul_nd(a2, b).reshape(out_shape);
  }
  Shape batch_a, batch_b;
  for (int d = 0; d < ra - 2; ++d) batch_a.push_back(a.shape()[d]);
  for (int d = 0; d < rb - 2; ++d) batch_b.push_back(b.shape()[d]);
  Shape batch = broadcast_shapes("matmul", batch_a, batch_b);
  Shape shape_a = batch, shape_b = batch, out_shape = batch;
  shape_a.push_back(a.shape()[ra - 2]);
  shape_a.push_back(k);
  shape_b.push_back(k);
  shape_b.push_back(b.shape()[rb - 1]);
  out_shape.push_back(a.shape()[ra - 2]);
  out_shape.push_back(b.shape()[rb - 1]);
  Tensor y;
  {
    NoGradGuard no_grad;
    y = batched_gemm(a.expand(shape_a), b.expand(shape_b), out_shape);
  }
  // dA = dC·Bᵀ, dB = Aᵀ·dC, summed over broadcast batch dims
  if (needs_grad(a, b))
    attach(y, "matmul", {a, b}, save(a, b),
           [a_req = a.requires_grad(), b_req = b.requires_grad()](const Tensor& g, const Tensor& a,
                                                                  const Tensor& b) -> Grads {
             Tensor ga = a_req ? sum_to(product_like(a, g, b.transpose(-1, -2)), a.shape()) : Tensor();
             Tensor gb = b_req ? sum_to(product_like(b, a.transpose(-1, -2), g), b.shape()) : Tensor();
             return {ga, gb};
           });
  return y;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  ops::check_same_dtype("matmul", a, b);
  ops::check_floating("matmul", a);
  if (a.dim() == 0 || b.dim() == 0)
    fail("matmul: both arguments need at least 1 dim, got shapes {} and {}", a.shape(), b.shape());
  if (a.dim() == 1 && b.dim() == 1) {
    if (a.shape()[0] != b.shape()[0]) fail("matmul: shapes {} and {} do not align", a.shape(), b.shape());
    return matmul_nd(a.unsqueeze(0), b.unsqueeze(1)).reshape(Shape{});
  }
  if (a.dim() == 1) {
    if (a.shape()[0] != b.shape()[b.dim() - 2])
      fail("matmul: shapes {} and {} do not align ({} vs {})", a.shape(), b.shape(), a.shape()[0],
           b.shape()[b.dim() - 2]);
    return matmul_nd(a.unsqueeze(0), b).squeeze(-2);
  }
  if (b.dim() == 1) {
    if (b.shape()[0] != a.shape()[a.dim() - 1])
      fail("matmul: shapes {} and {} do not align ({} vs {})", a.shape(), b.shape(), a.shape()[a.dim() - 1],
           b.shape()[0]);
    return matmul_nd(a, b.unsqueeze(1)).squeeze(-1);
  }
  return matmul_nd(a, b);
}

}  // namespace nl
