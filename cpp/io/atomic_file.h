#pragma once
// Files written so that readers see either the old file or the complete new one (every write of qkv):
// the bytes go to `<path>.tmp-<pid>-<random>` in the same directory, which is fsync'ed, closed and
// renamed over `path`; then the directory is fsync'ed. Any failure, or destroying the writer
// before commit(), removes the temporary file; errors are Error(IO) naming `op`, the path and errno.
// A writer killed before it could clean up leaves its temporary behind: the next writer of the same
// path removes those of processes that no longer run. Replacing a file keeps its mode (and owner
// where permitted); a symbolic link is written through to its target and stays a link.
//
// Reading: a file opened for positioned reads whose size is taken once at open (fstat), so that a
// reader can check offsets against it before reading; a short read (the file shrank meanwhile)
// is reported, never read past.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace qkv::io {

class AtomicWriter {
 public:
  AtomicWriter(const std::string& path, const char* op);  // creates the temporary file
  ~AtomicWriter();                                        // removes it unless committed
  AtomicWriter(const AtomicWriter&) = delete;
  AtomicWriter& operator=(const AtomicWriter&) = delete;

  void write(const void* data, size_t n);
  void commit();  // fsync, close, rename into place, fsync the directory
  const std::string& temp_path() const { return tmp_; }

 private:
  [[noreturn]] void fail(const std::string& what, int err);
  void discard() noexcept;
  std::string path_, tmp_, op_;
  int fd_ = -1;
  bool committed_ = false;
};

class FileReader {
 public:
  FileReader(const std::string& path, const char* op);  // Error(IO) if it cannot be opened or is not a regular file
  ~FileReader();
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  uint64_t size() const { return size_; }
  // Reads exactly n bytes at `offset`; false if the file ended first (it shrank since open).
  // Error(IO) on a read error.
  bool read_at(uint64_t offset, void* dst, size_t n);

 private:
  std::string path_, op_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Buffered sequential reads (text and word2vec formats) over a FileReader: a byte at a time or exact
// runs, with tell/seek. Running out of bytes in read() is Error(Format, "<op>: <path>: <what>:
// unexpected end of file at byte N"); get() and peek() return -1 at the end.
class SequentialReader {
 public:
  SequentialReader(const std::string& path, const char* op);
  int64_t size() const { return static_cast<int64_t>(file_.size()); }
  int64_t tell() const { return static_cast<int64_t>(start_ + pos_); }
  const std::string& path() const { return path_; }
  int get() { return fill() ? static_cast<unsigned char>(buf_[pos_++]) : -1; }
  int peek() { return fill() ? static_cast<unsigned char>(buf_[pos_]) : -1; }
  void read(void* dst, size_t n, const std::string& what);
  void seek(int64_t pos);

 private:
  bool fill();
  FileReader file_;
  std::string path_, op_;
  std::vector<char> buf_;
  uint64_t start_ = 0;  // file offset of buf_[0]
  size_t len_ = 0, pos_ = 0;
};

// "<strerror text>" for errno values, thread-safe.
std::string errno_text(int err);

}  // namespace qkv::io
