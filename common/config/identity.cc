#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <vector>

#include "common/config/accounts.h"
#include "common/config/resolve.h"
#include "common/config/trusted_path.h"
#include "common/parse_number.h"

namespace gatehouse {
namespace {

// setresuid/setresgid read (uid_t)-1 as "leave unchanged": the largest id is one less.
constexpr uint64_t kMaxId = 4294967294;

bool AllDigits(const std::string& text) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
}

// A numeric uid/gid: in range, and written as the kernel would print it (no
// leading zeros, so "00" cannot stand in for root unnoticed).
bool ParseId(const std::string& text, uint32_t* id) {
  uint64_t value = 0;
  if (text.size() > 1 && text[0] == '0') return false;
  if (!ParseDecimal(text, kMaxId, &value)) return false;
  *id = static_cast<uint32_t>(value);
  return true;
}

std::string BadIdMessage(const std::string& text, const char* what) {
  return "\"" + text + "\" is not a " + what + " (0 to " + std::to_string(kMaxId) +
         ", without leading zeros)";
}

// Root must be asked for by name: a user or group that is 0 only by way of
// another passwd name, a number form or a wrap-around is refused.
bool WrittenAsRoot(const std::string& text) { return text == "root" || text == "0"; }

}  // namespace

bool LookUpUser(const std::string& text, UserEntry* user, std::string* error) {
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (AllDigits(text)) {
    uint32_t uid = 0;
    if (!ParseId(text, &uid)) {
      *error = BadIdMessage(text, "uid");
      return false;
    }
    getpwuid_r(static_cast<uid_t>(uid), &entry, buffer.data(), buffer.size(), &found);
    user->uid = static_cast<uid_t>(uid);
    user->name = found ? found->pw_name : text;
  } else {
    getpwnam_r(text.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (found == nullptr) {
      *error = "no such user \"" + text + "\"";
      return false;
    }
    user->uid = found->pw_uid;
    user->name = found->pw_name;
  }
  user->has_primary_group = found != nullptr;
  if (found) user->primary_gid = found->pw_gid;
  return true;
}

bool LookUpGroup(const std::string& text, gid_t* gid, std::string* shown, std::string* error) {
  group entry{};
  group* found = nullptr;
  std::vector<char> buffer(16384);
  if (AllDigits(text)) {
    uint32_t id = 0;
    if (!ParseId(text, &id)) {
      *error = BadIdMessage(text, "gid");
      return false;
    }
    *gid = static_cast<gid_t>(id);
    getgrgid_r(*gid, &entry, buffer.data(), buffer.size(), &found);
    *shown = found ? found->gr_name : text;
    return true;
  }
  getgrnam_r(text.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (found == nullptr) {
    *error = "no such group \"" + text + "\"";
    return false;
  }
  *gid = found->gr_gid;
  *shown = found->gr_name;
  return true;
}

namespace {

// Not root: a service may only name the user and group gatehouse runs as.
void CheckUnprivilegedIdentity(const ConfigEntry* user, const ConfigEntry* group,
                               ConfigErrors* errors) {
  std::string message;
  if (user) {
    UserEntry found;
    bool known = LookUpUser(user->value, &found, &message);
    if (!known && AllDigits(user->value)) {
      errors->Add(*user, message);  // not a uid at all
    } else if (!known || found.uid != geteuid()) {
      errors->Add(*user, "changing user needs gatehouse to run as root (it runs as uid " +
                             std::to_string(geteuid()) + ")");
    }
  }
  if (group) {
    gid_t gid = 0;
    std::string shown;
    bool known = LookUpGroup(group->value, &gid, &shown, &message);
    if (!known && AllDigits(group->value)) {
      errors->Add(*group, message);
    } else if (!known || gid != getegid()) {
      errors->Add(*group, "changing group needs gatehouse to run as root (it runs as gid " +
                              std::to_string(getegid()) + ")");
    }
  }
}

// The service's user as root: `user`, or Net::Server's default nobody.
bool ResolveUser(const ConfigEntry* user, const std::string& where, UserEntry* found,
                 ConfigErrors* errors) {
  std::string text = user ? user->value : "nobody";
  std::string message;
  if (!LookUpUser(text, found, &message)) {
    if (user) {
      errors->Add(*user, message);
    } else {
      errors->Add(where, "user: default user \"nobody\" does not exist; set user =");
    }
    return false;
  }
  if (found->uid == 0 && !WrittenAsRoot(text)) {
    std::string what = user ? "\"" + text + "\"" : "the default user \"nobody\"";
    std::string error = what + " is uid 0; write user = root to run a service as root";
    if (user) {
      errors->Add(*user, error);
    } else {
      errors->Add(where, "user: " + error);
    }
    return false;
  }
  return true;
}

// The service's group as root: `group`; else an explicit user's primary group;
// else nogroup (or nobody), as Net::Server.
bool ResolveGroup(const ConfigEntry* group, const ConfigEntry* user, const UserEntry& found_user,
                  const std::string& where, ServiceConfig* service, ConfigErrors* errors) {
  std::string message;
  if (group) {
    if (!LookUpGroup(group->value, &service->jail.gid, &service->group_name, &message)) {
      errors->Add(*group, message);
      return false;
    }
    if (service->jail.gid == 0 && !WrittenAsRoot(group->value)) {
      errors->Add(*group, "\"" + group->value +
                              "\" is gid 0; write group = root to run a service in group root");
      return false;
    }
    return true;
  }
  if (user && found_user.has_primary_group) {
    service->jail.gid = found_user.primary_gid;
    if (service->jail.gid == 0 && !WrittenAsRoot(user->value)) {
      errors->Add(*user, "\"" + user->value +
                             "\" has primary group gid 0; set group = root if that is meant");
      return false;
    }
    gid_t ignored;
    if (!LookUpGroup(std::to_string(service->jail.gid), &ignored, &service->group_name, &message)) {
      service->group_name = std::to_string(service->jail.gid);
    }
    return true;
  }
  for (const char* name : {"nogroup", "nobody"}) {
    if (LookUpGroup(name, &service->jail.gid, &service->group_name, &message)) {
      if (service->jail.gid != 0) return true;
      errors->Add(where,
                  std::string("group: the default group \"") + name + "\" is gid 0; set group =");
      return false;
    }
  }
  errors->Add(where, "group: default group \"nogroup\" does not exist; set group =");
  return false;
}

}  // namespace

void DistinctDynamicUids(std::vector<ServiceConfig>* services) {
  std::vector<ServiceConfig*> dynamic;
  for (ServiceConfig& service : *services) {
    if (service.dynamic_user) dynamic.push_back(&service);
  }
  std::sort(dynamic.begin(), dynamic.end(),
            [](const ServiceConfig* a, const ServiceConfig* b) { return a->name < b->name; });
  std::set<uint32_t> taken;
  for (ServiceConfig* service : dynamic) {
    uint32_t uid = service->jail.uid;
    while (taken.count(uid) > 0 || getpwuid(uid) != nullptr) {
      uid = kDynamicUidBase + (uid - kDynamicUidBase + 1) % kDynamicUidCount;
    }
    taken.insert(uid);
    if (service->group_name == "dynamic" && service->jail.gid == service->jail.uid) {
      service->jail.gid = uid;
      service->jail.groups = {uid};
    }
    service->jail.uid = uid;
  }
}

uint32_t DynamicServiceUid(const std::string& name) {
  uint32_t hash = 2166136261u;  // FNV-1a
  for (unsigned char c : name) hash = (hash ^ c) * 16777619u;
  return kDynamicUidBase + hash % kDynamicUidCount;
}

// user/group/chroot: Net::Server's defaults (nobody/nogroup) when gatehouse is
// root; as another user, a service runs as that user and may not ask for more.
void ResolveIdentity(const Settings& settings, const std::string& where, ServiceConfig* service,
                     ConfigErrors* errors) {
  const ConfigEntry* user = Last(settings, "user");
  const ConfigEntry* group = Last(settings, "group");
  const ConfigEntry* chroot = Last(settings, "chroot");
  bool root = geteuid() == 0;

  if (chroot) {
    struct stat info {};
    if (chroot->value.empty() || chroot->value[0] != '/') {
      errors->Add(*chroot, "\"" + chroot->value + "\" is not an absolute path");
    } else if (stat(chroot->value.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
      errors->Add(*chroot, "\"" + chroot->value + "\" is not a directory");
    } else if (!root) {
      errors->Add(*chroot, "chroot needs gatehouse to run as root (it runs as uid " +
                               std::to_string(geteuid()) + ")");
    } else if (std::string untrusted = UntrustedChroot(chroot->value); !untrusted.empty()) {
      errors->Add(*chroot, untrusted);
    } else {
      service->jail.chroot = chroot->value;
    }
  }

  if (!root) {
    CheckUnprivilegedIdentity(user, group, errors);
    service->jail.change_identity = false;
    service->jail.uid = geteuid();
    service->jail.gid = getegid();
    return;
  }

  service->jail.change_identity = true;
  if (user == nullptr) {
    // A uid of its own: no other service's program can signal, trace or read it
    // (DistinctDynamicUids settles a collision of two names).
    service->dynamic_user = true;
    service->jail.uid = DynamicServiceUid(service->name);
    service->user_name = "dynamic";
    if (group == nullptr) {
      service->jail.gid = service->jail.uid;
      service->group_name = "dynamic";
      service->jail.groups = {service->jail.gid};
      return;
    }
  }
  UserEntry found_user;
  if (!service->dynamic_user) {
    if (!ResolveUser(user, where, &found_user, errors)) return;
    service->jail.uid = found_user.uid;
    service->user_name = found_user.name;
  }
  if (!ResolveGroup(group, user, found_user, where, service, errors)) return;

  // No supplementary groups beyond `group` (as Net::Server, and xinetd's
  // default): a user's other groups must not widen what a service may reach.
  service->jail.groups = {service->jail.gid};
}

}  // namespace gatehouse
