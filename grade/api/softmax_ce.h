#pragma once
// The function of the softmax_ce exercise (exercises/softmax_ce.cpp), on
// plain row-major arrays of double. normlab-grade compiles a student's file
// with `-include` of this header (see layernorm.h).
extern "C" {
// logits: N rows of K class scores; targets: N class indices in [0, K).
// Returns the mean cross-entropy loss over the rows and writes dlogits (N·K),
// its gradient.
double softmax_cross_entropy(const double* logits, const int* targets, int N, int K, double* dlogits);
}
