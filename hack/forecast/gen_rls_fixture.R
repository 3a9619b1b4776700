# Generates tests/fixtures/forecast/rls_cars.txt: ordinary least squares of R's cars
# data (dist ~ speed) with prediction standard errors, the limit of RLS with lambda = 1.
# Run from the repository root: Rscript hack/forecast/gen_rls_fixture.R
num <- function(x) paste(formatC(as.numeric(x), digits = 17, format = "g"), collapse = " ")
fit <- lm(dist ~ speed, data = cars)
nd <- data.frame(speed = c(0, 10, 30))
pr <- predict(fit, newdata = nd, se.fit = TRUE)
f <- file("tests/fixtures/forecast/rls_cars.txt", "w")
cat("# lm(dist ~ speed, data = cars); predict(fit, data.frame(speed = c(0, 10, 30)), se.fit = TRUE)\n", file = f)
cat("# produced by: Rscript hack/forecast/gen_rls_fixture.R (R ", as.character(getRversion()), ")\n", file = f, sep = "")
cat("x ", num(cars$speed), "\n", file = f, sep = "")
cat("y ", num(cars$dist), "\n", file = f, sep = "")
cat("coef ", num(coef(fit)), "\n", file = f, sep = "")
cat("newx ", num(nd$speed), "\n", file = f, sep = "")
cat("pred ", num(pr$fit), "\n", file = f, sep = "")
cat("predvar ", num(pr$se.fit^2 + pr$residual.scale^2), "\n", file = f, sep = "")
close(f)
