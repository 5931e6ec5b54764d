// systemd's notification protocol (sd_notify): READY, RELOADING, STOPPING,
// STATUS and MAINPID lines to $NOTIFY_SOCKET. Without NOTIFY_SOCKET (not under
// systemd, or Type= is not notify) every call does nothing.
#pragma once

#include <sys/types.h>

#include <string>

namespace gatehouse {

// Sends `state` ("READY=1\nSTATUS=...") as one datagram.
void NotifySystemd(const std::string& state);

// "RELOADING=1\nMONOTONIC_USEC=..." as systemd 253's Type=notify-reload wants it.
std::string ReloadingState();

}  // namespace gatehouse
