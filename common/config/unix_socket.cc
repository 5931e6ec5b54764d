// unix_mode, unix_owner and unix_group: who may use the socket files of a
// service's UNIX ports (the supervisor applies them; see supervisor/listener.cc).
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "common/config/accounts.h"
#include "common/config/resolve.h"
#include "common/control_bytes.h"

namespace gatehouse {
namespace {

bool HasUnixPort(const ServiceConfig& service) {
  return std::any_of(service.ports.begin(), service.ports.end(),
                     [](const ServicePort& port) { return port.spec.protocol == Protocol::kUnix; });
}

// Without root, chown can give a file only to one of gatehouse's own groups.
bool IsOwnGroup(gid_t gid) {
  if (gid == getegid()) return true;
  int count = getgroups(0, nullptr);
  std::vector<gid_t> groups(count > 0 ? static_cast<size_t>(count) : 0);
  if (count > 0) count = getgroups(count, groups.data());
  return count > 0 && std::find(groups.begin(), groups.begin() + count, gid) != groups.end();
}

void ResolveOwner(const ConfigEntry& entry, ServiceConfig* service, ConfigErrors* errors,
                  std::vector<std::string>* warnings) {
  UserEntry user;
  std::string message;
  if (!LookUpUser(entry.value, &user, &message)) {
    errors->Add(entry, message);
  } else if (geteuid() != 0 && user.uid != geteuid()) {
    errors->Add(entry,
                "giving the socket file to another user needs gatehouse to run as root (it "
                "runs as uid " +
                    std::to_string(geteuid()) + ")");
  } else {
    service->unix_owner = user.uid;
    // As for user =: root is said by name, never reached through an alias.
    if (user.uid == 0 && entry.value != "root" && entry.value != "0") {
      warnings->push_back(EscapeControlBytes(
          entry.where + ": unix_owner: \"" + entry.value +
          "\" is uid 0: the socket files go to root; write unix_owner = root if that is meant"));
    }
  }
}

void ResolveGroup(const ConfigEntry& entry, ServiceConfig* service, ConfigErrors* errors) {
  gid_t gid = 0;
  std::string shown, message;
  if (!LookUpGroup(entry.value, &gid, &shown, &message)) {
    errors->Add(entry, message);
  } else if (geteuid() != 0 && !IsOwnGroup(gid)) {
    errors->Add(entry,
                "giving the socket file to a group gatehouse is not in needs gatehouse to "
                "run as root (it runs as uid " +
                    std::to_string(geteuid()) + ")");
  } else {
    service->unix_group = gid;
  }
}

}  // namespace

// A key written in the service's own section that cannot apply (no UNIX port)
// is a mistake, most likely in the port line: an error, as proxy_protocol on a
// UNIX port is. The same keys in [defaults] are meant for the services that
// have UNIX ports, so the others ignore them.
void ResolveUnixSocket(const Settings& settings, const Settings& own, ServiceConfig* service,
                       ConfigErrors* errors, std::vector<std::string>* warnings) {
  if (!HasUnixPort(*service)) {
    for (const char* key : {"unix_mode", "unix_owner", "unix_group"}) {
      if (const ConfigEntry* entry = Last(own, key)) {
        errors->Add(*entry,
                    "the service has no UNIX socket port (port = PATH|unix) to apply it to");
      }
    }
    return;
  }
  if (const ConfigEntry* owner = Last(settings, "unix_owner"))
    ResolveOwner(*owner, service, errors, warnings);
  if (const ConfigEntry* group = Last(settings, "unix_group"))
    ResolveGroup(*group, service, errors);
}

}  // namespace gatehouse
