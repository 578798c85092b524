#pragma once
// The function of the groupnorm exercise (exercises/groupnorm.cpp), on plain
// row-major arrays of double. normlab-grade compiles a student's file with
// `-include` of this header (see layernorm.h).
extern "C" {
// x, dy: N samples of C channels of L positions, x[(n*C + c)*L + l]; the C
// channels form G groups of C/G consecutive channels. mean, rstd: N·G, index
// n*G + g (those of the forward). Writes dx (N·C·L), dgamma (C), dbeta (C).
void groupnorm_backward(const double* dy, const double* x, const double* gamma, const double* mean, const double* rstd,
                        int N, int C, int L, int G, double* dx, double* dgamma, double* dbeta);
}
