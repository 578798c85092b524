#pragma once
// All of nl::layers.
#include "layers/activation.h"
#include "layers/batch_norm.h"
#include "layers/dropout.h"
#include "layers/embedding.h"
#include "layers/init.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "layers/loss.h"
#include "layers/module.h"
#include "layers/reference.h"
#include "layers/rms_norm.h"
#include "layers/sequential.h"
