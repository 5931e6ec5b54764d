#include <algorithm>
#include <cstring>

#include "common/config.h"
#include "common/config/keys.h"
#include "common/control_bytes.h"

namespace gatehouse {

bool ParseCommandLine(int argc, const char* const* argv, CommandLine* command_line,
                      std::string* error) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--check" || arg == "-t") {
      command_line->check = true;
      // --check FILE: a copy to validate before it is put in place.
      if (i + 1 < argc && argv[i + 1][0] != '-' && std::strchr(argv[i + 1], '=') == nullptr) {
        if (!command_line->config_path.empty()) {
          *error = "--check FILE and --config FILE: give the file once";
          return false;
        }
        command_line->config_path = argv[++i];
        command_line->check_copy = true;
      }
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      command_line->help = true;
      continue;
    }
    if (arg == "--version") {
      command_line->version = true;
      continue;
    }
    if (arg == "--keys" || arg == "--keys=text" || arg == "--keys=man") {
      command_line->keys_format = arg == "--keys=man" ? "man" : "text";
      continue;
    }
    std::string key, value;
    if (arg.rfind("--", 0) == 0) {
      size_t equals = arg.find('=');
      if (equals != std::string::npos) {
        key = arg.substr(2, equals - 2);
        value = arg.substr(equals + 1);
      } else {
        key = arg.substr(2);
        if (i + 1 >= argc) {
          *error = EscapeControlBytes("--" + key + " needs a value");
          return false;
        }
        value = argv[++i];
      }
    } else if (arg.find('=') != std::string::npos && arg[0] != '=') {
      key = arg.substr(0, arg.find('='));
      value = arg.substr(arg.find('=') + 1);
    } else {
      *error = EscapeControlBytes("unexpected argument \"" + arg +
                                  "\" (options are --key value, --key=value, key=value)");
      return false;
    }
    std::replace(key.begin(), key.end(), '-', '_');
    if (key == "config" || key == "conf_file") {
      if (command_line->check_copy) {
        *error = "--check FILE and --config FILE: give the file once";
        return false;
      }
      command_line->config_path = value;
    } else if (FindConfigKey(key) != nullptr) {
      command_line->overrides.push_back(ConfigEntry{key, value, "command line"});
    } else {
      *error = EscapeControlBytes("unknown option --" + key + " (see gatehouse --help)");
      return false;
    }
  }
  return true;
}

}  // namespace gatehouse
