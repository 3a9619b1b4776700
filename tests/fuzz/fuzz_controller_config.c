/* libFuzzer target for foresight-controller's settings file (controller/config.c): any YAML
 * either gives settings within their documented bounds or an error that names the key.
 * fuzz-sources: controller/config.c controller/duration.c */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../controller/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ctl_opts o;
    char err[400] = "";
    ctl_opts_init(&o);
    enum fs_err rc = ctl_opts_load_yaml(&o, (const char *)data, size, "fuzz.yaml", err, sizeof(err));
    if (rc != FS_OK && !err[0])
        __builtin_trap(); /* every refusal says why */
    if (rc == FS_OK && (o.step_s < 1 || o.horizon_steps < 1 || o.workers < 1 || o.workers > 64 ||
                        !(o.headroom >= 0 && o.headroom <= 0.99) || !(o.qps >= 1) || o.learn_min_runs < 1))
        __builtin_trap(); /* accepted settings stay within their bounds */
    ctl_opts_release(&o);
    return 0;
}
