#include "supervisor/systemd_notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

namespace gatehouse {

void NotifySystemd(const std::string& state) {
  // 0: keep NOTIFY_SOCKET in the environment for a successor after an upgrade.
  sd_notify(0, state.c_str());
}

std::string ReloadingState() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  unsigned long long usec = static_cast<unsigned long long>(now.tv_sec) * 1000000ULL +
                            static_cast<unsigned long long>(now.tv_nsec) / 1000ULL;
  return "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec);
}

}  // namespace gatehouse
