// Atomic writes and bounded reads: see atomic_file.h. POSIX only (Linux, macOS).
#include "io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
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

AtomicWriter::AtomicWriter(const std::string& path, const char* op) : path_(path), op_(op) {
  check_path(path, op);
  for (int attempt = 0; attempt < 16; ++attempt) {
    tmp_ = path + ".tmp-" + std::to_string(static_cast<long>(::getpid())) + "-" + random_suffix();
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ >= 0) return;
    if (errno != EEXIST && errno != EINTR) break;
  }
  const int err = errno;
  tmp_.clear();
  throw Error(ErrorKind::IO, op_ + ": " + path_ + ": cannot create a temporary file in " + directory_of(path_) + ": " +
                                 errno_text(err));
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
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("close failed", errno);
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail("cannot rename the temporary file into place", errno);
  committed_ = true;
  tmp_.clear();
  // Make the rename durable. Some file systems refuse to fsync a directory (EINVAL): the data is
  // already in place then, so that is not an error.
  const int dfd = ::open(directory_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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
