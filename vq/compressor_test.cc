#include "vq/compressor.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>
#include <torch/utils.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "common/status_macros.h"
#include "common/status_matchers.h"
#include "nn_models/classifier.h"
#include "nn_models/registry.h"
#include "nn_models/state_dict.h"
#include "serialization/model_file.h"
#include "serialization/tensor_codec.h"
#include "vq/codebook_codec.h"
#include "vq/layout.h"

namespace mc::vq {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kBatch = 16;
constexpr int64_t kImageSize = 16;

// A small recipe: few centroids, so that k-means leaves the fine-tuning something to recover.
CompressorOptions SmallOptions() {
  return CompressorOptions()
      .recipe(VqSizeOptions().centroids_conv(8).centroids_pointwise(8).centroids_linear(8))
      .n_iter(5)
      .n_activations(2 * kBatch)
      .activation_rows(512)
      .finetune_steps(8)
      .global_finetune_epochs(1)
      .global_finetune_steps(3)
      .seed(3);
}

class CompressorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    at::manual_seed(0);
    teacher_ = *nn_models::CreateModel("resnet20", nn_models::ModelOptions().image_size(kImageSize));
    for (int i = 0; i < 4; ++i) batches_.push_back(at::randn({kBatch, 3, kImageSize, kImageSize}));
    // BatchNorm statistics of the data, and confident logits, so that the distillation loss
    // of a coarsely quantized student is far from zero.
    {
      torch::NoGradGuard no_grad;
      teacher_->train();
      for (int pass = 0; pass < 10; ++pass) {
        for (const at::Tensor& images : batches_) teacher_->forward(images);
      }
      teacher_->named_parameters()["fc.weight"].mul_(10);
    }
    teacher_->eval();
    student_ = nn_models::Clone(*teacher_);
  }

  // The four batches in order, again and again, from the first at every call.
  TrainBatches Stream() const {
    return [this](const BatchFn& fn) {
      const at::Tensor labels = at::zeros({kBatch}, at::kLong);
      for (size_t i = 0;; i = (i + 1) % batches_.size()) {
        if (!fn(batches_[i], labels)) return;
      }
    };
  }

  std::shared_ptr<nn_models::Classifier> teacher_;
  std::shared_ptr<nn_models::Classifier> student_;
  std::vector<at::Tensor> batches_;
};

// Tests the layer list (registration order, first convolution kept in float), the block size
// and k of each kind of layer, that the fine-tuning of each layer's centroids lowers the
// distillation loss, and that every weight only takes values of its float16 centroids.
TEST_F(CompressorTest, LayerStageFineTunesCentroidsAndKeepsClustersIdentical) {
  MC_ASSERT_OK_AND_ASSIGN(std::unique_ptr<VqCompressor> compressor,
                          VqCompressor::Create(student_, teacher_, SmallOptions()));
  ASSERT_THAT(compressor->CompressLayers(Stream()), IsOk());
  const std::vector<LayerReport>& layers = compressor->layers();
  ASSERT_EQ(layers.size(), 21u);  // 18 3x3 convolutions, 2 projections, fc; conv1 kept
  EXPECT_EQ(layers.front().name, "layer1.0.conv1.weight");
  EXPECT_EQ(layers.back().name, "fc.weight");
  double before = 0, after = 0;
  int improved = 0;
  auto parameters = student_->named_parameters();
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerReport& layer = layers[i];
    SCOPED_TRACE(layer.name);
    const bool pointwise = layer.shape.size() == 4 && layer.shape[2] == 1;
    EXPECT_EQ(layer.block_size, layer.shape.size() == 2 ? 4 : pointwise ? 4 : 9);
    EXPECT_EQ(layer.num_centroids, 8);
    before += layer.loss_after_kmeans;
    after += layer.loss_after_finetune;
    if (layer.loss_after_finetune < layer.loss_after_kmeans) ++improved;

    const at::Tensor weight = parameters[layer.name].detach();
    const at::Tensor centroids = RoundCentroids(compressor->centroids(i));
    MC_ASSERT_OK_AND_ASSIGN(const at::Tensor rebuilt,
                            ReconstructWeight(centroids, compressor->assignments(i), weight.sizes()));
    EXPECT_TRUE(weight.equal(rebuilt));
    MC_ASSERT_OK_AND_ASSIGN(const at::Tensor subvectors, WeightToSubvectors(weight, layer.block_size));
    EXPECT_LE(std::get<0>(at::unique_dim(subvectors, 0)).size(0), 8);
  }
  EXPECT_LT(after, 0.8 * before);
  EXPECT_GE(improved, 16);
  EXPECT_GT(before, 0.05);
}

// Tests that a diverging layer fine-tuning (a huge learning rate) is undone exactly: while
// the layers so far all kept their k-means centroids, the next layer sees the same model as
// without any fine-tuning.
TEST_F(CompressorTest, DivergingFineTuningKeepsKMeansCentroids) {
  MC_ASSERT_OK_AND_ASSIGN(std::unique_ptr<VqCompressor> diverging,
                          VqCompressor::Create(student_, teacher_, SmallOptions().finetune_lr(10)));
  ASSERT_THAT(diverging->CompressLayers(Stream()), IsOk());
  std::shared_ptr<nn_models::Classifier> other = nn_models::Clone(*teacher_);
  MC_ASSERT_OK_AND_ASSIGN(std::unique_ptr<VqCompressor> kmeans_only,
                          VqCompressor::Create(other, teacher_, SmallOptions().finetune_steps(0)));
  ASSERT_THAT(kmeans_only->CompressLayers(Stream()), IsOk());

  const std::vector<LayerReport>& layers = diverging->layers();
  ASSERT_TRUE(layers[0].finetune_reverted);
  EXPECT_GT(layers[0].loss_after_finetune, layers[0].loss_after_kmeans);
  size_t checked = 0;
  for (size_t i = 0; i + 1 < layers.size() && layers[i].finetune_reverted; ++i, ++checked) {
    EXPECT_EQ(layers[i + 1].loss_after_kmeans, kmeans_only->layers()[i + 1].loss_after_kmeans);
    if (layers[i + 1].finetune_reverted) {
      EXPECT_TRUE(diverging->centroids(i + 1).equal(kmeans_only->centroids(i + 1)));
    }
  }
  EXPECT_GE(checked, 1u);
}

// Tests that global fine-tuning trains in train mode: BatchNorm running statistics change,
// centroids move, and weights still take only centroid values.
TEST_F(CompressorTest, GlobalFineTuningUpdatesBatchNormStatistics) {
  MC_ASSERT_OK_AND_ASSIGN(std::unique_ptr<VqCompressor> compressor,
                          VqCompressor::Create(student_, teacher_, SmallOptions().finetune_steps(0)));
  ASSERT_THAT(compressor->CompressLayers(Stream()), IsOk());
  const at::Tensor mean_before = student_->named_buffers()["layer2.0.bn1.running_mean"].clone();
  const at::Tensor centroids_before = compressor->centroids(5).detach().clone();
  ASSERT_THAT(compressor->GlobalFinetune(Stream()), IsOk());
  EXPECT_FALSE(student_->named_buffers()["layer2.0.bn1.running_mean"].equal(mean_before));
  EXPECT_FALSE(compressor->centroids(5).detach().equal(centroids_before));
  const LayerReport& layer = compressor->layers()[5];
  MC_ASSERT_OK_AND_ASSIGN(
      const at::Tensor rebuilt,
      ReconstructWeight(RoundCentroids(compressor->centroids(5)), compressor->assignments(5),
                        layer.shape));
  EXPECT_TRUE(student_->named_parameters()[layer.name].detach().equal(rebuilt));
  EXPECT_GT(compressor->seconds().at("global_finetune"), 0);
}

// Reads the model file at `path` into a fresh ResNet-20: codebook tensors rebuilt from their
// centroids, the others from their passthrough values.
absl::StatusOr<std::shared_ptr<nn_models::Classifier>> ReadBack(const std::string& path) {
  MC_ASSIGN_OR_RETURN(const serialization::CompressedModel stored, serialization::ReadModelFile(path));
  serialization::StateDict state;
  for (const serialization::CompressedTensor& tensor : stored.tensors()) {
    MC_ASSIGN_OR_RETURN(at::Tensor values, tensor.has_codebook()
                                               ? DecodeCodebook(tensor)
                                               : serialization::DecodePassthrough(tensor));
    state.emplace_back(tensor.name(), std::move(values));
  }
  MC_ASSIGN_OR_RETURN(std::shared_ptr<nn_models::Classifier> model,
                      nn_models::CreateModel("resnet20", nn_models::ModelOptions().image_size(kImageSize)));
  MC_RETURN_IF_ERROR(nn_models::LoadStateDict(*model, state));
  model->eval();
  return model;
}

// Tests that the written file, read back, gives the logits of the model in memory, and that
// the size and layer table follow the reference's formula.
TEST_F(CompressorTest, WrittenFileRestoresTheSameLogits) {
  MC_ASSERT_OK_AND_ASSIGN(CompressionResult result,
                          CompressModel(student_, teacher_, Stream(), SmallOptions()));
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/vq.mcm";
  ASSERT_THAT(serialization::WriteModelFile(path, result.model), IsOk());
  MC_ASSERT_OK_AND_ASSIGN(const std::shared_ptr<nn_models::Classifier> restored, ReadBack(path));

  student_->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor images = at::randn({8, 3, kImageSize, kImageSize});
  EXPECT_TRUE(restored->forward(images).equal(student_->forward(images)));

  int codebooks = 0;
  for (const serialization::CompressedTensor& tensor : result.model.tensors()) {
    if (tensor.has_codebook()) ++codebooks;
  }
  EXPECT_EQ(codebooks, 21);
  double layer_bytes = 0;
  for (const LayerReport& layer : result.layers) layer_bytes += layer.bytes;
  EXPECT_DOUBLE_EQ(layer_bytes, result.size.index_bytes + result.size.centroid_bytes);
  EXPECT_GT(result.size.compression_ratio(), 5);
}

// Tests that options out of range are refused by name.
TEST(CompressorOptionsTest, RejectsInvalidOptions) {
  EXPECT_THAT(Validate(CompressorOptions()), IsOk());
  EXPECT_THAT(Validate(CompressorOptions().n_iter(0)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("n_iter")));
  EXPECT_THAT(Validate(CompressorOptions().momentum(1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("momentum")));
  EXPECT_THAT(Validate(CompressorOptions().global_lr(0)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("global_lr")));
}

}  // namespace
}  // namespace mc::vq
