# Generates tests/fixtures/forecast/simple_*.txt: R forecast's naive, snaive and meanf
# (forecasts and 80/95 % intervals) on R's USAccDeaths, and qnorm/qt checkpoints.
# Run from the repository root: Rscript hack/forecast/gen_simple_fixtures.R
suppressMessages(library(forecast))
outdir <- "tests/fixtures/forecast"
cmd <- "Rscript hack/forecast/gen_simple_fixtures.R"
ver <- sprintf("R %s, forecast %s", getRversion(), packageVersion("forecast"))
num <- function(x) paste(formatC(as.numeric(x), digits = 17, format = "g"), collapse = " ")
y <- USAccDeaths
for (fn in c("naive", "snaive", "meanf")) {
  fc <- switch(fn, naive = naive(y, h = 30, level = c(80, 95)),
               snaive = snaive(y, h = 30, level = c(80, 95)),
               meanf = meanf(y, h = 30, level = c(80, 95)))
  f <- file(file.path(outdir, paste0("simple_", fn, ".txt")), "w")
  cat("# ", fn, "(USAccDeaths, h=30, level=c(80,95))\n", file = f, sep = "")
  cat("# produced by: ", cmd, " (", ver, ")\n", file = f, sep = "")
  cat("m ", frequency(y), "\n", file = f, sep = "")
  cat("y ", num(y), "\n", file = f, sep = "")
  cat("mean ", num(fc$mean), "\n", file = f, sep = "")
  cat("lo80 ", num(fc$lower[, 1]), "\n", file = f, sep = "")
  cat("hi80 ", num(fc$upper[, 1]), "\n", file = f, sep = "")
  cat("lo95 ", num(fc$lower[, 2]), "\n", file = f, sep = "")
  cat("hi95 ", num(fc$upper[, 2]), "\n", file = f, sep = "")
  close(f)
}
f <- file(file.path(outdir, "quantiles.txt"), "w")
cat("# qnorm and qt checkpoints\n# produced by: ", cmd, " (", ver, ")\n", file = f, sep = "")
p <- c(1e-10, 0.001, 0.025, 0.1, 0.5, 0.9, 0.975, 0.999, 1 - 1e-10)
cat("p ", num(p), "\n", file = f, sep = "")
cat("qnorm ", num(qnorm(p)), "\n", file = f, sep = "")
cat("qt_df ", num(c(5, 10, 30, 71, 200)), "\n", file = f, sep = "")
cat("qt975 ", num(qt(0.975, c(5, 10, 30, 71, 200))), "\n", file = f, sep = "")
cat("qt90 ", num(qt(0.9, c(5, 10, 30, 71, 200))), "\n", file = f, sep = "")
close(f)
