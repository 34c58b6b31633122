// File: text_corpus.h
// Word-level language-modeling corpora in the WikiText-2/103 and Penn Treebank file layouts,
// read into one stream of token ids per split, with a vocabulary built from the training split.
//
// Both layouts hold one UTF-8 text file per split, words separated by white space, one
// sentence or paragraph per line: wiki.{train,valid,test}.tokens (WikiText, which writes rare
// words as "<unk>" itself) and ptb.{train,valid,test}.txt (Penn Treebank). As in the common
// word-level recipe (PyTorch's word_language_model, Zaremba et al.), every line, blank lines
// included, ends with the token "<eos>", and a word outside the vocabulary reads as "<unk>".
//
// Example:
//   MC_ASSIGN_OR_RETURN(TokenCorpus corpus,
//                       ReadTokenCorpus("/data/ptb", CorpusLayout::kPtb, VocabularyOptions{10000, 1}));
//   corpus.train;                       // ids, one per word and one "<eos>" per line
//   corpus.vocabulary.Word(corpus.train[0]);
#ifndef MC_DATA_TEXT_CORPUS_H_
#define MC_DATA_TEXT_CORPUS_H_

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mc::data {

inline constexpr absl::string_view kUnknownWord = "<unk>";
inline constexpr absl::string_view kEndOfLine = "<eos>";

/// How a vocabulary is cut from the training split's word counts.
struct VocabularyOptions {
  /// Most words kept, "<unk>" and "<eos>" included; 0 keeps every word.
  int64_t max_size = 0;
  /// Words seen fewer times than this read as "<unk>".
  int64_t min_count = 1;
};

/// Words and their ids: "<unk>" is 0, "<eos>" is 1, then the kept words from the most to the
/// least frequent, ties in order of first appearance (so a vocabulary depends only on the
/// text and the options).
class Vocabulary {
 public:
  static constexpr int32_t kUnknownId = 0;
  static constexpr int32_t kEndOfLineId = 1;

  /// The vocabulary of `words` (a training split, in order) under `options`.
  /// \error kInvalidArgument if max_size is neither 0 nor at least 2, or min_count is below 1.
  static absl::StatusOr<Vocabulary> Build(const std::vector<std::string>& words,
                                          const VocabularyOptions& options);

  /// The id of `word`, kUnknownId if it is not in the vocabulary.
  int32_t Id(absl::string_view word) const;
  /// The word of `id`; requires 0 <= id < size().
  const std::string& Word(int32_t id) const { return words_[id]; }
  int64_t size() const { return static_cast<int64_t>(words_.size()); }

 private:
  explicit Vocabulary(std::vector<std::string> words);

  std::vector<std::string> words_;
  std::unordered_map<std::string, int32_t> ids_;
};

enum class CorpusLayout { kWikiText, kPtb };

/// A corpus as three streams of vocabulary ids.
struct TokenCorpus {
  Vocabulary vocabulary;
  std::vector<int32_t> train;
  std::vector<int32_t> valid;
  std::vector<int32_t> test;
};

/// The file name of a split ("train", "valid" or "test") in `layout`.
std::string CorpusFileName(CorpusLayout layout, absl::string_view split);

/// The words of a text file, line by line, "<eos>" after every line.
/// \error kNotFound (or the code of the errno) naming the file if it cannot be read.
/// \error kInvalidArgument naming the file and line if the file holds a NUL byte (not text).
absl::StatusOr<std::vector<std::string>> ReadWords(const std::string& path);

/// Reads the three splits of the corpus in `dir`, builds the vocabulary from the training
/// split and maps every split to ids.
/// \error as ReadWords for each file, naming it; kInvalidArgument if the training split holds
///   no word or the options are invalid.
absl::StatusOr<TokenCorpus> ReadTokenCorpus(const std::string& dir, CorpusLayout layout,
                                            const VocabularyOptions& options);

}  // namespace mc::data

#endif  // MC_DATA_TEXT_CORPUS_H_
