#pragma once
// The functions of the batchnorm exercise (exercises/batchnorm.cpp), on plain
// row-major arrays of double: x is N samples of C channels. normlab-grade
// compiles a student's file with `-include` of this header (see layernorm.h).
extern "C" {
// Training: normalizes each channel with its batch statistics. Writes y (N·C),
// mean (C), rstd (C) = 1/√(var + eps), and updates running_mean and running_var (C) in place.
void batchnorm_forward_train(const double* x, const double* gamma, const double* beta, int N, int C, double eps,
                             double momentum, double* y, double* mean, double* rstd, double* running_mean,
                             double* running_var);
// Training backward: mean and rstd are the batch statistics of the forward.
// Writes dx (N·C), dgamma (C), dbeta (C).
void batchnorm_backward(const double* dy, const double* x, const double* gamma, const double* mean, const double* rstd,
                        int N, int C, double* dx, double* dgamma, double* dbeta);
// Eval: normalizes with the running statistics. Writes y (N·C).
void batchnorm_forward_eval(const double* x, const double* gamma, const double* beta, const double* running_mean,
                            const double* running_var, int N, int C, double eps, double* y);
}
