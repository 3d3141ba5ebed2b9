#include "word2vec/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace qkv::w2v {

namespace {
[[noreturn]] void io_fail(const std::string& what, const std::string& path, int err) {
  throw Error(ErrorKind::IO, what + " '" + path + "': " + std::strerror(err));
}
std::atomic<uint64_t> g_counter{0};
}  // namespace

AtomicFile::AtomicFile(const std::string& path) : path_(path) {
  tmp_ = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(g_counter.fetch_add(1));
  int fd = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) io_fail("cannot create", tmp_, errno);
  f_ = ::fdopen(fd, "wb");
  if (!f_) {
    int e = errno;
    ::close(fd);
    ::unlink(tmp_.c_str());
    io_fail("cannot open", tmp_, e);
  }
}

AtomicFile::~AtomicFile() {
  if (f_) std::fclose(f_);
  if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicFile::write(const void* data, size_t n) {
  if (n && std::fwrite(data, 1, n, f_) != n) io_fail("cannot write", tmp_, errno);
}

void AtomicFile::commit() {
  if (std::fflush(f_) != 0) io_fail("cannot write", tmp_, errno);
  if (::fsync(::fileno(f_)) != 0) io_fail("cannot sync", tmp_, errno);
  int rc = std::fclose(f_);
  f_ = nullptr;
  if (rc != 0) io_fail("cannot close", tmp_, errno);
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) io_fail("cannot rename into", path_, errno);
  committed_ = true;
  std::string dir = ".";
  size_t slash = path_.find_last_of('/');
  if (slash != std::string::npos) dir = slash == 0 ? "/" : path_.substr(0, slash);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // best effort: some file systems refuse fsync on directories
    ::close(dfd);
  }
}

FileReader::FileReader(const std::string& path) : path_(path) {
  f_ = std::fopen(path.c_str(), "rb");
  if (!f_) io_fail("cannot open", path, errno);
  struct stat st;
  if (::fstat(::fileno(f_), &st) != 0) io_fail("cannot stat", path, errno);
  if (S_ISDIR(st.st_mode)) {
    std::fclose(f_);
    f_ = nullptr;
    throw Error(ErrorKind::IO, "cannot read '" + path + "': it is a directory");
  }
  size_ = static_cast<int64_t>(st.st_size);
}

FileReader::~FileReader() {
  if (f_) std::fclose(f_);
}

bool FileReader::fill() {
  if (bpos_ < blen_) return true;
  blen_ = std::fread(buf_, 1, sizeof buf_, f_);
  bpos_ = 0;
  if (blen_ == 0 && std::ferror(f_)) io_fail("cannot read", path_, errno);
  return blen_ > 0;
}

void FileReader::read(void* dst, size_t n, const char* what) {
  char* d = static_cast<char*>(dst);
  while (n) {
    if (!fill()) throw Error(ErrorKind::Format, "'" + path_ + "': " + what + ": unexpected end of file at byte " + std::to_string(pos_));
    size_t take = blen_ - bpos_ < n ? blen_ - bpos_ : n;
    std::memcpy(d, buf_ + bpos_, take);
    bpos_ += take;
    pos_ += static_cast<int64_t>(take);
    d += take;
    n -= take;
  }
}

int FileReader::peek() { return fill() ? static_cast<unsigned char>(buf_[bpos_]) : -1; }

int FileReader::get() {
  if (!fill()) return -1;
  ++pos_;
  return static_cast<unsigned char>(buf_[bpos_++]);
}

void FileReader::seek(int64_t pos) {
  if (::fseeko(f_, pos, SEEK_SET) != 0) io_fail("cannot seek in", path_, errno);
  pos_ = pos;
  blen_ = bpos_ = 0;
}

}  // namespace qkv::w2v
