#include "supervisor/import/service_mode.h"

#include "common/service_spec.h"

namespace gatehouse {

void ImportInternalService(const std::string& name, ImportedService* out) {
  for (int i = 1; i <= static_cast<int>(kLastBuiltinService); ++i) {
    const char* builtin = BuiltinServiceName(static_cast<BuiltinService>(i));
    if (name == builtin) {
      out->Key("mode", "builtin");
      out->Key("builtin", builtin);
      return;
    }
  }
  out->not_runnable.push_back("internal service \"" + name +
                              "\": gatehouse has no such built-in (it has echo, discard, "
                              "daytime, chargen and time)");
}

void ImportProgramMode(bool datagram, bool wait, ImportedService* out) {
  if (wait) {
    // The program gets the listening socket and takes its clients (or datagrams) itself.
    out->wait = true;
    out->Key("mode", "wait");
  } else if (datagram) {
    out->Key("mode", "datagram");  // a program per datagram
  }
}

}  // namespace gatehouse
