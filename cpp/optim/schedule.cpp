#include "optim/schedule.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace qkv::optim {

const char* schedule_name(ScheduleKind k) {
  switch (k) {
    case ScheduleKind::Constant: return "constant";
    case ScheduleKind::WarmupCosine: return "warmupCosine";
    case ScheduleKind::WarmupLinear: return "warmupLinear";
  }
  return "constant";
}

bool schedule_from_name(const std::string& name, ScheduleKind* out) {
  for (ScheduleKind k : {ScheduleKind::Constant, ScheduleKind::WarmupCosine, ScheduleKind::WarmupLinear})
    if (name == schedule_name(k)) {
      *out = k;
      return true;
    }
  return false;
}

double Schedule::lr_at(double base, int64_t step) const {
  if (kind == ScheduleKind::Constant) return base;
  if (step < warmup_steps) return base * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  const int64_t span = total_steps - warmup_steps;
  double p = span > 0 ? static_cast<double>(step - warmup_steps) / static_cast<double>(span) : 1.0;
  p = std::clamp(p, 0.0, 1.0);
  const double f = kind == ScheduleKind::WarmupCosine ? 0.5 * (1.0 + std::cos(3.141592653589793 * p)) : 1.0 - p;
  return min_lr + (base - min_lr) * f;
}

void Schedule::validate(const char* op) const {
  if (warmup_steps < 0) throw_range(std::string(op) + ": warmupSteps must be >= 0");
  if (kind != ScheduleKind::Constant && total_steps < warmup_steps)
    throw_range(std::string(op) + ": totalSteps (" + std::to_string(total_steps) + ") must be >= warmupSteps (" +
                std::to_string(warmup_steps) + ")");
  if (!std::isfinite(min_lr) || min_lr < 0) throw_range(std::string(op) + ": minLr must be a finite number >= 0");
}

json::Value Schedule::to_json() const {
  json::Value v = json::Value::object();
  v.set("kind", json::Value::string(schedule_name(kind)));
  v.set("warmupSteps", json::Value::integer(warmup_steps));
  v.set("totalSteps", json::Value::integer(total_steps));
  v.set("minLr", json::Value::number(min_lr));
  return v;
}

Schedule Schedule::from_json(const json::Value& v, const char* op) {
  auto bad = [&](const std::string& what) { throw Error(ErrorKind::Format, std::string(op) + ": schedule: " + what); };
  if (!v.is_object()) bad("must be an object");
  Schedule s;
  const json::Value* kind = v.find("kind");
  if (!kind || !kind->is_string() || !schedule_from_name(kind->as_string(), &s.kind)) bad("unknown or missing kind");
  auto integer = [&](const char* key, int64_t& out) {
    if (const json::Value* x = v.find(key)) {
      if (!x->is_int() || x->as_int() < 0) bad(std::string(key) + " must be a non-negative integer");
      out = x->as_int();
    }
  };
  integer("warmupSteps", s.warmup_steps);
  integer("totalSteps", s.total_steps);
  if (const json::Value* x = v.find("minLr")) {
    if (!x->is_number()) bad("minLr must be a number");
    s.min_lr = x->as_double();
  }
  try {
    s.validate(op);
  } catch (const Error& e) {
    bad(e.what());
  }
  return s;
}

}  // namespace qkv::optim
