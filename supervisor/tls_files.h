// The TlsMaterial message a TLS service's child gets: its certificate and key
// files read now, by the supervisor (a root-only key works, and the child never
// opens them). Sent after the definition and again on every reload.
#pragma once

#include <optional>
#include <string>

#include "common/config.h"

namespace gatehouse {

// The payload; std::nullopt (logged) when the service has no TLS or a file cannot
// be read or loaded now (the child then keeps what it has).
std::optional<std::string> TlsMaterialPayload(const ServiceConfig& service);

}  // namespace gatehouse
