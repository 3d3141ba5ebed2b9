// The transformer models' long calls as tasks (nn/task.h). Token sequences arrive as two tensors,
// "<name>.ids" int32 [N, L] (right-padded) and "<name>.lengths" int32 [N].
//   Seq2Seq             fit (src, tgt [, valSrc, valTgt]), evaluate (src, tgt), score (src, tgt),
//                       translate (src)
//   TransformerEncoder (BertEncoder)  fit (inputs [, labels, valInputs, valLabels]), evaluate (inputs [, labels]),
//                       encode (inputs), classify (inputs)
#include "transformer/tasks.h"

#include "core/error.h"
#include "nn/task.h"
#include "transformer/decode.h"
#include "transformer/train.h"

namespace qkv::transformer {

namespace {

std::vector<int32_t> int_vector(const Tensor& t) {
  std::vector<int32_t> v(static_cast<size_t>(t.numel()));
  t.to_host(v.data());
  return v;
}

Sequences sequences_input(const nn::TaskInput& in, const std::string& name, const char* op) {
  const Tensor& lengths = in.tensor(name + ".lengths", op);
  if (lengths.dtype() != DType::I32 || lengths.dim() != 1) throw_type(std::string(op) + ": " + name + ".lengths must be int32 [N]");
  Sequences s{in.tensor(name + ".ids", op), int_vector(lengths)};
  check_sequences(s, op, name.c_str());
  return s;
}

bool has_sequences(const nn::TaskInput& in, const std::string& name) { return in.find(name + ".ids") != nullptr; }

TrainOptions train_options(const nn::TaskOptions& o) {
  TrainOptions t;
  t.loop = o.loop(t.loop);
  t.hyper = o.hyper();
  t.batch_size = o.integer_or("batchSize", t.batch_size);
  t.label_smoothing = o.number_or("labelSmoothing", 0);
  t.bucket = o.boolean_or("bucket", true);
  t.shuffle = o.boolean_or("shuffle", true);
  t.mask_prob = o.number_or("maskProb", t.mask_prob);
  return t;
}

template <class M>
M& as(nn::Module& m) {
  M* p = dynamic_cast<M*>(&m);  // the registry picked the task by m's type name
  if (!p) throw Error(ErrorKind::Internal, "the task of " + m.type() + " got a module of another class");
  return *p;
}

nn::TaskOutput value(json::Value v) {
  nn::TaskOutput out;
  out.value = std::move(v);
  return out;
}

nn::TaskOutput tensor_output(Tensor t) {
  nn::TaskOutput out;
  out.tensors.emplace_back("output", std::move(t));
  return out;
}

// ---- Seq2Seq ----------------------------------------------------------------------------------------

nn::TaskOutput seq2seq_fit(nn::Module& m, const nn::TaskInput& in, nn::TaskContext& ctx) {
  const char* op = "Seq2Seq.fit";
  const TrainOptions o = train_options(nn::TaskOptions(in.options, op));
  const Sequences src = sequences_input(in, "src", op), tgt = sequences_input(in, "tgt", op);
  std::optional<Sequences> vs, vt;
  if (has_sequences(in, "valSrc")) vs = sequences_input(in, "valSrc", op), vt = sequences_input(in, "valTgt", op);
  return value(nn::to_json(fit_seq2seq(as<Seq2Seq>(m), src, tgt, vs ? &*vs : nullptr, vt ? &*vt : nullptr, o, *in.optimizer,
                                       ctx.progress, ctx.aborted)));
}

nn::TaskOutput seq2seq_evaluate(nn::Module& m, const nn::TaskInput& in, nn::TaskContext& ctx) {
  const char* op = "Seq2Seq.evaluate";
  const nn::TaskOptions o(in.options, op);
  return value(nn::to_json(evaluate_seq2seq(as<Seq2Seq>(m), sequences_input(in, "src", op), sequences_input(in, "tgt", op),
                                            o.integer_at_least("batchSize", 128, 1), ctx.aborted)));
}

nn::TaskOutput seq2seq_score(nn::Module& m, const nn::TaskInput& in, nn::TaskContext& ctx) {
  const char* op = "Seq2Seq.score";
  const nn::TaskOptions o(in.options, op);
  const std::vector<double> scores = score_seq2seq(as<Seq2Seq>(m), sequences_input(in, "src", op), sequences_input(in, "tgt", op),
                                                   o.integer_at_least("batchSize", 128, 1), ctx.aborted);
  Tensor t = Tensor::from_host(scores.data(), {static_cast<int64_t>(scores.size())}, DType::F64);
  return tensor_output(t);
}

// Per input its best numReturn hypotheses (or samples), best first: { ids, score, logProb, finished,
// stopToken }, and the attention of each (when asked for) as the tensor "attention.<input>.<rank>".
// Greedy, beam search or seeded sampling (temperature, topK, topP, repetitionPenalty, stopTokens).
nn::TaskOutput seq2seq_translate(nn::Module& m, const nn::TaskInput& in, nn::TaskContext& ctx) {
  const char* op = "Seq2Seq.translate";
  const nn::TaskOptions o(in.options, op);
  DecodeOptions d;
  GenerateOptions& g = d.generate;
  g.beam_size = o.integer_or("beamSize", 1);
  g.max_new_tokens = o.integer_or("maxLength", 64);
  g.length_penalty = o.number_or("lengthPenalty", 1.0);
  g.num_return = o.integer_or("numReturn", 1);
  g.sample = o.boolean_or("sample", false);
  g.temperature = o.number_or("temperature", 1.0);
  g.top_k = o.integer_or("topK", 0);
  g.top_p = o.number_or("topP", 1.0);
  g.repetition_penalty = o.number_or("repetitionPenalty", 1.0);
  const int64_t seed = o.integer_or("seed", 0);
  if (seed < 0) throw_type(std::string(op) + ": seed must be a non-negative integer");
  g.seed = static_cast<uint64_t>(seed);
  g.stop_tokens = o.int_list("stopTokens");
  // Streamed: every token as it is chosen, as [input, sample, token].
  if (ctx.emit)
    g.on_token = [&ctx](int64_t input, int64_t sample, int32_t token) {
      ctx.emit(json::Value::array({json::Value::integer(input), json::Value::integer(sample), json::Value::integer(token)}));
    };
  d.batch_size = o.integer_or("batchSize", 64);
  d.attention = o.boolean_or("attention", false);
  const Sequences src = sequences_input(in, "src", op);
  const auto results = generate(as<Seq2Seq>(m), src.ids, src.lengths, d, ctx.aborted);
  nn::TaskOutput out;
  out.value = json::Value::array();
  for (size_t i = 0; i < results.size(); ++i) {
    json::Value list = json::Value::array();
    for (size_t k = 0; k < results[i].size(); ++k) {
      const Hypothesis& h = results[i][k];
      json::Value ids = json::Value::array();
      for (int32_t id : h.ids) ids.push(json::Value::integer(id));
      json::Value ho = json::Value::object();
      ho.set("ids", std::move(ids));
      ho.set("score", json::Value::number(h.score));
      ho.set("logProb", json::Value::number(h.log_prob));
      ho.set("finished", json::Value::boolean(h.finished));
      ho.set("stopToken", json::Value::integer(h.stop_token));
      list.push(std::move(ho));
      if (h.attention.defined()) out.tensors.emplace_back("attention." + std::to_string(i) + "." + std::to_string(k), h.attention);
    }
    out.value.push(std::move(list));
  }
  return out;
}

// ---- BertEncoder ---------------------------------------------------------------------------------

Tensor optional_labels(const nn::TaskInput& in, const char* name) {
  const Tensor* t = in.find(name);
  return t ? *t : Tensor();
}

nn::TaskOutput encoder_fit(nn::Module& m, const nn::TaskInput& in, nn::TaskContext& ctx) {
  const char* op = "TransformerEncoder.fit";
  const TrainOptions o = train_options(nn::TaskOptions(in.options, op));
  const Sequences data = sequences_input(in, "inputs", op);
  std::optional<Sequences> val;
  if (has_sequences(in, "valInputs")) val = sequences_input(in, "valInputs", op);
  const Tensor labels = optional_labels(in, "labels"), val_labels = optional_labels(in, "valLabels");
  return value(nn::to_json(fit_encoder(as<BertEncoder>(m), data, labels, val ? &*val : nullptr,
                                       val_labels.defined() ? &val_labels : nullptr, o, *in.optimizer, ctx.progress, ctx.aborted)));
}

nn::TaskOutput encoder_evaluate(nn::Module& m, const nn::TaskInput& in, nn::TaskContext& ctx) {
  const char* op = "TransformerEncoder.evaluate";
  const nn::TaskOptions o(in.options, op);
  const int64_t seed = o.integer_or("seed", 0);
  if (seed < 0) throw_type(std::string(op) + ": seed must be a non-negative integer");
  return value(nn::to_json(evaluate_encoder(as<BertEncoder>(m), sequences_input(in, "inputs", op), optional_labels(in, "labels"),
                                            o.integer_at_least("batchSize", 128, 1), o.number_or("maskProb", 0.15),
                                            static_cast<uint64_t>(seed), ctx.aborted)));
}

nn::TaskOutput encoder_encode(nn::Module& m, const nn::TaskInput& in, nn::TaskContext& ctx) {
  const char* op = "TransformerEncoder.encode";
  const nn::TaskOptions o(in.options, op);
  const Pooling pooling = pooling_from_name(o.string_or("pooling", "mean"), op);
  return tensor_output(encode_sentences(as<BertEncoder>(m), sequences_input(in, "inputs", op), pooling,
                                        o.integer_at_least("batchSize", 64, 1), ctx.aborted));
}

nn::TaskOutput encoder_classify(nn::Module& m, const nn::TaskInput& in, nn::TaskContext& ctx) {
  const char* op = "TransformerEncoder.classify";
  const nn::TaskOptions o(in.options, op);
  return tensor_output(
      classify_sentences(as<BertEncoder>(m), sequences_input(in, "inputs", op), o.integer_at_least("batchSize", 64, 1), ctx.aborted));
}

}  // namespace

void register_transformer_tasks() {
  nn::register_task("Seq2Seq", "fit", {seq2seq_fit, make_train_optimizer});
  nn::register_task("Seq2Seq", "evaluate", {seq2seq_evaluate, nullptr});
  nn::register_task("Seq2Seq", "score", {seq2seq_score, nullptr});
  nn::register_task("Seq2Seq", "translate", {seq2seq_translate, nullptr});
  nn::register_task("TransformerEncoder", "fit", {encoder_fit, make_train_optimizer});
  nn::register_task("TransformerEncoder", "evaluate", {encoder_evaluate, nullptr});
  nn::register_task("TransformerEncoder", "encode", {encoder_encode, nullptr});
  nn::register_task("TransformerEncoder", "classify", {encoder_classify, nullptr});
}

}  // namespace qkv::transformer
