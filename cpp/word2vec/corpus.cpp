#include "word2vec/corpus.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace qkv::w2v {

namespace {
[[noreturn]] void io_error(const std::string& what, const std::string& path, int err) {
  throw Error(ErrorKind::IO, what + " '" + path + "': " + std::strerror(err));
}
}  // namespace

int64_t file_size(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) io_error("cannot open", path, errno);
  if (S_ISDIR(st.st_mode)) throw Error(ErrorKind::IO, "cannot read '" + path + "': it is a directory");
  return static_cast<int64_t>(st.st_size);
}

TokenReader::TokenReader(const std::string& path, int64_t begin, int64_t end, size_t buffer_bytes)
    : path_(path), end_(end) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) io_error("cannot open", path, errno);
  struct stat st;
  if (::fstat(fd_, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    throw Error(ErrorKind::IO, "cannot read '" + path + "': it is a directory");
  }
  buffer_.resize(buffer_bytes < 4096 ? 4096 : buffer_bytes);
  data_ = buffer_.data();
  if (begin > 0) {
    // Start one byte early: if that byte is not whitespace, the token at `begin` belongs to the
    // previous range and is skipped.
    if (::lseek(fd_, begin - 1, SEEK_SET) < 0) io_error("cannot seek in", path, errno);
    base_ = begin - 1;
    len_ = 0;
    pos_ = 0;
    if (!refill()) { done_ = true; return; }
    if (!is_space(static_cast<unsigned char>(data_[0]))) {
      for (;;) {
        while (pos_ < len_ && !is_space(static_cast<unsigned char>(data_[pos_]))) ++pos_;
        if (pos_ < len_ || !refill()) break;
      }
    } else {
      pos_ = 1;
    }
  }
}

TokenReader::TokenReader(std::string_view text) : data_(text.data()), len_(text.size()) {}

TokenReader::~TokenReader() {
  if (fd_ >= 0) ::close(fd_);
}

bool TokenReader::refill() {
  if (fd_ < 0) return false;
  base_ += static_cast<int64_t>(len_);
  pos_ = 0;
  len_ = 0;
  for (;;) {
    ssize_t got = ::read(fd_, buffer_.data(), buffer_.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      io_error("cannot read", path_, errno);
    }
    len_ = static_cast<size_t>(got);
    return got > 0;
  }
}

TokenReader::Event TokenReader::next(std::string_view& tok) {
  if (done_) return End;
  for (;;) {
    if (pos_ >= len_ && !refill()) {
      done_ = true;
      return End;
    }
    unsigned char c = static_cast<unsigned char>(data_[pos_]);
    if (!is_space(c)) break;
    ++pos_;
    if (c == '\n') return Newline;
  }
  token_offset_ = base_ + static_cast<int64_t>(pos_);
  if (end_ >= 0 && token_offset_ >= end_) {
    done_ = true;
    return End;
  }
  size_t s = pos_;
  while (pos_ < len_ && !is_space(static_cast<unsigned char>(data_[pos_]))) ++pos_;
  if (pos_ < len_ || fd_ < 0) {
    tok = std::string_view(data_ + s, pos_ - s);
    return Token;
  }
  // The token runs past the buffer: gather it.
  carry_.assign(data_ + s, pos_ - s);
  while (refill()) {
    while (pos_ < len_ && !is_space(static_cast<unsigned char>(data_[pos_]))) ++pos_;
    carry_.append(data_, pos_);
    if (pos_ < len_) break;
  }
  tok = carry_;
  return Token;
}

}  // namespace qkv::w2v
