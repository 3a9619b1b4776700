/* `kubectl-foresight anomalies`: runs an online detector over a CSV series and prints
 * the anomalous windows (or every sample with its band). Offline; no cluster. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/fs_err.h"
#include "forecast/anomaly.h"
#include "forecast/forecast.h"
#include "forecast/season.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: kubectl-foresight anomalies [options] FILE\n"
            "\n"
            "Flags anomalous windows in the series in FILE (CSV, as for 'forecast';\n"
            "'-' reads stdin). The detector runs online, one sample at a time, as the\n"
            "controller does.\n"
            "\n"
            "Detectors (--detector):\n"
            "  band   (default) a model (--model, as for 'forecast') is fitted on the first\n"
            "         --train samples and then updated with each sample; a sample outside\n"
            "         its one-step --level interval is a violation; an anomaly is --k\n"
            "         violations among the last --n samples\n"
            "  hw     Holt-Winters aberrant behaviour as RRDtool's HWPREDICT/DEVPREDICT/\n"
            "         FAILURES: band = prediction -/+ --delta smoothed deviations; a failure\n"
            "         is --k violations in the last --n samples (RRDtool: 7 of 9)\n"
            "  likelihood  anomaly likelihood (after Numenta's): the mean absolute one-step\n"
            "         error of the band model over the last 10 samples against the Gaussian\n"
            "         of those means over the last 8640; a sample is anomalous when its\n"
            "         upper-tail probability is below --threshold (the best of these\n"
            "         detectors on the NAB corpus: see hack/bench/forecast.sh)\n"
            "  score  the likelihood above as a score in [0,1] (tail 1e-5 scores 0.5), the\n"
            "         larger of it and the same likelihood of the distance to a slow mean\n"
            "         (a shift of level), 1 for a value beyond the range seen by more than\n"
            "         5 %%; after an alarm (a score >= --threshold, default 0.5) the next\n"
            "         288 samples are held unless beyond the range: one alarm per incident;\n"
            "         the larger of that and a contextual score (CAD OSE's method: values\n"
            "         in 8 bins over the file's range, the share of the sample's contexts\n"
            "         never seen before; its own rest after an alarm) and, every 48 samples,\n"
            "         the likelihood of a change of the block's spread: both also see a\n"
            "         series turning calm (the best of these detectors on the NAB corpus)\n"
            "\n"
            "Options:\n"
            "  --column NAME|N    value column\n"
            "  --season auto|none|N  season length in steps (default auto, on the train part)\n"
            "  --detector band|hw|likelihood|score\n"
            "  --model M          band detector's model (default ets)\n"
            "  --level L          band level in percent (default 99)\n"
            "  --threshold P      likelihood detector's tail probability (default 1e-5);\n"
            "                     score detector's alarm score in (0,1] (default 0.5)\n"
            "  --k K, --n N       K of the last N samples (defaults 3 of 5 for band, 7 of 9 for hw)\n"
            "  --train N          samples used to fit before detecting (default: 15%% of the\n"
            "                     series, grown up to 40%% until a season is detected, and\n"
            "                     at least three seasons when there are enough)\n"
            "  --refit N          refit the band model every N samples on the recent past (0: never)\n"
            "  --alpha A --beta B --gamma G --delta D\n"
            "                     hw parameters (defaults 0.1, 0.0035, 0.1, 2)\n"
            "  --points           print every sample (value, band, violation, anomaly)\n"
            "  -h, --help         this help\n"
            "\n"
            "Output (CSV): start,end,start_time,end_time,samples for each anomalous window\n"
            "(1-based sample numbers; consecutive flagged samples form one window).\n"
            "Exit status: 0 ok (whether or not anomalies were found), 1 unusable data,\n"
            "2 usage error.\n");
}

struct anomaly_opts {
    int hw;
    int lik;            /* the anomaly likelihood detector (on the band model's errors) */
    int score;          /* the anomaly score detector (likelihood, level, range, hold) */
    const char *threshold_arg;
    double threshold;
    struct fc_options fo;
    double level;
    long k, n, train, refit;
    double alpha, beta, gamma, delta;
    int points;
};

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != 0 || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

static void emit_window(const struct csv_series *s, size_t a, size_t b, int *header)
{
    char ta[32] = "", tb[32] = "";
    if (!*header) {
        printf("start,end,start_time,end_time,samples\n");
        *header = 1;
    }
    if (s->t) {
        cli_format_time(s->t[a], ta, sizeof(ta));
        cli_format_time(s->t[b], tb, sizeof(tb));
    }
    printf("%zu,%zu,%s,%s,%zu\n", a + 1, b + 1, ta, tb, b - a + 1);
}

int cmd_anomalies(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"column", required_argument, NULL, 'c'}, {"season", required_argument, NULL, 's'},
        {"detector", required_argument, NULL, 'd'}, {"model", required_argument, NULL, 'm'},
        {"level", required_argument, NULL, 'l'}, {"k", required_argument, NULL, 'k'},
        {"n", required_argument, NULL, 'n'}, {"train", required_argument, NULL, 't'},
        {"refit", required_argument, NULL, 'r'}, {"alpha", required_argument, NULL, 'A'},
        {"beta", required_argument, NULL, 'B'}, {"gamma", required_argument, NULL, 'G'},
        {"delta", required_argument, NULL, 'D'}, {"points", no_argument, NULL, 'P'},
        {"threshold", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    const char *prog = "kubectl-foresight anomalies";
    const char *column = NULL;
    struct anomaly_opts ao = {.fo = {.method = FC_ETS}, .level = 99, .k = -1, .n = -1, .train = -1,
                              .alpha = 0.1, .beta = 0.0035, .gamma = 0.1, .delta = 2, .threshold = 1e-5};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'c':
            column = optarg;
            break;
        case 's':
            bad = cli_parse_season(optarg, &ao.fo.season) != 0;
            break;
        case 'd':
            ao.hw = strcmp(optarg, "hw") == 0;
            ao.lik = strcmp(optarg, "likelihood") == 0;
            ao.score = strcmp(optarg, "score") == 0;
            bad = !ao.hw && !ao.lik && !ao.score && strcmp(optarg, "band") != 0;
            break;
        case 'm': {
            int mm = fc_method_parse(optarg);
            bad = mm < 0;
            if (!bad)
                ao.fo.method = (enum fc_method)mm;
            break;
        }
        case 'l':
            bad = parse_double(optarg, 1e-9, 99.9999, &ao.level) != 0;
            break;
        case 'k':
            bad = cli_parse_int(optarg, 1, 64, &ao.k) != 0;
            break;
        case 'n':
            bad = cli_parse_int(optarg, 1, 64, &ao.n) != 0;
            break;
        case 't':
            bad = cli_parse_int(optarg, 2, 100000000, &ao.train) != 0;
            break;
        case 'r':
            bad = cli_parse_int(optarg, 0, 100000000, &ao.refit) != 0;
            break;
        case 'A':
            bad = parse_double(optarg, 1e-9, 0.999999, &ao.alpha) != 0;
            break;
        case 'B':
            bad = parse_double(optarg, 0, 0.999999, &ao.beta) != 0;
            break;
        case 'G':
            bad = parse_double(optarg, 1e-9, 0.999999, &ao.gamma) != 0;
            break;
        case 'D':
            bad = parse_double(optarg, 1e-9, 1e9, &ao.delta) != 0;
            break;
        case 'P':
            ao.points = 1;
            break;
        case 'T': /* its range depends on the detector: checked after all options */
            ao.threshold_arg = optarg;
            break;
        case 'h':
            help(stdout);
            return 0;
        default:
            help(stderr);
            return CLI_EXIT_USAGE;
        }
        if (bad) {
            fprintf(stderr, "%s: bad option value '%s' (see --help)\n", prog, optarg);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "%s: expected one input FILE (or '-')\n", prog);
        return CLI_EXIT_USAGE;
    }
    if (ao.score)
        ao.threshold = 0.5;
    if (ao.threshold_arg &&
        (ao.score ? parse_double(ao.threshold_arg, 1e-9, 1, &ao.threshold)
                  : parse_double(ao.threshold_arg, 1e-300, 0.5, &ao.threshold)) != 0) {
        fprintf(stderr, "%s: bad option value '%s' for --threshold (%s; see --help)\n", prog, ao.threshold_arg,
                ao.score ? "a score in (0,1]" : "a tail probability in (0,0.5]");
        return CLI_EXIT_USAGE;
    }
    if (ao.k < 0)
        ao.k = ao.hw ? 7 : 3;
    if (ao.n < 0)
        ao.n = ao.hw ? 9 : 5;
    if (ao.k > ao.n) {
        fprintf(stderr, "%s: --k must not exceed --n\n", prog);
        return CLI_EXIT_USAGE;
    }
    struct csv_series s;
    if (cli_read_series(prog, argv[optind], column, &s) != 0)
        return CLI_EXIT_DATA;
    int ret = CLI_EXIT_DATA;
    struct fc_model mod;
    struct hw_aberrant hw;
    struct kofn kn;
    struct anom_lik al;
    struct anom_score as;
    memset(&al, 0, sizeof(al));
    memset(&as, 0, sizeof(as));
    memset(&mod, 0, sizeof(mod));
    memset(&hw, 0, sizeof(hw));
    size_t train = ao.train > 0 ? (size_t)ao.train : (size_t)(0.15 * (double)s.n);
    if (train > s.n)
        train = s.n;
    int m = ao.fo.season;
    if (m == 0) {
        /* detect on the training part only: the detector must not see the future */
        struct season_result sr;
        m = 1;
        if (season_detect(s.v, train, 0, 0, &sr) == FS_OK && sr.count > 0)
            m = sr.p[0].period;
        /* 15 % of a short series may hold less than two cycles of a daily season: grow
         * the default training part (up to 40 %) until one shows */
        while (m == 1 && ao.train <= 0 && train < (size_t)(0.4 * (double)s.n)) {
            train = (size_t)fmin(1.5 * (double)train + 1, 0.4 * (double)s.n);
            if (season_detect(s.v, train, 0, 0, &sr) == FS_OK && sr.count > 0)
                m = sr.p[0].period;
        }
        ao.fo.season = m;
    }
    /* a seasonal ETS fits m - 1 initial season states besides its parameters: three
     * seasons leave it enough data, two do not */
    if (ao.train <= 0 && m > 1 && train < (size_t)(3 * m) && s.n >= (size_t)(4 * m))
        train = (size_t)(3 * m);
    if (train >= s.n || train < 2) {
        fprintf(stderr, "%s: %s: %zu samples leave nothing to examine after training on %zu\n", prog, argv[optind],
                s.n, train);
        goto out;
    }
    enum fs_err rc;
    if (ao.hw) {
        if (m <= 0)
            m = 1;
        rc = hw_aberrant_init(&hw, m, ao.alpha, ao.beta, ao.gamma, ao.delta, (int)ao.k, (int)ao.n);
    } else {
        ao.fo.horizon = 1;
        rc = fc_fit(&mod, s.v, train, &ao.fo);
        if (rc == FS_OK)
            rc = kofn_init(&kn, (int)ao.k, (int)ao.n);
        if (rc == FS_OK && ao.lik)
            rc = anom_lik_init(&al, 10, 8640);
        /* the settings of the bench's best NAB column (tuned on NAB: see
         * tests/bench/forecast_bench.c): alik_level_range_cad_block48_hold288 */
        if (rc == FS_OK && ao.score)
            rc = anom_score_init(&as, 10, 8640, 2016, 0.05, ao.threshold, 288);
        if (rc == FS_OK && ao.score) {
            /* the contextual detector's bins span the file's range, as NAB hands it to
             * its detectors: the file is all there; rest = a fifth of the training
             * part, as NAB runs CAD OSE */
            double lo = INFINITY, hi = -INFINITY;
            for (size_t i = 0; i < s.n; i++)
                if (isfinite(s.v[i])) {
                    lo = fmin(lo, s.v[i]);
                    hi = fmax(hi, s.v[i]);
                }
            if (lo <= hi)
                rc = anom_score_use_cad(&as, lo, hi, (int)(train / 5));
            if (rc == FS_OK)
                rc = anom_score_use_blocks(&as, 48);
        }
        for (size_t i = 0; rc == FS_OK && ao.score && i < train; i++)
            rc = anom_score_learn(&as, s.v[i]);
        if (rc == FS_OK)
            fprintf(stderr, "model=%s season=%d train=%zu%s%s\n", mod.name, mod.m, train,
                    mod.fallback ? " fallback=" : "", mod.fallback ? mod.fallback : "");
    }
    if (rc != FS_OK) {
        fprintf(stderr, "%s: %s: cannot set up the detector: %s\n", prog, argv[optind], fs_strerror(rc));
        goto out;
    }
    if (ao.points)
        printf("sample,time,value,lower,upper,violation,anomaly\n");
    int header = ao.points;
    size_t wstart = 0, nflag = 0;
    int inwin = 0;
    size_t first = ao.hw ? 0 : train;
    for (size_t i = first; i < s.n; i++) {
        double y = s.v[i], lo = NAN, hi = NAN;
        int viol = 0, anom = 0;
        if (ao.hw) {
            anom = hw_aberrant_push(&hw, y, NULL, &lo, &hi);
            viol = isfinite(lo) && (!isfinite(y) || y < lo || y > hi);
        } else {
            struct fc_result r;
            double lv = ao.level;
            double tail = 1, score = 0;
            if (fc_predict(&mod, 1, &lv, 1, &r) == FS_OK) {
                lo = r.lower[0];
                hi = r.upper[0];
                if (ao.lik)
                    tail = anom_lik_push(&al, fabs(y - r.mean[0]));
                if (ao.score)
                    score = anom_score_push(&as, y, y - r.mean[0]);
                fc_result_release(&r);
                viol = isfinite(y) && (y < lo || y > hi);
            }
            if (ao.lik)
                viol = anom = tail < ao.threshold;
            else if (ao.score)
                viol = anom = score >= ao.threshold;
            else
                anom = kofn_push(&kn, viol);
            fc_update(&mod, y);
            if (ao.refit > 0 && (i - train + 1) % (size_t)ao.refit == 0) {
                size_t span = train < i + 1 ? train : i + 1;
                struct fc_model nm;
                if (fc_fit(&nm, s.v + (i + 1 - span), span, &ao.fo) == FS_OK) {
                    fc_model_release(&mod);
                    mod = nm;
                } else {
                    fc_model_release(&nm);
                }
            }
        }
        if (ao.points) {
            char ts[32] = "";
            if (s.t)
                cli_format_time(s.t[i], ts, sizeof(ts));
            printf("%zu,%s,%.10g,%.10g,%.10g,%d,%d\n", i + 1, ts, y, lo, hi, viol, anom);
        }
        if (anom) {
            nflag++;
            if (!inwin) {
                inwin = 1;
                /* the window starts at the first violation that made it up */
                wstart = i;
            }
        } else if (inwin) {
            inwin = 0;
            if (!ao.points)
                emit_window(&s, wstart, i - 1, &header);
        }
    }
    if (inwin && !ao.points)
        emit_window(&s, wstart, s.n - 1, &header);
    if (!header)
        printf("start,end,start_time,end_time,samples\n");
    fprintf(stderr, "anomalous samples=%zu of %zu examined\n", nflag, s.n - first);
    ret = 0;
out:
    anom_lik_release(&al);
    anom_score_release(&as);
    fc_model_release(&mod);
    hw_aberrant_release(&hw);
    csv_series_release(&s);
    return ret;
}
