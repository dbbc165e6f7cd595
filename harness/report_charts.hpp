// Charts for `attnbench report`: each chart is a data file and a gnuplot script in the
// report's charts/ folder (so anyone can redraw or restyle it), drawn to PNG and SVG.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace attnbench::cli {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // sorted by x when written
};

struct LineChart {
  std::string stem;  // file name without extension: [a-z0-9_-]
  std::string title, xlabel, ylabel;
  int log_x = 2;      // logarithmic x axis of this base; 0: linear
  bool log_y = false;
  bool points_only = false;  // scattered measurements, not a curve
  std::vector<Series> series;
  std::string setup;                     // more gnuplot settings (e.g. ranges)
  std::vector<std::string> extra_plots;  // more plot clauses (a ceiling, a roof)
};

// Values of two tunables (x, y) against a measured time.
struct Heatmap {
  std::string stem, title, xlabel, ylabel, zlabel;
  std::vector<std::string> x_values, y_values;  // axis labels, in order
  std::vector<std::vector<double>> z;           // z[y][x]; NaN where not measured
};

// A gnuplot string literal.
std::string gnuplot_string(const std::string& text);

// "[a-z0-9_-]" only, for file names.
std::string chart_stem(const std::string& text);

// Write the data and script of a chart into `dir`; return the script's name.
std::string write_chart(const std::filesystem::path& dir, const LineChart& chart);
std::string write_chart(const std::filesystem::path& dir, const Heatmap& chart);

// Whether gnuplot is on PATH. Inline so the report tests ask the same question (and skip
// where the answer is no) without linking the harness.
inline bool gnuplot_installed() { return std::system("command -v gnuplot > /dev/null 2>&1") == 0; }

// Runs gnuplot on each script in `dir`; throws std::runtime_error naming the script that
// failed (its messages are in dir/gnuplot.log), or when gnuplot is not installed.
void draw_charts(const std::filesystem::path& dir, const std::vector<std::string>& scripts);

}  // namespace attnbench::cli
