// Turning errno into messages that name the call and the object it was about.
#pragma once

#include <string>

namespace gatehouse {

// "bind 127.0.0.1:7007: Address already in use"
std::string ErrnoMessage(const std::string& call, const std::string& object, int err);

}  // namespace gatehouse
