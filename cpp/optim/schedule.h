#pragma once
// Learning-rate schedules: the rate of optimizer step s (0-based) from the base rate.
//   constant      base
//   warmupCosine  s < warmup: base (s + 1) / warmup; then min + (base - min) (1 + cos(pi p)) / 2
//   warmupLinear  s < warmup: base (s + 1) / warmup; then min + (base - min) (1 - p)
// where p = (s - warmup) / (total - warmup), clamped to [0, 1]: after `total` steps the rate stays
// at the floor `min_lr`.
#include <cstdint>
#include <string>

#include "io/json.h"

namespace qkv::optim {

enum class ScheduleKind : uint8_t { Constant, WarmupCosine, WarmupLinear };

struct Schedule {
  ScheduleKind kind = ScheduleKind::Constant;
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;
  double min_lr = 0;

  double lr_at(double base, int64_t step) const;
  json::Value to_json() const;
  // Error(Format) naming `op` for a malformed value.
  static Schedule from_json(const json::Value& v, const char* op);
  // RangeError naming `op` for inconsistent fields.
  void validate(const char* op) const;
};

const char* schedule_name(ScheduleKind k);  // "constant", "warmupCosine", "warmupLinear"
bool schedule_from_name(const std::string& name, ScheduleKind* out);

}  // namespace qkv::optim
