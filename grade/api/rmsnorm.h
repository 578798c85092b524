#pragma once
// The function of the rmsnorm exercise (exercises/rmsnorm.cpp), on plain
// row-major arrays of double. normlab-grade compiles a student's file with
// `-include` of this header (see layernorm.h).
extern "C" {
// dy, x: N rows of D; rstd: N, rstd_i = 1/√(mean_j x_ij² + eps) (that of the
// forward). Writes dx (N·D) and dgamma (D).
void rmsnorm_backward(const double* dy, const double* x, const double* gamma, const double* rstd, int N, int D,
                      double* dx, double* dgamma);
}
