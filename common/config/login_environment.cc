#include <pwd.h>

#include <vector>

#include "common/config/resolve.h"

namespace gatehouse {
namespace {

bool EnvSets(const std::vector<std::string>& env, const std::string& name) {
  for (const std::string& entry : env) {
    if (entry.compare(0, name.size() + 1, name + "=") == 0) return true;
  }
  return false;
}

// The passwd entry of the service's user: by the name it resolved to (so a
// second name for the same uid stays the one asked for), else by uid.
bool FindPasswdEntry(const ServiceConfig& service, passwd* entry, std::vector<char>* buffer) {
  passwd* found = nullptr;
  if (service.jail.change_identity && !service.dynamic_user && !service.user_name.empty()) {
    getpwnam_r(service.user_name.c_str(), entry, buffer->data(), buffer->size(), &found);
    if (found != nullptr && found->pw_uid == service.jail.uid) return true;
  }
  getpwuid_r(service.jail.uid, entry, buffer->data(), buffer->size(), &found);
  return found != nullptr;
}

}  // namespace

// systemd's User= variables, read here from the host's passwd so that a chrooted
// program needs no passwd of its own. Set only where env= did not.
void ResolveLoginEnvironment(ServiceConfig* service) {
  passwd entry{};
  std::vector<char> buffer(16384);
  std::vector<std::string> login;
  if (FindPasswdEntry(*service, &entry, &buffer)) {
    std::string home = entry.pw_dir != nullptr ? entry.pw_dir : "";
    std::string shell = entry.pw_shell != nullptr ? entry.pw_shell : "";
    login = {std::string("USER=") + entry.pw_name, std::string("LOGNAME=") + entry.pw_name,
             "HOME=" + (home.empty() ? std::string("/") : home)};
    if (!shell.empty()) login.push_back("SHELL=" + shell);
  } else {
    // A dynamic uid or a bare uid has no passwd name: the number stands for it.
    std::string uid = std::to_string(service->jail.uid);
    login = {"USER=" + uid, "LOGNAME=" + uid, "HOME=/"};
  }
  for (const std::string& variable : login) {
    std::string name = variable.substr(0, variable.find('='));
    if (!EnvSets(service->program.env, name)) service->program.env.push_back(variable);
  }
}

}  // namespace gatehouse
