// Turning errno into messages that name the call and the object it was about.
#pragma once

#include <stdexcept>
#include <string>

namespace gatehouse {

// "bind 127.0.0.1:7007: Address already in use"
std::string ErrnoMessage(const std::string& call, const std::string& object, int err);

// Thrown where a system call fails and the caller cannot go on.
class SysError : public std::runtime_error {
 public:
  SysError(const std::string& call, const std::string& object, int err)
      : std::runtime_error(ErrnoMessage(call, object, err)), err_(err) {}
  int err() const { return err_; }

 private:
  int err_;
};

}  // namespace gatehouse
