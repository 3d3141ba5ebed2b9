// Atomic writes and bounded reads: see atomic_file.h. POSIX only (Linux, macOS).
#include "io/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <random>

#include "core/error.h"

namespace qkv::io {

std::string errno_text(int err) {
  char buf[256];
  buf[0] = '\0';
  // GNU strerror_r may return a static string instead of filling buf; XSI returns an int.
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
  const char* s = strerror_r(err, buf, sizeof buf);
  return s ? std::string(s) : std::string("errno ") + std::to_string(err);
#else
  if (strerror_r(err, buf, sizeof buf) != 0) return "errno " + std::to_string(err);
  return buf;
#endif
}

static std::string directory_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

static std::string random_suffix() {
  static std::atomic<uint64_t> counter{0};
  std::random_device rd;
  const uint64_t r = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ (counter.fetch_add(1) * 0x9E3779B97F4A7C15ull);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 12; ++i) s += hex[(r >> (4 * i)) & 15];
  return s;
}

// An empty path, or one with a NUL byte (which the C library would cut short), names no file.
static void check_path(const std::string& path, const char* op) {
  if (path.empty()) throw Error(ErrorKind::Type, std::string(op) + ": the path is empty");
  if (path.find('\0') != std::string::npos) throw Error(ErrorKind::Type, std::string(op) + ": the path contains a NUL character");
}

// ---- AtomicWriter -------------------------------------------------------------------------------

static std::string base_name(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Every temporary file of `target` starts with this, followed by "<pid>-<random>".
static std::string temporary_prefix(const std::string& target) { return "." + base_name(target) + ".qkv-tmp-"; }

// The file that `path` names once symbolic links are followed (chains too; a dangling link names
// its missing target, which the save creates). Writing there, not over the link, keeps the link.
// False with *err set for a loop or an unreadable link.
static bool follow_links(const std::string& path, std::string* out, int* err) {
  std::string p = path;
  for (int hops = 0; hops < 40; ++hops) {
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) {
      *out = p;
      return true;
    }
    std::string target(PATH_MAX, '\0');
    const ssize_t n = ::readlink(p.c_str(), target.data(), target.size());
    if (n < 0 || static_cast<size_t>(n) == target.size()) {
      *err = n < 0 ? errno : ENAMETOOLONG;
      return false;
    }
    target.resize(static_cast<size_t>(n));
    p = target[0] == '/' ? target : directory_of(p) + "/" + target;
  }
  *err = ELOOP;
  return false;
}

// Unlinks the temporaries of `target` whose writer process no longer runs (kill(pid, 0) says ESRCH).
// Those of this process (a save in progress on another thread) and of live processes stay, and so
// do those of processes kill() may not signal (EPERM: they run, under another user).
static void remove_dead_writers_temporaries(const std::string& target) {
  const std::string prefix = temporary_prefix(target);
  DIR* dir = ::opendir(directory_of(target).c_str());
  if (!dir) return;
  const long self = static_cast<long>(::getpid());
  while (const dirent* e = ::readdir(dir)) {
    const char* name = e->d_name;
    if (std::strncmp(name, prefix.c_str(), prefix.size()) != 0) continue;
    const char* digits = name + prefix.size();
    if (*digits < '0' || *digits > '9') continue;
    char* end = nullptr;
    const long pid = std::strtol(digits, &end, 10);
    if (pid <= 0 || *end != '-' || pid == self) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    ::unlinkat(::dirfd(dir), name, 0);
  }
  ::closedir(dir);
}

void remove_stale_temporaries(const std::string& path) {
  std::string target;
  int err = 0;
  if (!path.empty() && path.find('\0') == std::string::npos && follow_links(path, &target, &err))
    remove_dead_writers_temporaries(target);
}

// O_TMPFILE files are linked into place through /proc/self/fd (linkat with AT_EMPTY_PATH needs a
// privilege); without /proc they are not used.
static bool can_link_anonymous_files() {
#ifdef O_TMPFILE
  static const bool proc_fd = ::access("/proc/self/fd", X_OK) == 0;
  return proc_fd;
#else
  return false;
#endif
}

AtomicWriter::AtomicWriter(const std::string& path, const char* op) : op_(op) {
  check_path(path, op);
  int err = 0;
  if (!follow_links(path, &path_, &err))
    throw Error(ErrorKind::IO, op_ + ": " + path + ": the symbolic link cannot be followed: " + errno_text(err));
  dir_ = directory_of(path_);
  struct stat existing;
  const bool replacing = ::stat(path_.c_str(), &existing) == 0;
  if (base_name(path_).empty()) throw Error(ErrorKind::IO, op_ + ": " + path_ + ": names a directory (it ends with '/')");
  if (replacing && S_ISDIR(existing.st_mode)) throw Error(ErrorKind::IO, op_ + ": " + path_ + ": is a directory");
  // Renaming over a device or a FIFO would replace it (for root, /dev/null), not write to it.
  if (replacing && !S_ISREG(existing.st_mode)) throw Error(ErrorKind::IO, op_ + ": " + path_ + ": not a regular file");
  remove_dead_writers_temporaries(path_);
  open_temporary();
  // Re-saving over a file keeps its permissions (a private 0600 model stays private) and, where
  // allowed, its owner and group (first: a change of owner clears set-id bits); a new file gets
  // 0666 less the umask.
  if (replacing) {
    if (::fchown(fd_, existing.st_uid, existing.st_gid) != 0) { /* not permitted: the file stays ours */ }
    if (::fchmod(fd_, existing.st_mode & 07777) != 0) fail("cannot set the file's permissions", errno);
  }
}

void AtomicWriter::open_temporary() {
#ifdef O_TMPFILE
  // Unnamed until commit: a writer killed while writing leaves nothing behind. File systems
  // without O_TMPFILE refuse it; they get a named temporary.
  if (can_link_anonymous_files()) {
    do {
      fd_ = ::open(dir_.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
    } while (fd_ < 0 && errno == EINTR);
    if (fd_ >= 0) return;
  }
#endif
  for (int attempt = 0; attempt < 16; ++attempt) {
    tmp_ = temporary_name();
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ >= 0) return;
    if (errno != EEXIST && errno != EINTR) break;
  }
  const int err = errno;
  tmp_.clear();
  throw Error(ErrorKind::IO, op_ + ": " + path_ + ": cannot create a temporary file in " + dir_ + ": " + errno_text(err));
}

std::string AtomicWriter::temporary_name() const {
  return dir_ + "/" + temporary_prefix(path_) + std::to_string(static_cast<long>(::getpid())) + "-" + random_suffix();
}

// Gives the unnamed file its temporary name, right before the rename.
void AtomicWriter::link_temporary() {
  const std::string self = "/proc/self/fd/" + std::to_string(fd_);
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::string name = temporary_name();
    if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, name.c_str(), AT_SYMLINK_FOLLOW) == 0) {
      tmp_ = std::move(name);
      return;
    }
    if (errno != EEXIST && errno != EINTR) break;
  }
  fail("cannot link the temporary file into " + dir_, errno);
}

AtomicWriter::~AtomicWriter() {
  if (!committed_) discard();
}

void AtomicWriter::discard() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!tmp_.empty()) {
    ::unlink(tmp_.c_str());
    tmp_.clear();
  }
}

void AtomicWriter::fail(const std::string& what, int err) {
  discard();
  throw Error(ErrorKind::IO, op_ + ": " + path_ + ": " + what + ": " + errno_text(err));
}

void AtomicWriter::write(const void* data, size_t n) {
  if (fd_ < 0) throw Error(ErrorKind::IO, op_ + ": " + path_ + ": write after the file was closed");
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const size_t chunk = n < (size_t(1) << 30) ? n : (size_t(1) << 30);
    const ssize_t w = ::write(fd_, p, chunk);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("write failed", errno);
    }
    if (w == 0) fail("write failed", EIO);
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void AtomicWriter::commit() {
  if (fd_ < 0) throw Error(ErrorKind::IO, op_ + ": " + path_ + ": commit after the file was closed");
  if (::fsync(fd_) != 0) fail("fsync failed", errno);
  if (tmp_.empty()) link_temporary();
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("close failed", errno);
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail("cannot rename the temporary file into place", errno);
  committed_ = true;
  tmp_.clear();
  // Make the rename durable. Some file systems refuse to fsync a directory (EINVAL): the data is
  // already in place then, so that is not an error.
  const int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    const int rc = ::fsync(dfd);
    const int err = errno;
    ::close(dfd);
    if (rc != 0 && err != EINVAL && err != EROFS && err != ENOTSUP)
      throw Error(ErrorKind::IO, op_ + ": " + path_ + ": fsync of the directory failed: " + errno_text(err));
  }
}

// ---- FileReader ---------------------------------------------------------------------------------

FileReader::FileReader(const std::string& path, const char* op) : path_(path), op_(op) {
  check_path(path, op);
  do {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd_ < 0 && errno == EINTR);
  if (fd_ < 0) throw Error(ErrorKind::IO, op_ + ": " + path_ + ": " + errno_text(errno));
  struct stat st;
  if (::fstat(fd_, &st) != 0) {
    const int err = errno;
    ::close(fd_);
    throw Error(ErrorKind::IO, op_ + ": " + path_ + ": " + errno_text(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw Error(ErrorKind::IO, op_ + ": " + path_ + ": not a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

FileReader::~FileReader() {
  if (fd_ >= 0) ::close(fd_);
}

bool FileReader::read_at(uint64_t offset, void* dst, size_t n) {
  char* p = static_cast<char*>(dst);
  while (n > 0) {
    const size_t chunk = n < (size_t(1) << 30) ? n : (size_t(1) << 30);
    const ssize_t r = ::pread(fd_, p, chunk, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw Error(ErrorKind::IO, op_ + ": " + path_ + ": read failed: " + errno_text(errno));
    }
    if (r == 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return true;
}

// ---- SequentialReader ---------------------------------------------------------------------------

SequentialReader::SequentialReader(const std::string& path, const char* op)
    : file_(path, op), path_(path), op_(op), buf_(size_t(1) << 16) {}

bool SequentialReader::fill() {
  if (pos_ < len_) return true;
  start_ += len_;
  len_ = pos_ = 0;
  if (start_ >= file_.size()) return false;
  const uint64_t left = file_.size() - start_;
  const size_t n = left < buf_.size() ? static_cast<size_t>(left) : buf_.size();
  if (!file_.read_at(start_, buf_.data(), n))
    throw Error(ErrorKind::Format, op_ + ": " + path_ + ": the file ended at byte " + std::to_string(start_) +
                                       " while being read (it changed meanwhile?)");
  len_ = n;
  return true;
}

void SequentialReader::read(void* dst, size_t n, const std::string& what) {
  char* d = static_cast<char*>(dst);
  while (n > 0) {
    if (!fill())
      throw Error(ErrorKind::Format, op_ + ": " + path_ + ": " + what + ": unexpected end of file at byte " + std::to_string(tell()));
    const size_t take = len_ - pos_ < n ? len_ - pos_ : n;
    std::memcpy(d, buf_.data() + pos_, take);
    pos_ += take;
    d += take;
    n -= take;
  }
}

void SequentialReader::seek(int64_t pos) {
  start_ = pos < 0 ? 0 : static_cast<uint64_t>(pos);
  len_ = pos_ = 0;
}

}  // namespace qkv::io
