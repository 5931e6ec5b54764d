#include "common/config/trusted_sources.h"

#include <unistd.h>

#include <set>

#include "common/config/paths.h"
#include "common/config/trusted_path.h"
#include "common/control_bytes.h"

namespace gatehouse {
namespace {

class SourceCheck {
 public:
  SourceCheck(ConfigErrors* errors, std::vector<std::string>* warnings)
      : errors_(errors), warnings_(warnings) {}

  // Everything on the way to `path` becomes a warning's matter.
  void Lenient(const std::string& path) {
    PathTrustFinding finding;
    std::vector<std::string> visited;
    OpenTrustedPath(path, TrustedPathRule{}, &finding, &visited);
    lenient_.insert(visited.begin(), visited.end());
  }

  // A config file or folder; what cannot be opened is left to its reader.
  void Check(const std::string& path) {
    PathTrustFinding finding;
    if (OpenTrustedPath(path, TrustedPathRule{}, &finding) || finding.error != 0) return;
    Report(path, "reads it", finding);
  }

  // log_file, pid_file: the folder they are made in, and the file if it is there.
  void CheckWritten(const ConfigEntry& entry, const std::string& path) {
    TrustedPathRule folder_rule;
    folder_rule.last_may_be_sticky = true;
    PathTrustFinding finding;
    if (!OpenTrustedPath(DirName(path), folder_rule, &finding) && finding.error == 0) {
      errors_->Add(entry, DescribeFinding(finding) + TrustRuleReason("writes it"));
      return;
    }
    struct stat info {};
    if (lstat(path.c_str(), &info) != 0) return;
    if (S_ISLNK(info.st_mode)) {
      errors_->Add(entry, path + " is a symbolic link; gatehouse does not follow one there");
    } else if (info.st_uid != 0 && info.st_uid != geteuid()) {
      errors_->Add(entry,
                   path + ": " + UntrustedBecause(info, false) + TrustRuleReason("writes it"));
    }
  }

 private:
  void Report(const std::string& path, const std::string& what, const PathTrustFinding& finding) {
    if (!reported_.insert(finding.path).second) return;  // one folder, one message
    std::string message = DescribeFinding(finding) + TrustRuleReason(what);
    if (lenient_.count(finding.path) != 0) {
      warnings_->push_back(
          EscapeControlBytes(path + ": " + message +
                             " (a copy checked with --check FILE: as gatehouse's config "
                             "there it would be refused)"));
    } else {
      errors_->Add(path, message);
    }
  }

  ConfigErrors* errors_;
  std::vector<std::string>* warnings_;
  std::set<std::string> lenient_;
  std::set<std::string> reported_;
};

}  // namespace

void CheckSourcesTrusted(const ConfigSources& sources, const GlobalConfig& global,
                         bool main_is_copy, ConfigErrors* errors,
                         std::vector<std::string>* warnings) {
  SourceCheck check(errors, warnings);
  if (main_is_copy && !sources.main_path.empty()) check.Lenient(sources.main_path);
  for (const std::string& file : sources.files) check.Check(file);
  if (!global.services_dir.empty()) check.Check(global.services_dir);
  const ConfigEntry* log_file = Last(sources.global, "log_file");
  if (log_file && !global.log_file.empty() && global.log_file != "Sys::Syslog") {
    check.CheckWritten(*log_file, global.log_file);
  }
  const ConfigEntry* pid_file = Last(sources.global, "pid_file");
  if (pid_file && !global.pid_file.empty()) check.CheckWritten(*pid_file, global.pid_file);
}

}  // namespace gatehouse
