# Reference forecasts for the 5-minute resource series (m = 288): rolling origin with a
# 7-day training window, 3 origins one day apart, h = 288 (MASE at 12 and 288 steps).
# Lines: res,name,origin,method,mase12,mase288,cov80_12,cov95_12,cov80,cov95,fit_s,NA,NA,model
# Usage: Rscript ref_res.R LIST [METHODS]   (LIST: one series file per line, one value per line)
suppressMessages(library(forecast))
args <- commandArgs(TRUE)
files <- readLines(args[1])
methods <- if (length(args) >= 2) strsplit(args[2], ",")[[1]] else c("r_hw", "r_stlf", "r_farima")
TRAIN <- 2016; H <- 288
for (path in files) {
  y <- suppressWarnings(as.numeric(readLines(path)))
  y <- as.numeric(na.interp(ts(y)))  # references cannot take gaps; ours see the NaNs
  name <- basename(path)
  for (oi in 0:2) {
    origin <- TRAIN + oi * 288
    if (origin + H > length(y)) break
    tr <- ts(y[(origin - TRAIN + 1):origin], frequency = 288)
    te <- y[(origin + 1):(origin + H)]
    scale <- mean(abs(diff(as.numeric(tr), lag = 288)))
    for (meth in methods) {
      t0 <- proc.time()[["user.self"]]
      fc <- tryCatch(switch(meth,
        r_hw = forecast(HoltWinters(tr), h = H, level = c(80, 95)),
        r_stlf = stlf(tr, h = H, level = c(80, 95)),
        r_farima = {
          fit <- auto.arima(tr, xreg = fourier(tr, K = 3), seasonal = FALSE)
          forecast(fit, xreg = fourier(tr, K = 3, h = H), level = c(80, 95))
        }), error = function(e) NULL)
      fit_s <- proc.time()[["user.self"]] - t0
      if (is.null(fc)) { cat(sprintf("res,%s,%d,%s,NA,NA,NA,NA,NA,NA,%.6f,NA,NA,fail\n", name, oi, meth, fit_s)); next }
      f <- as.numeric(fc$mean); lo <- fc$lower; hi <- fc$upper
      e <- abs(te - f)
      in80 <- te >= lo[, 1] & te <= hi[, 1]; in95 <- te >= lo[, 2] & te <= hi[, 2]
      cat(sprintf("res,%s,%d,%s,%.6f,%.6f,%.4f,%.4f,%.4f,%.4f,%.6f,NA,NA,%s\n", name, oi, meth,
                  mean(e[1:12]) / scale, mean(e) / scale, mean(in80[1:12]), mean(in95[1:12]),
                  mean(in80), mean(in95), fit_s, gsub(",", ";", fc$method)))
      flush(stdout())
    }
  }
}
