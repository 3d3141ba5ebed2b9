// The guarded test device (core/device.h): the CPU's implementations, run on memory that the host
// may touch only inside them. backend::call opens that access around each entry it runs, so the
// table itself is the CPU's; what differs is that every other way to the memory is closed.
#include "backend/backend.h"

namespace qkv::backend {

Backend make_guarded_backend() {
  Backend b = make_cpu_backend();
  b.device = Device::Guarded;
  return b;
}

}  // namespace qkv::backend
