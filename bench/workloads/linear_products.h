#pragma once
// The matrix products of one linear layer (rows × in → rows × out) and
// nothing else, each called as core/ops/linear.cpp calls kernels::gemm
// (OpenBLAS, cut over the threads):
//   forward   y = x·Wᵀ, added onto the bias rows (β 1)
//   backward  dx = dy·W and dW = dyᵀ·x (β 0)
// The *_linears and *_products workloads run a step's layers this way, to
// measure the most the step can reach through BLAS with all else free.
#include "core/kernels/blas.h"
#include "normlab.h"

namespace bench {

struct LinearProducts {
  int64_t rows, in, out;
  nl::Tensor x, w, y, dy, dx, dw;
  LinearProducts(int64_t rows_, int64_t in_, int64_t out_)
      : rows(rows_),
        in(in_),
        out(out_),
        x(nl::randn({rows_, in_})),
        w(nl::randn({out_, in_})),
        y(nl::randn({rows_, out_})),
        dy(nl::randn({rows_, out_})),
        dx(nl::zeros({rows_, in_})),
        dw(nl::zeros({out_, in_})) {}

  void forward() const {
    nl::kernels::gemm<float>(CblasNoTrans, CblasTrans, rows, out, in, 1.0f, x.data<float>(), in, w.data<float>(), in,
                             1.0f, y.data<float>(), out);
  }
  void backward() const {
    nl::kernels::gemm<float>(CblasNoTrans, CblasNoTrans, rows, in, out, 1.0f, dy.data<float>(), out, w.data<float>(),
                             in, 0.0f, dx.data<float>(), in);
    nl::kernels::gemm<float>(CblasTrans, CblasNoTrans, out, in, rows, 1.0f, dy.data<float>(), out, x.data<float>(), in,
                             0.0f, dw.data<float>(), in);
  }
  // FLOPs of forward and backward together: three products of 2·rows·in·out
  double train_flops() const { return 3 * 2.0 * double(rows) * double(in) * double(out); }
};

}  // namespace bench
