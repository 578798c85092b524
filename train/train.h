#pragma once
// All of nl::train: what a training loop wants beyond the model and the
// optimizer — checkpoints, per-layer statistics, progress, clocks, metrics, results.
#include "train/checkpoint.h"
#include "train/checkpoint_dir.h"
#include "train/csv.h"
#include "train/gnuplot.h"
#include "train/interrupt.h"
#include "train/json.h"
#include "train/metrics.h"
#include "train/progress.h"
#include "train/run_checkpoints.h"
#include "train/stats_recorder.h"
#include "train/training_clock.h"
