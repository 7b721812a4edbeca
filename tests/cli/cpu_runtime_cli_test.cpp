// sbert's CPU runtime without libtorch (src/cpu): CPU float32 and int8 inference never load
// libsbert_nn.so, so with that library made unloadable the vectors, NLI and rerank scores are
// the same; what needs libtorch (bfloat16) then fails with one clear line. And libtorch's CPU
// path (SBERT_RUNTIME=libtorch) stays within float32 rounding of the CPU runtime.
#include <cmath>

#include "cli_support.h"
#include "sbert/npy.h"
#include "test_support.h"

namespace fs = std::filesystem;
using sbert::testing::q;
using sbert::testing::run_command;
using sbert::testing::sbert_bin;
using sbert::testing::temp_dir;
using sbert::testing::write_file;

namespace {

std::string run(const std::string& env, const std::string& args, int* rc, std::string* err = nullptr) {
  std::string out, e;
  *rc = run_command(env + " " + sbert_bin() + " " + args, &out, &e);
  if (err) *err = e;
  return out;
}

}  // namespace

TEST(CpuRuntimeCli, SameOutputsWithLibtorchUnloadable) {
  SBERT_REQUIRE_SHARED(shared);
  const fs::path dir = temp_dir("cpu_runtime_cli");
  write_file(dir / "texts.txt", "A man is playing a guitar.\nA woman slices an onion.\n\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4\n");
  write_file(dir / "pairs.csv", "premise,hypothesis\nA man plays.,A person plays music.\nA dog runs.,A cat sleeps.\n");
  const fs::path models = shared / "fixtures/models";
  const std::string nowhere = "SBERT_NN_LIBRARY=" + (dir / "no-such-libsbert_nn.so").string();
  const std::vector<std::string> commands = {
      "-q embed -m " + q(models / "bert-wordpiece-mean-norm") + " " + q(dir / "texts.txt"),
      "-q embed -m " + q(models / "bert-wordpiece-mean-norm-bin") + " --quantize int8 " + q(dir / "texts.txt"),
      "-q embed -m " + q(models / "distilbert-krwordpiece-dense") + " " + q(dir / "texts.txt"),
      "-q nli -m " + q(models / "nli-xlmr") + " --premise-column premise --hypothesis-column hypothesis " +
          q(dir / "pairs.csv"),
      "-q rerank -m " + q(models / "cross-encoder-bert") + " --query guitar " + q(dir / "texts.txt"),
  };
  for (const std::string& c : commands) {
    SCOPED_TRACE(c);
    int rc_a = 0, rc_b = 0;
    std::string err;
    const std::string a = run("", c, &rc_a);
    const std::string b = run(nowhere, c, &rc_b, &err);
    ASSERT_EQ(rc_a, 0);
    ASSERT_EQ(rc_b, 0) << err;
    EXPECT_FALSE(a.empty());
    EXPECT_EQ(a, b);
  }
  // bfloat16 runs on libtorch: unloadable, it is one error line naming the library, exit 2.
  int rc = 0;
  std::string err;
  run(nowhere, "-q embed --dtype bfloat16 -m " + q(models / "bert-wordpiece-mean-norm") + " " + q(dir / "texts.txt"),
      &rc, &err);
  EXPECT_EQ(rc, 2);
  EXPECT_NE(err.find("libsbert_nn.so could not be loaded"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

TEST(CpuRuntimeCli, VerboseNamesTheRuntimeAndTheLoadBreakdown) {
  SBERT_REQUIRE_SHARED(shared);
  int rc = 0;
  std::string err;
  run("echo hello |", "-v embed -m " + q(shared / "fixtures/models/bert-wordpiece-mean-norm"), &rc, &err);
  ASSERT_EQ(rc, 0) << err;
  EXPECT_NE(err.find("cpu runtime (sbert, no libtorch)"), std::string::npos) << err;
  EXPECT_NE(err.find("weights read and packed"), std::string::npos) << err;
  EXPECT_EQ(err.find("model runtime: "), std::string::npos) << "libsbert_nn.so was loaded:\n" << err;
}

TEST(CpuRuntimeCli, LibtorchsCpuPathAgreesWithinRounding) {
  SBERT_REQUIRE_SHARED(shared);
  const fs::path dir = temp_dir("cpu_runtime_cli_torch");
  write_file(dir / "texts.txt", "A man is playing a guitar.\nThe quick brown fox jumps over the lazy dog.\n");
  const std::string m = q(shared / "fixtures/models/distilbert-krwordpiece-dense");
  for (const char* env : {"", "SBERT_RUNTIME=libtorch"}) {
    int rc = 0;
    run(env, "-q embed -m " + m + " --format npy -o " + q(dir / (std::string(*env ? "torch" : "cpu") + ".npy")) + " " +
                 q(dir / "texts.txt"),
        &rc);
    ASSERT_EQ(rc, 0) << env;
  }
  const sbert::Matrix a = sbert::read_npy(dir / "cpu.npy"), b = sbert::read_npy(dir / "torch.npy");
  ASSERT_EQ(a.data.size(), b.data.size());
  double worst = 0;
  for (size_t i = 0; i < a.data.size(); ++i) worst = std::max(worst, std::fabs(double(a.data[i]) - b.data[i]));
  EXPECT_LT(worst, 1e-5);
}
