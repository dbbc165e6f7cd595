// The small shared pieces of core: order statistics and the row-by-row CSV writer.
#include <attnbench/core/csv_writer.hpp>
#include <attnbench/core/statistics.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace attnbench;

TEST(Statistics, PercentilesInterpolateLinearly) {
  const std::vector<double> v = {4, 1, 3, 2, 5};  // sorted 1..5
  EXPECT_DOUBLE_EQ(percentile(v, 50), 3);
  EXPECT_DOUBLE_EQ(percentile(v, 0), 1);
  EXPECT_DOUBLE_EQ(percentile(v, 100), 5);
  EXPECT_DOUBLE_EQ(percentile(v, 95), 4.8);  // rank 3.8 between 4 and 5
  EXPECT_TRUE(std::isnan(percentile({}, 50)));
}

TEST(Statistics, SummaryOfAKnownSample) {
  const Summary s = summarize({2, 4, 4, 4, 5, 5, 7, 9});
  EXPECT_EQ(s.count, 8u);
  EXPECT_DOUBLE_EQ(s.mean, 5);
  EXPECT_DOUBLE_EQ(s.min, 2);
  EXPECT_DOUBLE_EQ(s.max, 9);
  EXPECT_DOUBLE_EQ(s.p50, 4.5);
  EXPECT_NEAR(s.stddev, std::sqrt(32.0 / 7.0), 1e-12);
  EXPECT_NEAR(s.relative_noise(), std::sqrt(32.0 / 7.0) / 4.5, 1e-12);
}

TEST(CsvWriter, WritesHeaderOnceQuotesAndAppends) {
  const auto file = std::filesystem::temp_directory_path() / "attnb_csv_writer_test.csv";
  std::filesystem::remove(file);
  {
    CsvWriter w(file, {"name", "value"});
    w.write_row({"plain", "1"});
    w.write_row({"with,comma \"quoted\"", "2"});
  }
  {
    CsvWriter w(file, {"name", "value"});  // reopened: appends, no second header
    w.write_row({"third", "3"});
    EXPECT_THROW(w.write_row({"too", "many", "values"}), std::logic_error);
  }
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "name,value\nplain,1\n\"with,comma \"\"quoted\"\"\",2\nthird,3\n");
  EXPECT_THROW(CsvWriter(file, {"other", "header"}), std::runtime_error);
  std::filesystem::remove(file);
}
