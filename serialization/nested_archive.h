// File: nested_archive.h
// A LibTorch archive inside another, under a key: how checkpoints keep a model, its
// optimizers and a method's own state apart in one file.
//
// Example:
//   WriteNested(archive, "model", *model);          // anything with save(OutputArchive&) const
//   ReadNested(archive, "optimizer", *optimizer);   // anything with load(InputArchive&)
//   WriteNested(archive, "trainer", [&](torch::serialize::OutputArchive& nested) {
//     trainer.Save(nested);
//   });
#ifndef MC_SERIALIZATION_NESTED_ARCHIVE_H_
#define MC_SERIALIZATION_NESTED_ARCHIVE_H_

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <functional>
#include <string>
#include <type_traits>

namespace mc::serialization {

/// Writes what `save` puts in a new archive under `key`.
inline void WriteNested(torch::serialize::OutputArchive& archive, const std::string& key,
                        const std::function<void(torch::serialize::OutputArchive&)>& save) {
  torch::serialize::OutputArchive nested;
  save(nested);
  archive.write(key, nested);
}

/// Reads the archive under `key` with `load`. Throws c10::Error if the key is missing.
inline void ReadNested(torch::serialize::InputArchive& archive, const std::string& key,
                       const std::function<void(torch::serialize::InputArchive&)>& load) {
  torch::serialize::InputArchive nested;
  archive.read(key, nested);
  load(nested);
}

/// WriteNested with `object.save`, e.g. a torch::nn::Module or a torch::optim::Optimizer.
template <typename Savable,
          typename = std::enable_if_t<!std::is_invocable_v<Savable, torch::serialize::OutputArchive&>>>
void WriteNested(torch::serialize::OutputArchive& archive, const std::string& key,
                 const Savable& object) {
  WriteNested(archive, key, [&object](torch::serialize::OutputArchive& nested) { object.save(nested); });
}

/// ReadNested with `object.load`, e.g. a torch::nn::Module or a torch::optim::Optimizer.
template <typename Loadable,
          typename = std::enable_if_t<!std::is_invocable_v<Loadable, torch::serialize::InputArchive&>>>
void ReadNested(torch::serialize::InputArchive& archive, const std::string& key, Loadable& object) {
  ReadNested(archive, key, [&object](torch::serialize::InputArchive& nested) { object.load(nested); });
}

}  // namespace mc::serialization

#endif  // MC_SERIALIZATION_NESTED_ARCHIVE_H_
