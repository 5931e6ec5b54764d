// `gatehouse import xinetd FILE|DIR...` and `gatehouse import inetd FILE`: print a
// services.d file for the services described there.
#pragma once

namespace gatehouse {

// argv holds what follows `import`. Exit status: 0, 1 (some input was not read,
// named FILE:LINE on stderr; the rest is still printed), 2 (usage).
int RunImport(int argc, char** argv);

}  // namespace gatehouse
