#include "tokenizer/unicode_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 32
#include <pcre2.h>

#include <algorithm>
#include <cstdio>

#include "sbert/error.h"
#include "tokenizer/unicode_text.h"

namespace sbert::tok {

namespace {

// Backtracking bounds: far above what the tokenizer patterns in use need on any text (they run
// in linear time), low enough that a catastrophic pattern fails within a second or so.
constexpr uint32_t kMatchLimit = 20'000'000;
constexpr uint32_t kDepthLimit = 100'000;
constexpr uint32_t kHeapLimitKiB = 256 * 1024;
constexpr size_t kJitStackMax = 8 << 20;

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  const int n = pcre2_get_error_message(code, buf, 256);
  std::string out;
  for (int i = 0; i < n; ++i) append_utf8(out, static_cast<char32_t>(buf[i]));
  return out;
}

// One JIT stack and one match block per thread (the compiled pattern is shared and read-only).
struct ThreadState {
  pcre2_jit_stack* stack = nullptr;
  pcre2_match_data* data = nullptr;
  ~ThreadState() {
    if (stack) pcre2_jit_stack_free(stack);
    if (data) pcre2_match_data_free(data);
  }
};
thread_local ThreadState tls;

pcre2_jit_stack* jit_stack(void*) {
  if (!tls.stack) tls.stack = pcre2_jit_stack_create(32 * 1024, kJitStackMax, nullptr);
  return tls.stack;
}

bool valid_scalar(char32_t c) { return c < 0xD800 || (c > 0xDFFF && c <= 0x10FFFF); }

// The pattern as error messages show it: control characters escaped, so the message stays one line.
std::string shown(std::string_view pattern) {
  std::string out;
  for (char ch : pattern) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace

struct UnicodeRegex::Impl {
  pcre2_code* code = nullptr;
  pcre2_match_context* mctx = nullptr;
  ~Impl() {
    if (mctx) pcre2_match_context_free(mctx);
    if (code) pcre2_code_free(code);
  }
};

UnicodeRegex::UnicodeRegex(std::string_view pattern, const std::string& where)
    : impl_(std::make_unique<Impl>()), pattern_(pattern), shown_(shown(pattern)), where_(where) {
  std::u32string p;
  for (const Char& c : decode_utf8(pattern)) p.push_back(c.cp);
  int err = 0;
  PCRE2_SIZE at = 0;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(), PCRE2_UTF | PCRE2_UCP, &err,
                              &at, nullptr);
  if (!impl_->code)
    throw Error(where + ": invalid regex '" + shown_ + "': " + pcre2_message(err) + " at offset " +
                std::to_string(at));
  pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE);  // the interpreter runs it where JIT fails
  impl_->mctx = pcre2_match_context_create(nullptr);
  pcre2_set_match_limit(impl_->mctx, kMatchLimit);
  pcre2_set_depth_limit(impl_->mctx, kDepthLimit);
  pcre2_set_heap_limit(impl_->mctx, kHeapLimitKiB);
  pcre2_jit_stack_assign(impl_->mctx, jit_stack, nullptr);
}

UnicodeRegex::~UnicodeRegex() = default;

std::vector<std::pair<size_t, size_t>> UnicodeRegex::find_all(const char32_t* text, size_t n) const {
  // PCRE2 in UTF mode must not see surrogates or values past U+10FFFF (checked once here, so
  // each match can skip its own check of the whole subject).
  std::u32string fixed;
  if (!std::all_of(text, text + n, valid_scalar)) {
    fixed.reserve(n);
    for (size_t i = 0; i < n; ++i) fixed.push_back(valid_scalar(text[i]) ? text[i] : U'\uFFFD');
    text = fixed.data();
  }
  if (!tls.data) tls.data = pcre2_match_data_create(1, nullptr);
  std::vector<std::pair<size_t, size_t>> out;
  const auto subject = reinterpret_cast<PCRE2_SPTR>(text);
  size_t pos = 0;
  while (pos <= n) {
    const int rc = pcre2_match(impl_->code, subject, n, pos, PCRE2_NO_UTF_CHECK, tls.data, impl_->mctx);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0)
      throw Error(where_ + ": regex '" + shown_ + "' failed on a text of " + std::to_string(n) +
                  " characters: " + pcre2_message(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(tls.data);
    const size_t b = ov[0], e = std::max<size_t>(ov[1], ov[0]);  // \K can end before the start
    out.emplace_back(b, e);
    pos = e > b ? e : e + 1;
  }
  return out;
}

}  // namespace sbert::tok
