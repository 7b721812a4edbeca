// Models behind a running `sbert serve` (client mode, `--server URL`): the same interfaces as
// local models (SentenceEncoder, SequenceClassifier), computed by the server, so a command
// gives the output it would give with the model loaded locally (the server runs each request
// as one call, so a request of the texts a local run batches together gets the same bits).
// Torch-free; HTTP is cpp-httplib's.
#pragma once
#include <memory>
#include <string>

#include "sbert/classifier.h"
#include "sbert/encoder.h"

namespace sbert {

struct RemoteOptions {
  std::string url;      // http://host:port
  std::string api_key;  // sent as a bearer token when non-empty
  std::string model;    // which embedding model of the server (empty: its default)
  int timeout_s = 600;
};

// Throws sbert::Error when the server cannot be reached or serves no such model. Only encode()
// and encode_with_prompt() work remotely (and the accessors); the per-token and per-window
// calls, model_input() and tokenizer() throw sbert::Error.
std::unique_ptr<SentenceEncoder> connect_encoder(const RemoteOptions& options);

// The server's cross-encoder (role "reranker") or NLI / sequence classifier ("classifier").
// logits() of texts and of pairs work remotely; logits() of encodings and tokenizer() throw.
std::unique_ptr<SequenceClassifier> connect_classifier(const RemoteOptions& options, const std::string& role);

}  // namespace sbert
