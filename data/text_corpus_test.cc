// Tests of the corpus readers on files written here in the WikiText and Penn Treebank layouts.
#include "data/text_corpus.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/status_matchers.h"
#include "data/testutil.h"

namespace mc::data {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

void WriteText(const std::string& path, const std::string& text,
               Compression compression = Compression::kNone) {
  WriteFile(path, std::vector<uint8_t>(text.begin(), text.end()), compression);
}

// Writes the three splits of a corpus in `layout` under a fresh directory; returns it.
std::string WriteCorpus(const std::string& name, CorpusLayout layout, const std::string& train,
                        const std::string& valid, const std::string& test) {
  const std::string dir = MakeTestDir(name);
  WriteText(dir + "/" + CorpusFileName(layout, "train"), train);
  WriteText(dir + "/" + CorpusFileName(layout, "valid"), valid);
  WriteText(dir + "/" + CorpusFileName(layout, "test"), test);
  return dir;
}

std::vector<std::string> Words(const TokenCorpus& corpus, const std::vector<int32_t>& ids) {
  std::vector<std::string> words;
  for (const int32_t id : ids) words.push_back(corpus.vocabulary.Word(id));
  return words;
}

TEST(CorpusFileNameTest, FollowsEachLayout) {
  EXPECT_EQ(CorpusFileName(CorpusLayout::kWikiText, "valid"), "wiki.valid.tokens");
  EXPECT_EQ(CorpusFileName(CorpusLayout::kPtb, "test"), "ptb.test.txt");
}

TEST(ReadWordsTest, EndsEveryLineBlankOrNotWithEos) {
  const std::string dir = MakeTestDir("read_words");
  WriteText(dir + "/a.txt", " the cat\tsat \n\n = title = \r\nlast line without newline");
  MC_ASSERT_OK_AND_ASSIGN(const std::vector<std::string> words, ReadWords(dir + "/a.txt"));
  EXPECT_THAT(words, ElementsAre("the", "cat", "sat", "<eos>", "<eos>", "=", "title", "=",
                                 "<eos>", "last", "line", "without", "newline", "<eos>"));
  WriteText(dir + "/empty.txt", "");
  MC_ASSERT_OK_AND_ASSIGN(const std::vector<std::string> none, ReadWords(dir + "/empty.txt"));
  EXPECT_TRUE(none.empty());
}

TEST(ReadWordsTest, ReadsGzipFiles) {
  const std::string dir = MakeTestDir("read_words_gzip");
  WriteText(dir + "/a.txt.gz", "a b\nc\n", Compression::kGzip);
  MC_ASSERT_OK_AND_ASSIGN(const std::vector<std::string> words, ReadWords(dir + "/a.txt.gz"));
  EXPECT_THAT(words, ElementsAre("a", "b", "<eos>", "c", "<eos>"));
}

TEST(ReadWordsTest, RefusesMissingAndBinaryFilesNamingThem) {
  const std::string dir = MakeTestDir("read_words_bad");
  EXPECT_THAT(ReadWords(dir + "/missing.txt"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.txt")));
  WriteFile(dir + "/binary.txt", {'a', '\n', 'b', 0, 'c', '\n'});
  EXPECT_THAT(ReadWords(dir + "/binary.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("binary.txt: line 2")));
}

TEST(VocabularyTest, PutsSpecialsFirstThenWordsByFrequencyAndFirstAppearance) {
  MC_ASSERT_OK_AND_ASSIGN(
      const Vocabulary vocabulary,
      Vocabulary::Build({"b", "a", "c", "a", "<eos>", "c", "d", "<unk>"}, VocabularyOptions{}));
  ASSERT_EQ(vocabulary.size(), 6);
  EXPECT_EQ(vocabulary.Word(0), "<unk>");
  EXPECT_EQ(vocabulary.Word(1), "<eos>");
  EXPECT_EQ(vocabulary.Word(2), "a");  // 2 times, first at 1
  EXPECT_EQ(vocabulary.Word(3), "c");  // 2 times, first at 2
  EXPECT_EQ(vocabulary.Word(4), "b");
  EXPECT_EQ(vocabulary.Word(5), "d");
  EXPECT_EQ(vocabulary.Id("c"), 3);
  EXPECT_EQ(vocabulary.Id("never seen"), Vocabulary::kUnknownId);
}

TEST(VocabularyTest, CutsBySizeAndByCount) {
  const std::vector<std::string> words = {"x", "y", "y", "z", "z", "z"};
  MC_ASSERT_OK_AND_ASSIGN(const Vocabulary sized, Vocabulary::Build(words, VocabularyOptions{3, 1}));
  EXPECT_EQ(sized.size(), 3);
  EXPECT_EQ(sized.Id("z"), 2);
  EXPECT_EQ(sized.Id("y"), Vocabulary::kUnknownId);
  MC_ASSERT_OK_AND_ASSIGN(const Vocabulary counted, Vocabulary::Build(words, VocabularyOptions{0, 2}));
  EXPECT_EQ(counted.size(), 4);
  EXPECT_EQ(counted.Id("x"), Vocabulary::kUnknownId);
  EXPECT_THAT(Vocabulary::Build(words, VocabularyOptions{1, 1}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_size")));
  EXPECT_THAT(Vocabulary::Build(words, VocabularyOptions{0, 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("min_count")));
}

TEST(ReadTokenCorpusTest, ReadsPtbLayoutMappingUnknownWords) {
  const std::string dir = WriteCorpus("ptb", CorpusLayout::kPtb, "a b a\nc\n", "a z\n", "\nb\n");
  MC_ASSERT_OK_AND_ASSIGN(const TokenCorpus corpus,
                          ReadTokenCorpus(dir, CorpusLayout::kPtb, VocabularyOptions{}));
  EXPECT_EQ(corpus.vocabulary.size(), 5);
  EXPECT_THAT(Words(corpus, corpus.train), ElementsAre("a", "b", "a", "<eos>", "c", "<eos>"));
  EXPECT_THAT(Words(corpus, corpus.valid), ElementsAre("a", "<unk>", "<eos>"));
  EXPECT_THAT(Words(corpus, corpus.test), ElementsAre("<eos>", "b", "<eos>"));
}

TEST(ReadTokenCorpusTest, ReadsWikiTextLayoutWithItsOwnUnk) {
  const std::string dir = WriteCorpus("wikitext", CorpusLayout::kWikiText,
                                      " = Title = \n\n the <unk> river \n", " the sea \n", "");
  MC_ASSERT_OK_AND_ASSIGN(const TokenCorpus corpus,
                          ReadTokenCorpus(dir, CorpusLayout::kWikiText, VocabularyOptions{}));
  EXPECT_THAT(Words(corpus, corpus.train),
              ElementsAre("=", "Title", "=", "<eos>", "<eos>", "the", "<unk>", "river", "<eos>"));
  EXPECT_EQ(corpus.train[6], Vocabulary::kUnknownId);
  EXPECT_THAT(Words(corpus, corpus.valid), ElementsAre("the", "<unk>", "<eos>"));
  EXPECT_TRUE(corpus.test.empty());
}

TEST(ReadTokenCorpusTest, NamesTheMissingSplitAndRefusesAnEmptyTrainingSplit) {
  const std::string dir = MakeTestDir("missing_split");
  WriteText(dir + "/ptb.train.txt", "a\n");
  WriteText(dir + "/ptb.valid.txt", "a\n");
  EXPECT_THAT(ReadTokenCorpus(dir, CorpusLayout::kPtb, VocabularyOptions{}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("ptb.test.txt")));
  const std::string empty = WriteCorpus("empty_train", CorpusLayout::kPtb, "\n\n", "a\n", "a\n");
  EXPECT_THAT(ReadTokenCorpus(empty, CorpusLayout::kPtb, VocabularyOptions{}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("holds no word")));
}

}  // namespace
}  // namespace mc::data
