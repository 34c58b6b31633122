#include "data/text_corpus.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "data/file_contents.h"

namespace mc::data {
namespace {

struct WordCount {
  std::string word;
  int64_t count = 0;
  int64_t first_seen = 0;
};

// The words of `words` with their counts, most frequent first, ties by first appearance;
// the special tokens are left out (the vocabulary places them first).
std::vector<WordCount> CountWords(const std::vector<std::string>& words) {
  std::unordered_map<std::string, size_t> index;
  std::vector<WordCount> counts;
  for (const std::string& word : words) {
    if (word == kUnknownWord || word == kEndOfLine) continue;
    const auto [it, inserted] = index.emplace(word, counts.size());
    if (inserted) counts.push_back({word, 0, static_cast<int64_t>(counts.size())});
    ++counts[it->second].count;
  }
  std::sort(counts.begin(), counts.end(), [](const WordCount& a, const WordCount& b) {
    return a.count != b.count ? a.count > b.count : a.first_seen < b.first_seen;
  });
  return counts;
}

std::vector<int32_t> ToIds(const Vocabulary& vocabulary, const std::vector<std::string>& words) {
  std::vector<int32_t> ids;
  ids.reserve(words.size());
  for (const std::string& word : words) ids.push_back(vocabulary.Id(word));
  return ids;
}

}  // namespace

Vocabulary::Vocabulary(std::vector<std::string> words) : words_(std::move(words)) {
  for (size_t i = 0; i < words_.size(); ++i) ids_.emplace(words_[i], static_cast<int32_t>(i));
}

absl::StatusOr<Vocabulary> Vocabulary::Build(const std::vector<std::string>& words,
                                             const VocabularyOptions& options) {
  if (options.max_size != 0 && options.max_size < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "vocabulary max_size must be 0 (no limit) or at least 2 (<unk> and <eos>), got ",
        options.max_size));
  }
  if (options.min_count < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("vocabulary min_count must be at least 1, got ", options.min_count));
  }
  std::vector<std::string> kept = {std::string(kUnknownWord), std::string(kEndOfLine)};
  for (WordCount& counted : CountWords(words)) {
    if (options.max_size != 0 && static_cast<int64_t>(kept.size()) == options.max_size) break;
    if (counted.count < options.min_count) break;
    kept.push_back(std::move(counted.word));
  }
  return Vocabulary(std::move(kept));
}

int32_t Vocabulary::Id(absl::string_view word) const {
  const auto it = ids_.find(std::string(word));
  return it == ids_.end() ? kUnknownId : it->second;
}

std::string CorpusFileName(CorpusLayout layout, absl::string_view split) {
  return layout == CorpusLayout::kWikiText ? absl::StrCat("wiki.", split, ".tokens")
                                           : absl::StrCat("ptb.", split, ".txt");
}

absl::StatusOr<std::vector<std::string>> ReadWords(const std::string& path) {
  MC_ASSIGN_OR_RETURN(const std::vector<uint8_t> bytes, ReadFileContents(path));
  const absl::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  std::vector<std::string> words;
  int64_t line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    // The piece after the last newline is not a line.
    if (line.data() + line.size() == text.data() + text.size() && line.empty()) break;
    if (line.find('\0') != absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": line ", line_number, " holds a NUL byte: not a text file"));
    }
    for (absl::string_view word : absl::StrSplit(line, absl::ByAnyChar(" \t\r\f\v"), absl::SkipEmpty())) {
      words.emplace_back(word);
    }
    words.emplace_back(kEndOfLine);
  }
  return words;
}

absl::StatusOr<TokenCorpus> ReadTokenCorpus(const std::string& dir, CorpusLayout layout,
                                            const VocabularyOptions& options) {
  std::vector<std::string> splits[3];
  const char* const kSplits[3] = {"train", "valid", "test"};
  for (int i = 0; i < 3; ++i) {
    MC_ASSIGN_OR_RETURN(splits[i], ReadWords(absl::StrCat(dir, "/", CorpusFileName(layout, kSplits[i]))));
  }
  const bool has_word = std::any_of(splits[0].begin(), splits[0].end(),
                                    [](const std::string& word) { return word != kEndOfLine; });
  if (!has_word) {
    return absl::InvalidArgumentError(absl::StrCat(
        dir, "/", CorpusFileName(layout, "train"), ": the training split holds no word"));
  }
  MC_ASSIGN_OR_RETURN(Vocabulary vocabulary, Vocabulary::Build(splits[0], options));
  TokenCorpus corpus{std::move(vocabulary), {}, {}, {}};
  corpus.train = ToIds(corpus.vocabulary, splits[0]);
  corpus.valid = ToIds(corpus.vocabulary, splits[1]);
  corpus.test = ToIds(corpus.vocabulary, splits[2]);
  return corpus;
}

}  // namespace mc::data
