// The vocabulary file formats. Tokens are kept as bytes; the text formats write them in the
// byte-level alphabet (byte_level.h), tiktoken files in base64.
#include "text/bpe_files.h"

#include <unordered_map>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/json.h"
#include "text/byte_level.h"

namespace qkv::text {

namespace {

[[noreturn]] void bad(const std::string& where, const std::string& what) { throw Error(ErrorKind::Format, where + ": " + what); }
[[noreturn]] void unsupported(const std::string& where, const std::string& what) { throw Error(ErrorKind::Unsupported, where + ": " + what); }

std::string read_file(const std::string& path, const char* op) {
  io::FileReader f(path, op);
  std::string s(static_cast<size_t>(f.size()), '\0');
  if (!f.read_at(0, s.data(), s.size())) throw Error(ErrorKind::IO, std::string(op) + ": " + path + ": the file shrank while it was read");
  return s;
}

// Bytes of a byte-level token text; Error(Format) when it is not one.
std::string token_bytes(const std::string& text, const std::string& where) {
  std::string bytes;
  if (!from_byte_level(text, &bytes) || bytes.empty()) bad(where, "'" + text + "' is not a byte-level token");
  return bytes;
}

// Grows the token list so that `id` fits; Error(Format) for a negative or absurd id.
void fit_id(std::vector<std::string>& tokens, int64_t id, const std::string& where) {
  // 4M ids: far above any real vocabulary, and a corrupt file cannot make us allocate gigabytes.
  if (id < 0 || id >= (INT64_C(1) << 22)) bad(where, "token id " + std::to_string(id) + " is out of range");
  if (static_cast<size_t>(id) >= tokens.size()) tokens.resize(static_cast<size_t>(id) + 1);
}

// Ids of the tokens (bytes → id), for resolving merges.
std::unordered_map<std::string, int32_t> index_of(const std::vector<std::string>& tokens) {
  std::unordered_map<std::string, int32_t> ids;
  ids.reserve(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i)
    if (!tokens[i].empty()) ids.emplace(tokens[i], static_cast<int32_t>(i));
  return ids;
}

// The merge of two byte-level texts: its ids, or Error(Format).
Merge resolve_merge(const std::unordered_map<std::string, int32_t>& ids, const std::string& a, const std::string& b, int32_t rank,
                    const std::string& where) {
  const std::string where_rank = where + ": merge " + std::to_string(rank);
  const std::string l = token_bytes(a, where_rank), r = token_bytes(b, where_rank);
  auto il = ids.find(l), ir = ids.find(r), ij = ids.find(l + r);
  if (il == ids.end() || ir == ids.end() || ij == ids.end()) bad(where_rank, "'" + a + " " + b + "' joins tokens that are not in the vocabulary");
  return {il->second, ir->second, ij->second, rank};
}

// "a b" → (a, b); Error(Format) without exactly one space.
std::pair<std::string, std::string> split_merge(const std::string& line, const std::string& where) {
  const size_t sp = line.find(' ');
  if (sp == std::string::npos || sp == 0 || sp + 1 == line.size() || line.find(' ', sp + 1) != std::string::npos)
    bad(where, "'" + line + "' is not a merge 'a b'");
  return {line.substr(0, sp), line.substr(sp + 1)};
}

const char* kEndOfText = "<|endoftext|>";
const char* kStartOfText = "<|startoftext|>";

int base64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool base64_decode(std::string_view s, std::string* out) {
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  size_t i = 0;
  for (; i < s.size() && s[i] != '='; ++i) {
    const int v = base64_value(static_cast<unsigned char>(s[i]));
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      *out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  for (; i < s.size(); ++i)
    if (s[i] != '=') return false;
  return s.size() % 4 == 0 && !out->empty();
}

bool flag(const json::Value& o, const char* key, bool fallback, const std::string& where) {
  const json::Value* v = o.find(key);
  if (!v || v->is_null()) return fallback;
  if (!v->is_bool()) bad(where, std::string(key) + " must be a boolean");
  return v->as_bool();
}

// A string field that this model only accepts empty (or null, or absent).
void require_empty(const json::Value& model, const char* key, const std::string& where) {
  const json::Value* v = model.find(key);
  if (v && !v->is_null() && !(v->is_string() && v->as_string().empty())) unsupported(where, std::string("model.") + key + " is not supported by byte-level BPE");
}

ByteLevelOptions byte_level_options(const json::Value* pre, const std::string& where) {
  if (!pre || pre->is_null()) unsupported(where, "no pre_tokenizer: only the ByteLevel pre-tokenizer is supported");
  const json::Value* type = pre->find("type");
  if (!type || !type->is_string() || type->as_string() != "ByteLevel")
    unsupported(where, "pre_tokenizer: only the ByteLevel pre-tokenizer is supported");
  ByteLevelOptions o;
  o.add_prefix_space = flag(*pre, "add_prefix_space", false, where);
  o.trim_offsets = flag(*pre, "trim_offsets", true, where);
  o.use_regex = flag(*pre, "use_regex", true, where);
  return o;
}

// Hugging Face's CLIPTokenizerFast pipeline around the model, as its tokenizer.json has it.
void clip_pipeline(json::Value* normalizer, json::Value* pre, json::Value* post, json::Value* decoder) {
  using json::Value;
  auto str = [](const char* s) { return Value::string(s); };
  auto regex = [&](const char* r) { return Value::object({{"Regex", str(r)}}); };
  Value norms = Value::array();
  norms.push(Value::object({{"type", str("NFC")}}));
  norms.push(Value::object({{"type", str("Replace")}, {"pattern", regex("\\s+")}, {"content", str(" ")}}));
  norms.push(Value::object({{"type", str("Lowercase")}}));
  *normalizer = Value::object({{"type", str("Sequence")}, {"normalizers", std::move(norms)}});
  const char* pattern = "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";
  Value pres = Value::array();
  pres.push(Value::object({{"type", str("Split")}, {"pattern", regex(pattern)}, {"behavior", str("Removed")}, {"invert", Value::boolean(true)}}));
  pres.push(Value::object({{"type", str("ByteLevel")}, {"add_prefix_space", Value::boolean(false)}, {"trim_offsets", Value::boolean(true)}, {"use_regex", Value::boolean(false)}}));
  *pre = Value::object({{"type", str("Sequence")}, {"pretokenizers", std::move(pres)}});
  *post = Value::null();  // bos/eos are added by the TypeScript side's encode options
  *decoder = Value::object({{"type", str("BPEDecoder")}, {"suffix", Value::string(std::string(kEndOfWord))}});
}

}  // namespace

ModelPtr load_gpt2(const std::string& encoder_json_path, const std::string& vocab_bpe_path, const char* op, bool clip) {
  const std::string where = std::string(op) + ": " + encoder_json_path;
  const json::Value enc = json::parse(read_file(encoder_json_path, op), where);
  if (!enc.is_object()) bad(where, "expected an object of token → id");
  ModelSpec spec;
  spec.clip = clip;
  for (const auto& [text, id] : enc.members()) {
    if (!id.is_int()) bad(where, "the id of '" + text + "' is not an integer");
    fit_id(spec.tokens, id.as_int(), where);
    if (!spec.tokens[id.as_int()].empty()) bad(where, "id " + std::to_string(id.as_int()) + " is given twice");
    spec.tokens[id.as_int()] = token_bytes(text, where);
    if (text == kEndOfText || (clip && text == kStartOfText)) spec.added.push_back({text, static_cast<int32_t>(id.as_int())});
  }
  const std::string vwhere = std::string(op) + ": " + vocab_bpe_path;
  const std::string bpe = read_file(vocab_bpe_path, op);
  const auto ids = index_of(spec.tokens);
  size_t pos = 0;
  for (bool first = true; pos < bpe.size(); first = false) {
    size_t end = bpe.find('\n', pos);
    if (end == std::string::npos) end = bpe.size();
    std::string line = bpe.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (first && line.rfind("#version", 0) == 0)) continue;
    const auto [a, b] = split_merge(line, vwhere);
    spec.merges.push_back(resolve_merge(ids, a, b, static_cast<int32_t>(spec.merges.size()), vwhere));
  }
  return std::make_shared<const Model>(std::move(spec), where);
}

ModelPtr load_tiktoken(const std::string& path, const std::vector<std::pair<std::string, int32_t>>& specials, const char* op) {
  const std::string where = std::string(op) + ": " + path;
  const std::string text = read_file(path, op);
  ModelSpec spec;
  std::string bytes;
  size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const size_t sp = line.find(' ');
    const std::string at = where + ": line " + std::to_string(line_no);
    if (sp == std::string::npos || !base64_decode(line.substr(0, sp), &bytes)) bad(at, "expected 'base64 rank'");
    const std::string_view rank_text = line.substr(sp + 1);
    if (rank_text.empty() || rank_text.size() > 9 || rank_text.find_first_not_of("0123456789") != std::string_view::npos) bad(at, "the rank is not a number");
    const int64_t rank = std::stoll(std::string(rank_text));
    fit_id(spec.tokens, rank, at);
    if (!spec.tokens[rank].empty()) bad(at, "rank " + std::to_string(rank) + " is given twice");
    spec.tokens[rank] = bytes;
  }
  // tiktoken merges the adjacent pair whose join has the lowest rank: every split of a token into
  // two tokens is a merge of that token's rank.
  const auto ids = index_of(spec.tokens);
  for (size_t id = 0; id < spec.tokens.size(); ++id) {
    const std::string& t = spec.tokens[id];
    if (t.size() < 2 || ids.at(t) != static_cast<int32_t>(id)) continue;
    for (size_t k = 1; k < t.size(); ++k) {
      auto l = ids.find(t.substr(0, k)), r = ids.find(t.substr(k));
      if (l != ids.end() && r != ids.end()) spec.merges.push_back({l->second, r->second, static_cast<int32_t>(id), static_cast<int32_t>(id)});
    }
  }
  for (const auto& [content, id] : specials) {  // after the merges: specials never merge
    fit_id(spec.tokens, id, where);
    if (!spec.tokens[id].empty()) throw_range(std::string(op) + ": the special token '" + content + "' takes id " + std::to_string(id) + ", which is a token already");
    spec.added.push_back({content, id});
    spec.tokens[id] = content;
  }
  return std::make_shared<const Model>(std::move(spec), where);
}

ModelPtr parse_clip_merges(const std::string& text, const std::string& where) {
  constexpr size_t kMerges = 49152 - 256 - 2;  // simple_tokenizer.py's merges[1:49152-256-2+1]
  ModelSpec spec;
  spec.clip = true;
  for (int i = 0; i < 256; ++i) spec.tokens.emplace_back(1, static_cast<char>(byte_at_rank(i)));
  for (int i = 0; i < 256; ++i) spec.tokens.push_back(spec.tokens[i] + std::string(kEndOfWord));
  std::unordered_map<std::string, int32_t> ids = index_of(spec.tokens);
  size_t pos = text.find('\n');  // the first line is a header
  pos = pos == std::string::npos ? text.size() : pos + 1;
  while (pos < text.size() && spec.merges.size() < kMerges) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const auto [a, b] = split_merge(line, where);
    const auto rank = static_cast<int32_t>(spec.merges.size());
    const std::string where_rank = where + ": merge " + std::to_string(rank);
    const std::string l = token_bytes(a, where_rank), r = token_bytes(b, where_rank);
    auto il = ids.find(l), ir = ids.find(r);
    if (il == ids.end() || ir == ids.end()) bad(where_rank, "'" + line + "' joins tokens that no earlier merge made");
    const auto id = static_cast<int32_t>(spec.tokens.size());
    if (!ids.emplace(l + r, id).second) bad(where_rank, "'" + line + "' makes a token that is there already");
    spec.tokens.push_back(l + r);
    spec.merges.push_back({il->second, ir->second, id, rank});
  }
  for (const char* s : {kStartOfText, kEndOfText}) {
    spec.added.push_back({s, static_cast<int32_t>(spec.tokens.size())});
    spec.tokens.emplace_back(s);
  }
  return std::make_shared<const Model>(std::move(spec), where);
}

ModelPtr parse_tokenizer_json(const std::string& text, const std::string& where) {
  const json::Value root = json::parse(text, where);
  if (!root.is_object()) bad(where, "expected a tokenizer.json object");
  const json::Value* model = root.find("model");
  if (!model || !model->is_object()) bad(where, "no model object");
  const json::Value* type = model->find("type");
  const json::Value* merges = model->find("merges");
  if (type ? !(type->is_string() && type->as_string() == "BPE") : !merges) unsupported(where, "only BPE models are supported");
  if (const json::Value* d = model->find("dropout"); d && !d->is_null() && !(d->is_number() && d->as_double() == 0))
    unsupported(where, "BPE dropout is not supported");
  require_empty(*model, "continuing_subword_prefix", where);
  // end_of_word_suffix "</w>" is CLIP's tokenizer.json: its normalizer, Split + ByteLevel
  // pre-tokenizer and BPEDecoder are CLIP's, which the CLIP flavour implements.
  const json::Value* suffix = model->find("end_of_word_suffix");
  const bool clip = suffix && suffix->is_string() && suffix->as_string() == kEndOfWord;
  if (!clip) require_empty(*model, "end_of_word_suffix", where);
  if (flag(*model, "byte_fallback", false, where)) unsupported(where, "byte_fallback is not supported (byte-level BPE needs none)");
  if (const json::Value* n = root.find("normalizer"); !clip && n && !n->is_null()) unsupported(where, "normalizers are not supported");
  if (const json::Value* d = root.find("decoder"); !clip && d && !d->is_null()) {
    const json::Value* t = d->find("type");
    if (!t || !t->is_string() || t->as_string() != "ByteLevel") unsupported(where, "only the ByteLevel decoder is supported");
  }
  ModelSpec spec;
  spec.clip = clip;
  if (!clip) spec.options = byte_level_options(root.find("pre_tokenizer"), where);
  spec.ignore_merges = flag(*model, "ignore_merges", false, where);
  if (const json::Value* u = model->find("unk_token"); u && u->is_string()) spec.unk_token = u->as_string();
  if (const json::Value* added = root.find("added_tokens"); added && !added->is_null()) {
    if (!added->is_array()) bad(where, "added_tokens must be an array");
    for (const json::Value& a : added->items()) {
      const json::Value* id = a.find("id");
      const json::Value* content = a.find("content");
      if (!id || !id->is_int() || !content || !content->is_string()) bad(where, "an added token needs an integer id and a string content");
      AddedToken t;
      t.content = content->as_string();
      fit_id(spec.tokens, id->as_int(), where);
      t.id = static_cast<int32_t>(id->as_int());
      t.special = flag(a, "special", false, where);
      t.single_word = flag(a, "single_word", false, where);
      t.lstrip = flag(a, "lstrip", false, where);
      t.rstrip = flag(a, "rstrip", false, where);
      t.normalized = flag(a, "normalized", false, where);
      spec.added.push_back(std::move(t));
    }
  }
  std::vector<bool> is_added;
  auto added_id = [&](size_t id) { return id < is_added.size() && is_added[id]; };
  for (const AddedToken& a : spec.added) {
    if (is_added.size() <= static_cast<size_t>(a.id)) is_added.resize(static_cast<size_t>(a.id) + 1);
    is_added[a.id] = true;
  }
  const json::Value* vocab = model->find("vocab");
  if (!vocab || !vocab->is_object()) bad(where, "model.vocab must be an object of token → id");
  for (const auto& [tok, id] : vocab->members()) {
    if (!id.is_int()) bad(where, "the id of '" + tok + "' is not an integer");
    fit_id(spec.tokens, id.as_int(), where);
    if (added_id(static_cast<size_t>(id.as_int()))) continue;  // the added token's content stands
    if (!spec.tokens[id.as_int()].empty()) bad(where, "id " + std::to_string(id.as_int()) + " is given twice");
    spec.tokens[id.as_int()] = token_bytes(tok, where);
  }
  if (!merges || !merges->is_array()) bad(where, "model.merges must be an array");
  const auto ids = index_of(spec.tokens);
  for (const json::Value& m : merges->items()) {
    const auto rank = static_cast<int32_t>(spec.merges.size());
    if (m.is_string()) {
      const auto [a, b] = split_merge(m.as_string(), where);
      spec.merges.push_back(resolve_merge(ids, a, b, rank, where));
    } else if (m.is_array() && m.items().size() == 2 && m.items()[0].is_string() && m.items()[1].is_string()) {
      spec.merges.push_back(resolve_merge(ids, m.items()[0].as_string(), m.items()[1].as_string(), rank, where));
    } else {
      bad(where, "merge " + std::to_string(rank) + " is neither 'a b' nor ['a', 'b']");
    }
  }
  for (const AddedToken& a : spec.added) spec.tokens[a.id] = a.content;
  return std::make_shared<const Model>(std::move(spec), where);
}

ModelPtr load_tokenizer_json(const std::string& path, const char* op) {
  return parse_tokenizer_json(read_file(path, op), std::string(op) + ": " + path);
}

std::string tokenizer_json(const Model& m) {
  using json::Value;
  const ModelSpec& s = m.spec();
  auto byte_level = [&](bool prefix) {
    return Value::object({{"type", Value::string("ByteLevel")},
                          {"add_prefix_space", Value::boolean(prefix)},
                          {"trim_offsets", Value::boolean(s.options.trim_offsets)},
                          {"use_regex", Value::boolean(s.options.use_regex)}});
  };
  Value added = Value::array();
  for (const AddedToken& a : s.added)
    added.push(Value::object({{"id", Value::integer(a.id)},
                              {"content", Value::string(a.content)},
                              {"single_word", Value::boolean(a.single_word)},
                              {"lstrip", Value::boolean(a.lstrip)},
                              {"rstrip", Value::boolean(a.rstrip)},
                              {"normalized", Value::boolean(a.normalized)},
                              {"special", Value::boolean(a.special)}}));
  Value vocab = Value::object();
  vocab.members().reserve(s.tokens.size());
  for (int32_t id = 0; id < m.size(); ++id) {
    if (m.is_hole(id)) continue;
    vocab.set(m.is_added(id) ? s.tokens[id] : to_byte_level(s.tokens[id]), Value::integer(id));
  }
  Value merges = Value::array();
  merges.items().reserve(s.merges.size());
  for (const Merge& g : s.merges) merges.push(Value::string(to_byte_level(s.tokens[g.left]) + " " + to_byte_level(s.tokens[g.right])));
  const Value suffix = s.clip ? Value::string(std::string(kEndOfWord)) : Value::null();
  Value model = Value::object({{"type", Value::string("BPE")},
                               {"dropout", Value::null()},
                               {"unk_token", s.unk_token.empty() ? Value::null() : Value::string(s.unk_token)},
                               {"continuing_subword_prefix", Value::null()},
                               {"end_of_word_suffix", suffix},
                               {"fuse_unk", Value::boolean(false)},
                               {"byte_fallback", Value::boolean(false)},
                               {"ignore_merges", Value::boolean(s.ignore_merges)},
                               {"vocab", std::move(vocab)},
                               {"merges", std::move(merges)}});
  Value pre = byte_level(s.options.add_prefix_space);
  Value normalizer = Value::null(), post = byte_level(true), decoder = byte_level(true);
  if (s.clip) clip_pipeline(&normalizer, &pre, &post, &decoder);
  Value root = Value::object({{"version", Value::string("1.0")},
                              {"truncation", Value::null()},
                              {"padding", Value::null()},
                              {"added_tokens", std::move(added)},
                              {"normalizer", std::move(normalizer)},
                              {"pre_tokenizer", std::move(pre)},
                              {"post_processor", std::move(post)},
                              {"decoder", std::move(decoder)},
                              {"model", std::move(model)}});
  return json::dump(root);
}

void save_tokenizer_json(const Model& m, const std::string& path, const char* op) {
  const std::string text = tokenizer_json(m);
  io::AtomicWriter w(path, op);
  w.write(text.data(), text.size());
  w.commit();
}

}  // namespace qkv::text
