#include "child/privilege_drop.h"

#include <grp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>

#include "common/sys_error.h"

namespace gatehouse {
namespace {

bool EnterChroot(const std::string& dir, std::string* error) {
  if (dir.empty()) return true;
  if (chroot(dir.c_str()) != 0) {
    *error = ErrnoMessage("chroot", dir, errno);
    return false;
  }
  if (chdir("/") != 0) {
    *error = ErrnoMessage("chdir", "/ in chroot " + dir, errno);
    return false;
  }
  return true;
}

bool HasCapability(cap_value_t capability) {
  cap_t caps = cap_get_proc();
  cap_flag_value_t value = CAP_CLEAR;
  if (caps != nullptr) cap_get_flag(caps, capability, CAP_EFFECTIVE, &value);
  cap_free(caps);
  return value == CAP_SET;
}

// Empties the bounding set so nothing exec'd later can regain a capability (not
// even a setuid-root file or a program run as user = root). Needs CAP_SETPCAP,
// which an unprivileged gatehouse lacks and does not need: it has nothing to drop.
bool DropBoundingSet(std::string* error) {
  if (!HasCapability(CAP_SETPCAP)) return true;
  for (cap_value_t cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    if (cap_drop_bound(cap) != 0 && errno != EINVAL) {
      *error = ErrnoMessage("cap_drop_bound", std::to_string(cap), errno);
      return false;
    }
  }
  return true;
}

bool ChangeIdentity(const JailSpec& jail, std::string* error) {
  if (!jail.change_identity) return true;
  if (setgroups(jail.groups.size(), jail.groups.data()) != 0) {
    *error = ErrnoMessage("setgroups", std::to_string(jail.groups.size()) + " groups", errno);
    return false;
  }
  if (setresgid(jail.gid, jail.gid, jail.gid) != 0) {
    *error = ErrnoMessage("setresgid", std::to_string(jail.gid), errno);
    return false;
  }
  if (setresuid(jail.uid, jail.uid, jail.uid) != 0) {
    *error = ErrnoMessage("setresuid", std::to_string(jail.uid), errno);
    return false;
  }
  return true;
}

bool ClearCapabilities(std::string* error) {
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    *error = ErrnoMessage("prctl", "PR_CAP_AMBIENT_CLEAR_ALL", errno);
    return false;
  }
  cap_t none = cap_init();  // every flag clear
  int rc = none ? cap_set_proc(none) : -1;
  int saved = errno;
  cap_free(none);
  if (rc != 0) {
    *error = ErrnoMessage("cap_set_proc", "(clear all)", saved);
    return false;
  }
  return true;
}

bool SetNoNewPrivileges(std::string* error) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    *error = ErrnoMessage("prctl", "PR_SET_NO_NEW_PRIVS", errno);
    return false;
  }
  return true;
}

// Trust, but verify (as OpenSSH does): the ids stuck and root cannot come back.
bool VerifyDrop(const JailSpec& jail, std::string* error) {
  if (!jail.change_identity) return true;
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  getresuid(&ruid, &euid, &suid);
  getresgid(&rgid, &egid, &sgid);
  if (ruid != jail.uid || euid != jail.uid || suid != jail.uid || rgid != jail.gid ||
      egid != jail.gid || sgid != jail.gid) {
    *error = "uid/gid did not change as asked";
    return false;
  }
  if (jail.uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
    *error = "could regain root after the drop";
    return false;
  }
  return true;
}

}  // namespace

bool DropPrivileges(const JailSpec& jail, std::string* error) {
  return EnterChroot(jail.chroot, error) &&  //
         DropBoundingSet(error) &&           //
         ChangeIdentity(jail, error) &&      //
         ClearCapabilities(error) &&         //
         SetNoNewPrivileges(error) &&        //
         VerifyDrop(jail, error);
}

}  // namespace gatehouse
