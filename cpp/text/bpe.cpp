// The model: checking a spec, splitting out added tokens, pre-tokenising, decoding, batches.
#include "text/bpe.h"

#include <algorithm>
#include <atomic>

#include "core/error.h"
#include "core/thread_pool.h"

namespace qkv::text {

namespace {

std::atomic<uint64_t> next_serial{1};

[[noreturn]] void bad(const std::string& where, const std::string& what) { throw Error(ErrorKind::Format, where + ": " + what); }

}  // namespace

Model::Model(ModelSpec spec, const std::string& where) : spec_(std::move(spec)), serial_(next_serial.fetch_add(1)) {
  const size_t n = spec_.tokens.size();
  if (n > static_cast<size_t>(INT32_MAX)) bad(where, "too many tokens");
  kind_.assign(n, Kind::Normal);
  added_by_first_.resize(256);
  for (const AddedToken& a : spec_.added) {
    if (a.id < 0 || static_cast<size_t>(a.id) >= n) bad(where, "added token id " + std::to_string(a.id) + " is outside the vocabulary");
    if (a.content.empty()) bad(where, "added token " + std::to_string(a.id) + " is empty");
    if (kind_[a.id] != Kind::Normal) bad(where, "id " + std::to_string(a.id) + " is given to two added tokens");
    if (!added_ids_.emplace(a.content, a.id).second) bad(where, "the added token '" + a.content + "' appears twice");
    kind_[a.id] = a.special ? Kind::Special : Kind::Added;
    spec_.tokens[a.id] = a.content;
    added_by_first_[static_cast<unsigned char>(a.content[0])].push_back(a.id);
  }
  for (auto& ids : added_by_first_)  // the longest match wins
    std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return spec_.tokens[a].size() > spec_.tokens[b].size(); });
  ids_.reserve(n);
  for (size_t id = 0; id < n; ++id) {
    if (kind_[id] != Kind::Normal) continue;
    if (spec_.tokens[id].empty()) {
      kind_[id] = Kind::Hole;
      continue;
    }
    auto [it, fresh] = ids_.emplace(spec_.tokens[id], static_cast<int32_t>(id));
    if (!fresh) bad(where, "tokens " + std::to_string(it->second) + " and " + std::to_string(id) + " are the same bytes");
  }
  for (int b = 0; b < 256; ++b) {
    auto it = ids_.find(std::string(1, static_cast<char>(b)));
    if (it == ids_.end()) bad(where, "no token for the byte " + std::to_string(b) + " (a byte-level vocabulary has all 256)");
    byte_ids_[b] = it->second;
    last_ids_[b] = it->second;
    if (!spec_.clip) continue;
    auto eow = ids_.find(std::string(1, static_cast<char>(b)) + std::string(kEndOfWord));
    if (eow == ids_.end()) bad(where, "no token for the byte " + std::to_string(b) + " with </w> (a CLIP vocabulary has all 256)");
    last_ids_[b] = eow->second;
  }
  pairs_.reserve(spec_.merges.size());
  auto regular = [&](int32_t id) { return id >= 0 && static_cast<size_t>(id) < n && kind_[id] == Kind::Normal; };
  for (const Merge& m : spec_.merges) {
    if (!regular(m.left) || !regular(m.right) || !regular(m.result))
      bad(where, "merge of rank " + std::to_string(m.rank) + " refers to an id that is not a regular token");
    const std::string& r = spec_.tokens[m.result];
    const std::string& l = spec_.tokens[m.left];
    if (r.size() != l.size() + spec_.tokens[m.right].size() || r.compare(0, l.size(), l) != 0 || r.compare(l.size(), std::string::npos, spec_.tokens[m.right]) != 0)
      bad(where, "merge of rank " + std::to_string(m.rank) + ": its result is not its two parts joined");
    pairs_.insert(m.left, m.right, {m.rank, m.result});
  }
}

int32_t Model::find(std::string_view bytes) const {
  const std::string key(bytes);
  if (auto it = added_ids_.find(key); it != added_ids_.end()) return it->second;
  if (auto it = ids_.find(key); it != ids_.end()) return it->second;
  return -1;
}

void Model::encode(std::string_view text, bool split_added, std::vector<int32_t>& out) const {
  if (!split_added || spec_.added.empty()) return encode_part(text, out);
  size_t start = 0;
  for (size_t i = 0; i < text.size();) {
    const auto& candidates = added_by_first_[static_cast<unsigned char>(text[i])];
    int32_t hit = -1;
    for (int32_t id : candidates) {
      const std::string& c = spec_.tokens[id];
      if (text.compare(i, c.size(), c) == 0) {
        hit = id;
        break;
      }
    }
    if (hit < 0) {
      ++i;
      continue;
    }
    encode_part(text.substr(start, i - start), out);
    out.push_back(hit);
    i += spec_.tokens[hit].size();
    start = i;
  }
  encode_part(text.substr(start), out);
}

void Model::encode_part(std::string_view part, std::vector<int32_t>& out) const {
  if (part.empty()) return;
  std::string prefixed;
  if (spec_.options.add_prefix_space && part[0] != ' ') {
    prefixed = " ";
    prefixed.append(part);
    part = prefixed;
  }
  for_each_word(part, [&](std::string_view w) { encode_word(w, out); });
}

void Model::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.size() == 1) {
    out.push_back(last_ids_[static_cast<unsigned char>(word[0])]);
    return;
  }
  if (spec_.ignore_merges) {
    if (auto it = ids_.find(spec_.clip ? std::string(word) + std::string(kEndOfWord) : std::string(word)); it != ids_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  constexpr size_t kMaxCached = 256;  // longer words are rare, and would crowd the cache out
  if (word.size() > kMaxCached) return merge_word(word, out);
  struct ThreadCache {
    uint64_t serial = 0;
    WordCache words;
  };
  thread_local ThreadCache cache;
  if (cache.serial != serial_) {
    cache.words.clear();
    cache.serial = serial_;
  }
  const uint64_t h = hash_bytes(word);
  const int32_t* ids;
  size_t n;
  if (cache.words.find(word, h, &ids, &n)) {
    out.insert(out.end(), ids, ids + n);
    return;
  }
  const size_t before = out.size();
  merge_word(word, out);
  cache.words.insert(word, h, out.data() + before, out.size() - before);
}

void Model::decode(const int32_t* ids, size_t n, bool skip_special, std::string& out, const char* op) const {
  for (size_t i = 0; i < n; ++i) {
    const int32_t id = ids[i];
    if (id < 0 || id >= size()) throw_range(std::string(op) + ": id " + std::to_string(id) + " at " + std::to_string(i) + " is outside [0, " + std::to_string(size()) + ")");
    if (kind_[id] == Kind::Hole) throw_range(std::string(op) + ": id " + std::to_string(id) + " at " + std::to_string(i) + " is not a token");
    if (skip_special && kind_[id] == Kind::Special) continue;
    const std::string& t = spec_.tokens[id];
    if (spec_.clip && kind_[id] == Kind::Normal && t.size() > kEndOfWord.size() && t.compare(t.size() - kEndOfWord.size(), kEndOfWord.size(), kEndOfWord) == 0) {
      out.append(t, 0, t.size() - kEndOfWord.size());
      out += ' ';
    } else {
      out += t;
    }
  }
  // CLIP: the space after the last word is not text (Hugging Face's BPEDecoder drops it too).
  if (spec_.clip && !out.empty() && out.back() == ' ' && n > 0) out.pop_back();
}

std::shared_ptr<const Model> Model::with_added(const std::vector<std::string>& contents, bool special, std::vector<int32_t>* ids) const {
  ModelSpec spec = spec_;
  std::unordered_map<std::string, int32_t> known = added_ids_;
  ids->clear();
  for (const std::string& c : contents) {
    if (c.empty()) throw_range("addSpecialTokens: a token is empty");
    auto it = known.find(c);
    if (it != known.end()) {
      ids->push_back(it->second);
      continue;
    }
    const auto id = static_cast<int32_t>(spec.tokens.size());
    spec.tokens.push_back(c);
    AddedToken a;
    a.content = c;
    a.id = id;
    a.special = special;
    spec.added.push_back(a);
    known.emplace(c, id);
    ids->push_back(id);
  }
  return std::make_shared<const Model>(std::move(spec), "addSpecialTokens");
}

std::vector<std::vector<int32_t>> encode_batch(const Model& m, const std::vector<std::string>& texts, bool split_added) {
  std::vector<std::vector<int32_t>> out(texts.size());
  ThreadPool::global().run(static_cast<int64_t>(texts.size()), [&](int64_t i) { m.encode(texts[i], split_added, out[i]); });
  return out;
}

}  // namespace qkv::text
