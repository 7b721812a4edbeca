// What AtomicOutput does with what is already at the path (FIFO, symlink, modes), OutputGroup,
// signal cleanup, and .npy shape checks. Everything happens inside a temp folder.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "sbert/error.h"
#include "sbert/npy.h"
#include "sbert/output_file.h"
#include "test_support.h"

using namespace sbert;
namespace fs = std::filesystem;
using sbert::testing::error_of;
using sbert::testing::read_file;
using sbert::testing::temp_dir;
using sbert::testing::write_file;

namespace {
mode_t mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0);
  return st.st_mode & 07777;
}
size_t entries(const fs::path& d) {
  size_t n = 0;
  for (auto& e : fs::directory_iterator(d)) (void)e, ++n;
  return n;
}
}  // namespace

TEST(AtomicOutputTargets, FifoIsStreamedNotReplaced) {
  auto dir = temp_dir("out_fifo");
  auto fifo = dir / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string got;
  std::thread reader([&] { got = read_file(fifo); });
  {
    AtomicOutput out(fifo.string());
    EXPECT_TRUE(out.is_streamed());
    out.write("through the pipe\n");
    out.commit();
  }
  reader.join();
  EXPECT_EQ(got, "through the pipe\n");
  EXPECT_TRUE(fs::is_fifo(fs::symlink_status(fifo)));
  EXPECT_EQ(entries(dir), 1u);  // no temporary left beside it
}

TEST(AtomicOutputTargets, SymlinkIsFollowedAndKept) {
  auto dir = temp_dir("out_link");
  fs::create_directories(dir / "real");
  write_file(dir / "real" / "target.txt", "old\n");
  fs::create_symlink("real/target.txt", dir / "link.txt");
  fs::create_symlink("link.txt", dir / "link2.txt");  // two levels
  {
    AtomicOutput out((dir / "link2.txt").string());
    out.write("new\n");
    out.commit();
  }
  EXPECT_TRUE(fs::is_symlink(dir / "link.txt"));
  EXPECT_TRUE(fs::is_symlink(dir / "link2.txt"));
  EXPECT_EQ(read_file(dir / "real" / "target.txt"), "new\n");
  EXPECT_EQ(entries(dir / "real"), 1u);
  // A dangling link: the file it names is created.
  fs::create_symlink("real/fresh.txt", dir / "dangling.txt");
  {
    AtomicOutput out((dir / "dangling.txt").string());
    out.write("x");
    out.commit();
  }
  EXPECT_TRUE(fs::is_symlink(dir / "dangling.txt"));
  EXPECT_EQ(read_file(dir / "real" / "fresh.txt"), "x");
}

TEST(AtomicOutputTargets, ModeIsKeptAndReadOnlyIsRefused) {
  auto dir = temp_dir("out_mode");
  auto priv = dir / "private.txt";
  write_file(priv, "secret\n");
  ASSERT_EQ(::chmod(priv.c_str(), 0600), 0);
  {
    AtomicOutput out(priv.string());
    out.write("still secret\n");
    out.commit();
  }
  EXPECT_EQ(read_file(priv), "still secret\n");
  EXPECT_EQ(mode_of(priv), 0600u);

  auto ro = dir / "readonly.txt";
  write_file(ro, "keep\n");
  ASSERT_EQ(::chmod(ro.c_str(), 0444), 0);
  std::string e = error_of([&] { AtomicOutput out(ro.string()); });
  EXPECT_NE(e.find("not writable"), std::string::npos) << e;
  EXPECT_NE(e.find("readonly.txt"), std::string::npos) << e;
  EXPECT_EQ(read_file(ro), "keep\n");
  EXPECT_EQ(mode_of(ro), 0444u);

  // A directory is an error, not replaced.
  fs::create_directories(dir / "sub");
  EXPECT_NE(error_of([&] { AtomicOutput out((dir / "sub").string()); }).find("directory"), std::string::npos);
  EXPECT_TRUE(fs::is_directory(dir / "sub"));
}

TEST(OutputGroup, NothingReplacedUnlessAllOutputsOpen) {
  auto dir = temp_dir("out_group");
  auto a = dir / "a.tsv";
  write_file(a, "original\n");
  {
    OutputGroup g;
    AtomicOutput& out = g.add(a.string());
    out.write("replaced\n");
    EXPECT_THROW(g.add((dir / "nodir" / "r.json").string()), Error);
    // the group dies without commit
  }
  EXPECT_EQ(read_file(a), "original\n");
  EXPECT_EQ(entries(dir), 1u);
  {
    OutputGroup g;
    g.add(a.string()).write("one\n");
    g.add((dir / "b.json").string()).write("two\n");
    EXPECT_EQ(read_file(a), "original\n");  // nothing in place before commit
    g.commit();
  }
  EXPECT_EQ(read_file(a), "one\n");
  EXPECT_EQ(read_file(dir / "b.json"), "two\n");
  OutputGroup same;
  same.add(a.string());
  EXPECT_NE(error_of([&] { same.add((dir / "." / "a.tsv").string()); }).find("same file"), std::string::npos);
}

TEST(AtomicOutputTargets, SignalRemovesTemporary) {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    auto dir = temp_dir("out_signal" + std::to_string(sig));
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // A signal ignored by whoever started the tests (nohup) stays ignored by design: the
      // child starts from the default then, so the test does not depend on how it was launched
      // (a handler AtomicOutput installed earlier in this process stays).
      struct sigaction current {};
      if (::sigaction(sig, nullptr, &current) == 0 && current.sa_handler == SIG_IGN) ::signal(sig, SIG_DFL);
      AtomicOutput out((dir / "out.txt").string());
      out.write("partial");
      out.flush();
      char c = 'r';
      if (::write(ready[1], &c, 1) != 1) ::_exit(3);
      ::pause();
      ::_exit(4);
    }
    ::close(ready[1]);
    char c;
    ASSERT_EQ(::read(ready[0], &c, 1), 1);
    ::close(ready[0]);
    EXPECT_EQ(entries(dir), 1u);  // the temporary exists while writing
    ::kill(pid, sig);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << status;
    EXPECT_EQ(entries(dir), 0u) << "signal " << sig << " left a temporary";
  }
}

// ---- .npy shapes that do not fit the file
namespace {
std::string npy_with_shape(const std::string& shape, size_t data_bytes) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + dict.size() + 1) % 64) dict += ' ';
  dict += '\n';
  std::string h = "\x93NUMPY";
  h += '\x01';
  h += '\x00';
  h += static_cast<char>(dict.size() & 0xFF);
  h += static_cast<char>(dict.size() >> 8);
  return h + dict + std::string(data_bytes, '\0');
}
}  // namespace

TEST(NpyShape, OverflowNegativeAndOversizedShapesAreErrors) {
  auto dir = temp_dir("npy_shape");
  struct Case {
    std::string shape, expect;
  } cases[] = {{"(4611686018427387905, 8)", "too large"},  // 2**62+1 rows: rows*cols wrapped to 8
               {"(4611686018427387904, 4)", "too large"},  // wrapped to 0
               {"(1152921504606846976, 8)", "truncated"},  // 2**63 values: fits, but not in 128 bytes
               {"(18446744073709551615, 18446744073709551615)", "too large"},
               {"(-3, 32)", "negative"},
               {"(5, 8)", "truncated"},
               {"(99999999999999999999999, 1)", "too large"}};
  for (const auto& c : cases) {
    auto p = dir / "m.npy";
    write_file(p, npy_with_shape(c.shape, 128));
    std::string e = error_of([&] { read_npy(p.string()); });
    EXPECT_NE(e.find(c.expect), std::string::npos) << c.shape << ": " << e;
    EXPECT_NE(e.find("m.npy"), std::string::npos) << e;
  }
  write_file(dir / "ok.npy", npy_with_shape("(4, 8)", 128));
  Matrix m = read_npy((dir / "ok.npy").string());
  EXPECT_EQ(m.rows, 4u);
  EXPECT_EQ(m.cols, 8u);
}

TEST(OutputDirectory, FailedExportLeavesNoEmptyFolder) {
  auto dir = temp_dir("out_dir");
  const auto target = dir / "a" / "b";
  {
    OutputDirectory d(target.string());
    EXPECT_TRUE(fs::is_directory(target));
    AtomicOutput out((target / "vecs.tsv").string());
    out.write("1\t2\n");
    // no commit, no keep: the export failed
  }
  EXPECT_FALSE(fs::exists(dir / "a"));
  {
    OutputDirectory d(target.string());
    AtomicOutput out((target / "vecs.tsv").string());
    out.write("1\t2\n");
    out.commit();
    d.keep();
  }
  EXPECT_EQ(read_file(target / "vecs.tsv"), "1\t2\n");
  // An existing folder is never removed.
  { OutputDirectory d(target.string()); }
  EXPECT_TRUE(fs::is_directory(target));
}
