// The drop from root to a service's identity, in the order the kernel needs:
// chroot, capability bounding set, groups, gid, uid, every capability, then
// no_new_privs. Each step is one small function; DropPrivileges() reads as the list.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace gatehouse {

struct PrivilegeDrop {
  std::string chroot;  // empty: none
  bool change_identity = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

// False with a message naming the step that failed; the caller must not serve then.
bool DropPrivileges(const PrivilegeDrop& drop, std::string* error);

}  // namespace gatehouse
