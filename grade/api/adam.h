#pragma once
// The function of the adam exercise (exercises/adam.cpp), on plain arrays of
// double. normlab-grade compiles a student's file with `-include` of this
// header (see layernorm.h).
extern "C" {
// One step of Adam (torch.optim.Adam) on n parameters; t is the step number,
// 1 at the first step. Updates param, m and v (zeros before the first step) in place.
void adam_step(double* param, const double* grad, double* m, double* v, int n, int t, double lr, double beta1,
               double beta2, double eps, double weight_decay);
}
