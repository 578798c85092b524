#pragma once
// cnn_norm's batch order: which training samples each step of an epoch sees.
// A function of (seed, epoch) alone, so a resumed run sees the same batches
// as the uninterrupted one and the order does not move when the model draws
// random numbers.
#include <cstdint>
#include <vector>

namespace cnn_norm {

// The batches of epoch `epoch`, each batch_size indices into the training set.
//   i.i.d.:   nl::data::shuffled_indices(n, seed, epoch) cut into batches,
//             the last partial one dropped (every batch has batch_size samples).
//   non-i.i.d. (Ioffe 2017's setting, harder than his): every batch holds
//             batch_size/2 samples of each of 2 classes. The classes are
//             shuffled into pairs (c0, c1), (c2, c3), ...; each pair's samples,
//             in shuffled order per class, are cut into batches of half from
//             each class (as many as the smaller class allows); the batches of
//             all pairs are then shuffled together. batch_size must be even and
//             the number of classes too (an odd last class is left out).
// labels: the training labels in [0, num_classes).
std::vector<std::vector<int64_t>> epoch_batches(const std::vector<int64_t>& labels, int64_t num_classes,
                                                int64_t batch_size, uint64_t seed, int64_t epoch, bool noniid);

}  // namespace cnn_norm
