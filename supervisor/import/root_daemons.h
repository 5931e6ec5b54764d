// Entries that run as root (inetd's column 5, xinetd's `user = root`): in gatehouse
// `user = root` keeps root's uid but none of root's capabilities, so a daemon that
// chroots or changes user fails at run time (`500 OOPS: setgroups`, `@ERROR: setgid
// failed`). Known daemons get the capabilities docs/migrating.md's recipes give
// them; any other root entry a comment saying what it will probably need.
#pragma once

#include "supervisor/import/imported_service.h"

namespace gatehouse {

// After exec, args and user are set: adds `capabilities` (and what else the
// recipe says) for a known daemon run as root, or a note for an unknown one.
void ImportRootPrivileges(ImportedService* out);

}  // namespace gatehouse
