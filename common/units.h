// File: units.h
// The units every size in the project is given in.
#ifndef MC_COMMON_UNITS_H_
#define MC_COMMON_UNITS_H_

namespace mc {

/// Bytes per megabyte: every "MB" of model sizes, penalties and summaries is 2^20 bytes, as in
/// the DiffQ reference.
inline constexpr double kBytesPerMb = 1 << 20;

}  // namespace mc

#endif  // MC_COMMON_UNITS_H_
