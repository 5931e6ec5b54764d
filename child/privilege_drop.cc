#include "child/privilege_drop.h"

#include <grp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/config/trusted_path.h"
#include "common/sys_error.h"
#include "common/unique_fd.h"

namespace gatehouse {
namespace {

// The chroot is checked again at every child start (its folders may have
// changed since the supervisor's check) and entered through the folder just
// checked: a path replaced by a symlink is refused, never followed.
bool EnterChroot(const std::string& dir, std::string* error) {
  if (dir.empty()) return true;
  PathTrustFinding finding;
  UniqueFd jail = OpenTrustedPath(dir, ChrootRule(), &finding);
  if (!jail) {
    *error = "chroot " + dir + ": " + UntrustedChroot(dir);
    return false;
  }
  struct stat info {};
  if (fstat(jail.get(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    *error = "chroot " + dir + ": not a directory";
    return false;
  }
  if (fchdir(jail.get()) != 0 || chroot(".") != 0) {
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

// Capabilities the running kernel has (it may know more than our headers).
cap_value_t KernelCapabilityCount() { return static_cast<cap_value_t>(cap_max_bits()); }

bool Kept(const JailSpec& jail, cap_value_t capability) {
  return capability < 64 && ((jail.capabilities >> capability) & 1) != 0;
}

// A user other than root gets its capabilities through exec only from the
// ambient set (root's are recomputed from the bounding set).
bool NeedsAmbient(const JailSpec& jail) {
  return jail.capabilities != 0 && jail.change_identity && jail.uid != 0;
}

// Empties the bounding set but for what the service keeps, so nothing exec'd
// later can gain more (not even a setuid-root file or user = root). Needs
// CAP_SETPCAP, which an unprivileged gatehouse lacks and does not need: it has
// nothing to drop.
bool DropBoundingSet(const JailSpec& jail, std::string* error) {
  if (!HasCapability(CAP_SETPCAP)) return true;
  for (cap_value_t cap = 0; cap < KernelCapabilityCount(); ++cap) {
    if (Kept(jail, cap)) continue;
    if (cap_drop_bound(cap) != 0 && errno != EINVAL) {
      *error = ErrnoMessage("cap_drop_bound", std::to_string(cap), errno);
      return false;
    }
  }
  return true;
}

// setresuid away from root clears the permitted set unless asked to keep it.
bool KeepCapabilitiesAcrossUidChange(const JailSpec& jail, bool keep, std::string* error) {
  if (!NeedsAmbient(jail)) return true;
  if (prctl(PR_SET_KEEPCAPS, keep ? 1 : 0, 0, 0, 0) != 0) {
    *error = ErrnoMessage("prctl", "PR_SET_KEEPCAPS", errno);
    return false;
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

// Leaves only the kept capabilities, in permitted (and inheritable, for the
// ambient set), none effective: this process only passes them on; exec makes
// them effective in the program.
bool SetCapabilities(const JailSpec& jail, std::string* error) {
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    *error = ErrnoMessage("prctl", "PR_CAP_AMBIENT_CLEAR_ALL", errno);
    return false;
  }
  cap_t caps = cap_init();  // every flag clear
  if (caps == nullptr) {
    *error = ErrnoMessage("cap_init", "", errno);
    return false;
  }
  for (cap_value_t cap = 0; cap < KernelCapabilityCount(); ++cap) {
    if (!Kept(jail, cap)) continue;
    cap_set_flag(caps, CAP_PERMITTED, 1, &cap, CAP_SET);
    if (NeedsAmbient(jail)) cap_set_flag(caps, CAP_INHERITABLE, 1, &cap, CAP_SET);
  }
  int rc = cap_set_proc(caps);
  int saved = errno;
  cap_free(caps);
  if (rc != 0) {
    *error =
        ErrnoMessage("cap_set_proc", jail.capabilities == 0 ? "(clear all)" : "(keep some)", saved);
    return false;
  }
  for (cap_value_t cap = 0; NeedsAmbient(jail) && cap < KernelCapabilityCount(); ++cap) {
    if (Kept(jail, cap) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) {
      *error = ErrnoMessage("prctl", "PR_CAP_AMBIENT_RAISE " + std::to_string(cap), errno);
      return false;
    }
  }
  return true;
}

bool SetNoNewPrivileges(const JailSpec& jail, std::string* error) {
  if (!jail.no_new_privs) return true;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    *error = ErrnoMessage("prctl", "PR_SET_NO_NEW_PRIVS", errno);
    return false;
  }
  return true;
}

// Nothing beyond the kept capabilities is left, in any set.
bool VerifyCapabilities(const JailSpec& jail, std::string* error) {
  cap_t caps = cap_get_proc();
  if (caps == nullptr) {
    *error = ErrnoMessage("cap_get_proc", "", errno);
    return false;
  }
  std::string extra;
  for (cap_value_t cap = 0; cap < KernelCapabilityCount(); ++cap) {
    cap_flag_value_t permitted = CAP_CLEAR, effective = CAP_CLEAR;
    cap_get_flag(caps, cap, CAP_PERMITTED, &permitted);
    cap_get_flag(caps, cap, CAP_EFFECTIVE, &effective);
    bool unwanted = effective == CAP_SET || (permitted == CAP_SET && !Kept(jail, cap)) ||
                    (jail.change_identity && !Kept(jail, cap) && cap_get_bound(cap) == 1);
    if (unwanted) extra += " " + std::to_string(cap);
  }
  cap_free(caps);
  if (!extra.empty()) {
    *error = "capabilities left beyond capabilities =:" + extra;
    return false;
  }
  return true;
}

// Trust, but verify (as OpenSSH does): the ids stuck and root cannot come back.
bool VerifyDrop(const JailSpec& jail, std::string* error) {
  if (!VerifyCapabilities(jail, error)) return false;
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

// capabilities = all: every one this process has (a container may lack some).
uint64_t PermittedNow() {
  uint64_t mask = 0;
  cap_t caps = cap_get_proc();
  for (cap_value_t cap = 0; caps != nullptr && cap < KernelCapabilityCount() && cap < 64; ++cap) {
    cap_flag_value_t value = CAP_CLEAR;
    cap_get_flag(caps, cap, CAP_PERMITTED, &value);
    if (value == CAP_SET) mask |= 1ull << cap;
  }
  cap_free(caps);
  return mask;
}

}  // namespace

bool DropPrivileges(const JailSpec& asked, std::string* error) {
  JailSpec jail = asked;
  if (jail.capabilities == kAllCapabilities) jail.capabilities = PermittedNow();
  return EnterChroot(jail.chroot, error) &&                      //
         DropBoundingSet(jail, error) &&                         //
         KeepCapabilitiesAcrossUidChange(jail, true, error) &&   //
         ChangeIdentity(jail, error) &&                          //
         KeepCapabilitiesAcrossUidChange(jail, false, error) &&  //
         SetCapabilities(jail, error) &&                         //
         SetNoNewPrivileges(jail, error) &&                      //
         VerifyDrop(jail, error);
}

bool DropAllPrivileges(const JailSpec& jail, std::string* error) {
  JailSpec nothing_kept = jail;
  nothing_kept.capabilities = 0;
  nothing_kept.no_new_privs = true;
  return DropPrivileges(nothing_kept, error);
}

}  // namespace gatehouse
