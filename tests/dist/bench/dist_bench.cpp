// normlab_dist_bench: data-parallel training of an MLP under mpirun, to
// measure what normalization costs in communication (docs/distributed.md).
//
//   mpirun -np 2 build/bin/normlab_dist_bench --norm sync-batch --steps 300
//
// The task: 10 classes given by a random teacher network on 784 features of
// very different scales and offsets (what normalization is for). Each rank
// trains on its DistributedSampler shard with --batch samples per step (global
// batch = batch × processes); gradients are averaged in buckets; --norm picks
// none, layer (LayerNorm), batch (BatchNorm1d, local statistics) or
// sync-batch (SyncBatchNorm). Rank 0 prints progress on stderr and one JSON
// line on stdout: accuracy, time per step split into compute and
// communication, bytes and calls per step split into gradient and
// normalization sync, and a cost model of the same communication at 8–64
// processes on a network of --latency-us and --bandwidth-gbps.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "normlab.h"

namespace {

using nl::Tensor;
namespace dist = nl::dist;

struct Config {
  std::string norm = "layer";
  int64_t steps = 300, batch = 64, hidden = 256, depth = 3, features = 784, classes = 10;
  int64_t train_size = 16384, test_size = 4096, warmup = 10;
  double lr = 0.05, momentum = 0.9;
  uint64_t seed = 0;
  double latency_us = 5.0, bandwidth_gbps = 100.0;  // a 100 Gb/s InfiniBand-class network
  std::string format = "json";                      // json, or markdown table rows: row (measured), cost (modeled)
};

Config parse(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--help") {
      fmt::print(
          "usage: mpirun -np N normlab_dist_bench [--norm none|layer|batch|sync-batch] [--steps 300] "
          "[--batch 64 (per rank)] [--hidden 256] [--depth 3] [--lr 0.05] [--seed 0] [--train-size 16384] "
          "[--test-size 4096] [--latency-us 5] [--format json|row|cost] "
          "[--bandwidth-gbps 100]\n");
      std::exit(0);
    }
    if (flag == "--version") {
      fmt::print("{}\n", nl::version());
      std::exit(0);
    }
    if (i + 1 >= argc) nl::fail("normlab_dist_bench: {} needs a value (see --help)", flag);
    std::string value = argv[++i];
    auto number = [&] {
      char* end = nullptr;
      double v = std::strtod(value.c_str(), &end);
      if (*end || !(v >= 0)) nl::fail("normlab_dist_bench: {} expects a number >= 0, got \"{}\"", flag, value);
      return v;
    };
    if (flag == "--norm")
      c.norm = value;
    else if (flag == "--format")
      c.format = value;
    else if (flag == "--steps")
      c.steps = int64_t(number());
    else if (flag == "--batch")
      c.batch = int64_t(number());
    else if (flag == "--hidden")
      c.hidden = int64_t(number());
    else if (flag == "--depth")
      c.depth = int64_t(number());
    else if (flag == "--lr")
      c.lr = number();
    else if (flag == "--train-size")
      c.train_size = int64_t(number());
    else if (flag == "--test-size")
      c.test_size = int64_t(number());
    else if (flag == "--seed")
      c.seed = uint64_t(number());
    else if (flag == "--latency-us")
      c.latency_us = number();
    else if (flag == "--bandwidth-gbps")
      c.bandwidth_gbps = number();
    else
      nl::fail("normlab_dist_bench: unknown flag {} (see --help)", flag);
  }
  if (c.format != "json" && c.format != "row" && c.format != "cost")
    nl::fail("normlab_dist_bench: --format must be json, row or cost, got \"{}\"", c.format);
  if (c.norm != "none" && c.norm != "layer" && c.norm != "batch" && c.norm != "sync-batch")
    nl::fail("normlab_dist_bench: --norm must be none, layer, batch or sync-batch, got \"{}\"", c.norm);
  if (c.steps < 1 || c.batch < 2 || c.hidden < 1 || c.depth < 1 || c.test_size < 1)
    nl::fail("normlab_dist_bench: need --steps >= 1, --batch >= 2, --hidden >= 1, --depth >= 1, --test-size >= 1");
  return c;
}

struct Dataset {
  Tensor x;                // (n, features)
  std::vector<int64_t> y;  // n labels
};

// Inputs with per-feature scales in [1/3, 3] and offsets in [-1, 1]; labels
// from a fixed random teacher (a linear map plus a tanh layer) applied to the
// standardized inputs: learnable, but not in one epoch.
std::pair<Dataset, Dataset> make_task(const Config& c) {
  nl::manual_seed(c.seed + 1000);
  Tensor scale = (nl::rand({c.features}) * 2.0 - 1.0) * std::log(3.0);
  scale = scale.exp();
  Tensor shift = nl::rand({c.features}) * 2.0 - 1.0;
  Tensor linear = nl::randn({c.features, c.classes}), w1 = nl::randn({c.features, 32}) / std::sqrt(double(c.features)),
         w2 = nl::randn({32, c.classes}) * 4.0;
  auto make = [&](int64_t n) {
    Tensor z = nl::randn({n, c.features});
    Tensor logits = nl::matmul(z, linear) / std::sqrt(double(c.features)) +
                    nl::matmul(nl::tanh(nl::matmul(z, w1)), w2) / std::sqrt(32.0);
    std::vector<int64_t> labels = logits.argmax(1).to_vector<int64_t>();
    return Dataset{z * scale + shift, labels};
  };
  Dataset train = make(c.train_size);
  return {train, make(c.test_size)};
}

std::pair<Tensor, Tensor> gather(const Dataset& d, const std::vector<int64_t>& rows) {
  std::vector<int64_t> labels;
  labels.reserve(rows.size());
  for (int64_t r : rows) labels.push_back(d.y[size_t(r)]);
  return {nl::embedding(d.x, nl::from_vector(rows)), nl::from_vector(labels)};
}

std::shared_ptr<nl::models::MLP> make_model(const Config& c) {
  std::vector<int64_t> sizes{c.features};
  for (int64_t i = 0; i < c.depth; ++i) sizes.push_back(c.hidden);
  sizes.push_back(c.classes);
  nl::models::NormKind kind = c.norm == "layer"  ? nl::models::NormKind::layer
                              : c.norm == "none" ? nl::models::NormKind::none
                                                 : nl::models::NormKind::batch;
  nl::manual_seed(c.seed);
  auto model = std::make_shared<nl::models::MLP>(sizes, kind);
  if (c.norm == "sync-batch") dist::convert_sync_batchnorm(*model);
  return model;
}

// Communication time per step at p processes: gradients by ring allreduce
// (2(p−1) latency hops, 2(p−1)/p of the payload through each link), the small
// normalization allreduces by recursive doubling (log2 p hops each).
nlohmann::json cost_model(const Config& c, double compute_s, double grad_calls, double grad_bytes, double norm_calls,
                          double norm_bytes) {
  nlohmann::json rows = nlohmann::json::array();
  double alpha = c.latency_us * 1e-6, beta = c.bandwidth_gbps * 1e9 / 8;  // bytes/s
  for (int p : {8, 16, 32, 64}) {
    double hops = std::log2(double(p));
    double grad_s = grad_calls * 2 * (p - 1) * alpha + 2.0 * (p - 1) / p * grad_bytes / beta;
    double norm_s = norm_calls * hops * alpha + hops * norm_bytes / beta;
    rows.push_back({{"processes", p},
                    {"gradient_sync_ms", grad_s * 1e3},
                    {"norm_sync_ms", norm_s * 1e3},
                    {"step_ms", (compute_s + grad_s + norm_s) * 1e3},
                    {"comm_fraction", (grad_s + norm_s) / (compute_s + grad_s + norm_s)}});
  }
  return rows;
}

// What one allreduce costs here when all ranks arrive together (after a
// barrier): of a SyncBatchNorm-sized message and of the gradient bucket.
// Median over repetitions, slowest rank. Seconds.
std::pair<double, double> probe_allreduce(int64_t small_values, int64_t gradient_values) {
  auto median_seconds = [](int64_t n, int repetitions) {
    std::vector<float> buffer(size_t(n), 1.0f);
    std::vector<double> times;
    for (int r = 0; r < repetitions; ++r) {
      dist::barrier();
      auto start = std::chrono::steady_clock::now();
      dist::allreduce_sum(buffer.data(), n, dist::Traffic::other);
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(times.begin(), times.end());
    double median = times[times.size() / 2];
    dist::allreduce_max(&median, 1, dist::Traffic::other);
    return median;
  };
  return {median_seconds(small_values, 200), median_seconds(gradient_values, 20)};
}

int run(const Config& c) {
  auto [train, test] = make_task(c);
  auto model = make_model(c);
  dist::DataParallel ddp(*model);
  nl::optim::SGD optimizer(model->parameters(), {.lr = c.lr, .momentum = c.momentum});
  dist::DistributedSampler sampler(c.train_size, {.seed = c.seed, .drop_last = true});
  int64_t per_epoch = sampler.num_samples() / c.batch;
  if (per_epoch < 1)
    nl::fail("normlab_dist_bench: --batch {} is larger than a rank's shard {}", c.batch, sampler.num_samples());

  dist::StepMeter meter;
  dist::StepReport timed;  // the steps after warm-up
  double loss_sum = 0;
  std::vector<int64_t> mine;
  for (int64_t step = 0; step < c.steps; ++step) {
    if (step % per_epoch == 0) {
      sampler.set_epoch(step / per_epoch);
      mine = sampler.indices();
    }
    int64_t at = (step % per_epoch) * c.batch;
    auto [x, y] = gather(train, std::vector<int64_t>(mine.begin() + at, mine.begin() + at + c.batch));
    meter.start();
    optimizer.zero_grad();
    Tensor loss = nl::cross_entropy((*model)(x), y);
    loss.backward();
    ddp.average_gradients();
    optimizer.step();
    dist::StepReport report = meter.stop();
    if (step >= c.warmup) timed += report;
    loss_sum += loss.item<double>();
    if (dist::is_main() && ((step + 1) % 50 == 0 || step + 1 == c.steps))
      fmt::print(stderr, "[{} np{}] step {}/{} loss {:.4f}\n", c.norm, dist::world_size(), step + 1, c.steps,
                 loss.item<double>());
  }
  // Test accuracy with each rank's own model (identical parameters; with local
  // BatchNorm1d, rank 0's running statistics, as its checkpoint would have).
  model->eval();
  int64_t correct = 0;
  {
    nl::NoGradGuard no_grad;
    std::vector<int64_t> predicted = (*model)(test.x).argmax(1).to_vector<int64_t>();
    for (size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == test.y[i];
  }
  bool in_sync = ddp.parameters_in_sync(), buffers_in_sync = ddp.buffers_in_sync();
  double final_loss = dist::allreduce_mean(loss_sum / double(c.steps));
  double timed_steps = double(std::max<int64_t>(1, timed.steps));
  // means over the ranks, so the parts add up: step = compute + gradient sync + norm sync
  // (the slowest rank per part would take each from another rank: the one that computes
  // longest waits least). [step, gradient sync, norm sync]
  dist::StepReport mean = dist::mean_over_ranks(timed);
  double per_step[3] = {mean.seconds / timed_steps, mean.comm.gradients.seconds / timed_steps,
                        mean.comm.normalization.seconds / timed_steps};
  double compute_s = mean.compute_seconds() / timed_steps;
  // a SyncBatchNorm forward message (1 + 2C doubles = 2 + 4C floats) and the gradient bucket
  auto [small_s, gradient_s] = probe_allreduce(2 + 4 * c.hidden, model->num_parameters());
  if (!dist::is_main()) return 0;
  double grad_calls = double(timed.comm.gradients.calls) / timed_steps,
         grad_bytes = double(timed.comm.gradients.bytes) / timed_steps;
  double norm_calls = double(timed.comm.normalization.calls) / timed_steps,
         norm_bytes = double(timed.comm.normalization.bytes) / timed_steps;
  nlohmann::json out = {{"program", "normlab_dist_bench"},
                        {"norm", c.norm},
                        {"processes", dist::world_size()},
                        {"batch_per_rank", c.batch},
                        {"global_batch", c.batch * dist::world_size()},
                        {"steps", c.steps},
                        {"parameters", model->num_parameters()},
                        {"mean_train_loss", final_loss},
                        {"test_accuracy", double(correct) / double(test.y.size())},
                        {"step_ms", per_step[0] * 1e3},
                        {"compute_ms", compute_s * 1e3},
                        {"gradient_sync_ms", per_step[1] * 1e3},
                        {"norm_sync_ms", per_step[2] * 1e3},
                        {"gradient_sync_calls_per_step", grad_calls},
                        {"gradient_sync_bytes_per_step", grad_bytes},
                        {"norm_sync_calls_per_step", norm_calls},
                        {"norm_sync_bytes_per_step", norm_bytes},
                        {"params_in_sync", in_sync},
                        {"buffers_in_sync", buffers_in_sync},
                        {"probe_small_allreduce_us", small_s * 1e6},
                        {"probe_gradient_allreduce_ms", gradient_s * 1e3},
                        {"network", {{"latency_us", c.latency_us}, {"bandwidth_gbps", c.bandwidth_gbps}}},
                        {"cost_model", cost_model(c, compute_s, grad_calls, grad_bytes, norm_calls, norm_bytes)}};
  if (c.format == "row") {  // | norm | processes | global batch | accuracy | step | compute | grad sync | norm sync |
                            // grad bytes (calls) | norm bytes (calls) | in sync | probe small | probe gradient |
    fmt::print(
        "| {} | {} | {} | {:.3f} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {:.0f} ({:.0f}) | {:.0f} ({:.0f}) | {} | {:.0f} "
        "| {:.2f} |\n",
        c.norm, dist::world_size(), c.batch * dist::world_size(), double(correct) / double(test.y.size()),
        per_step[0] * 1e3, compute_s * 1e3, per_step[1] * 1e3, per_step[2] * 1e3, grad_bytes, grad_calls, norm_bytes,
        norm_calls,
        in_sync && buffers_in_sync ? "yes"
        : in_sync                  ? "parameters"
                                   : "no",
        small_s * 1e6, gradient_s * 1e3);
  } else if (c.format == "cost") {  // | norm | p | grad sync ms | norm sync ms | step ms | communication share |
    for (auto& row : out["cost_model"])
      fmt::print("| {} | {} | {:.3f} | {:.3f} | {:.2f} | {:.0f}% |\n", c.norm, row["processes"].get<int>(),
                 row["gradient_sync_ms"].get<double>(), row["norm_sync_ms"].get<double>(), row["step_ms"].get<double>(),
                 100 * row["comm_fraction"].get<double>());
  } else {
    fmt::print("{}\n", out.dump());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  dist::Context context(argc, argv);
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& e) {
    dist::Context::abort(1, fmt::format("error: {}", e.what()));
  }
}
