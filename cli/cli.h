/* kubectl-foresight: one entry point per subcommand, dispatched by main.c. A new
 * subcommand is one file cmd_<name>.c defining `int cmd_<name>(int argc, char **argv)`
 * plus a line in main.c's table. Helpers shared by the offline subcommands are here. */
#ifndef CLI_H
#define CLI_H

#include <stddef.h>
#include <stdio.h>

#include "forecast/csv.h"
#include "forecast/fc.h"

int cmd_forecast(int argc, char **argv);
int cmd_anomalies(int argc, char **argv);

/* Exit codes: 0 ok, 1 runtime error (bad data), 2 usage error. */
#define CLI_EXIT_DATA 1
#define CLI_EXIT_USAGE 2

#define CLI_MAX_INPUT (512u * 1024 * 1024)

/* Reads path ("-" = stdin) and parses the series; prints "<prog>: <path>:<line>: <why>"
 * and returns non-zero on failure. */
int cli_read_series(const char *prog, const char *path, const char *column, struct csv_series *s);

/* "80,95" -> levels; returns the count or -1 (each must be in (0, 100)). */
int cli_parse_levels(const char *s, double *levels, int max);

/* --season: "auto" (0: detect), "none" (1) or a period 1..ETS_MAX_SEASON; returns 0 on
 * success. */
int cli_parse_season(const char *s, int *season);

/* Strict integer parse in [lo, hi]; returns 0 on success. */
int cli_parse_int(const char *s, long lo, long hi, long *out);

/* Formats epoch seconds as ISO 8601 UTC. */
void cli_format_time(double t, char *buf, size_t len);

/* A terminal chart: history (n values, last ones shown), then the forecast mean and the
 * widest band, width x height characters. */
void cli_plot(FILE *out, const double *hist, size_t n, const struct fc_result *r, int width, int height);

#endif
