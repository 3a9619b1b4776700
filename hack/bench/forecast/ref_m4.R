# Reference forecasts for M4 Hourly (h = 48, m = 24) with R forecast, in the same CSV
# lines as tests/bench/forecast_bench.c: m4,id,method,smape,mase,fit_s,cov80,cov95,model
# Usage: Rscript ref_m4.R TRAIN.csv TEST.csv STRIDE MAX [METHODS]
suppressMessages(library(forecast))
args <- commandArgs(TRUE)
train <- read.csv(args[1], stringsAsFactors = FALSE)
test <- read.csv(args[2], stringsAsFactors = FALSE)
stride <- as.integer(args[3]); maxn <- as.integer(args[4])
methods <- if (length(args) >= 5) strsplit(args[5], ",")[[1]] else
  c("r_ets", "r_hw", "r_arima", "r_stlf", "naive2")
rows <- seq(1, nrow(train), by = stride)
if (maxn > 0) rows <- head(rows, maxn)

# M4's Naive2: seasonally adjusted naive, the seasonality test of the M4 benchmark code
seasonality_test <- function(x, ppy) {
  tcrit <- 1.645
  if (length(x) < 3 * ppy) return(FALSE)
  xacf <- acf(x, plot = FALSE)$acf[-1, 1, 1]
  clim <- tcrit / sqrt(length(x)) * sqrt(cumsum(c(1, 2 * xacf^2)))
  abs(xacf[ppy]) > clim[ppy]
}
naive2 <- function(x, h) {
  m <- frequency(x)
  if (m > 1 && seasonality_test(x, m)) {
    dec <- decompose(x, type = "multiplicative")
    si <- dec$seasonal
    fs <- rep(tail(si, m), ceiling(h / m) + 1)[1:h]
    return(list(mean = as.numeric(naive(x / si, h = h)$mean) * fs))
  }
  list(mean = as.numeric(naive(x, h = h)$mean))
}

for (i in rows) {
  id <- train[i, 1]
  y <- as.numeric(train[i, -1]); y <- y[!is.na(y)]
  yt <- as.numeric(test[i, -1]); yt <- yt[!is.na(yt)]
  x <- ts(y, frequency = 24)
  scale <- mean(abs(diff(y, lag = 24)))
  for (meth in methods) {
    t0 <- proc.time()[["user.self"]]
    fc <- tryCatch(switch(meth,
      r_ets = forecast(ets(x), h = 48, level = c(80, 95)),
      r_hw = forecast(HoltWinters(x), h = 48, level = c(80, 95)),
      r_arima = forecast(auto.arima(x), h = 48, level = c(80, 95)),
      r_stlf = stlf(x, h = 48, level = c(80, 95)),
      naive2 = naive2(x, 48)), error = function(e) NULL)
    fit_s <- proc.time()[["user.self"]] - t0
    if (is.null(fc)) { cat(sprintf("m4,%s,%s,NA,NA,%.6f,NA,NA,fail\n", id, meth, fit_s)); next }
    f <- as.numeric(fc$mean)
    smape <- mean(200 * abs(yt - f) / (abs(yt) + abs(f)))
    mase <- mean(abs(yt - f)) / scale
    c80 <- c95 <- NA
    if (!is.null(fc$lower)) {
      c80 <- mean(yt >= fc$lower[, 1] & yt <= fc$upper[, 1])
      c95 <- mean(yt >= fc$lower[, 2] & yt <= fc$upper[, 2])
    }
    model <- if (!is.null(fc$method)) gsub(",", ";", fc$method) else meth
    cat(sprintf("m4,%s,%s,%.6f,%.6f,%.6f,%s,%s,%s\n", id, meth, smape, mase, fit_s,
                format(c80, digits = 4), format(c95, digits = 4), model))
    flush(stdout())
  }
}
