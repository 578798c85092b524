#pragma once
// All of nl::models.
#include "models/char_lstm.h"
#include "models/cnn.h"
#include "models/gpt.h"
#include "models/mlp.h"
#include "models/norm_kind.h"
#include "models/sampling.h"
