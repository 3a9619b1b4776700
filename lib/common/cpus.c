/* Usable CPUs (see cpus.h). */
#include "common/cpus.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>

unsigned fs_usable_cpus_from(const char *cpu_max_path, unsigned cpus)
{
    if (cpus == 0)
        cpus = 1;
    FILE *f = fopen(cpu_max_path, "r");
    if (!f)
        return cpus;
    /* "max 100000" (no limit) or "<quota> <period>" in microseconds */
    char quota[32] = "";
    unsigned long long period = 0;
    int n = fscanf(f, "%31s %llu", quota, &period);
    fclose(f);
    if (n != 2 || strcmp(quota, "max") == 0 || period == 0)
        return cpus;
    unsigned long long q = 0;
    if (sscanf(quota, "%llu", &q) != 1 || q == 0)
        return cpus;
    unsigned long long limit = (q + period - 1) / period; /* 1.5 CPUs can keep 2 threads busy */
    return limit < cpus ? (unsigned)limit : cpus;
}

unsigned fs_usable_cpus(void)
{
    cpu_set_t set;
    unsigned cpus = 1;
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        cpus = (unsigned)CPU_COUNT(&set);
    return fs_usable_cpus_from("/sys/fs/cgroup/cpu.max", cpus);
}
