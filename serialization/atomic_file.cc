#include "serialization/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace mc::serialization {
namespace {

std::string ErrnoText() { return std::strerror(errno); }

// A temporary is named <target>.tmp.XXXXXX, the last six characters chosen by mkstemp.
constexpr char kTemporaryInfix[] = ".tmp.";
constexpr size_t kTemporarySuffixLength = 6;

// Whether `name` is that of a WriteFileAtomically temporary.
bool IsTemporaryName(absl::string_view name) {
  if (name.size() < kTemporarySuffixLength) return false;
  const absl::string_view suffix = name.substr(name.size() - kTemporarySuffixLength);
  name.remove_suffix(kTemporarySuffixLength);
  return absl::ConsumeSuffix(&name, kTemporaryInfix) && !name.empty() &&
         std::all_of(suffix.begin(), suffix.end(),
                     [](char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); });
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Writes all of `contents` to `fd`, retrying short writes and EINTR.
bool WriteAll(int fd, absl::string_view contents) {
  const char* data = contents.data();
  size_t left = contents.size();
  while (left > 0) {
    const ssize_t written = ::write(fd, data, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += written;
    left -= static_cast<size_t>(written);
  }
  return true;
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents) {
  const std::string directory = DirectoryOf(path);
  struct stat info;
  if (::stat(directory.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    return absl::NotFoundError(absl::StrCat("cannot write ", path, ": directory ", directory,
                                            " does not exist"));
  }
  std::string temp_path =
      absl::StrCat(path, kTemporaryInfix, std::string(kTemporarySuffixLength, 'X'));
  const int fd = ::mkstemp(temp_path.data());
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("cannot create a temporary file next to ", path,
                                            ": ", ErrnoText()));
  }
  // mkstemp creates the file with mode 0600; give it the usual permissions.
  ::fchmod(fd, 0644);
  if (!WriteAll(fd, contents) || ::fsync(fd) != 0) {
    const std::string error = ErrnoText();
    ::close(fd);
    ::unlink(temp_path.c_str());
    return absl::InternalError(absl::StrCat("cannot write ", path, ": ", error,
                                            " (the previous file, if any, is unchanged)"));
  }
  if (::close(fd) != 0 || ::rename(temp_path.c_str(), path.c_str()) != 0) {
    const std::string error = ErrnoText();
    ::unlink(temp_path.c_str());
    return absl::InternalError(absl::StrCat("cannot replace ", path, ": ", error));
  }
  const int directory_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY);
  if (directory_fd >= 0) {
    ::fsync(directory_fd);
    ::close(directory_fd);
  }
  return absl::OkStatus();
}

absl::Status AppendToFile(const std::string& path, absl::string_view contents) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot open ", path, ": ", ErrnoText()));
  if (!WriteAll(fd, contents) || ::fsync(fd) != 0) {
    const std::string error = ErrnoText();
    ::close(fd);
    return absl::InternalError(absl::StrCat("cannot append to ", path, ": ", error));
  }
  if (::close(fd) != 0) {
    return absl::InternalError(absl::StrCat("cannot append to ", path, ": ", ErrnoText()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    return absl::InternalError(absl::StrCat("cannot open ", path, ": ", ErrnoText()));
  }
  std::string contents;
  char buffer[1 << 16];
  while (true) {
    const ssize_t got = ::read(fd, buffer, sizeof(buffer));
    if (got < 0) {
      if (errno == EINTR) continue;
      const std::string error = ErrnoText();
      ::close(fd);
      return absl::InternalError(absl::StrCat("cannot read ", path, ": ", error));
    }
    if (got == 0) break;
    contents.append(buffer, static_cast<size_t>(got));
  }
  ::close(fd);
  return contents;
}

absl::Status CreateDirectories(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("empty directory name");
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    const std::string prefix = path.substr(0, slash);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::InternalError(
          absl::StrCat("cannot create directory ", prefix, ": ", ErrnoText()));
    }
    if (slash == std::string::npos) break;
  }
  struct stat info;
  if (::stat(path.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    return absl::InternalError(absl::StrCat(path, " exists and is not a directory"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> RemoveStaleTemporaryFiles(const std::string& directory) {
  DIR* listing = ::opendir(directory.c_str());
  if (listing == nullptr) {
    return absl::InternalError(absl::StrCat("cannot list ", directory, ": ", ErrnoText()));
  }
  std::vector<std::string> stale;
  while (const dirent* entry = ::readdir(listing)) {
    if (IsTemporaryName(entry->d_name)) stale.push_back(absl::StrCat(directory, "/", entry->d_name));
  }
  ::closedir(listing);
  for (const std::string& path : stale) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return absl::InternalError(absl::StrCat("cannot delete ", path, ": ", ErrnoText()));
    }
  }
  return static_cast<int>(stale.size());
}

}  // namespace mc::serialization
