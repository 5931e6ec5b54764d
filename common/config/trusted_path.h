// Only root configures root: a path gatehouse reads or writes with its privileges
// (config files, @FILE texts, the log and pid_file folders, a chroot) must be
// changeable by no one else, as sshd's StrictModes and ChrootDirectory require.
// Every entry from / down (and every folder a symlink leads through) must be
// owned by root or by gatehouse's own uid and writable by its owner alone; a
// folder others may write passes only when it is sticky (/tmp), since nobody
// else can rename or remove the entries in it, which must be trusted themselves.
#pragma once

#include <sys/stat.h>

#include <set>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace gatehouse {

struct TrustedPathRule {
  bool follow_symlinks = true;      // false: any symlink on the way is refused (a chroot)
  bool follow_last_symlink = true;  // false: the last entry may not be one (O_NOFOLLOW)
  bool last_may_be_sticky = false;  // the last entry is a folder files are made in (log, pid)
  // Entries not judged (the caller has reported them otherwise): the walk goes on.
  const std::set<std::string>* tolerated = nullptr;
};

struct PathTrustFinding {
  std::string path;     // the entry at fault
  std::string problem;  // "owned by nobody (uid 65534), mode 0644"
  int error = 0;        // an errno instead (a missing entry): not a trust problem
};

// A chroot (sshd's ChrootDirectory): no symlink anywhere, so a folder replaced
// by a link is refused, and the chroot itself writable by root alone.
inline TrustedPathRule ChrootRule() { return TrustedPathRule{false, false, false}; }

// "" when `dir` may be a chroot, else why not (the supervisor at --check, start
// and reload; the child before it enters it).
std::string UntrustedChroot(const std::string& dir);

// "root" or "uid N": who gatehouse runs as, for messages.
std::string RunningAs();

// "root", or "root or uid N" when gatehouse does not run as root.
std::string TrustedOwners();

// "" when an entry with `info` may stand on a trusted path, else what is wrong
// ("owned by nobody (uid 65534), mode 0644"). `sticky_ok`: writable by others
// is fine for a sticky folder.
std::string UntrustedBecause(const struct stat& info, bool sticky_ok);

// Walks `path` (made absolute) from / one entry at a time, each opened with
// O_PATH|O_NOFOLLOW and checked by fstat, so nothing can be swapped between the
// check and the use. Returns the last entry (O_PATH), or no fd with the finding.
// `visited` (if given) gets the path of every entry checked.
UniqueFd OpenTrustedPath(const std::string& path, const TrustedPathRule& rule,
                         PathTrustFinding* finding, std::vector<std::string>* visited = nullptr);

// Opens `path` for writing (log_file, pid_file: O_NOFOLLOW|O_CREAT|O_CLOEXEC plus
// `flags`, never O_TRUNC), its folder checked by the rule (a sticky one allowed);
// the file must then be a regular file owned by a trusted user with one link (in
// a sticky /tmp another user could have made it first). No fd with `error`,
// which names the file as `what` PATH.
UniqueFd OpenTrustedFileForWriting(const std::string& path, const std::string& what, int flags,
                                   mode_t mode, std::string* error);

// "PATH: owned by ..." or "open PATH: ..." for messages.
std::string DescribeFinding(const PathTrustFinding& finding);

// Why a finding matters, after it: "; gatehouse reads it as root, so it and
// every folder above it must be owned by root and writable by root alone (...)".
std::string TrustRuleReason(const std::string& action);

}  // namespace gatehouse
