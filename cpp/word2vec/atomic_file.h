#pragma once
// Writing a file so that readers see either the old file or the complete new one: the bytes go to a
// temporary file in the same directory, which is flushed, fsync'ed and renamed over the target
// (then the directory is fsync'ed). An AtomicFile destroyed before commit() removes its temporary.
// Reading: a whole-file or buffered reader that reports truncation as Error(Format).
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace qkv::w2v {

class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path);  // throws Error(IO)
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  void write(const void* data, size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  void commit();

 private:
  std::string path_, tmp_;
  std::FILE* f_ = nullptr;
  bool committed_ = false;
};

// Sequential reads with error messages that name the file.
class FileReader {
 public:
  explicit FileReader(const std::string& path);  // throws Error(IO)
  ~FileReader();
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;
  int64_t size() const { return size_; }
  int64_t tell() const { return pos_; }
  const std::string& path() const { return path_; }
  // Reads exactly n bytes; Error(Format) "<what>: unexpected end of file" when fewer remain.
  void read(void* dst, size_t n, const char* what);
  int peek();  // next byte or -1 at the end
  int get();   // next byte or -1
  void seek(int64_t pos);

 private:
  bool fill();
  std::string path_;
  std::FILE* f_ = nullptr;
  int64_t size_ = 0, pos_ = 0;
  char buf_[1 << 16];
  size_t blen_ = 0, bpos_ = 0;
};

}  // namespace qkv::w2v
