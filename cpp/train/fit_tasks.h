#pragma once
// Registers fit, evaluate and predict for every module type (train/fit_tasks.cpp). Idempotent.
namespace qkv::train {
void register_fit_tasks();
}
