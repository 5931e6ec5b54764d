#include "common/wire.h"

#include <cstring>

#include "common/wire_fields.h"

namespace gatehouse {

using Writer = WireWriter;
using Reader = WireReader;

std::string EncodePayload(const ServiceDefinition& v) {
  Writer w;
  w.Str(v.name);
  w.Str(v.program.exec);
  w.StrList(v.program.argv);
  w.StrList(v.program.env);
  w.Str(v.jail.chroot);
  w.U8(v.jail.change_identity ? 1 : 0);
  w.U32(v.jail.uid);
  w.U32(v.jail.gid);
  w.U32(static_cast<uint32_t>(v.jail.groups.size()));
  for (uint32_t g : v.jail.groups) w.U32(g);
  w.U32(v.program.kill_grace);
  w.U8(v.jail.namespaces ? 1 : 0);
  w.U8(v.jail.private_network ? 1 : 0);
  w.Str(v.program.working_directory);
  w.U8(static_cast<uint8_t>(v.program.stderr_target));
  w.U32(v.program.timeout);
  for (uint64_t limit : {v.program.rlimit_as, v.program.rlimit_cpu, v.program.rlimit_nofile,
                         v.program.rlimit_nproc, v.program.rlimit_fsize, v.program.rlimit_core}) {
    w.U64(limit);
  }
  w.U32(static_cast<uint32_t>(v.program.nice));
  w.U32(v.program.umask);
  w.U64(v.program.start_nofile_soft);
  w.Str(v.program.banner);
  w.U64(v.jail.capabilities);
  w.U8(v.jail.no_new_privs ? 1 : 0);
  w.U8(static_cast<uint8_t>(v.program.mode));
  w.U8(static_cast<uint8_t>(v.program.builtin));
  w.U8(v.jail.dev_log ? 1 : 0);
  return w.Take();
}

bool DecodePayload(const std::string& payload, ServiceDefinition* v, std::string* error) {
  Reader r(payload);
  uint8_t change = 0;
  uint32_t group_count = 0;
  r.Str("name", &v->name);
  r.Str("exec", &v->program.exec);
  r.StrList("argv", &v->program.argv);
  r.StrList("env", &v->program.env);
  r.Str("chroot", &v->jail.chroot);
  r.U8("change_identity", &change);
  r.U32("uid", &v->jail.uid);
  r.U32("gid", &v->jail.gid);
  r.U32("groups", &group_count);
  if (group_count > kMaxWireListItems) {
    *error = "groups: too many";
    return false;
  }
  v->jail.groups.resize(group_count);
  for (uint32_t& g : v->jail.groups) r.U32("groups", &g);
  r.U32("kill_grace", &v->program.kill_grace);
  uint8_t namespaces = 0, private_network = 0;
  r.U8("namespaces", &namespaces);
  r.U8("private_network", &private_network);
  r.Str("working_directory", &v->program.working_directory);
  uint8_t stderr_target = 0;
  r.U8("stderr_target", &stderr_target);
  r.U32("timeout", &v->program.timeout);
  for (uint64_t* limit :
       {&v->program.rlimit_as, &v->program.rlimit_cpu, &v->program.rlimit_nofile,
        &v->program.rlimit_nproc, &v->program.rlimit_fsize, &v->program.rlimit_core}) {
    r.U64("rlimit", limit);
  }
  uint32_t nice = 0;
  r.U32("nice", &nice);
  v->program.nice = static_cast<int32_t>(nice);
  r.U32("umask", &v->program.umask);
  r.U64("start_nofile_soft", &v->program.start_nofile_soft);
  r.Str("banner", &v->program.banner);
  uint8_t no_new_privs = 1;
  r.U64("capabilities", &v->jail.capabilities);
  r.U8("no_new_privs", &no_new_privs);
  uint8_t mode = 0, builtin = 0;
  r.U8("mode", &mode);
  r.U8("builtin", &builtin);
  uint8_t dev_log = 0;
  r.U8("dev_log", &dev_log);
  if (!r.Finish(error)) return false;
  v->jail.dev_log = dev_log == 1;
  v->program.mode = static_cast<ServiceMode>(mode);
  v->program.builtin = static_cast<BuiltinService>(builtin);
  bool in_process = v->program.mode == ServiceMode::kBuiltin;
  v->jail.no_new_privs = no_new_privs == 1;
  v->program.stderr_target = static_cast<StderrTarget>(stderr_target);
  v->jail.change_identity = change == 1;
  v->jail.namespaces = namespaces == 1;
  v->jail.private_network = private_network == 1;
  if (change > 1)
    *error = "change_identity: not a boolean";
  else if (no_new_privs > 1)
    *error = "no_new_privs: not a boolean";
  else if (v->jail.capabilities != 0 && !v->jail.change_identity)
    *error = "capabilities: need gatehouse to run as root";
  else if (namespaces > 1 || private_network > 1 || dev_log > 1)
    *error = "namespaces, private_network, dev_log: not a boolean";
  else if (v->jail.private_network && !v->jail.namespaces)
    *error = "private_network: needs namespaces";
  else if (mode > static_cast<uint8_t>(kLastServiceMode))
    *error = "mode: unknown";
  else if (builtin > static_cast<uint8_t>(kLastBuiltinService) ||
           in_process != (v->program.builtin != BuiltinService::kNone))
    *error = "builtin: not one, or not with mode = builtin";
  else if (in_process && (!v->program.exec.empty() || !v->program.argv.empty()))
    *error = "exec: given for a built-in service";
  else if (!in_process && (v->program.exec.empty() || v->program.exec[0] != '/'))
    *error = "exec: not an absolute path";
  else if (!in_process && v->program.argv.empty())
    *error = "argv: empty";
  else if (!v->jail.chroot.empty() && v->jail.chroot[0] != '/')
    *error = "chroot: not an absolute path";
  else if (v->program.working_directory.empty() || v->program.working_directory[0] != '/')
    *error = "working_directory: not an absolute path";
  else if (stderr_target > static_cast<uint8_t>(StderrTarget::kNull))
    *error = "stderr_target: not log, client or null";
  else if (v->program.kill_grace > kMaxKillGrace)
    *error = "kill_grace: more than " + std::to_string(kMaxKillGrace) + " seconds";
  else if (v->program.timeout > kMaxTimeout)
    *error = "timeout: more than " + std::to_string(kMaxTimeout) + " seconds";
  else if (v->program.nice < -20 || v->program.nice > 19)
    *error = "nice: not from -20 to 19";
  else if (v->program.umask > 0777)
    *error = "umask: not from 0000 to 0777";
  else if (v->program.banner.size() > kMaxMessageTextBytes)
    *error = "banner: longer than " + std::to_string(kMaxMessageTextBytes) + " bytes";
  else
    return true;
  return false;
}

namespace {

void WriteConnection(Writer& w, const ConnectionInfo& v) {
  w.U64(v.id);
  w.Str(v.proto);
  w.Str(v.peer_ip);
  w.U16(v.peer_port);
  w.Str(v.local_ip);
  w.U16(v.local_port);
  w.Str(v.remote_host);
  w.U32(static_cast<uint32_t>(v.unix_pid));
  w.U32(static_cast<uint32_t>(v.unix_uid));
  w.U32(static_cast<uint32_t>(v.unix_gid));
}

void ReadConnection(Reader& r, ConnectionInfo* v) {
  r.U64("id", &v->id);
  r.Str("proto", &v->proto);
  r.Str("peer_ip", &v->peer_ip);
  r.U16("peer_port", &v->peer_port);
  r.Str("local_ip", &v->local_ip);
  r.U16("local_port", &v->local_port);
  r.Str("remote_host", &v->remote_host);
  r.I32("unix_pid", &v->unix_pid);
  r.I32("unix_uid", &v->unix_uid);
  r.I32("unix_gid", &v->unix_gid);
}

bool CheckProto(const ConnectionInfo& v, std::string* error) {
  if (v.proto != "TCP" && v.proto != "UDP" && v.proto != "UNIX") {
    *error = "proto: not TCP, UDP or UNIX";
    return false;
  }
  return true;
}

}  // namespace

std::string EncodePayload(const ConnectionInfo& v) {
  Writer w;
  WriteConnection(w, v);
  return w.Take();
}

bool DecodePayload(const std::string& payload, ConnectionInfo* v, std::string* error) {
  Reader r(payload);
  ReadConnection(r, v);
  return r.Finish(error) && CheckProto(*v, error);
}

std::string EncodePayload(const ListenFd& v) {
  Writer w;
  w.U32(v.index);
  w.U32(v.count);
  w.Str(v.name);
  return w.Take();
}

bool DecodePayload(const std::string& payload, ListenFd* v, std::string* error) {
  Reader r(payload);
  r.U32("index", &v->index);
  r.U32("count", &v->count);
  r.Str("name", &v->name);
  if (!r.Finish(error)) return false;
  if (v->count == 0 || v->count > kMaxListenFds || v->index >= v->count) {
    *error = "index, count: out of range";
    return false;
  }
  if (v->name.empty() || v->name.size() > kMaxListenFdName ||
      v->name.find_first_of(":\n") != std::string::npos) {
    *error = "name: empty, too long or with a colon (LISTEN_FDNAMES)";
    return false;
  }
  return true;
}

std::string EncodePayload(const Datagram& v) {
  Writer w;
  WriteConnection(w, v.connection);
  w.Blob(v.bytes);
  return w.Take();
}

bool DecodePayload(const std::string& payload, Datagram* v, std::string* error) {
  Reader r(payload);
  ReadConnection(r, &v->connection);
  r.Blob("bytes", &v->bytes, kMaxDatagramBytes);
  return r.Finish(error) && CheckProto(v->connection, error);
}

std::string EncodePayload(const DatagramReply& v) {
  Writer w;
  w.U64(v.connection_id);
  w.Blob(v.bytes);
  return w.Take();
}

bool DecodePayload(const std::string& payload, DatagramReply* v, std::string* error) {
  Reader r(payload);
  r.U64("connection_id", &v->connection_id);
  r.Blob("bytes", &v->bytes, kMaxDatagramReplyBytes);
  return r.Finish(error);
}

std::string EncodePayload(const ProgramStarted& v) {
  Writer w;
  w.U64(v.connection_id);
  w.U32(static_cast<uint32_t>(v.pid));
  return w.Take();
}

bool DecodePayload(const std::string& payload, ProgramStarted* v, std::string* error) {
  Reader r(payload);
  r.U64("connection_id", &v->connection_id);
  r.I32("pid", &v->pid);
  if (!r.Finish(error)) return false;
  if (v->pid <= 1 && v->pid != kInProcess) {
    *error = "pid: out of range";
    return false;
  }
  return true;
}

std::string EncodePayload(const ProgramsNoted& v) {
  Writer w;
  w.U64(v.starts);
  return w.Take();
}

bool DecodePayload(const std::string& payload, ProgramsNoted* v, std::string* error) {
  Reader r(payload);
  r.U64("starts", &v->starts);
  return r.Finish(error);
}

std::string EncodePayload(const ProgramExited& v) {
  Writer w;
  w.U64(v.connection_id);
  w.U32(static_cast<uint32_t>(v.pid));
  w.U32(static_cast<uint32_t>(v.wait_status));
  w.U64(v.duration_us);
  return w.Take();
}

bool DecodePayload(const std::string& payload, ProgramExited* v, std::string* error) {
  Reader r(payload);
  r.U64("connection_id", &v->connection_id);
  r.I32("pid", &v->pid);
  r.I32("wait_status", &v->wait_status);
  r.U64("duration_us", &v->duration_us);
  if (!r.Finish(error)) return false;
  if (v->pid <= 1 && v->pid != kInProcess) {
    *error = "pid: out of range";
    return false;
  }
  return true;
}

std::string EncodePayload(const ProgramFailed& v) {
  Writer w;
  w.U64(v.connection_id);
  w.Str(v.reason);
  return w.Take();
}

bool DecodePayload(const std::string& payload, ProgramFailed* v, std::string* error) {
  Reader r(payload);
  r.U64("connection_id", &v->connection_id);
  r.Str("reason", &v->reason);
  return r.Finish(error);
}

std::string EncodePayload(const FatalError& v) {
  Writer w;
  w.Str(v.reason);
  return w.Take();
}

bool DecodePayload(const std::string& payload, FatalError* v, std::string* error) {
  Reader r(payload);
  r.Str("reason", &v->reason);
  return r.Finish(error);
}

std::string EncodePayload(const ProgramOutput& v) {
  Writer w;
  w.U32(static_cast<uint32_t>(v.pid));
  w.Str(v.text);
  return w.Take();
}

bool DecodePayload(const std::string& payload, ProgramOutput* v, std::string* error) {
  Reader r(payload);
  r.I32("pid", &v->pid);
  r.Str("text", &v->text);
  if (!r.Finish(error)) return false;
  if (v->pid <= 1) {
    *error = "pid: out of range";
    return false;
  }
  return true;
}

}  // namespace gatehouse
