#include "data/dataset_info.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/status/status.h"
#include "common/status_matchers.h"

namespace mc::data {
namespace {

using ::testing::ElementsAre;
using ::testing::FloatEq;
using ::testing::HasSubstr;

// Tests that every registered data set has a consistent description.
TEST(DatasetInfoTest, EveryDataSetIsConsistent) {
  EXPECT_THAT(DatasetNames(),
              ElementsAre("cifar10", "cifar100", "fashion_mnist", "kjv", "mnist", "ptb",
                          "synthetic", "wikitext103", "wikitext2"));
  for (const std::string& name : DatasetNames()) {
    MC_ASSERT_OK_AND_ASSIGN(const DatasetInfo info, GetDatasetInfo(name));
    EXPECT_EQ(info.name, name);
    if (info.corpus_layout) continue;  // text: its classes are its vocabulary's words
    EXPECT_EQ(info.mean.size(), info.channels) << name;
    EXPECT_EQ(info.std.size(), info.channels) << name;
    EXPECT_GT(info.num_classes, 1) << name;
  }
}

// Tests the shapes and normalization constants of the real data sets.
TEST(DatasetInfoTest, PublishedShapesAndStatistics) {
  const DatasetInfo fashion = *GetDatasetInfo("fashion_mnist");
  EXPECT_EQ(fashion.channels, 1);
  EXPECT_EQ(fashion.height, 28);
  EXPECT_EQ(fashion.width, 28);
  EXPECT_EQ(fashion.num_classes, 10);
  EXPECT_THAT(fashion.mean, ElementsAre(FloatEq(0.2860f)));
  EXPECT_THAT(fashion.std, ElementsAre(FloatEq(0.3530f)));

  const DatasetInfo mnist = *GetDatasetInfo("mnist");
  EXPECT_THAT(mnist.mean, ElementsAre(FloatEq(0.1307f)));
  EXPECT_THAT(mnist.std, ElementsAre(FloatEq(0.3081f)));

  const DatasetInfo cifar10 = *GetDatasetInfo("cifar10");
  EXPECT_EQ(cifar10.channels, 3);
  EXPECT_EQ(cifar10.height, 32);
  EXPECT_EQ(cifar10.num_classes, 10);
  EXPECT_THAT(cifar10.mean, ElementsAre(FloatEq(0.4914f), FloatEq(0.4822f), FloatEq(0.4465f)));
  EXPECT_THAT(cifar10.std, ElementsAre(FloatEq(0.2023f), FloatEq(0.1994f), FloatEq(0.2010f)));

  const DatasetInfo cifar100 = *GetDatasetInfo("cifar100");
  EXPECT_EQ(cifar100.num_classes, 100);
  EXPECT_THAT(cifar100.mean, ElementsAre(FloatEq(0.5071f), FloatEq(0.4867f), FloatEq(0.4408f)));
  EXPECT_THAT(cifar100.std, ElementsAre(FloatEq(0.2675f), FloatEq(0.2565f), FloatEq(0.2761f)));
}

// Tests that an unknown name is a not-found error listing the valid names.
TEST(DatasetInfoTest, UnknownNameListsValidNames) {
  EXPECT_THAT(GetDatasetInfo("imagenet"),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("\"imagenet\"; valid names: cifar10, cifar100, fashion_mnist, "
                                 "kjv, mnist, ptb, synthetic, wikitext103, wikitext2")));
}

// Tests that the text corpora carry their file layout and no image shape, and that image
// sets carry no layout.
TEST(DatasetInfoTest, TextCorpora) {
  EXPECT_EQ(GetDatasetInfo("kjv")->corpus_layout, CorpusLayout::kPtb);
  EXPECT_EQ(GetDatasetInfo("ptb")->corpus_layout, CorpusLayout::kPtb);
  EXPECT_EQ(GetDatasetInfo("wikitext2")->corpus_layout, CorpusLayout::kWikiText);
  EXPECT_EQ(GetDatasetInfo("wikitext103")->corpus_layout, CorpusLayout::kWikiText);
  EXPECT_EQ(GetDatasetInfo("kjv")->channels, 0);
  EXPECT_EQ(GetDatasetInfo("cifar10")->corpus_layout, std::nullopt);
  EXPECT_EQ(DefaultDataDir("kjv"), "/usr/share/datasets/kjv");
  EXPECT_EQ(DefaultDataDir("wikitext103"), "/usr/share/datasets/wikitext-103");
}

// Tests the default directories, including Debian's Fashion-MNIST location.
TEST(DatasetInfoTest, DefaultDirectories) {
  EXPECT_EQ(DefaultDataDir("fashion_mnist"), "/usr/share/datasets/fashion-mnist");
  EXPECT_EQ(DefaultDataDir("mnist"), "/usr/share/datasets/mnist");
  EXPECT_EQ(DefaultDataDir("cifar10"), "/usr/share/datasets/cifar-10");
  EXPECT_EQ(DefaultDataDir("cifar100"), "/usr/share/datasets/cifar-100");
  EXPECT_EQ(DefaultDataDir("synthetic"), "");
  EXPECT_EQ(DefaultDataDir("imagenet"), "");
}

}  // namespace
}  // namespace mc::data
