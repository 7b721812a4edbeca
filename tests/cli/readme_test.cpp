// The README renders as intended (code fences balanced, headings outside code) and its examples
// name real subcommands and write into a scratch folder, never into the checkout.
#include <regex>
#include <set>
#include <sstream>

#include "test_support.h"

namespace {

std::vector<std::string> readme_lines() {
  std::istringstream in(sbert::testing::read_file(sbert::testing::source_dir() / "README.md"));
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

}  // namespace

TEST(Readme, FencesAreBalancedAndHeadingsAreOutsideCode) {
  auto lines = readme_lines();
  ASSERT_GT(lines.size(), 20u);
  bool in_code = false;
  size_t opened = 0;
  std::set<std::string> headings;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (l.rfind("```", 0) == 0) {
      if (!in_code) opened = i + 1;
      // An opening fence names its language; a closing fence is bare.
      if (in_code) EXPECT_EQ(l, "```") << "README.md:" << i + 1 << ": a fence that closes a block must be bare";
      in_code = !in_code;
      continue;
    }
    if (!in_code && l.rfind("## ", 0) == 0) headings.insert(l.substr(3));
  }
  EXPECT_FALSE(in_code) << "README.md: the code block opened at line " << opened << " is never closed";
  for (const char* h : {"Subcommands", "Layout", "Benchmarks"})
    EXPECT_TRUE(headings.count(h)) << "README.md: no '## " << h << "' heading outside code blocks";
  // The first block holds the two commands: set-up + main job, and the tests.
  EXPECT_NE(lines.end(), std::find_if(lines.begin(), lines.end(), [](auto& l) { return l.find("scripts/setup.sh") != std::string::npos; }));
  EXPECT_NE(lines.end(), std::find_if(lines.begin(), lines.end(), [](auto& l) { return l.find("scripts/test.sh") != std::string::npos; }));
}

TEST(Readme, ExamplesUseRealSubcommandsAndAScratchFolder) {
  auto lines = readme_lines();
  bool in_code = false;
  std::set<std::string> subcommands;
  const std::regex cmd(R"((?:^|[\s|;&(/])sbert\s+([a-z][a-z-]*))");
  const std::regex output(R"((?:\s-o|--output|--report|--plot|--index)\s+("?)([^\s"]+))");
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string l = lines[i];
    if (l.rfind("```", 0) == 0) {
      in_code = !in_code;
      continue;
    }
    if (!in_code || l.rfind("#", 0) == 0) continue;
    // A command continued over several lines ("\" at the end) is checked as one line.
    std::string full = l;
    while (!full.empty() && full.back() == '\\' && i + 1 < lines.size()) full = full.substr(0, full.size() - 1) + " " + lines[++i];
    for (std::sregex_iterator it(full.begin(), full.end(), cmd), end; it != end; ++it) subcommands.insert((*it)[1]);
    if (full.find("sbert ") == std::string::npos) continue;
    for (std::sregex_iterator it(full.begin(), full.end(), output), end; it != end; ++it) {
      const std::string path = (*it)[2];
      EXPECT_TRUE(path.rfind("$SCRATCH/", 0) == 0 || path == "-")
          << "README.md:" << i + 1 << ": example writes '" << path << "' (write into $SCRATCH/)";
    }
  }
  EXPECT_GE(subcommands.size(), 8u);
  for (const auto& s : subcommands) {
    std::string out, err;
    EXPECT_EQ(sbert::testing::run_command(std::string(SBERT_BINARY) + " " + s + " --help", &out, &err), 0)
        << "README names 'sbert " << s << "': " << err;
  }
}

// Every `sh` block of the Subcommands section runs as written (README paths `build/sbert` and
// `../shared` mapped to this build and $SBERT_SHARED), in order, in one shell, each command
// required to succeed. The hub lines (`models download`, `models info NAME`) need the network
// and are the only ones left out.
TEST(Readme, SubcommandExamplesRunAsWritten) {
  SBERT_REQUIRE_SHARED(shared);
  const auto lines = readme_lines();
  bool in_section = false, in_code = false, run_block = false;
  std::string script = "set -euo pipefail\n";
  size_t commands = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (!in_code && l.rfind("## ", 0) == 0) in_section = l == "## Subcommands";
    if (l.rfind("```", 0) == 0) {
      run_block = !in_code && in_section && l == "```sh";
      in_code = !in_code;
      continue;
    }
    if (!in_code || !run_block) continue;
    if (l.find("models download") != std::string::npos || l.find("models info ") != std::string::npos) continue;
    std::string cmd = l;
    for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
             {"build/sbert", std::string(SBERT_BINARY)}, {"../shared", shared.string()}}) {
      for (size_t p = cmd.find(from); p != std::string::npos; p = cmd.find(from, p + to.size())) cmd.replace(p, from.size(), to);
    }
    if (cmd.find("sbert") != std::string::npos && cmd.rfind("#", 0) != 0) ++commands;
    script += cmd + "\n";
  }
  ASSERT_GE(commands, 30u) << "the README's examples were not found";
  const auto dir = sbert::testing::temp_dir("readme-examples");
  sbert::testing::write_file(dir / "examples.sh", script);
  std::string out, err;
  const int rc = sbert::testing::run_command("cd " + dir.string() + " && TMPDIR=" + dir.string() +
                                                 " bash -x examples.sh",
                                             &out, &err);
  EXPECT_EQ(rc, 0) << "a README example failed; the end of its trace:\n"
                   << err.substr(err.size() > 4000 ? err.size() - 4000 : 0);
  // Results the examples print: the evaluation, the NLI accuracy line, the cluster summary.
  EXPECT_NE(err.find("Pearson"), std::string::npos);
  EXPECT_NE(err.find("sbert: accuracy"), std::string::npos);
  EXPECT_NE(out.find("cluster 0:"), std::string::npos) << out.substr(0, 2000);
}
