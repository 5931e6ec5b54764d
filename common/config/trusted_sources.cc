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

  // --check FILE: what is wrong on the way to the copy itself (each entry, not
  // only the first) is a warning, and no longer judged for the other files.
  void WarnAboutCopy(const std::string& path) {
    PathTrustFinding finding;
    TrustedPathRule rule;
    rule.tolerated = &tolerated_;
    while (!OpenTrustedPath(path, rule, &finding) && finding.error == 0 &&
           tolerated_.insert(finding.path).second) {
      warnings_->push_back(EscapeControlBytes(
          path + ": " + DescribeFinding(finding) + TrustRuleReason("reads it") +
          "; a warning for a copy checked with --check FILE, an error for the config "
          "gatehouse runs"));
    }
  }

  // A config file or folder; what cannot be opened is left to its reader.
  void Check(const std::string& path) {
    TrustedPathRule rule;
    rule.tolerated = &tolerated_;
    PathTrustFinding finding;
    if (OpenTrustedPath(path, rule, &finding) || finding.error != 0) return;
    if (!reported_.insert(finding.path).second) return;  // one folder, one message
    errors_->Add(path, DescribeFinding(finding) + TrustRuleReason("reads it"));
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
  ConfigErrors* errors_;
  std::vector<std::string>* warnings_;
  std::set<std::string> tolerated_;  // warned about (--check FILE)
  std::set<std::string> reported_;
};

}  // namespace

void CheckSourcesTrusted(const ConfigSources& sources, const GlobalConfig& global,
                         bool main_is_copy, ConfigErrors* errors,
                         std::vector<std::string>* warnings) {
  SourceCheck check(errors, warnings);
  if (main_is_copy && !sources.main_path.empty()) check.WarnAboutCopy(sources.main_path);
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
