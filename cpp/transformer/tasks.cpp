// The transformer models' long calls as tasks (nn/task.h). Token sequences arrive as two tensors,
// "<name>.ids" int32 [N, L] (right-padded) and "<name>.lengths" int32 [N].
//   Seq2Seq             fit (src, tgt [, valSrc, valTgt]), evaluate (src, tgt), score (src, tgt),
//                       translate (src)
//   GPT                 fit (tokens [, valTokens]), evaluate (tokens), generate (prompts), logits (inputs),
//                       attention (inputs), fitClassifier / evaluateClassifier (inputs, labels), predictClassifier (inputs)
//   TransformerEncoder (BertEncoder)  fit (inputs [, labels, valInputs, valLabels]), evaluate (inputs [, labels]),
//                       encode (inputs), classify (inputs)
//   DualEncoder         fit (images, texts [, valImages, valTexts]), evaluate (images, texts), encodeImages (images),
//                       encodeTexts (texts), evaluateRetrieval (images, texts)
#include "transformer/tasks.h"

#include "clip/dual_encoder_train.h"
#include "core/error.h"
#include "nn/task.h"
#include "ops/ops.h"
#include "transformer/decode.h"
#include "transformer/gpt_decode.h"
#include "transformer/gpt_train.h"
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

// The generation loop's options from a call's (beamSize, maxLength, lengthPenalty, numReturn,
// sample, temperature, topK, topP, repetitionPenalty, seed, stopTokens), with every chosen token
// streamed as [input, sample, token] when the call streams.
GenerateOptions generate_options(const nn::TaskOptions& o, nn::TaskContext& ctx, int64_t default_max) {
  GenerateOptions g;
  g.beam_size = o.integer_or("beamSize", 1);
  g.max_new_tokens = o.integer_or("maxLength", default_max);
  g.length_penalty = o.number_or("lengthPenalty", 1.0);
  g.num_return = o.integer_or("numReturn", 1);
  g.sample = o.boolean_or("sample", false);
  g.temperature = o.number_or("temperature", 1.0);
  g.top_k = o.integer_or("topK", 0);
  g.top_p = o.number_or("topP", 1.0);
  g.repetition_penalty = o.number_or("repetitionPenalty", 1.0);
  const int64_t seed = o.integer_or("seed", 0);
  if (seed < 0) throw_type(o.op() + ": seed must be a non-negative integer");
  g.seed = static_cast<uint64_t>(seed);
  g.stop_tokens = o.int_list("stopTokens");
  if (ctx.emit)
    g.on_token = [&ctx](int64_t input, int64_t sample, int32_t token) {
      ctx.emit(json::Value::array({json::Value::integer(input), json::Value::integer(sample), json::Value::integer(token)}));
    };
  return g;
}

// Per input its hypotheses, best first: { ids, score, logProb, finished, stopToken }, and the
// attention of each (where computed) as the tensor "attention.<input>.<rank>".
nn::TaskOutput hypotheses_output(const std::vector<std::vector<Hypothesis>>& results) {
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

// Greedy, beam search or seeded sampling; see generate_options.
nn::TaskOutput seq2seq_translate(nn::Module& m, const nn::TaskInput& in, nn::TaskContext& ctx) {
  const char* op = "Seq2Seq.translate";
  const nn::TaskOptions o(in.options, op);
  DecodeOptions d;
  d.generate = generate_options(o, ctx, 64);
  d.batch_size = o.integer_or("batchSize", 64);
  d.attention = o.boolean_or("attention", false);
  const Sequences src = sequences_input(in, "src", op);
  return hypotheses_output(generate(as<Seq2Seq>(m), src.ids, src.lengths, d, ctx.aborted));
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

// ---- GPT ------------------------------------------------------------------------------------------

GPTTrainOptions gpt_train_options(const nn::TaskOptions& o) {
  GPTTrainOptions t;
  t.loop = o.loop(t.loop);
  t.hyper = o.hyper();
  t.batch_size = o.integer_or("batchSize", t.batch_size);
  t.context = o.integer_or("context", 0);
  t.shuffle = o.boolean_or("shuffle", true);
  t.lm_weight = o.number_or("lmWeight", t.lm_weight);
  t.val_batches = o.integer_at_least("valBatches", 0, 0);
  return t;
}

std::vector<int32_t> token_stream(const nn::TaskInput& in, const char* name, const char* op) {
  const Tensor& t = in.tensor(name, op);
  if (t.dtype() != DType::I32 || t.dim() != 1) throw_type(std::string(op) + ": " + name + " must be int32 [N]");
  return int_vector(t);
}

nn::TaskOutput gpt_fit(nn::Module& m, const nn::TaskInput& in, nn::TaskContext& ctx) {
  const char* op = "GPT.fit";
  const GPTTrainOptions o = gpt_train_options(nn::TaskOptions(in.options, op));
  const std::vector<int32_t> tokens = token_stream(in, "tokens", op);
  std::vector<int32_t> val;
  if (in.find("valTokens")) val = token_stream(in, "valTokens", op);
  return value(nn::to_json(fit_gpt(as<GPT>(m), tokens, val.empty() ? nullptr : &val, o, *in.optimizer, ctx.progress, ctx.aborted)));
}

nn::TaskOutput gpt_evaluate(nn::Module& m, const nn::TaskInput& in, nn::TaskContext& ctx) {
  const char* op = "GPT.evaluate";
  const nn::TaskOptions o(in.options, op);
  return value(nn::to_json(evaluate_gpt(as<GPT>(m), token_stream(in, "tokens", op), o.integer_or("context", 0),
                                        o.integer_at_least("batchSize", 16, 1), o.integer_at_least("maxBatches", 0, 0), ctx.aborted)));
}

// The rows of a sequences input as lists of ids (their real tokens).
std::vector<std::vector<int32_t>> rows_of(const Sequences& s) {
  const HostIds host(s.ids);
  std::vector<std::vector<int32_t>> rows;
  for (int64_t r = 0; r < s.size(); ++r) rows.emplace_back(host.ids.begin() + r * host.width, host.ids.begin() + r * host.width + s.lengths[r]);
  return rows;
}

nn::TaskOutput gpt_generate(nn::Module& m, const nn::TaskInput& in, nn::TaskContext& ctx) {
  const char* op = "GPT.generate";
  const nn::TaskOptions o(in.options, op);
  GPTGenerateOptions g;
  g.generate = generate_options(o, ctx, 64);
  g.batch_size = o.integer_or("batchSize", 16);
  g.stop_at_eos = o.boolean_or("stopAtEos", true);
  return hypotheses_output(generate(as<GPT>(m), rows_of(sequences_input(in, "prompts", op)), g, ctx.aborted));
}

// Next-token logits [B, L, V] of right-padded rows (the padding's logits are those of its ids).
nn::TaskOutput gpt_logits(nn::Module& m, const nn::TaskInput& in, nn::TaskContext&) {
  const char* op = "GPT.logits";
  GPT& model = as<GPT>(m);
  const Sequences s = sequences_input(in, "inputs", op);
  check_ids(s.ids, s.lengths, model.options().vocab_size, op, "inputs");
  NoGradGuard no_grad;
  nn::ModeGuard mode(model, false);
  return tensor_output(model.logits(model.hidden(s.ids)));
}

// Each block's self-attention weights over one sequence: "attention" [layers, heads, T, T].
nn::TaskOutput gpt_attention(nn::Module& m, const nn::TaskInput& in, nn::TaskContext&) {
  const char* op = "GPT.attention";
  GPT& model = as<GPT>(m);
  const Sequences s = sequences_input(in, "inputs", op);
  if (s.size() != 1) throw_range(std::string(op) + ": one sequence at a time");
  check_ids(s.ids, s.lengths, model.options().vocab_size, op, "inputs");
  NoGradGuard no_grad;
  nn::ModeGuard mode(model, false);
  std::vector<Tensor> weights;
  model.hidden(s.ids.slice(1, 0, s.lengths[0]).contiguous(), {}, nullptr, &weights);
  std::vector<Tensor> rows;
  for (const Tensor& w : weights) rows.push_back(w.reshape({1, w.size(1), w.size(2), w.size(3)}));
  nn::TaskOutput out;
  out.tensors.emplace_back("attention", ops::concat(rows, 0));
  return out;
}

FormattedExamples examples_input(const nn::TaskInput& in, const nn::TaskOptions& o, const std::string& prefix, bool labels, const char* op) {
  FormattedExamples d;
  d.inputs = sequences_input(in, prefix.empty() ? "inputs" : prefix + "Inputs", op);
  d.group = o.integer_at_least("group", 1, 1);
  d.combine = combine_from_name(o.string_or("combine", "classes"), op);
  if (labels) d.labels = token_stream(in, prefix.empty() ? "labels" : (prefix + "Labels").c_str(), op);
  return d;
}

nn::TaskOutput gpt_fit_classifier(nn::Module& m, const nn::TaskInput& in, nn::TaskContext& ctx) {
  const char* op = "GPTClassifier.fit";
  const nn::TaskOptions o(in.options, op);
  const FormattedExamples d = examples_input(in, o, "", true, op);
  std::optional<FormattedExamples> val;
  if (has_sequences(in, "valInputs")) val = examples_input(in, o, "val", true, op);
  return value(nn::to_json(fit_gpt_classifier(as<GPT>(m), d, val ? &*val : nullptr, gpt_train_options(o), *in.optimizer, ctx.progress,
                                              ctx.aborted)));
}

nn::TaskOutput gpt_evaluate_classifier(nn::Module& m, const nn::TaskInput& in, nn::TaskContext& ctx) {
  const char* op = "GPTClassifier.evaluate";
  const nn::TaskOptions o(in.options, op);
  return value(nn::to_json(
      evaluate_gpt_classifier(as<GPT>(m), examples_input(in, o, "", true, op), o.integer_at_least("batchSize", 32, 1), ctx.aborted)));
}

nn::TaskOutput gpt_predict_classifier(nn::Module& m, const nn::TaskInput& in, nn::TaskContext& ctx) {
  const char* op = "GPTClassifier.predict";
  const nn::TaskOptions o(in.options, op);
  return tensor_output(
      predict_gpt_classifier(as<GPT>(m), examples_input(in, o, "", false, op), o.integer_at_least("batchSize", 32, 1), ctx.aborted));
}

// ---- DualEncoder ------------------------------------------------------------------------------------

clip::ImageTextPairs pairs_input(const nn::TaskInput& in, const std::string& prefix, const char* op) {
  const std::string images = prefix.empty() ? "images" : prefix + "Images", texts = prefix.empty() ? "texts" : prefix + "Texts";
  return {in.tensor(images, op), sequences_input(in, texts, op)};
}

nn::TaskOutput dual_encoder_fit(nn::Module& m, const nn::TaskInput& in, nn::TaskContext& ctx) {
  const char* op = "DualEncoder.fit";
  const nn::TaskOptions o(in.options, op);
  clip::DualEncoderTrainOptions t;
  t.loop = o.loop(t.loop);
  t.hyper = o.hyper();
  t.batch_size = o.integer_or("batchSize", t.batch_size);
  t.shuffle = o.boolean_or("shuffle", true);
  const clip::ImageTextPairs data = pairs_input(in, "", op);
  std::optional<clip::ImageTextPairs> val;
  if (in.find("valImages")) val = pairs_input(in, "val", op);
  return value(nn::to_json(
      clip::fit_dual_encoder(as<clip::DualEncoder>(m), data, val ? &*val : nullptr, t, *in.optimizer, ctx.progress, ctx.aborted)));
}

nn::TaskOutput dual_encoder_evaluate(nn::Module& m, const nn::TaskInput& in, nn::TaskContext& ctx) {
  const char* op = "DualEncoder.evaluate";
  const nn::TaskOptions o(in.options, op);
  return value(nn::to_json(clip::evaluate_dual_encoder(as<clip::DualEncoder>(m), pairs_input(in, "", op),
                                                       o.integer_at_least("batchSize", 128, 2), ctx.aborted)));
}

nn::TaskOutput dual_encoder_encode_images(nn::Module& m, const nn::TaskInput& in, nn::TaskContext& ctx) {
  const char* op = "DualEncoder.encodeImages";
  const nn::TaskOptions o(in.options, op);
  return tensor_output(clip::encode_images(as<clip::DualEncoder>(m), in.tensor("images", op), o.integer_at_least("batchSize", 256, 1),
                                           ctx.aborted, o.boolean_or("normalize", true)));
}

nn::TaskOutput dual_encoder_encode_texts(nn::Module& m, const nn::TaskInput& in, nn::TaskContext& ctx) {
  const char* op = "DualEncoder.encodeTexts";
  const nn::TaskOptions o(in.options, op);
  return tensor_output(clip::encode_texts(as<clip::DualEncoder>(m), sequences_input(in, "texts", op),
                                          o.integer_at_least("batchSize", 256, 1), ctx.aborted, o.boolean_or("normalize", true)));
}

json::Value retrieval_json(const clip::RetrievalDirection& d) {
  json::Value v = json::Value::object();
  v.set("r1", json::Value::number(d.r1));
  v.set("r5", json::Value::number(d.r5));
  v.set("r10", json::Value::number(d.r10));
  v.set("meanRank", json::Value::number(d.mean_rank));
  v.set("medianRank", json::Value::number(d.median_rank));
  return v;
}

nn::TaskOutput dual_encoder_retrieval(nn::Module& m, const nn::TaskInput& in, nn::TaskContext& ctx) {
  const char* op = "DualEncoder.evaluateRetrieval";
  const nn::TaskOptions o(in.options, op);
  auto& model = as<clip::DualEncoder>(m);
  const int64_t bs = o.integer_at_least("batchSize", 256, 1);
  const clip::ImageTextPairs p = pairs_input(in, "", op);
  clip::check_pairs(p, op, "the pairs");
  const clip::RetrievalMetrics r =
      clip::retrieval_metrics(clip::encode_images(model, p.images, bs, ctx.aborted), clip::encode_texts(model, p.texts, bs, ctx.aborted));
  json::Value v = json::Value::object();
  v.set("imageToText", retrieval_json(r.image_to_text));
  v.set("textToImage", retrieval_json(r.text_to_image));
  return value(std::move(v));
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
  nn::register_task("GPT", "fit", {gpt_fit, make_gpt_optimizer});
  nn::register_task("GPT", "evaluate", {gpt_evaluate, nullptr});
  nn::register_task("GPT", "generate", {gpt_generate, nullptr});
  nn::register_task("GPT", "logits", {gpt_logits, nullptr});
  nn::register_task("GPT", "attention", {gpt_attention, nullptr});
  nn::register_task("GPT", "fitClassifier", {gpt_fit_classifier, make_gpt_optimizer});
  nn::register_task("GPT", "evaluateClassifier", {gpt_evaluate_classifier, nullptr});
  nn::register_task("GPT", "predictClassifier", {gpt_predict_classifier, nullptr});
  nn::register_task("DualEncoder", "fit", {dual_encoder_fit, clip::make_dual_encoder_optimizer});
  nn::register_task("DualEncoder", "evaluate", {dual_encoder_evaluate, nullptr});
  nn::register_task("DualEncoder", "encodeImages", {dual_encoder_encode_images, nullptr});
  nn::register_task("DualEncoder", "encodeTexts", {dual_encoder_encode_texts, nullptr});
  nn::register_task("DualEncoder", "evaluateRetrieval", {dual_encoder_retrieval, nullptr});
}

}  // namespace qkv::transformer
