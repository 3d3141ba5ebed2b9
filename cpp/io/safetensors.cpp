// safetensors read and write: see safetensors.h.
#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <numeric>
#include <unordered_set>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/json.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes a little-endian host");

namespace qkv::io {

namespace {

// ---- dtypes of the file format ------------------------------------------------------------------

enum class Conv : uint8_t { Native, F16, BF16, I64, U64, U32, Bool, U8, I8, I16, U16 };

struct FileDType {
  const char* name;
  size_t size;  // bytes per element in the file
  DType out;    // what qkv holds it as
  Conv conv;
};

const FileDType kReadable[] = {
    {"F32", 4, DType::F32, Conv::Native}, {"F64", 8, DType::F64, Conv::Native}, {"I32", 4, DType::I32, Conv::Native},
    {"F16", 2, DType::F32, Conv::F16},    {"BF16", 2, DType::F32, Conv::BF16},  {"I64", 8, DType::I32, Conv::I64},
    {"U64", 8, DType::I32, Conv::U64},    {"U32", 4, DType::I32, Conv::U32},    {"BOOL", 1, DType::I32, Conv::Bool},
    {"U8", 1, DType::I32, Conv::U8},      {"I8", 1, DType::I32, Conv::I8},      {"I16", 2, DType::I32, Conv::I16},
    {"U16", 2, DType::I32, Conv::U16},
};
// Dtypes of the format that qkv does not read.
const char* const kUnsupported[] = {"F4", "F6_E2M3", "F6_E3M2", "F8_E5M2", "F8_E4M3", "F8_E8M0", "C64"};

const FileDType* find_dtype(const std::string& name) {
  for (const FileDType& d : kReadable)
    if (name == d.name) return &d;
  return nullptr;
}

const char* file_dtype_name(DType t) {
  switch (t) {
    case DType::F64: return "F64";
    case DType::I32: return "I32";
    default: return "F32";
  }
}

// IEEE half -> single, exact (subnormals, infinities, NaN payloads kept).
inline uint32_t half_to_float_bits(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  if (exp == 0x1F) return sign | 0x7F800000u | (mant << 13);
  if (exp != 0) return sign | ((exp + 112u) << 23) | (mant << 13);
  if (mant == 0) return sign;
  // Subnormal half: normalise.
  uint32_t e = 113;
  while ((mant & 0x400u) == 0) {
    mant <<= 1;
    --e;
  }
  return sign | (e << 23) | ((mant & 0x3FFu) << 13);
}

// ---- errors -------------------------------------------------------------------------------------

struct Where {
  const char* op;
  const std::string& file;
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(ErrorKind::Format, std::string(op) + ": " + file + ": " + what);
  }
  [[noreturn]] void fail(const std::string& tensor, const std::string& what) const {
    fail("tensor '" + tensor + "': " + what);
  }
};

std::string u64s(uint64_t v) { return std::to_string(v); }

std::string offsets_str(uint64_t b, uint64_t e) { return "[" + u64s(b) + ", " + u64s(e) + "]"; }

std::string short_json(const json::Value& v) {
  std::string s;
  try {
    s = json::dump(v);
  } catch (const Error&) {
    return "(unprintable)";
  }
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

std::string a_type(const json::Value& v) {
  const json::Value::Type t = v.type();
  if (t == json::Value::Type::Array || t == json::Value::Type::Object) return std::string("an ") + json::Value::type_name(t);
  return std::string("a ") + json::Value::type_name(t);
}

constexpr int64_t kMaxElements = int64_t(1) << 40;  // Tensor::empty's own limit

// ---- header -------------------------------------------------------------------------------------

SafetensorsEntry parse_entry(const std::string& name, const json::Value& v, uint64_t data_size, const Where& w) {
  if (!v.is_object()) w.fail(name, "the entry must be an object, got " + a_type(v));
  const json::Value *dtype = nullptr, *shape = nullptr, *offsets = nullptr;
  for (const json::Value::Member& m : v.members()) {
    const json::Value** slot = m.first == "dtype" ? &dtype : m.first == "shape" ? &shape : m.first == "data_offsets" ? &offsets : nullptr;
    if (!slot) w.fail(name, "unknown field '" + m.first + "'");
    if (*slot) w.fail(name, "field '" + m.first + "' appears twice");
    *slot = &m.second;
  }
  if (!dtype) w.fail(name, "missing field 'dtype'");
  if (!shape) w.fail(name, "missing field 'shape'");
  if (!offsets) w.fail(name, "missing field 'data_offsets'");

  SafetensorsEntry e;
  e.name = name;
  if (!dtype->is_string()) w.fail(name, "dtype must be a string, got " + short_json(*dtype));
  e.dtype = dtype->as_string();
  const FileDType* fd = find_dtype(e.dtype);
  if (!fd) {
    const bool known = std::any_of(std::begin(kUnsupported), std::end(kUnsupported), [&](const char* s) { return e.dtype == s; });
    w.fail(name, std::string(known ? "unsupported" : "unknown") + " dtype '" + e.dtype +
                     "' (qkv reads F32, F64, I32, F16, BF16, I64, U64, U32, I16, U16, I8, U8, BOOL)");
  }

  if (!shape->is_array()) w.fail(name, "shape must be an array of non-negative integers, got " + short_json(*shape));
  int64_t nonzero_product = 1;
  bool has_zero = false;
  for (const json::Value& d : shape->items()) {
    if (!d.is_int() || d.as_int() < 0) w.fail(name, "shape must be an array of non-negative integers, got " + short_json(*shape));
    const int64_t n = d.as_int();
    e.shape.push_back(n);
    if (n == 0) {
      has_zero = true;
    } else {
      if (n > kMaxElements / nonzero_product) w.fail(name, "shape " + short_json(*shape) + " is too large");
      nonzero_product *= n;
    }
  }
  const uint64_t numel = has_zero ? 0 : static_cast<uint64_t>(nonzero_product);

  if (!offsets->is_array() || offsets->items().size() != 2 || !offsets->items()[0].is_int() || !offsets->items()[1].is_int() ||
      offsets->items()[0].as_int() < 0 || offsets->items()[1].as_int() < 0)
    w.fail(name, "data_offsets must be two non-negative integers, got " + short_json(*offsets));
  e.begin = static_cast<uint64_t>(offsets->items()[0].as_int());
  e.end = static_cast<uint64_t>(offsets->items()[1].as_int());
  if (e.begin > e.end) w.fail(name, "data_offsets " + offsets_str(e.begin, e.end) + " end before they begin");
  if (e.end > data_size)
    w.fail(name, "data_offsets " + offsets_str(e.begin, e.end) + " lie outside the data section of " + u64s(data_size) + " bytes");
  const uint64_t nbytes = numel * fd->size;
  if (e.end - e.begin != nbytes)
    w.fail(name, "shape " + shape_str(e.shape) + " of " + e.dtype + " needs " + u64s(nbytes) + " bytes, data_offsets " +
                     offsets_str(e.begin, e.end) + " hold " + u64s(e.end - e.begin));
  return e;
}

// The entries sorted by offset must tile the data section: no overlap, no gap, nothing after.
void check_layout(const SafetensorsHeader& h, const Where& w) {
  std::vector<size_t> order(h.entries.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const SafetensorsEntry &x = h.entries[a], &y = h.entries[b];
    return x.begin != y.begin ? x.begin < y.begin : x.end < y.end;
  });
  uint64_t cursor = 0;
  const SafetensorsEntry* prev = nullptr;
  for (size_t i : order) {
    const SafetensorsEntry& e = h.entries[i];
    if (e.begin < cursor)
      w.fail(e.name, "data_offsets " + offsets_str(e.begin, e.end) + " overlap tensor '" + prev->name + "' at " +
                         offsets_str(prev->begin, prev->end));
    if (e.begin > cursor)
      w.fail(e.name, "data_offsets " + offsets_str(e.begin, e.end) + " leave bytes " + offsets_str(cursor, e.begin) +
                         " of the data section unused");
    if (e.end > e.begin) {
      cursor = e.end;
      prev = &e;
    }
  }
  if (cursor != h.data_size)
    w.fail("the data section has " + u64s(h.data_size - cursor) + " bytes after the last tensor (" + u64s(h.data_size) +
           " bytes, tensors cover " + u64s(cursor) + ")");
}

// The 8-byte length field, checked against the file size; returns the header length.
uint64_t header_length(const unsigned char* len8, uint64_t file_size, const Where& w) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len8[i];
  if (n > file_size - 8)
    w.fail("header length " + u64s(n) + " exceeds the " + u64s(file_size - 8) + " bytes after the length field (file truncated?)");
  if (n > kSafetensorsMaxHeader) w.fail("header length " + u64s(n) + " exceeds the limit of " + u64s(kSafetensorsMaxHeader) + " bytes");
  return n;
}

void check_file_size(uint64_t size, const Where& w) {
  if (size < 8) w.fail("the file has " + u64s(size) + " bytes, fewer than the 8 of the header length (file truncated?)");
}

// ---- data ---------------------------------------------------------------------------------------

using ReadAt = std::function<bool(uint64_t offset, void* dst, size_t n)>;

template <class Src, class Fn>
void convert_each(const unsigned char* src, size_t count, int32_t* dst, Fn&& fn) {
  for (size_t i = 0; i < count; ++i) {
    Src v;
    std::memcpy(&v, src + i * sizeof(Src), sizeof(Src));
    dst[i] = fn(v, i);
  }
}

// Converts `count` elements at src (file dtype `fd`) into dst; `first` is the index of src[0] in
// the tensor (for messages).
void convert(const FileDType& fd, const unsigned char* src, size_t count, void* dst, uint64_t first, const std::string& name,
             const Where& w) {
  int32_t* out = static_cast<int32_t*>(dst);
  auto out_of_range = [&](const std::string& value, size_t i) {
    w.fail(name, fd.name + std::string(" value ") + value + " at element " + u64s(first + i) + " does not fit in int32");
  };
  switch (fd.conv) {
    case Conv::Native: std::memcpy(dst, src, count * fd.size); break;
    case Conv::F16: {
      uint32_t* o = static_cast<uint32_t*>(dst);
      for (size_t i = 0; i < count; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        o[i] = half_to_float_bits(h);
      }
      break;
    }
    case Conv::BF16: {
      uint32_t* o = static_cast<uint32_t*>(dst);
      for (size_t i = 0; i < count; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        o[i] = static_cast<uint32_t>(h) << 16;
      }
      break;
    }
    case Conv::I64:
      convert_each<int64_t>(src, count, out, [&](int64_t v, size_t i) {
        if (v < INT32_MIN || v > INT32_MAX) out_of_range(std::to_string(v), i);
        return static_cast<int32_t>(v);
      });
      break;
    case Conv::U64:
      convert_each<uint64_t>(src, count, out, [&](uint64_t v, size_t i) {
        if (v > static_cast<uint64_t>(INT32_MAX)) out_of_range(std::to_string(v), i);
        return static_cast<int32_t>(v);
      });
      break;
    case Conv::U32:
      convert_each<uint32_t>(src, count, out, [&](uint32_t v, size_t i) {
        if (v > static_cast<uint32_t>(INT32_MAX)) out_of_range(std::to_string(v), i);
        return static_cast<int32_t>(v);
      });
      break;
    case Conv::Bool:
      convert_each<uint8_t>(src, count, out, [&](uint8_t v, size_t i) {
        if (v > 1) w.fail(name, "BOOL value " + std::to_string(v) + " at element " + u64s(first + i) + " is neither 0 nor 1");
        return static_cast<int32_t>(v);
      });
      break;
    case Conv::U8: convert_each<uint8_t>(src, count, out, [](uint8_t v, size_t) { return static_cast<int32_t>(v); }); break;
    case Conv::I8: convert_each<int8_t>(src, count, out, [](int8_t v, size_t) { return static_cast<int32_t>(v); }); break;
    case Conv::I16: convert_each<int16_t>(src, count, out, [](int16_t v, size_t) { return static_cast<int32_t>(v); }); break;
    case Conv::U16: convert_each<uint16_t>(src, count, out, [](uint16_t v, size_t) { return static_cast<int32_t>(v); }); break;
  }
}

Safetensors load_tensors(const SafetensorsHeader& h, const ReadAt& read_at, const Where& w) {
  Safetensors out;
  out.metadata = h.metadata;
  out.tensors.reserve(h.entries.size());
  std::vector<unsigned char> chunk;
  for (const SafetensorsEntry& e : h.entries) {
    const FileDType& fd = *find_dtype(e.dtype);
    // Read (and converted) on the host, then copied to the tensor's device.
    const uint64_t numel = static_cast<uint64_t>(numel_of(e.shape));
    std::vector<char> host(static_cast<size_t>(numel * dtype_size(fd.out)));
    const uint64_t base = h.data_start + e.begin;
    auto truncated = [&] { w.fail(e.name, "the file ended while reading its data (it changed while being read?)"); };
    if (fd.conv == Conv::Native) {
      if (numel > 0 && !read_at(base, host.data(), static_cast<size_t>(numel * fd.size))) truncated();
    } else {
      constexpr uint64_t kChunk = uint64_t(1) << 18;  // elements per read
      char* dst = host.data();
      const size_t out_size = dtype_size(fd.out);
      for (uint64_t i = 0; i < numel; i += kChunk) {
        const size_t n = static_cast<size_t>(std::min(kChunk, numel - i));
        chunk.resize(n * fd.size);
        if (!read_at(base + i * fd.size, chunk.data(), chunk.size())) truncated();
        convert(fd, chunk.data(), n, dst + i * out_size, i, e.name, w);
      }
    }
    out.tensors.emplace_back(e.name, Tensor::from_host(host.data(), e.shape, fd.out));
  }
  return out;
}

// ---- writing ------------------------------------------------------------------------------------

struct Layout {
  std::string header;  // padded JSON
  uint64_t data_size = 0;
};

Layout layout(const NamedTensors& tensors, const Metadata& metadata, const char* op) {
  const std::string o(op);
  std::unordered_set<std::string> seen;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__") throw Error(ErrorKind::Type, o + ": the tensor name '__metadata__' is reserved");
    if (!json::valid_utf8(name)) throw Error(ErrorKind::Type, o + ": tensor names must be valid UTF-8");
    if (!seen.insert(name).second) throw Error(ErrorKind::Type, o + ": tensor '" + name + "' appears twice");
    if (!t.defined()) throw Error(ErrorKind::Type, o + ": tensor '" + name + "' is undefined");
  }
  for (const auto& [k, v] : metadata)
    if (!json::valid_utf8(k) || !json::valid_utf8(v)) throw Error(ErrorKind::Type, o + ": metadata must be valid UTF-8");

  std::string s = "{";
  if (!metadata.empty()) {
    s += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : metadata) {
      if (!first) s += ',';
      first = false;
      json::write_string(s, k);
      s += ':';
      json::write_string(s, v);
    }
    s += '}';
  }
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (s.size() > 1) s += ',';
    json::write_string(s, name);
    s += ":{\"dtype\":\"";
    s += file_dtype_name(t.dtype());
    s += "\",\"shape\":[";
    for (size_t d = 0; d < t.shape().size(); ++d) {
      if (d) s += ',';
      json::write_int(s, t.shape()[d]);
    }
    s += "],\"data_offsets\":[";
    const uint64_t nbytes = t.nbytes();
    json::write_int(s, static_cast<int64_t>(offset));
    s += ',';
    json::write_int(s, static_cast<int64_t>(offset + nbytes));
    s += "]}";
    offset += nbytes;
  }
  s += '}';
  s.append((8 - s.size() % 8) % 8, ' ');  // the data section starts 8-aligned
  if (s.size() > kSafetensorsMaxHeader)
    throw Error(ErrorKind::Range, o + ": the header would take " + u64s(s.size()) + " bytes, over the limit of " +
                                      u64s(kSafetensorsMaxHeader));
  return {std::move(s), offset};
}

std::string length_field(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return s;
}

// Calls sink(ptr, n) with each tensor's bytes in order (gathered when strided).
template <class Sink>
void emit_data(const NamedTensors& tensors, Sink&& sink) {
  std::vector<char> buf;
  for (const auto& entry : tensors) {
    const Tensor& t = entry.second;
    const size_t n = t.nbytes();
    if (n == 0) continue;
    buf.resize(n);
    t.to_host(buf.data());  // a copy from the tensor's device (gathered when strided)
    sink(buf.data(), n);
  }
}

}  // namespace

// ---- public -------------------------------------------------------------------------------------

void write_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata, const char* op) {
  Layout l = layout(tensors, metadata, op);
  AtomicWriter f(path, op);
  f.write(length_field(l.header.size()).data(), 8);
  f.write(l.header.data(), l.header.size());
  emit_data(tensors, [&](const void* p, size_t n) { f.write(p, n); });
  f.commit();
}

SafetensorsHeader parse_safetensors_header(std::string_view header_json, uint64_t data_size, const std::string& where, const char* op,
                                           const SafetensorsHeaderCheck& check) {
  const Where w{op, where};
  const json::Value root = json::parse(header_json, std::string(op) + ": " + where + ": header");
  if (check) check(root);
  if (!root.is_object()) w.fail("the header must be a JSON object, got " + a_type(root));
  SafetensorsHeader h;
  h.data_size = data_size;
  bool seen_metadata = false;
  std::unordered_set<std::string> seen;
  for (const json::Value::Member& m : root.members()) {
    if (m.first == "__metadata__") {
      if (seen_metadata) w.fail("__metadata__ appears twice");
      seen_metadata = true;
      if (!m.second.is_object()) w.fail("__metadata__ must be an object of strings, got " + a_type(m.second));
      for (const json::Value::Member& kv : m.second.members()) {
        if (!kv.second.is_string()) w.fail("__metadata__: the value of '" + kv.first + "' must be a string, got " + a_type(kv.second));
        if (!h.metadata.emplace(kv.first, kv.second.as_string()).second) w.fail("__metadata__: key '" + kv.first + "' appears twice");
      }
      continue;
    }
    if (!seen.insert(m.first).second) w.fail(m.first, "appears twice in the header");
    h.entries.push_back(parse_entry(m.first, m.second, data_size, w));
  }
  check_layout(h, w);
  return h;
}

namespace {

SafetensorsHeader read_header(FileReader& f, const std::string& path, const Where& w, const SafetensorsHeaderCheck& check = {}) {
  check_file_size(f.size(), w);
  unsigned char len8[8];
  if (!f.read_at(0, len8, 8)) w.fail("the file ended while reading the header length (it changed while being read?)");
  const uint64_t n = header_length(len8, f.size(), w);
  std::string header(static_cast<size_t>(n), '\0');
  if (!f.read_at(8, header.data(), header.size())) w.fail("the file ended while reading the header (it changed while being read?)");
  SafetensorsHeader h = parse_safetensors_header(header, f.size() - 8 - n, path, w.op, check);
  h.data_start = 8 + n;
  return h;
}

}  // namespace

SafetensorsHeader read_safetensors_header(const std::string& path, const char* op, const SafetensorsHeaderCheck& check) {
  remove_stale_temporaries(path);
  const Where w{op, path};
  FileReader f(path, op);
  return read_header(f, path, w, check);
}

Safetensors read_safetensors(const std::string& path, const char* op) {
  remove_stale_temporaries(path);
  const Where w{op, path};
  FileReader f(path, op);
  const SafetensorsHeader h = read_header(f, path, w);
  return load_tensors(h, [&](uint64_t off, void* dst, size_t len) { return f.read_at(off, dst, len); }, w);
}

Safetensors parse_safetensors(const void* data, size_t size, const std::string& where, const char* op) {
  const Where w{op, where};
  const unsigned char* bytes = static_cast<const unsigned char*>(data);
  check_file_size(size, w);
  const uint64_t n = header_length(bytes, size, w);
  const std::string_view header(reinterpret_cast<const char*>(bytes) + 8, static_cast<size_t>(n));
  SafetensorsHeader h = parse_safetensors_header(header, size - 8 - n, where, op);
  h.data_start = 8 + n;
  return load_tensors(
      h,
      [&](uint64_t off, void* dst, size_t len) {
        if (off > size || len > size - off) return false;
        std::memcpy(dst, bytes + off, len);
        return true;
      },
      w);
}

}  // namespace qkv::io
