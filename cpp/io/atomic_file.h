#pragma once
// Files written so that readers see either the old file or the complete new one (every write of qkv):
// the bytes go to a temporary file in the destination's directory, which is fsync'ed, closed and
// renamed over the destination; then the directory is fsync'ed. On Linux the temporary is made
// with O_TMPFILE and has no name until commit() links it as `.<name>.qkv-tmp-<pid>-<random>` just
// before the rename; elsewhere (or where the file system refuses O_TMPFILE) it has that name from
// the start. Any failure, or destroying the writer before commit(), removes it; errors are
// Error(IO) naming `op`, the path and errno.
//
// A writer killed while its temporary has a name leaves it behind: every writer, and every loader
// that calls remove_stale_temporaries(), first removes those of the same destination whose pid is
// not a running process (kill(pid, 0) fails with ESRCH). The pid is only meaningful on one machine:
// two hosts saving to one network file system could remove each other's temporaries mid-save (that
// save then fails; neither file is damaged).
//
// Replacing a file keeps its mode (and owner and group where permitted); a new file gets 0666 less
// the umask. A symbolic link is written through to its target (chains followed; a dangling link's
// target is created) and stays a link. A directory, a device or any other non-regular file as the
// destination is refused.
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
  void commit();  // fsync, name the temporary, close, rename into place, fsync the directory

 private:
  void open_temporary();
  std::string temporary_name() const;
  void link_temporary();
  [[noreturn]] void fail(const std::string& what, int err);
  void discard() noexcept;
  std::string path_, dir_, op_;  // path_: the file replaced (a symbolic link's target)
  std::string tmp_;              // the temporary's name; empty while it is an unnamed O_TMPFILE
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

// Removes the temporaries that killed writers left for the file `path` names (see AtomicWriter);
// for loaders, before they open a file qkv saves. Never throws: what cannot be removed stays.
void remove_stale_temporaries(const std::string& path);

// "<strerror text>" for errno values, thread-safe.
std::string errno_text(int err);

}  // namespace qkv::io
