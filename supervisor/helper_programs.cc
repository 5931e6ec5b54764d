#include "supervisor/helper_programs.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <vector>

namespace gatehouse {

std::string FindHelperProgram(const std::string& name, const std::string& build_folder) {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return name;
  self[n] = '\0';
  std::string dir(self);
  dir = dir.substr(0, dir.rfind('/'));
  for (const std::string& candidate : {dir + "/" + name, dir + "/" + build_folder + "/" + name}) {
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return dir + "/" + name;
}

std::string FindChildProgram() { return FindHelperProgram("gatehouse-child", "../child"); }

int ExecImportProgram(int argc, char** argv) {
  std::string program = FindHelperProgram("gatehouse-import", ".");
  std::vector<char*> args = {const_cast<char*>("gatehouse-import")};
  args.insert(args.end(), argv, argv + argc);
  args.push_back(nullptr);
  execv(program.c_str(), args.data());
  int error = errno;
  if (error == ENOENT) {
    std::cerr << "gatehouse: gatehouse import needs gatehouse-import, which is not installed: "
              << program << " (it belongs beside gatehouse)\n";
  } else {
    std::cerr << "gatehouse: cannot run " << program << ": " << std::strerror(error) << "\n";
  }
  return 1;
}

}  // namespace gatehouse
