// The text-embeddings-inference routes (/embed, /similarity, /tokenize, /rerank, /predict) and
// sbert's own /logits (client mode) and /zero-shot, over the shared helpers of server_impl.h.
#include <cmath>

#include "sbert/similarity.h"
#include "sbert/zero_shot.h"
#include "serve/server_impl.h"

namespace sbert {
using namespace serve;  // the request helpers of server_impl.h

void Server::Impl::tei_embed(const Request& req, Response& res) {
  const json body = parse_body(req);
  const std::vector<std::string> texts = string_list(required(body, "inputs"), "inputs");
  check_count(texts.size());
  const bool normalize = field<bool>(body, "normalize", true);
  const bool truncate = field<bool>(body, "truncate", false);
  const size_t dims = size_field(body, "dimensions");
  const std::string prompt_name = field<std::string>(body, "prompt_name", "");
  const size_t which = pick_embedder(field<std::string>(body, "model", ""));
  SentenceEncoder& enc = *models.embedders[which].encoder;
  // prompt: sbert's extension, the text itself (client mode's --prompt).
  std::string prompt = field<std::string>(body, "prompt", "");
  if (!prompt_name.empty()) {
    auto p = enc.prompt(prompt_name);
    if (!p) throw HttpError{422, "the model defines no prompt named '" + prompt_name + "'"};
    prompt = *p;
  }
  size_t tokens = 0, truncated = 0;
  Matrix rows = embed_rows(which, texts, prompt, truncate, &tokens, &truncated);
  res.set_header("X-Sbert-Tokens", std::to_string(tokens));
  res.set_header("X-Sbert-Truncated", std::to_string(truncated));
  std::string out = "[";
  std::vector<float> v;
  for (size_t i = 0; i < rows.rows; ++i) {
    if (i) out += ',';
    finish_row(rows.row(i), rows.cols, dims, normalize, enc.normalizes(), v);
    append_row(out, v.data(), v.size());
  }
  out += ']';
  res.set_content(out, "application/json");
}

void Server::Impl::tei_similarity(const Request& req, Response& res) {
  const json body = parse_body(req);
  const json& inputs = required(body, "inputs");
  if (!inputs.is_object()) throw HttpError{422, "'inputs' must be an object with source_sentence and sentences"};
  const json& src = required(inputs, "source_sentence");
  if (!src.is_string()) throw HttpError{422, "'source_sentence' must be a string"};
  std::vector<std::string> texts{src.get<std::string>()};
  for (auto& s : string_list(required(inputs, "sentences"), "sentences")) texts.push_back(std::move(s));
  check_count(texts.size() - 1);
  const size_t which = pick_embedder(field<std::string>(body, "model", ""));
  Matrix rows = embed_rows(which, texts, "", field<bool>(body, "truncate", false), nullptr);
  json out = json::array();
  for (size_t i = 1; i < rows.rows; ++i)
    out.push_back(similarity(rows.row(0), rows.row(i), rows.cols, SimilarityFunction::Cosine));
  res.set_content(dump(out), "application/json");
}

void Server::Impl::tei_tokenize(const Request& req, Response& res) {
  const json body = parse_body(req);
  const std::vector<std::string> texts = string_list(required(body, "inputs"), "inputs");
  check_count(texts.size());
  const bool specials = field<bool>(body, "add_special_tokens", true);
  const Tokenizer* tok = !models.embedders.empty() ? &models.embedders[0].encoder->tokenizer()
                         : models.reranker         ? &models.reranker->model().tokenizer()
                                                   : &models.classifier->tokenizer();
  const size_t max_length = !models.embedders.empty() ? models.embedders[0].encoder->max_length()
                            : models.reranker         ? models.reranker->model().max_length()
                                                      : models.classifier->max_length();
  // Tokenized first, answered after: a request past the token budget costs no reply.
  std::vector<Encoding> encodings;
  size_t total = 0;
  for (const std::string& t : texts) {
    encodings.push_back(tok->encode(t, specials, 0));
    total += encodings.back().size();
    check_tokens(total, max_length);
  }
  json out = json::array();
  for (size_t n = 0; n < texts.size(); ++n) {
    const std::string& t = texts[n];
    const Encoding& e = encodings[n];
    json toks = json::array();
    for (size_t i = 0; i < e.size(); ++i) {
      const bool special = i < e.special_mask.size() && e.special_mask[i];
      const auto [b, en] = i < e.offsets.size() ? e.offsets[i] : std::pair<size_t, size_t>{0, 0};
      toks.push_back({{"id", e.ids[i]},
                      {"text", special || en > t.size() ? e.tokens[i] : t.substr(b, en - b)},
                      {"special", special},
                      {"start", special ? json(nullptr) : json(b)},
                      {"stop", special ? json(nullptr) : json(en)}});
    }
    out.push_back(std::move(toks));
  }
  res.set_content(dump(out), "application/json");
}

void Server::Impl::tei_rerank(const Request& req, Response& res) {
  const json body = parse_body(req);
  const json& q = required(body, "query");
  if (!q.is_string()) throw HttpError{422, "'query' must be a string"};
  const std::vector<std::string> texts = string_list(required(body, "texts"), "texts");
  check_count(texts.size());
  const bool return_text = field<bool>(body, "return_text", false);
  const bool raw = field<bool>(body, "raw_scores", false);
  std::vector<RankedDocument> ranked;
  Matrix logits;
  rerank_worker->run_alone([&] {
    ranked = models.reranker->rank(q.get<std::string>(), texts);
    if (raw) {
      std::vector<std::pair<std::string, std::string>> pairs;
      for (const auto& t : texts) pairs.emplace_back(q.get<std::string>(), t);
      logits = models.reranker->model().logits(pairs, Truncation::LongestFirst);
    }
  });
  json out = json::array();
  for (const RankedDocument& d : ranked) {
    json r = {{"index", d.index}, {"score", raw ? logits.at(d.index, 0) : d.score}};
    if (return_text) r["text"] = texts[d.index];
    out.push_back(std::move(r));
  }
  res.set_content(dump(out), "application/json");
}

void Server::Impl::tei_predict(const Request& req, Response& res) {
  const json body = parse_body(req);
  const json& in = required(body, "inputs");
  const bool raw = field<bool>(body, "raw_scores", false);
  // TEI: "text" | ["a", "b"] (one pair) | a list of those.
  std::vector<std::string> singles;
  std::vector<std::pair<std::string, std::string>> pairs;
  bool batch = false;
  auto one = [&](const json& x) {
    if (x.is_string()) singles.push_back(x.get<std::string>());
    else if (x.is_array() && x.size() == 1 && x[0].is_string()) singles.push_back(x[0].get<std::string>());
    else if (x.is_array() && x.size() == 2 && x[0].is_string() && x[1].is_string())
      pairs.emplace_back(x[0].get<std::string>(), x[1].get<std::string>());
    else throw HttpError{422, "'inputs' must be a text, a [text, text] pair, or a list of those"};
  };
  if (in.is_array() && !in.empty() && in[0].is_array()) {
    batch = true;
    for (const auto& x : in) one(x);
  } else {
    one(in);
  }
  if (!singles.empty() && !pairs.empty()) throw HttpError{422, "mix of single texts and pairs in one request"};
  check_count(singles.size() + pairs.size());
  Matrix logits;
  classify_worker->run_alone([&] {
    SequenceClassifier& m = *models.classifier;
    logits = pairs.empty() ? m.logits(singles) : m.logits(pairs, Truncation::LongestFirst);
  });
  const auto& labels = models.classifier->labels();
  json out = json::array();
  for (size_t i = 0; i < logits.rows; ++i) {
    std::vector<float> s(logits.row(i), logits.row(i) + logits.cols);
    if (!raw) {
      if (s.size() == 1) s[0] = static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(s[0]))));
      else s = softmax(s.data(), s.size());
    }
    json row = json::array();
    for (size_t k : rank_scores(s.data(), s.size())) row.push_back({{"score", s[k]}, {"label", labels[k]}});
    out.push_back(std::move(row));
  }
  res.set_content(dump(batch ? out : out[0]), "application/json");
}

// sbert's own route behind client mode: raw logits of texts ([a]) or pairs ([a, b]) from the
// cross-encoder ("reranker") or the classifier ("classifier"), input order.
void Server::Impl::logits(const Request& req, Response& res) {
  const json body = parse_body(req);
  const std::string which = field<std::string>(body, "model", models.classifier ? "classifier" : "reranker");
  SequenceClassifier* m = nullptr;
  serve::Batcher* worker = nullptr;
  if ((which == "reranker" || which == models.reranker_name) && models.reranker)
    m = &models.reranker->model(), worker = rerank_worker.get();
  else if ((which == "classifier" || which == models.classifier_name) && models.classifier)
    m = models.classifier.get(), worker = classify_worker.get();
  else
    throw HttpError{404, "no classifier '" + which + "' on this server", "NotFound"};
  Truncation truncation;
  try {
    truncation = parse_truncation(field<std::string>(body, "truncation", "longest_first"));
  } catch (const Error& e) {
    throw HttpError{422, e.what()};
  }
  const json& in = required(body, "inputs");
  if (!in.is_array()) throw HttpError{422, "'inputs' must be a list of [text] or [text, text]"};
  std::vector<std::string> singles;
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& x : in) {
    if (x.is_array() && x.size() == 1 && x[0].is_string()) singles.push_back(x[0].get<std::string>());
    else if (x.is_array() && x.size() == 2 && x[0].is_string() && x[1].is_string())
      pairs.emplace_back(x[0].get<std::string>(), x[1].get<std::string>());
    else throw HttpError{422, "'inputs' must be a list of [text] or [text, text]"};
  }
  if (!singles.empty() && !pairs.empty()) throw HttpError{422, "mix of single texts and pairs in one request"};
  check_count(singles.size() + pairs.size());
  Matrix out;
  ClassifyStats stats;
  worker->run_alone([&] { out = pairs.empty() ? m->logits(singles, &stats) : m->logits(pairs, truncation, &stats); });
  std::string text = "[";
  for (size_t i = 0; i < out.rows; ++i) {
    if (i) text += ',';
    append_row(text, out.row(i), out.cols);
  }
  text += ']';
  res.set_header("X-Sbert-Tokens", std::to_string(stats.tokens));
  res.set_header("X-Sbert-Truncated", std::to_string(stats.truncated));
  res.set_content(text, "application/json");
}

void Server::Impl::zero_shot(const Request& req, Response& res) {
  const json body = parse_body(req);
  const std::vector<std::string> texts = string_list(required(body, "inputs"), "inputs");
  check_count(texts.size());
  ZeroShotOptions zo;
  zo.hypothesis_template = field<std::string>(body, "template", zo.hypothesis_template);
  zo.multi_label = field<bool>(body, "multi_label", false);
  const std::vector<std::string> labels = string_list(required(body, "labels"), "labels");
  if (labels.empty()) throw HttpError{400, "labels cannot be empty", "Empty"};
  // Each (text, label) pair is one model input: the batch limit holds for the pairs.
  if (texts.size() * labels.size() > options.max_client_batch_size)
    throw HttpError{413, std::to_string(texts.size()) + " texts x " + std::to_string(labels.size()) + " labels = " +
                             std::to_string(texts.size() * labels.size()) +
                             " pairs > maximum allowed batch size " + std::to_string(options.max_client_batch_size)};
  Matrix scores;
  classify_worker->run_alone([&] {
    ZeroShotClassifier zs(*models.classifier, labels, zo);
    scores = zs.scores(texts);
  });
  json out = json::array();
  for (size_t i = 0; i < scores.rows; ++i) {
    json l = json::array(), s = json::array();
    for (size_t k : rank_scores(scores.row(i), scores.cols)) {
      l.push_back(labels[k]);
      s.push_back(scores.at(i, k));
    }
    out.push_back({{"sequence", texts[i]}, {"labels", l}, {"scores", s}});
  }
  res.set_content(dump(out), "application/json");
}

}  // namespace sbert
