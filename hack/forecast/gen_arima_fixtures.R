# Generates tests/fixtures/forecast/arima_*.txt: R forecast::Arima(method = "CSS") fits
# (coefficients, sigma2, loglik, forecasts with 80/95 % intervals) and the orders that
# auto.arima picks, on R datasets and the seeded hourly series of gen_ets_fixtures.R.
# Run from the repository root: Rscript hack/forecast/gen_arima_fixtures.R
suppressMessages(library(forecast))
outdir <- "tests/fixtures/forecast"
cmd <- "Rscript hack/forecast/gen_arima_fixtures.R"
ver <- sprintf("R %s, forecast %s", getRversion(), packageVersion("forecast"))
num <- function(x) paste(formatC(as.numeric(x), digits = 17, format = "g"), collapse = " ")
set.seed(42)
tt <- 1:(24 * 14)
hourly <- ts(100 + 0.05 * tt + 20 * sin(2 * pi * tt / 24) + 8 * cos(4 * pi * tt / 24) +
             rnorm(length(tt), sd = 3), frequency = 24)

write_case <- function(name, y, order, seasonal = c(0, 0, 0), mean = TRUE, drift = FALSE, K = 0, desc) {
  xreg <- NULL
  if (K > 0) xreg <- fourier(y, K = K)
  fit <- Arima(y, order = order, seasonal = seasonal, include.mean = mean, include.drift = drift,
               xreg = xreg, method = "CSS")
  m <- frequency(y)
  h <- if (m > 1) 2 * m else 10
  fc <- if (K > 0) forecast(fit, xreg = fourier(y, K = K, h = h), level = c(80, 95))
        else forecast(fit, h = h, level = c(80, 95))
  f <- file(file.path(outdir, paste0("arima_", name, ".txt")), "w")
  cat("# ARIMA reference (CSS): ", desc, "\n", file = f, sep = "")
  cat("# produced by: ", cmd, " (", ver, ")\n", file = f, sep = "")
  cat("m ", m, "\n", file = f, sep = "")
  cat("h ", h, "\n", file = f, sep = "")
  cat("order ", num(c(order, seasonal)), "\n", file = f, sep = "")
  cat("constant ", as.integer(mean || drift), "\n", file = f, sep = "")
  cat("K ", K, "\n", file = f, sep = "")
  cat("y ", num(y), "\n", file = f, sep = "")
  cat("coef ", num(coef(fit)), "\n", file = f, sep = "")
  cat("coefnames ", paste(names(coef(fit)), collapse = " "), "\n", file = f, sep = "")
  cat("sigma2 ", num(fit$sigma2), "\n", file = f, sep = "")
  cat("loglik ", num(fit$loglik), "\n", file = f, sep = "")
  cat("mean ", num(fc$mean), "\n", file = f, sep = "")
  cat("lo80 ", num(fc$lower[, 1]), "\n", file = f, sep = "")
  cat("hi80 ", num(fc$upper[, 1]), "\n", file = f, sep = "")
  cat("lo95 ", num(fc$lower[, 2]), "\n", file = f, sep = "")
  cat("hi95 ", num(fc$upper[, 2]), "\n", file = f, sep = "")
  close(f)
  cat(name, "\n"); print(coef(fit))
}
write_case("usaccdeaths_011_011", USAccDeaths, c(0, 1, 1), c(0, 1, 1), FALSE, desc = "USAccDeaths (0,1,1)(0,1,1)[12]")
write_case("wwwusage_111", WWWusage, c(1, 1, 1), mean = FALSE, desc = "WWWusage (1,1,1)")
write_case("lh_100_mean", lh, c(1, 0, 0), desc = "lh (1,0,0) with mean")
write_case("lh_201_mean", lh, c(2, 0, 1), desc = "lh (2,0,1) with mean")
write_case("hourly_111_fourier2", hourly, c(1, 1, 1), mean = FALSE, K = 2, desc = "seeded hourly series (1,1,1) + fourier(K=2)")

f <- file(file.path(outdir, "arima_auto.txt"), "w")
cat("# orders chosen by auto.arima(y) (defaults); produced by: ", cmd, " (", ver, ")\n", file = f, sep = "")
for (nm in c("USAccDeaths", "WWWusage", "lh", "AirPassengers", "hourly")) {
  y <- if (nm == "hourly") hourly else get(nm)
  fit <- auto.arima(y)
  o <- arimaorder(fit)
  if (length(o) == 3) o <- c(o, 0, 0, 0, 1)
  cat(nm, " ", num(o), " ", frequency(y), "\n", file = f, sep = "")
  cat(nm, arimaorder(fit), "\n")
}
close(f)
