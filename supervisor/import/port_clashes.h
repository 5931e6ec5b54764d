// Two imported entries on one port: xinetd's own package ships echo-dgram twice
// (xinetd.d/echo and xinetd.d/echo-udp), and both enabled would make --check
// refuse the file (`port *:7/udp is already used`). The later one is commented
// out, saying which entry took the port first and whether it is an identical twin.
#pragma once

#include <vector>

#include "supervisor/import/imported_service.h"

namespace gatehouse {

// Comments out (not_runnable) each runnable service whose port clashes with
// that of an earlier runnable one: the same address and port (a service name
// counts as its number), or a wildcard beside any address of that port.
void CommentOutPortClashes(std::vector<ImportedService>* services);

}  // namespace gatehouse
