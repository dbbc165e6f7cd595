#include "report_charts.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace attnbench::cli {

namespace fs = std::filesystem;

std::string gnuplot_string(const std::string& text) {
  std::string q = "\"";
  for (char c : text) q += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
  return q + "\"";
}

namespace {

std::string quoted(const std::string& text) { return gnuplot_string(text); }

// A shell word.
std::string shell_word(const std::string& text) {
  std::string q = "'";
  for (char c : text) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// The same picture twice: PNG for the Markdown page, SVG to zoom into.
std::string header(const std::string& stem, const std::string& title) {
  return "reset\nset terminal pngcairo size 960,600 noenhanced font \",11\"\nset output " +
         quoted(stem + ".png") + "\nset title " + quoted(title) +
         "\nset grid\nset key outside right top\nset datafile missing \"nan\"\n";
}

std::string finish(const std::string& stem) {
  return "set terminal svg size 960,600 noenhanced font \",11\"\nset output " + quoted(stem + ".svg") +
         "\nreplot\nunset output\n";
}

void write_file(const fs::path& file, const std::string& text) {
  std::ofstream out(file);
  out << text;
  if (!out) throw std::runtime_error(file.string() + ": cannot write");
}

}  // namespace

std::string chart_stem(const std::string& text) {
  std::string stem;
  for (char c : text) {
    const char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    stem += (std::isalnum(static_cast<unsigned char>(l)) || l == '-') ? l : '_';
  }
  return stem;
}

std::string write_chart(const fs::path& dir, const LineChart& chart) {
  std::string data;
  for (Series s : chart.series) {
    std::sort(s.points.begin(), s.points.end());
    data += "# " + s.name + "\n";
    for (const auto& [x, y] : s.points) {
      char line[64];
      std::snprintf(line, sizeof line, "%.9g %.9g\n", x, y);
      data += line;
    }
    data += "\n\n";  // next gnuplot index
  }
  write_file(dir / (chart.stem + ".dat"), data);
  std::string gp = header(chart.stem, chart.title);
  gp += "set xlabel " + quoted(chart.xlabel) + "\nset ylabel " + quoted(chart.ylabel) + "\n";
  if (chart.log_x > 0) gp += "set logscale x " + std::to_string(chart.log_x) + "\nset format x \"%g\"\n";
  gp += chart.log_y ? "set logscale y 10\n" : "set yrange [0:*]\n";
  gp += chart.setup + "plot ";
  std::vector<std::string> clauses;
  for (std::size_t i = 0; i < chart.series.size(); ++i)
    clauses.push_back(quoted(chart.stem + ".dat") + " index " + std::to_string(i) +
                      " using 1:2 with " + (chart.points_only ? "points pointsize 1.5" : "linespoints pointsize 1.2 linewidth 2") + " title " + quoted(chart.series[i].name));
  clauses.insert(clauses.end(), chart.extra_plots.begin(), chart.extra_plots.end());
  for (std::size_t i = 0; i < clauses.size(); ++i) gp += (i ? ", \\\n     " : "") + clauses[i];
  gp += "\n" + finish(chart.stem);
  write_file(dir / (chart.stem + ".gp"), gp);
  return chart.stem + ".gp";
}

std::string write_chart(const fs::path& dir, const Heatmap& chart) {
  std::string data;
  for (std::size_t y = 0; y < chart.y_values.size(); ++y) {
    for (std::size_t x = 0; x < chart.x_values.size(); ++x) {
      char line[64];
      std::snprintf(line, sizeof line, "%zu %zu %.6g\n", x, y, chart.z[y][x]);
      data += line;
    }
    data += "\n";
  }
  write_file(dir / (chart.stem + ".dat"), data);
  auto tics = [](const std::vector<std::string>& values) {
    std::string t = "(";
    for (std::size_t i = 0; i < values.size(); ++i) t += (i ? ", " : "") + quoted(values[i]) + " " + std::to_string(i);
    return t + ")";
  };
  std::string gp = header(chart.stem, chart.title);
  gp += "unset grid\nset xlabel " + quoted(chart.xlabel) + "\nset ylabel " + quoted(chart.ylabel) +
        "\nset cblabel " + quoted(chart.zlabel) + "\nset xtics " + tics(chart.x_values) + "\nset ytics " +
        tics(chart.y_values) + "\nset xrange [-0.5:" + std::to_string(chart.x_values.size() - 0.5) +
        "]\nset yrange [-0.5:" + std::to_string(chart.y_values.size() - 0.5) +
        "]\nset palette defined (0 \"#1a9850\", 1 \"#fee08b\", 2 \"#d73027\")\n"
        "plot " + quoted(chart.stem + ".dat") + " using 1:2:3 with image notitle, \\\n     " +
        quoted(chart.stem + ".dat") + " using 1:2:(sprintf(\"%.4g\", $3)) with labels notitle\n" + finish(chart.stem);
  write_file(dir / (chart.stem + ".gp"), gp);
  return chart.stem + ".gp";
}

void draw_charts(const fs::path& dir, const std::vector<std::string>& scripts) {
  if (!gnuplot_installed())
    throw std::runtime_error("gnuplot not found (install gnuplot-nox); no report written");
  for (const std::string& script : scripts) {
    const std::string command = "cd " + shell_word(dir.string()) + " && gnuplot " + shell_word(script) +
                                " >> gnuplot.log 2>&1";
    if (std::system(command.c_str()) != 0)
      throw std::runtime_error("gnuplot failed on " + script + " (see gnuplot.log); no report written");
  }
  std::error_code ec;
  if (fs::exists(dir / "gnuplot.log") && fs::file_size(dir / "gnuplot.log", ec) == 0) fs::remove(dir / "gnuplot.log");
}

}  // namespace attnbench::cli
