/* How many CPUs this process can keep busy: the CPUs it may run on, bounded by a cgroup v2
 * CPU limit (cpu.max), as a container's CPU limit sets it. Threads beyond a limit get
 * throttled rather than run in parallel. */
#ifndef FS_CPUS_H
#define FS_CPUS_H

/* From the process's affinity mask and /sys/fs/cgroup/cpu.max; at least 1. */
unsigned fs_usable_cpus(void);
/* The same from a given cpu.max file (absent or unreadable: no limit) and CPU count. */
unsigned fs_usable_cpus_from(const char *cpu_max_path, unsigned cpus);

#endif
