#include "common/sys_error.h"

#include <cstring>

namespace gatehouse {

std::string ErrnoMessage(const std::string& call, const std::string& object, int err) {
  std::string message = call;
  if (!object.empty()) message += " " + object;
  return message + ": " + std::strerror(err);
}

}  // namespace gatehouse
