/* One instant query through lib/prom, for tests/e2e/test_prom_auth.sh against a real
 * Prometheus: the controller's TLS and credential options, the series printed one a line
 * ("label=value ... value"), an error on stderr with exit 1 (exit 2: bad usage or options). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "prom/prom.h"

static void usage(void)
{
    fprintf(stderr, "usage: prom_query [--ca-file F] [--insecure-skip-tls-verify] [--bearer-token-file F]\n"
                    "                  [--username U --password-file F] [--timeout SECONDS] URL QUERY LABEL...\n");
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"ca-file", required_argument, 0, 'c'},      {"insecure-skip-tls-verify", no_argument, 0, 'k'},
        {"bearer-token-file", required_argument, 0, 'b'}, {"username", required_argument, 0, 'u'},
        {"password-file", required_argument, 0, 'p'}, {"timeout", required_argument, 0, 't'},
        {0, 0, 0, 0}};
    struct prom_auth a = {0};
    double timeout_s = 5;
    int opt;
    while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        char *end = NULL;
        switch (opt) {
        case 'c': a.ca_file = optarg; break;
        case 'k': a.insecure_skip_verify = 1; break;
        case 'b': a.bearer_token_file = optarg; break;
        case 'u': a.username = optarg; break;
        case 'p': a.password_file = optarg; break;
        case 't':
            timeout_s = strtod(optarg, &end);
            if (!end || *end || end == optarg) {
                usage();
                return 2;
            }
            break;
        default:
            usage();
            return 2;
        }
    }
    int n_keys = argc - optind - 2;
    if (n_keys < 1 || n_keys > PROM_MAX_KEYS) {
        usage();
        return 2;
    }
    const char *const *keys = (const char *const *)&argv[optind + 2];
    char err[600] = "";
    struct prom_client *pc = NULL;
    enum fs_err rc = prom_client_new(argv[optind], timeout_s, &a, &pc, err, sizeof(err));
    if (rc != FS_OK) {
        fprintf(stderr, "prom_query: %s: %s\n", fs_strerror(rc), err);
        return 2;
    }
    struct prom_vector v;
    rc = prom_query(pc, argv[optind + 1], keys, (size_t)n_keys, &v, err, sizeof(err));
    if (rc != FS_OK) {
        fprintf(stderr, "prom_query: %s: %s (HTTP status %ld)\n", fs_strerror(rc), err, prom_client_last_status(pc));
        prom_client_free(pc);
        return 1;
    }
    for (size_t i = 0; i < v.n; i++) {
        for (int k = 0; k < n_keys; k++)
            printf("%s=%s ", keys[k], v.p[i].key[k]);
        printf("%.17g\n", v.p[i].value);
    }
    prom_vector_release(&v);
    prom_client_free(pc);
    return 0;
}
