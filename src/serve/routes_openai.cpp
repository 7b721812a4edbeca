// The OpenAI embeddings API: POST /v1/embeddings (texts or token ids, float or base64) and
// GET /v1/models.
#include "serve/server_impl.h"

namespace sbert {
using namespace serve;  // the request helpers of server_impl.h

void Server::Impl::openai_embeddings(const Request& req, Response& res) {
  const json body = parse_body(req);
  const json& input = required(body, "input");
  const std::string model = field<std::string>(body, "model", "");
  const size_t which = pick_embedder(model);
  SentenceEncoder& enc = *models.embedders[which].encoder;
  const std::string format = field<std::string>(body, "encoding_format", "float");
  if (format != "float" && format != "base64")
    throw HttpError{422, "encoding_format must be 'float' or 'base64'"};
  const size_t dims = size_field(body, "dimensions");
  Matrix rows;
  size_t tokens = 0;
  const bool ids = input.is_array() && !input.empty() && (input[0].is_number() || input[0].is_array());
  if (ids) {
    std::vector<Encoding> inputs = token_id_inputs(enc, input);
    check_count(inputs.size());
    for (const auto& e : inputs) tokens += e.size();
    check_tokens(tokens, enc.max_length());
    metrics.inputs += inputs.size();
    metrics.tokens += tokens;
    rows = embed_batchers[which]->submit(std::move(inputs));
  } else {
    const std::vector<std::string> texts = string_list(input, "input");
    check_count(texts.size());
    rows = embed_rows(which, texts, "", true, &tokens);
  }
  std::string out = "{\"object\":\"list\",\"data\":[";
  std::vector<float> v;
  for (size_t i = 0; i < rows.rows; ++i) {
    // The model's own vector (as `sbert embed` writes it); shortened unit vectors stay unit.
    finish_row(rows.row(i), rows.cols, dims, enc.normalizes(), enc.normalizes(), v);
    out += i ? ",{" : "{";
    out += "\"object\":\"embedding\",\"index\":" + std::to_string(i) + ",\"embedding\":";
    if (format == "base64") out += "\"" + base64_floats(v.data(), v.size()) + "\"";
    else append_row(out, v.data(), v.size());
    out += "}";
  }
  out += "],\"model\":" + dump(json(model.empty() ? models.embedders[which].name : model)) +
         ",\"usage\":{\"prompt_tokens\":" + std::to_string(tokens) + ",\"total_tokens\":" + std::to_string(tokens) +
         "}}";
  res.set_content(out, "application/json");
}

void Server::Impl::openai_models(Response& res) {
  json data = json::array();
  for (const auto& e : models.embedders)
    data.push_back({{"id", e.name}, {"object", "model"}, {"created", 0}, {"owned_by", "sbert"}});
  res.set_content(dump(json{{"object", "list"}, {"data", data}}), "application/json");
}

}  // namespace sbert
