#include "word2vec/scan.h"

#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "core/error.h"

namespace qkv::w2v {

namespace {

constexpr int64_t kPollWords = 1 << 16;

// Counts one token stream into `counter`; `where` names the source in error messages.
void count_stream(TokenReader& reader, VocabCounter& counter, const ScanOptions& opt, const std::string& where,
                  int64_t offset_base, const std::atomic<bool>* stop) {
  int64_t since_poll = 0;
  bool aborted = false;
  for_each_sentence(
      reader, opt.max_sentence_length,
      [&](std::string_view tok) {
        if (opt.count_only) {
          counter.add_uncounted();
        } else if (!counter.add(tok)) {
          throw Error(ErrorKind::Format, where + ": the word at byte " + std::to_string(offset_base + reader.token_offset()) +
                                             " is not valid UTF-8");
        }
        if (++since_poll >= kPollWords) {
          since_poll = 0;
          if ((stop && stop->load()) || (opt.aborted && opt.aborted())) {
            aborted = true;
            return false;
          }
          if (opt.progress) opt.progress(counter.total_words());
        }
        return true;
      },
      [&]() {
        counter.end_sentence();
        return true;
      });
  if (aborted) throw Error(ErrorKind::Aborted, "scan: aborted");
}

}  // namespace

VocabCounter scan_file(const std::string& path, const ScanOptions& opt) {
  const int64_t size = file_size(path);
  int T = opt.threads < 1 ? 1 : opt.threads;
  if (size < (int64_t(1) << 22)) T = 1;  // small files: one pass is faster than merging
  const std::string where = "corpus '" + path + "'";
  if (T == 1) {
    VocabCounter counter(opt.prune_above);
    TokenReader reader(path, 0, -1);
    count_stream(reader, counter, opt, where, 0, nullptr);
    return counter;
  }
  std::vector<VocabCounter> parts;
  for (int t = 0; t < T; ++t) parts.emplace_back(opt.prune_above);
  std::vector<std::exception_ptr> errors(T);
  std::atomic<bool> stop{false};
  std::atomic<int> finished{0};
  std::vector<std::thread> threads;
  ScanOptions sub = opt;
  sub.aborted = nullptr;
  sub.progress = nullptr;
  for (int t = 0; t < T; ++t) {
    threads.emplace_back([&, t]() {
      try {
        TokenReader reader(path, size * t / T, size * (t + 1) / T);
        count_stream(reader, parts[t], sub, where, 0, &stop);
      } catch (...) {
        errors[t] = std::current_exception();
        stop = true;
      }
      finished.fetch_add(1);
    });
  }
  // This thread polls for aborts while the parts count.
  bool aborted = false;
  while (finished.load() < T) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!aborted && opt.aborted && opt.aborted()) {
      aborted = true;
      stop = true;
    }
  }
  for (auto& th : threads) th.join();
  for (auto& e : errors)
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const Error& err) {
        if (err.kind() != ErrorKind::Aborted) throw;
      }
    }
  if (aborted || (opt.aborted && opt.aborted())) throw Error(ErrorKind::Aborted, "scan: aborted");
  VocabCounter total = std::move(parts[0]);
  for (int t = 1; t < T; ++t) total.merge(parts[t]);
  return total;
}

VocabCounter scan_batches(BatchSource& src, const ScanOptions& opt) {
  VocabCounter counter(opt.prune_above);
  std::string batch;
  while (src.pop(batch)) {
    if (opt.aborted && opt.aborted()) throw Error(ErrorKind::Aborted, "scan: aborted");
    TokenReader reader(batch);
    count_stream(reader, counter, opt, "input", 0, nullptr);
    if (opt.progress) opt.progress(counter.total_words());
  }
  if (opt.aborted && opt.aborted()) throw Error(ErrorKind::Aborted, "scan: aborted");
  return counter;
}

}  // namespace qkv::w2v
