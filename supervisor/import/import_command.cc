#include "supervisor/import/import_command.h"

#include <iostream>
#include <string>
#include <vector>

#include "supervisor/import/inetd.h"
#include "supervisor/import/port_clashes.h"
#include "supervisor/import/services_d_writer.h"
#include "supervisor/import/xinetd.h"

namespace gatehouse {

int RunImport(int argc, char** argv) {
  const char* usage =
      "usage: gatehouse import xinetd FILE|DIR...\n"
      "       gatehouse import inetd FILE\n";
  std::string tool = argc > 0 ? argv[0] : "";
  std::vector<std::string> paths(argv + (argc > 0 ? 1 : 0), argv + argc);
  if (paths.empty() || (tool != "xinetd" && tool != "inetd") ||
      (tool == "inetd" && paths.size() != 1)) {
    std::cerr << usage;
    return 2;
  }
  std::vector<ImportedService> services;
  std::vector<std::string> errors;
  if (tool == "xinetd") {
    ImportXinetd(paths, &services, &errors);
  } else {
    ImportInetd(paths[0], &services, &errors);
  }
  CommentOutPortClashes(&services);
  std::cout << WriteServicesD(services, tool);
  for (const std::string& error : errors) std::cerr << "gatehouse import: " << error << "\n";
  return errors.empty() ? 0 : 1;
}

}  // namespace gatehouse
