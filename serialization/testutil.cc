#include "serialization/testutil.h"

#include <signal.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>

namespace mc::serialization {

void SimulateFullDisk(uint64_t max_file_bytes) {
  ::signal(SIGXFSZ, SIG_IGN);
  rlimit limit;
  if (::getrlimit(RLIMIT_FSIZE, &limit) == 0) {
    limit.rlim_cur = static_cast<rlim_t>(max_file_bytes);
    if (::setrlimit(RLIMIT_FSIZE, &limit) == 0) return;
  }
  std::cerr << "cannot set RLIMIT_FSIZE: " << std::strerror(errno) << std::endl;
  std::abort();
}

}  // namespace mc::serialization
