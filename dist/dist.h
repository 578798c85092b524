#pragma once
// All of nl::dist: data-parallel training across processes with MPI
// (docs/distributed.md).
#include "dist/comm.h"
#include "dist/comm_stats.h"
#include "dist/data_parallel.h"
#include "dist/distributed_sampler.h"
#include "dist/step_meter.h"
#include "dist/sync_batch_norm.h"
