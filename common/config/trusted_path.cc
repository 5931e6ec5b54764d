#include "common/config/trusted_path.h"

#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <deque>

#include "common/sys_error.h"

namespace gatehouse {
namespace {

// As the kernel's own bound on symlinks in one lookup.
constexpr int kMaxSymlinks = 40;

bool TrustedOwner(uid_t uid) { return uid == 0 || uid == geteuid(); }

std::string OwnerName(uid_t uid) {
  passwd entry{};
  passwd* found = nullptr;
  char buffer[4096];
  getpwuid_r(uid, &entry, buffer, sizeof buffer, &found);
  std::string number = "uid " + std::to_string(uid);
  return found ? std::string(found->pw_name) + " (" + number + ")" : number;
}

// Puts the components of `path` before those still to walk (a symlink's target
// is walked before the rest of the path).
void PrependComponents(const std::string& path, std::deque<std::string>* pending) {
  std::deque<std::string> components;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) components.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  pending->insert(pending->begin(), components.begin(), components.end());
}

bool Tolerated(const TrustedPathRule& rule, const std::string& path) {
  return rule.tolerated != nullptr && rule.tolerated->count(path) != 0;
}

std::string Join(const std::vector<std::string>& names) {
  std::string path;
  for (const std::string& name : names) path += "/" + name;
  return path.empty() ? "/" : path;
}

}  // namespace

std::string RunningAs() { return geteuid() == 0 ? "root" : "uid " + std::to_string(geteuid()); }

std::string TrustedOwners() {
  return geteuid() == 0 ? "root" : "root or uid " + std::to_string(geteuid());
}

std::string UntrustedBecause(const struct stat& info, bool sticky_ok) {
  bool others_write = (info.st_mode & (S_IWGRP | S_IWOTH)) != 0;
  bool sticky = S_ISDIR(info.st_mode) && (info.st_mode & S_ISVTX) != 0;
  if (TrustedOwner(info.st_uid) && (!others_write || (sticky && sticky_ok))) return "";
  char mode[8];
  snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
  return "owned by " + OwnerName(info.st_uid) + ", mode " + mode +
         (TrustedOwner(info.st_uid) ? " (writable by group or others)" : "");
}

UniqueFd OpenTrustedPath(const std::string& path, const TrustedPathRule& rule,
                         PathTrustFinding* finding, std::vector<std::string>* visited) {
  std::string absolute = path;
  if (absolute.empty() || absolute[0] != '/') {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == nullptr) {
      *finding = {path, "", errno};
      return UniqueFd();
    }
    absolute = std::string(cwd) + "/" + path;
  }
  std::deque<std::string> pending;
  PrependComponents(absolute, &pending);
  std::vector<std::string> names;  // of the folders open in `folders` (below /)
  std::vector<UniqueFd> folders;
  UniqueFd entry(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  struct stat info {};
  if (!entry || fstat(entry.get(), &info) != 0) {
    *finding = {"/", "", errno};
    return UniqueFd();
  }
  if (visited) visited->push_back("/");
  std::string problem = UntrustedBecause(info, !pending.empty() || rule.last_may_be_sticky);
  if (!problem.empty() && !Tolerated(rule, "/")) {
    *finding = {"/", problem, 0};
    return UniqueFd();
  }
  int symlinks = 0;
  while (!pending.empty()) {
    std::string name = pending.front();
    pending.pop_front();
    if (name == ".") continue;
    if (name == "..") {
      if (!folders.empty()) {  // the folder above was checked on the way down
        entry = std::move(folders.back());
        folders.pop_back();
        names.pop_back();
      }
      continue;
    }
    names.push_back(name);
    std::string shown = Join(names);
    bool last = pending.empty();
    UniqueFd next(openat(entry.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!next || fstat(next.get(), &info) != 0) {
      *finding = {shown, "", errno};
      return UniqueFd();
    }
    if (S_ISLNK(info.st_mode)) {
      bool follow = last ? rule.follow_symlinks && rule.follow_last_symlink : rule.follow_symlinks;
      if (!follow) {
        *finding = {shown, "a symbolic link", 0};
        return UniqueFd();
      }
      char target[PATH_MAX];
      ssize_t length = readlinkat(entry.get(), name.c_str(), target, sizeof target - 1);
      if (length < 0 || ++symlinks > kMaxSymlinks) {
        *finding = {shown, "", length < 0 ? errno : ELOOP};
        return UniqueFd();
      }
      names.pop_back();
      std::string text(target, static_cast<size_t>(length));
      PrependComponents(text, &pending);
      if (!text.empty() && text[0] == '/') {  // from / again; / itself was checked
        while (!folders.empty()) {
          entry = std::move(folders.back());
          folders.pop_back();
        }
        names.clear();
      }
      continue;
    }
    if (visited) visited->push_back(shown);
    problem = UntrustedBecause(info, !last || rule.last_may_be_sticky);
    if (!problem.empty() && !Tolerated(rule, shown)) {
      *finding = {shown, problem, 0};
      return UniqueFd();
    }
    if (!last && !S_ISDIR(info.st_mode)) {
      *finding = {shown, "", ENOTDIR};
      return UniqueFd();
    }
    folders.push_back(std::move(entry));
    entry = std::move(next);
  }
  return entry;
}

UniqueFd OpenTrustedFileForWriting(const std::string& path, const std::string& what, int flags,
                                   mode_t mode, std::string* error) {
  std::string shown = what + " " + path;
  size_t slash = path.rfind('/');
  std::string folder = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  TrustedPathRule rule;
  rule.last_may_be_sticky = true;
  PathTrustFinding finding;
  UniqueFd dir = OpenTrustedPath(folder, rule, &finding);
  if (!dir && finding.error != 0) {
    *error = ErrnoMessage("open", shown, finding.error);
    return UniqueFd();
  }
  if (!dir) {
    *error = shown + ": " + DescribeFinding(finding) + TrustRuleReason("writes it");
    return UniqueFd();
  }
  UniqueFd fd(openat(dir.get(), name.c_str(), flags | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd) {
    *error = errno == ELOOP ? shown + ": a symbolic link, which is not followed"
                            : ErrnoMessage("open", shown, errno);
    return UniqueFd();
  }
  struct stat info {};
  if (fstat(fd.get(), &info) != 0) {
    *error = ErrnoMessage("fstat", shown, errno);
    return UniqueFd();
  }
  if (!S_ISREG(info.st_mode) || !TrustedOwner(info.st_uid) || info.st_nlink != 1) {
    *error = shown + ": not a regular file of " + TrustedOwners() + " with one link (owned by " +
             OwnerName(info.st_uid) + ", " + std::to_string(info.st_nlink) + " links)";
    return UniqueFd();
  }
  return fd;
}

std::string UntrustedChroot(const std::string& dir) {
  PathTrustFinding finding;
  if (OpenTrustedPath(dir, ChrootRule(), &finding)) return "";
  return DescribeFinding(finding) +
         "; every folder of a chroot must be owned by root and writable by root alone, and none "
         "may be a symbolic link (sshd's ChrootDirectory; a sticky folder such as /tmp may hold "
         "it)";
}

std::string TrustRuleReason(const std::string& action) {
  return "; gatehouse " + action + " as " + RunningAs() +
         ", so it and every folder above it must be owned by " + TrustedOwners() +
         " and writable by the owner alone (sshd's StrictModes; a sticky folder such as /tmp "
         "may be writable by all)";
}

std::string DescribeFinding(const PathTrustFinding& finding) {
  if (finding.error != 0) return ErrnoMessage("open", finding.path, finding.error);
  return finding.path + ": " + finding.problem;
}

}  // namespace gatehouse
