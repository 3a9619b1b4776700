/* Unit tests for lib/forecast/arima: CSS sums, fits, forecasts and intervals against
 * R forecast::Arima(method = "CSS") fixtures, the orders auto.arima picks, and the
 * online update (hack/forecast/gen_arima_fixtures.R produced the fixtures). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "forecast/arima.h"
#include "forecast/fc_math.h"
#include "test_forecast_fixture.h"

static const char *const cases[] = {"usaccdeaths_011_011", "wwwusage_111", "lh_100_mean", "lh_201_mean",
                                    "hourly_111_fourier2"};

static void load_order(const struct fixture *fx, struct arima_order *o)
{
    const double *v = fixture_get(fx, "order", NULL);
    memset(o, 0, sizeof(*o));
    o->p = (int)v[0];
    o->d = (int)v[1];
    o->q = (int)v[2];
    o->P = (int)v[3];
    o->D = (int)v[4];
    o->Q = (int)v[5];
    o->m = o->P || o->D || o->Q ? (int)fixture_num(fx, "m") : 1;
    o->constant = (int)fixture_num(fx, "constant");
    o->fourier_k = (int)fixture_num(fx, "K");
    o->fourier_m = (int)fixture_num(fx, "m");
}

/* R's coefficient vector (ar, ma, sar, sma, intercept/drift, Fourier) into the model. */
static void set_r_coef(struct arima_model *mod, const double *c)
{
    int k = 0;
    for (int i = 0; i < mod->o.p; i++)
        mod->phi[i] = c[k++];
    for (int i = 0; i < mod->o.q; i++)
        mod->theta[i] = c[k++];
    for (int i = 0; i < mod->o.P; i++)
        mod->sphi[i] = c[k++];
    for (int i = 0; i < mod->o.Q; i++)
        mod->stheta[i] = c[k++];
    for (int i = 0; i < mod->nx; i++)
        mod->beta[i] = c[k++];
}

static void test_arima_matches_r_css(void **state)
{
    (void)state;
    static const double levels[] = {80, 95};
    int bad = 0;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        char name[128];
        snprintf(name, sizeof(name), "arima_%s.txt", cases[c]);
        struct fixture fx;
        assert_int_equal(fixture_load(&fx, name), 0);
        struct arima_order o;
        load_order(&fx, &o);
        size_t n, nc, h;
        const double *y = fixture_get(&fx, "y", &n), *coef = fixture_get(&fx, "coef", &nc);
        struct arima_model mod;
        assert_int_equal(arima_fit(&mod, y, n, &o), FS_OK);
        /* the fitted coefficients and variance */
        struct arima_model rm = mod;
        double ours[32];
        int k = 0;
        for (int i = 0; i < o.p; i++)
            ours[k++] = mod.phi[i];
        for (int i = 0; i < o.q; i++)
            ours[k++] = mod.theta[i];
        for (int i = 0; i < o.P; i++)
            ours[k++] = mod.sphi[i];
        for (int i = 0; i < o.Q; i++)
            ours[k++] = mod.stheta[i];
        for (int i = 0; i < mod.nx; i++)
            ours[k++] = mod.beta[i];
        assert_int_equal(k, (int)nc);
        double maxd = 0;
        for (size_t i = 0; i < nc; i++)
            maxd = fmax(maxd, fabs(ours[i] - coef[i]) / fmax(1, fabs(coef[i])));
        double rs2 = fixture_num(&fx, "sigma2");
        fprintf(stderr, "  %-22s coef max rel diff %.2e sigma2 %.6g (R %.6g) loglik %.4f (R %.4f)\n", cases[c], maxd,
                mod.sigma2, rs2, mod.loglik, fixture_num(&fx, "loglik"));
        if (!(maxd < 5e-3) || !close_rel(mod.sigma2, rs2, 2e-3))
            bad++;
        /* forecasts at R's coefficients: CSS state vs R's Kalman state, very close */
        (void)rm;
        struct arima_model at;
        assert_int_equal(arima_fit(&at, y, n, &o), FS_OK);
        set_r_coef(&at, coef);
        double sse;
        size_t used;
        assert_int_equal(arima_css(&at, y, n, &sse, &used), FS_OK);
        /* R's variance: the CSS sum over nstar - ncoef, nstar = n - d - Dm */
        double dof = (double)n - o.d - o.D * (o.m > 1 ? o.m : 1) - (double)nc;
        at.sigma2 = rs2;
        if (!close_rel(sse / dof, rs2, 1e-8)) {
            fprintf(stderr, "  %s: CSS variance at R's coefficients %.10g, R %.10g\n", cases[c], sse / dof, rs2);
            bad++;
        }
        struct fc_result r;
        assert_int_equal(arima_forecast(&at, (int)fixture_num(&fx, "h"), levels, 2, &r), FS_OK);
        const double *mean = fixture_get(&fx, "mean", &h), *lo95 = fixture_get(&fx, "lo95", NULL),
                     *hi80 = fixture_get(&fx, "hi80", NULL);
        double dm = 0, db = 0;
        for (size_t i = 0; i < h; i++) {
            double scale = fmax(1, hi80[i] - mean[i]);
            dm = fmax(dm, fabs(r.mean[i] - mean[i]) / scale);
            db = fmax(db, fabs((r.lower[2 * i + 1] - r.mean[i]) - (lo95[i] - mean[i])) / scale);
        }
        /* R forecasts from its Kalman state, we from CSS residuals (zero before the
         * conditioning lags): with a seasonal MA the two differ slightly for years */
        fprintf(stderr, "  %-22s forecast diff %.2e band diff %.2e (in 80%% half-widths)\n", cases[c], dm, db);
        if (!(dm < 0.05) || !(db < 0.01))
            bad++;
        fc_result_release(&r);
        arima_release(&at);
        arima_release(&mod);
        fixture_release(&fx);
    }
    assert_int_equal(bad, 0);
}

static void test_arima_auto_orders_like_r(void **state)
{
    (void)state;
    struct fixture fx, data;
    assert_int_equal(fixture_load(&fx, "arima_auto.txt"), 0);
    /* series from the other fixtures */
    static const struct {
        const char *name, *file;
    } src[] = {{"USAccDeaths", "arima_usaccdeaths_011_011.txt"},
               {"WWWusage", "arima_wwwusage_111.txt"},
               {"lh", "arima_lh_100_mean.txt"},
               {"AirPassengers", "ets_airpassengers_AAA.txt"},
               {"hourly", "ets_hourly_AAA.txt"}};
    int same_d = 0;
    for (size_t i = 0; i < sizeof(src) / sizeof(src[0]); i++) {
        size_t n;
        const double *ro = fixture_get(&fx, src[i].name, NULL);
        assert_non_null(ro);
        assert_int_equal(fixture_load(&data, src[i].file), 0);
        const double *y = fixture_get(&data, "y", &n);
        struct arima_model mod;
        assert_int_equal(arima_auto(&mod, y, n, (int)ro[7], 0), FS_OK);
        char nm[96];
        arima_name(&mod, nm, sizeof(nm));
        fprintf(stderr, "  %-14s %s (R (%g,%g,%g)(%g,%g,%g)[%g])\n", src[i].name, nm, ro[0], ro[1], ro[2], ro[3], ro[4],
                ro[5], ro[6]);
        same_d += mod.o.d == (int)ro[1] && mod.o.D == (int)ro[4];
        arima_release(&mod);
        fixture_release(&data);
    }
    /* the unit-root and seasonal-strength decisions agree with R's */
    assert_int_equal(same_d, (int)(sizeof(src) / sizeof(src[0])));
    fixture_release(&fx);
}

static void test_arima_update_continues_the_recursion(void **state)
{
    (void)state;
    struct fixture fx;
    assert_int_equal(fixture_load(&fx, "arima_usaccdeaths_011_011.txt"), 0);
    struct arima_order o;
    load_order(&fx, &o);
    size_t n;
    const double *y = fixture_get(&fx, "y", &n);
    struct arima_model a, b;
    assert_int_equal(arima_fit(&a, y, n - 12, &o), FS_OK);
    assert_int_equal(arima_fit(&b, y, n, &o), FS_OK);
    /* b's coefficients on a's data, then 12 updates: the state of a CSS run over all n */
    a.phi[0] = b.phi[0];
    a.theta[0] = b.theta[0];
    a.stheta[0] = b.stheta[0];
    double sse;
    size_t used;
    assert_int_equal(arima_css(&a, y, n - 12, &sse, &used), FS_OK);
    for (size_t t = n - 12; t < n; t++)
        arima_update(&a, y[t]);
    struct fc_result ra, rb;
    a.sigma2 = b.sigma2;
    assert_int_equal(arima_forecast(&a, 24, NULL, 0, &ra), FS_OK);
    assert_int_equal(arima_forecast(&b, 24, NULL, 0, &rb), FS_OK);
    for (int i = 0; i < 24; i++)
        assert_true(close_rel(ra.mean[i], rb.mean[i], 1e-9));
    fc_result_release(&ra);
    fc_result_release(&rb);
    arima_release(&a);
    arima_release(&b);
    /* bad input */
    double nan3[12] = {1, 2, NAN, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    struct arima_order o1 = {.p = 1, .m = 1};
    assert_int_equal(arima_fit(&a, nan3, 12, &o1), FS_EINVAL);
    assert_int_equal(arima_fit(&a, y, 3, &o1), FS_EDATA);
    fixture_release(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arima_matches_r_css),
        cmocka_unit_test(test_arima_auto_orders_like_r),
        cmocka_unit_test(test_arima_update_continues_the_recursion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
