/* `kubectl-foresight forecast`: fits a model to a CSV series offline and prints the
 * forecast with its prediction intervals as CSV, or as a terminal chart. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/fs_err.h"
#include "forecast/forecast.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: kubectl-foresight forecast [options] FILE\n"
            "\n"
            "Forecasts the series in FILE (CSV; '-' reads stdin). No cluster is needed.\n"
            "\n"
            "Input: a timestamp column and a value column, or a column chosen by --column.\n"
            "  A header line is optional. Timestamps are ISO 8601 (2024-01-31 12:05:00,\n"
            "  2024-01-31T12:05:00Z) or epoch seconds. Empty, NA and NaN values are gaps;\n"
            "  missing timestamps of a regular series become gaps too. Malformed input is\n"
            "  reported with its line number.\n"
            "\n"
            "Options:\n"
            "  --column NAME|N    value column by header name or 1-based number\n"
            "  --season auto|none|N\n"
            "                     season length in steps (auto: detected by ACF and\n"
            "                     periodogram; default auto)\n"
            "  --horizon N        steps to forecast (default: two seasons, or 24)\n"
            "  --model M          auto|ets|hw|arima|naive|snaive|mean (default auto)\n"
            "                       auto    ETS family, ARIMA and seasonal naive compared on\n"
            "                               a hold-out of --horizon steps; the best is refitted,\n"
            "                               its bands calibrated on the hold-out's errors\n"
            "                       ets     ETS(error,trend,season) chosen by AICc\n"
            "                       hw      additive Holt-Winters, ETS(A,A,A)\n"
            "                       arima   seasonal ARIMA, orders by Hyndman-Khandakar stepwise\n"
            "                               AICc (CSS); Fourier terms for seasons over 24\n"
            "                       naive, snaive, mean  the benchmark methods\n"
            "  --level L[,L...]   prediction interval levels in percent (default 80,95)\n"
            "  --plot             draw a chart in the terminal instead of printing CSV\n"
            "  --width N, --height N   chart size (default 100 x 20)\n"
            "  -h, --help         this help\n"
            "\n"
            "Output (CSV): step,time,mean,lo<L>,hi<L>... (time only when the input has\n"
            "timestamps). The chosen model and any fallback are reported on stderr.\n"
            "Degenerate input: a constant series forecasts the constant; too short a series\n"
            "falls back to naive; a season longer than half the series is dropped.\n"
            "\n"
            "Exit status: 0 ok, 1 unusable data, 2 usage error.\n");
}

int cmd_forecast(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"column", required_argument, NULL, 'c'}, {"season", required_argument, NULL, 's'},
        {"horizon", required_argument, NULL, 'H'}, {"model", required_argument, NULL, 'm'},
        {"level", required_argument, NULL, 'l'},  {"plot", no_argument, NULL, 'p'},
        {"width", required_argument, NULL, 'W'},  {"height", required_argument, NULL, 'E'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *prog = "kubectl-foresight forecast";
    const char *column = NULL;
    struct fc_options o = {.method = FC_AUTO};
    long horizon = 0, width = 100, height = 20;
    double levels[FC_MAX_LEVELS] = {80, 95};
    int nlevels = 2, plot = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            column = optarg;
            break;
        case 's':
            if (cli_parse_season(optarg, &o.season) != 0) {
                fprintf(stderr, "%s: --season must be auto, none or 1..%d\n", prog, ETS_MAX_SEASON);
                return CLI_EXIT_USAGE;
            }
            break;
        case 'H':
            if (cli_parse_int(optarg, 1, FC_MAX_HORIZON, &horizon) != 0) {
                fprintf(stderr, "%s: --horizon must be 1..%d\n", prog, FC_MAX_HORIZON);
                return CLI_EXIT_USAGE;
            }
            break;
        case 'm': {
            int mm = fc_method_parse(optarg);
            if (mm < 0) {
                fprintf(stderr, "%s: unknown --model '%s' (auto|ets|hw|arima|naive|snaive|mean)\n", prog, optarg);
                return CLI_EXIT_USAGE;
            }
            o.method = (enum fc_method)mm;
            break;
        }
        case 'l':
            nlevels = cli_parse_levels(optarg, levels, FC_MAX_LEVELS);
            if (nlevels < 0) {
                fprintf(stderr, "%s: --level wants numbers in (0, 100) separated by commas\n", prog);
                return CLI_EXIT_USAGE;
            }
            break;
        case 'p':
            plot = 1;
            break;
        case 'W':
            if (cli_parse_int(optarg, 20, 1000, &width) != 0) {
                fprintf(stderr, "%s: --width must be 20..1000\n", prog);
                return CLI_EXIT_USAGE;
            }
            break;
        case 'E':
            if (cli_parse_int(optarg, 5, 200, &height) != 0) {
                fprintf(stderr, "%s: --height must be 5..200\n", prog);
                return CLI_EXIT_USAGE;
            }
            break;
        case 'h':
            help(stdout);
            return 0;
        default:
            help(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "%s: expected one input FILE (or '-')\n", prog);
        return CLI_EXIT_USAGE;
    }
    struct csv_series s;
    if (cli_read_series(prog, argv[optind], column, &s) != 0)
        return CLI_EXIT_DATA;
    int ret = CLI_EXIT_DATA;
    struct fc_model mod;
    struct fc_result r;
    memset(&r, 0, sizeof(r));
    if (horizon == 0)
        o.horizon = 0;
    else
        o.horizon = (int)horizon;
    enum fs_err rc = fc_fit(&mod, s.v, s.n, &o);
    if (rc != FS_OK) {
        fprintf(stderr, "%s: %s: cannot fit a model: %s\n", prog, argv[optind], fs_strerror(rc));
        goto out;
    }
    if (horizon == 0)
        horizon = mod.m > 1 ? 2 * mod.m : 24;
    fprintf(stderr, "model=%s season=%d n=%zu%s%s\n", mod.name, mod.m, s.n, mod.fallback ? " fallback=" : "",
            mod.fallback ? mod.fallback : "");
    rc = fc_predict(&mod, (int)horizon, levels, nlevels, &r);
    if (rc != FS_OK) {
        fprintf(stderr, "%s: %s: cannot forecast: %s\n", prog, argv[optind], fs_strerror(rc));
        goto out_model;
    }
    if (plot) {
        cli_plot(stdout, s.v, s.n, &r, (int)width, (int)height);
    } else {
        printf("step%s,mean", s.t ? ",time" : "");
        for (int j = 0; j < nlevels; j++)
            printf(",lo%g,hi%g", levels[j], levels[j]);
        printf("\n");
        for (int i = 0; i < r.h; i++) {
            printf("%d", i + 1);
            if (s.t) {
                char ts[32];
                double step = s.step_s > 0 ? s.step_s : (s.n >= 2 ? s.t[s.n - 1] - s.t[s.n - 2] : 0);
                cli_format_time(s.t[s.n - 1] + step * (i + 1), ts, sizeof(ts));
                printf(",%s", ts);
            }
            printf(",%.10g", r.mean[i]);
            for (int j = 0; j < nlevels; j++)
                printf(",%.10g,%.10g", r.lower[i * nlevels + j], r.upper[i * nlevels + j]);
            printf("\n");
        }
    }
    ret = 0;
    fc_result_release(&r);
out_model:
    fc_model_release(&mod);
out:
    csv_series_release(&s);
    return ret;
}
