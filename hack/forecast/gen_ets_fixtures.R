# Generates the ETS reference fixtures in tests/fixtures/forecast/ets_*.txt from R's
# forecast::ets on classic R datasets and one seeded synthetic hourly series.
# Run from the repository root: Rscript hack/forecast/gen_ets_fixtures.R
suppressMessages(library(forecast))
outdir <- "tests/fixtures/forecast"
cmd <- "Rscript hack/forecast/gen_ets_fixtures.R"
ver <- sprintf("R %s, forecast %s", getRversion(), packageVersion("forecast"))

# A seeded hourly series (m = 24): daily cycle, slow trend, noise; 14 days.
set.seed(42)
tt <- 1:(24 * 14)
hourly <- ts(100 + 0.05 * tt + 20 * sin(2 * pi * tt / 24) + 8 * cos(4 * pi * tt / 24) +
             rnorm(length(tt), sd = 3), frequency = 24)

num <- function(x) paste(formatC(as.numeric(x), digits = 17, format = "g"), collapse = " ")

write_case <- function(name, y, model, damped, desc) {
  fit <- if (model == "ZZZ") ets(y) else ets(y, model = model, damped = damped)
  m <- frequency(y)
  h <- if (m > 1) 2 * m else 10
  fc <- forecast(fit, h = h, level = c(80, 95))
  n <- length(y)
  comp <- fit$components
  f <- file(file.path(outdir, paste0("ets_", name, ".txt")), "w")
  cat("# ETS reference: ", desc, "\n", file = f, sep = "")
  cat("# produced by: ", cmd, " (", ver, ")\n", file = f, sep = "")
  cat("# call: ", if (model == "ZZZ") "ets(y)" else sprintf("ets(y, model=\"%s\", damped=%s)", model, damped),
      "; forecast(fit, h=", h, ", level=c(80,95))\n", file = f, sep = "")
  cat("m ", m, "\n", file = f, sep = "")
  cat("h ", h, "\n", file = f, sep = "")
  cat("n ", n, "\n", file = f, sep = "")
  cat("y ", num(y), "\n", file = f, sep = "")
  cat("model ", comp[1], comp[2], if (comp[4] == "TRUE") "d" else "", comp[3], "\n", file = f, sep = "")
  p <- fit$par
  for (k in c("alpha", "beta", "gamma", "phi"))
    cat(k, " ", if (is.na(p[k])) "NA" else num(p[k]), "\n", file = f, sep = "")
  cat("init ", num(fit$states[1, ]), "\n", file = f, sep = "")
  cat("final ", num(fit$states[n + 1, ]), "\n", file = f, sep = "")
  cat("loglik ", num(fit$loglik), "\n", file = f, sep = "")
  cat("aic ", num(fit$aic), "\n", file = f, sep = "")
  cat("aicc ", num(fit$aicc), "\n", file = f, sep = "")
  cat("bic ", num(fit$bic), "\n", file = f, sep = "")
  cat("sigma2 ", num(fit$sigma2), "\n", file = f, sep = "")
  cat("mse ", num(fit$mse), "\n", file = f, sep = "")
  cat("fitted ", num(fitted(fit)), "\n", file = f, sep = "")
  cat("mean ", num(fc$mean), "\n", file = f, sep = "")
  cat("lo80 ", num(fc$lower[, 1]), "\n", file = f, sep = "")
  cat("hi80 ", num(fc$upper[, 1]), "\n", file = f, sep = "")
  cat("lo95 ", num(fc$lower[, 2]), "\n", file = f, sep = "")
  cat("hi95 ", num(fc$upper[, 2]), "\n", file = f, sep = "")
  close(f)
  cat(name, fit$method, "loglik", fit$loglik, "aicc", fit$aicc, "\n")
}

write_case("airpassengers_MAM", AirPassengers, "MAM", FALSE, "AirPassengers (R datasets), ETS(M,A,M)")
write_case("airpassengers_AAA", AirPassengers, "AAA", FALSE, "AirPassengers (R datasets), ETS(A,A,A)")
write_case("airpassengers_MAdM", AirPassengers, "MAM", TRUE, "AirPassengers (R datasets), ETS(M,Ad,M)")
write_case("airpassengers_auto", AirPassengers, "ZZZ", NULL, "AirPassengers (R datasets), automatic ETS by AICc")
write_case("usaccdeaths_AAA", USAccDeaths, "AAA", FALSE, "USAccDeaths (R datasets), ETS(A,A,A)")
write_case("usaccdeaths_ANA", USAccDeaths, "ANA", FALSE, "USAccDeaths (R datasets), ETS(A,N,A)")
write_case("usaccdeaths_auto", USAccDeaths, "ZZZ", NULL, "USAccDeaths (R datasets), automatic ETS by AICc")
write_case("ukgas_MNM", UKgas, "MNM", FALSE, "UKgas (R datasets), ETS(M,N,M)")
write_case("ukgas_MAA", UKgas, "MAA", FALSE, "UKgas (R datasets), ETS(M,A,A)")
write_case("nile_ANN", Nile, "ANN", FALSE, "Nile (R datasets), ETS(A,N,N)")
write_case("nile_MNN", Nile, "MNN", FALSE, "Nile (R datasets), ETS(M,N,N)")
write_case("wwwusage_AAdN", WWWusage, "AAN", TRUE, "WWWusage (R datasets), ETS(A,Ad,N)")
write_case("wwwusage_MAN", WWWusage, "MAN", FALSE, "WWWusage (R datasets), ETS(M,A,N)")
write_case("wwwusage_auto", WWWusage, "ZZZ", NULL, "WWWusage (R datasets), automatic ETS by AICc")
write_case("hourly_AAA", hourly, "AAA", FALSE, "seeded synthetic hourly series (m=24, set.seed(42)), ETS(A,A,A)")
write_case("hourly_MNM", hourly, "MNM", FALSE, "seeded synthetic hourly series (m=24, set.seed(42)), ETS(M,N,M)")
write_case("hourly_auto", hourly, "ZZZ", NULL, "seeded synthetic hourly series (m=24, set.seed(42)), automatic ETS by AICc")
