#include "serialization/event_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/status_matchers.h"
#include "serialization/atomic_file.h"
#include "serialization/crc32c.h"
#include "serialization/little_endian.h"

namespace mc::serialization {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using tensorboard::Event;
using tensorboard::HistogramProto;

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A fresh directory under the test's temporary directory.
std::string NewDir(const std::string& name) {
  const std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  EXPECT_THAT(CreateDirectories(dir), IsOk());
  return dir;
}

// Replaces a file's bytes without the fsyncs of WriteFileAtomically (tests rewrite many).
void Overwrite(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Byte offsets at which the records of a well-formed file start.
std::vector<size_t> RecordOffsets(const std::string& bytes) {
  std::vector<size_t> offsets;
  for (size_t offset = 0; offset < bytes.size();) {
    offsets.push_back(offset);
    offset += 8 + 4 + ReadLittleEndian(bytes, offset, 8) + 4;  // header, data, CRC
  }
  return offsets;
}

// Writes a file of three events (the file version, scalars at step 5, a histogram at step
// 10) and returns its path.
absl::StatusOr<std::string> WriteSampleFile(const std::string& dir) {
  MC_ASSIGN_OR_RETURN(EventWriter writer, EventWriter::Create(dir));
  MC_RETURN_IF_ERROR(writer.WriteScalars(5, {{"train/loss", 0.25}, {"lr", 0.1}}));
  MC_RETURN_IF_ERROR(writer.WriteHistograms(10, {{"bits", {2, 3, 3, 8}}}));
  return writer.path();
}

// Tests that every event written is read back: version first, then scalars and histograms
// with their steps, tags, float32 values and wall times.
TEST(EventWriterTest, ReadsBackEveryEvent) {
  const double before = NowSeconds();
  MC_ASSERT_OK_AND_ASSIGN(const std::string path, WriteSampleFile(NewDir("round_trip")));
  const double after = NowSeconds();

  MC_ASSERT_OK_AND_ASSIGN(const std::vector<Event> events, ReadEventFile(path));
  ASSERT_EQ(events.size(), 3u);
  for (const Event& event : events) {
    EXPECT_GE(event.wall_time(), before);
    EXPECT_LE(event.wall_time(), after);
  }
  EXPECT_EQ(events[0].file_version(), "brain.Event:2");
  EXPECT_EQ(events[0].step(), 0);

  const Event& scalars = events[1];
  EXPECT_EQ(scalars.step(), 5);
  ASSERT_EQ(scalars.summary().value_size(), 2);
  EXPECT_EQ(scalars.summary().value(0).tag(), "lr");  // in tag order
  EXPECT_EQ(scalars.summary().value(0).simple_value(), 0.1f);
  EXPECT_EQ(scalars.summary().value(1).tag(), "train/loss");
  EXPECT_EQ(scalars.summary().value(1).simple_value(), 0.25f);

  const Event& histograms = events[2];
  EXPECT_EQ(histograms.step(), 10);
  ASSERT_EQ(histograms.summary().value_size(), 1);
  EXPECT_EQ(histograms.summary().value(0).tag(), "bits");
  const HistogramProto& histogram = histograms.summary().value(0).histo();
  EXPECT_EQ(histogram.min(), 2);
  EXPECT_EQ(histogram.max(), 8);
  EXPECT_EQ(histogram.num(), 4);
  EXPECT_EQ(histogram.sum(), 16);
  EXPECT_EQ(histogram.sum_squares(), 4 + 9 + 9 + 64);
  EXPECT_EQ(histogram.bucket_size(), kHistogramBuckets);
}

// Tests the buckets: kHistogramBuckets equal widths from min to max (a range of 30 gives
// limits 1, 2, ..., 30), the largest value in the last bucket.
TEST(EventWriterTest, HistogramBucketsSpanMinToMax) {
  MC_ASSERT_OK_AND_ASSIGN(EventWriter writer, EventWriter::Create(NewDir("buckets")));
  ASSERT_THAT(writer.WriteHistograms(1, {{"h", {0, 0.5, 7.25, 7.75, 29.5, 30}}}), IsOk());
  MC_ASSERT_OK_AND_ASSIGN(const std::vector<Event> events, ReadEventFile(writer.path()));
  const HistogramProto& histogram = events.back().summary().value(0).histo();
  std::vector<double> limits;
  std::vector<double> counts(kHistogramBuckets, 0);
  for (int i = 1; i <= kHistogramBuckets; ++i) limits.push_back(i);
  counts[0] = 2;
  counts[7] = 2;
  counts[29] = 2;
  EXPECT_THAT(histogram.bucket_limit(), ElementsAreArray(limits));
  EXPECT_THAT(histogram.bucket(), ElementsAreArray(counts));
}

// Tests that equal values make one bucket holding them all, at their value.
TEST(EventWriterTest, EqualValuesMakeOneBucket) {
  MC_ASSERT_OK_AND_ASSIGN(EventWriter writer, EventWriter::Create(NewDir("one_bucket")));
  ASSERT_THAT(writer.WriteHistograms(1, {{"h", {4, 4, 4}}}), IsOk());
  MC_ASSERT_OK_AND_ASSIGN(const std::vector<Event> events, ReadEventFile(writer.path()));
  const HistogramProto& histogram = events.back().summary().value(0).histo();
  EXPECT_THAT(histogram.bucket_limit(), ElementsAre(4));
  EXPECT_THAT(histogram.bucket(), ElementsAre(3));
}

// Tests that empty and non-finite series are refused, naming the tag, and nothing is written.
TEST(EventWriterTest, RefusesEmptyAndNonFiniteHistograms) {
  MC_ASSERT_OK_AND_ASSIGN(EventWriter writer, EventWriter::Create(NewDir("bad_histograms")));
  EXPECT_THAT(writer.WriteHistograms(1, {{"ok", {1}}, {"empty", {}}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"empty\" has no values")));
  EXPECT_THAT(writer.WriteHistograms(1, {{"nan", {1, std::nan("")}}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"nan\"")));
  MC_ASSERT_OK_AND_ASSIGN(const std::vector<Event> events, ReadEventFile(writer.path()));
  EXPECT_EQ(events.size(), 1u);  // the file version only
}

// Tests the file name: events.out.tfevents.<Unix seconds, 10 digits>.<hostname>, and that a
// second writer in the same directory gets a file of its own, listed after the first.
TEST(EventWriterTest, NamesFilesByTimeAndHost) {
  const std::string dir = NewDir("names");
  const int64_t before = static_cast<int64_t>(NowSeconds());
  MC_ASSERT_OK_AND_ASSIGN(const EventWriter first, EventWriter::Create(dir));
  MC_ASSERT_OK_AND_ASSIGN(const EventWriter second, EventWriter::Create(dir));
  const int64_t after = static_cast<int64_t>(NowSeconds());
  EXPECT_NE(first.path(), second.path());
  EXPECT_THAT(ListEventFiles(dir), IsOkAndHolds(ElementsAre(first.path(), second.path())));

  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof(host) - 1), 0);
  const std::string prefix = dir + "/events.out.tfevents.";
  ASSERT_EQ(first.path().rfind(prefix, 0), 0u) << first.path();
  const std::string rest = first.path().substr(prefix.size());
  ASSERT_GT(rest.size(), 11u);
  EXPECT_EQ(rest.substr(10), absl::StrCat(".", host));
  int64_t seconds = 0;
  ASSERT_TRUE(absl::SimpleAtoi(rest.substr(0, 10), &seconds)) << rest;
  EXPECT_GE(seconds, before);
  EXPECT_LE(seconds, after);
}

// Tests that changing any single byte of a file is reported as data loss naming the file and
// the offset of the record that holds the byte.
TEST(EventWriterTest, DetectsAnyCorruptByte) {
  MC_ASSERT_OK_AND_ASSIGN(const std::string path, WriteSampleFile(NewDir("corrupt")));
  MC_ASSERT_OK_AND_ASSIGN(const std::string bytes, ReadFileToString(path));
  const std::vector<size_t> offsets = RecordOffsets(bytes);
  ASSERT_EQ(offsets.size(), 3u);
  size_t record = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (record + 1 < offsets.size() && i == offsets[record + 1]) ++record;
    std::string corrupt = bytes;
    corrupt[i] = static_cast<char>(corrupt[i] ^ 0x10);
    Overwrite(path, corrupt);
    EXPECT_THAT(ReadEventFile(path),
                StatusIs(absl::StatusCode::kDataLoss,
                         HasSubstr(absl::StrCat(path, ": the record at byte offset ",
                                                offsets[record], " is "))))
        << "byte " << i;
  }
}

// Tests that a last record cut anywhere (a crash while appending) is reported as truncated,
// naming its offset, while a file cut between records reads as the records before the cut.
TEST(EventWriterTest, DetectsTruncatedLastRecord) {
  MC_ASSERT_OK_AND_ASSIGN(const std::string path, WriteSampleFile(NewDir("truncated")));
  MC_ASSERT_OK_AND_ASSIGN(const std::string bytes, ReadFileToString(path));
  const size_t last = RecordOffsets(bytes).back();
  for (size_t length = last + 1; length < bytes.size(); ++length) {
    Overwrite(path, bytes.substr(0, length));
    EXPECT_THAT(ReadEventFile(path),
                StatusIs(absl::StatusCode::kDataLoss,
                         HasSubstr(absl::StrCat("record at byte offset ", last, " is truncated"))))
        << "cut at " << length;
  }
  Overwrite(path, bytes.substr(0, last));
  MC_ASSERT_OK_AND_ASSIGN(const std::vector<Event> events, ReadEventFile(path));
  EXPECT_EQ(events.size(), 2u);
}

// Tests that a record whose CRCs match but whose data is not an Event is reported.
TEST(EventWriterTest, DetectsDataThatIsNotAnEvent) {
  const std::string path = absl::StrCat(NewDir("not_event"), "/events.out.tfevents.0.host");
  const std::string data = "\xff\xff\xff";  // field 31 with a truncated varint
  std::string record;
  AppendLittleEndian(record, data.size(), 8);
  AppendLittleEndian(record, MaskCrc32c(Crc32c(record)), 4);
  record += data;
  AppendLittleEndian(record, MaskCrc32c(Crc32c(data)), 4);
  Overwrite(path, record);
  EXPECT_THAT(ReadEventFile(path), StatusIs(absl::StatusCode::kDataLoss,
                                            HasSubstr("byte offset 0 does not hold an Event")));
}

// Tests that a missing directory or file is reported as not found, naming it.
TEST(EventWriterTest, MissingDirectoryAndFileAreNotFound) {
  const std::string missing = absl::StrCat(std::getenv("TEST_TMPDIR"), "/no/such/dir");
  EXPECT_THAT(EventWriter::Create(missing),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(missing)));
  EXPECT_THAT(ListEventFiles(missing), StatusIs(absl::StatusCode::kNotFound, HasSubstr(missing)));
  EXPECT_THAT(ReadEventFile(missing + "/events.out.tfevents.1.host"),
              StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace mc::serialization
