// The drop from root to a service's identity, in the order the kernel needs:
// chroot, capability bounding set, groups, gid, uid, every capability but the
// service's `capabilities =`, then no_new_privs. Each step is one small
// function; DropPrivileges() reads as the list.
#pragma once

#include <string>

#include "common/service_spec.h"

namespace gatehouse {

// False with a message naming the step that failed; the caller must not serve then.
bool DropPrivileges(const JailSpec& jail, std::string* error);

// The same drop keeping no capability, with no_new_privs: for a process that
// runs no program (the namespace holder).
bool DropAllPrivileges(const JailSpec& jail, std::string* error);

}  // namespace gatehouse
