// The output folder of a training run (sbert/train.h prepare_train_output): refused paths, and
// the clean-up after runs killed during a save.
#include <unistd.h>

#include <gtest/gtest.h>

#include "sbert/error.h"
#include "sbert/train.h"
#include "test_support.h"

namespace fs = std::filesystem;
using sbert::testing::error_of;
using sbert::testing::read_file;
using sbert::testing::temp_dir;
using sbert::testing::write_file;

namespace {

const long kDead = 999999999;  // above any pid_max: never a running process

// write_file into a folder that may not exist yet.
void put(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  write_file(file, text);
}

TEST(TrainOutput, NamesAndStagingPaths) {
  EXPECT_EQ(sbert::train_output_folder("a/model/"), fs::path("a/model"));
  EXPECT_EQ(sbert::train_staging_path("a/model/", "tmp", 12), fs::path("a/.model.tmp-12"));
  EXPECT_EQ(sbert::train_staging_path("model", "old", 7), fs::path("./.model.old-7"));
  for (const char* bad : {".", "..", "a/..", "/", ""})
    EXPECT_NE(error_of([&] { sbert::train_output_folder(bad); }).find("a folder of its own"), std::string::npos) << bad;
}

TEST(TrainOutput, RefusesFoldersThatCannotBeReplaced) {
  const fs::path dir = temp_dir("train-output-refuse");
  EXPECT_NE(error_of([&] { sbert::prepare_train_output(fs::current_path(), {}); }).find("current directory"),
            std::string::npos);
  EXPECT_NE(error_of([&] { sbert::prepare_train_output(fs::current_path().parent_path(), {}); }).find("holds it"),
            std::string::npos);
  fs::create_symlink(dir / "missing", dir / "dangling");
  EXPECT_NE(error_of([&] { sbert::prepare_train_output(dir / "dangling", {}); }).find("dangling symbolic link"),
            std::string::npos);
  fs::create_directories(dir / "real");
  fs::create_directory_symlink(dir / "real", dir / "link");
  EXPECT_NE(error_of([&] { sbert::prepare_train_output(dir / "link", {}); }).find("is a symbolic link"),
            std::string::npos);
  put(dir / "file", "x");
  EXPECT_NE(error_of([&] { sbert::prepare_train_output(dir / "file", {}); }).find("not a folder"), std::string::npos);
  put(dir / "real" / "sub" / "train.csv", "a,b\n");
  const std::string e = error_of([&] { sbert::prepare_train_output(dir / "real", {{"--train", dir / "real/sub/train.csv"}}); });
  EXPECT_NE(e.find("contains the input --train " + (dir / "real/sub/train.csv").string()), std::string::npos) << e;
  // Through a relative path and "..": the same file.
  EXPECT_THROW(sbert::prepare_train_output(dir / "real", {{"--dev", dir / "real/sub/../sub/train.csv"}}), sbert::Error);
  // A model folder beside the output, and a name that only starts the same, are fine.
  fs::create_directories(dir / "real2");
  EXPECT_TRUE(sbert::prepare_train_output(dir / "real", {{"--model", dir / "real2"}}).empty());
}

TEST(TrainOutput, CleansStaleTemporariesAndCompletesAnInterruptedSave) {
  const fs::path dir = temp_dir("train-output-stale");
  const fs::path out = dir / "model";
  // Killed while writing its temporary (the output itself is intact): the temporary goes.
  fs::create_directories(out);
  put(out / "config.json", "previous");
  put(sbert::train_staging_path(out, "tmp", kDead) / "config.json", "half");
  // A running process's temporaries stay (here: our own).
  put(sbert::train_staging_path(out, "tmp", ::getpid()) / "config.json", "in progress");
  // Another folder's temporaries are not ours to touch.
  put(dir / ".modelx.tmp-999999999" / "f", "other");
  auto done = sbert::prepare_train_output(out, {});
  ASSERT_EQ(done.size(), 1u);
  EXPECT_NE(done[0].find("removed 1 stale temporary folder"), std::string::npos) << done[0];
  EXPECT_FALSE(fs::exists(sbert::train_staging_path(out, "tmp", kDead)));
  EXPECT_TRUE(fs::exists(sbert::train_staging_path(out, "tmp", ::getpid())));
  EXPECT_TRUE(fs::exists(dir / ".modelx.tmp-999999999"));
  EXPECT_EQ(read_file(out / "config.json"), "previous");
  fs::remove_all(sbert::train_staging_path(out, "tmp", ::getpid()));

  // Killed between moving the previous folder aside and renaming the new one into place: the
  // new one (complete) becomes the output, the previous one goes.
  fs::rename(out, sbert::train_staging_path(out, "old", kDead));
  put(sbert::train_staging_path(out, "tmp", kDead) / "config.json", "new");
  done = sbert::prepare_train_output(out, {});
  ASSERT_EQ(done.size(), 2u);
  EXPECT_NE(done[0].find("completed an interrupted save"), std::string::npos) << done[0];
  EXPECT_EQ(read_file(out / "config.json"), "new");
  EXPECT_FALSE(fs::exists(sbert::train_staging_path(out, "old", kDead)));
  EXPECT_FALSE(fs::exists(sbert::train_staging_path(out, "tmp", kDead)));
  EXPECT_TRUE(sbert::prepare_train_output(out, {}).empty());  // nothing left to do
}

}  // namespace
