// gatehouse's helper binaries, installed beside it: gatehouse-child (one per
// service) and gatehouse-import (`gatehouse import`, kept out of the privileged
// binary).
#pragma once

#include <string>

namespace gatehouse {

// The path of `name` beside the running binary (/proc/self/exe), or in
// `build_folder` (relative to it: the build tree's layout) if it is there; the
// path beside it when it is in neither, for the message that it is missing.
std::string FindHelperProgram(const std::string& name, const std::string& build_folder);

// Where gatehouse-child is: beside gatehouse, or ../child/ in the build tree.
std::string FindChildProgram();

// `gatehouse import ARGS...`: runs gatehouse-import ARGS... in our place. Returns
// only when it cannot (the message on stderr names what is missing): exit status 1.
int ExecImportProgram(int argc, char** argv);

}  // namespace gatehouse
