#pragma once
// normlab: the umbrella header. #include "normlab.h" gives the whole public API.
#include "core/autograd.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/gradcheck.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "core/random.h"
#include "core/shape.h"
#include "core/state_dict.h"
#include "core/tensor.h"
#include "layers/layers.h"
