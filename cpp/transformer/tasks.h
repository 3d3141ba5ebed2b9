#pragma once
// Registers the transformer models' tasks (nn/task.h) (transformer/tasks.cpp). Idempotent.
namespace qkv::transformer {
void register_transformer_tasks();
}
