/* libFuzzer target for the kubeconfig parser: YAML (aliases, deep nesting, odd scalars) to
 * a configuration, with every named context tried. Inputs naming device or proc files are
 * skipped, since a path in a kubeconfig is read (that is its job) and /dev/stdin would block. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kube/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memmem(data, size, "/dev", 4) || memmem(data, size, "/proc", 5) || memmem(data, size, "/sys", 4))
        return 0;
    static const char *const contexts[] = {NULL, "a", "x", ""};
    for (size_t i = 0; i < sizeof(contexts) / sizeof(contexts[0]); i++) {
        struct kube_config cfg;
        if (kube_config_parse(&cfg, (const char *)data, size, contexts[i], "/nonexistent") == FS_OK &&
            (!cfg.server || !cfg.namespace || !cfg.context))
            __builtin_trap(); /* success means a usable configuration */
        kube_config_release(&cfg);
    }
    return 0;
}
