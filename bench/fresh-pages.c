// What first touches of fresh anonymous memory cost on this machine (BENCHMARKS.md, session 11,
// s11-memory): maps SIZE MiB, advises huge pages (MODE 1) or not (MODE 0), writes one byte per
// 4 KiB page, prints the rate, unmaps, four rounds. On the shared VM fresh huge pages ran at
// 0.11-0.20 GB/s (host-unbacked), the same memory again after munmap at 2.3-2.9 GB/s.
// Build and run: cc -O2 bench/fresh-pages.c -o /tmp/fresh-pages && /tmp/fresh-pages 1 100
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODE(1=huge pages, 0=4 KiB) SIZE_MIB\n", argv[0]);
    return 2;
  }
  int huge = atoi(argv[1]);
  size_t n = (size_t)atoi(argv[2]) << 20, align = 2 << 20;
  for (int round = 0; round < 4; round++) {
    char *q = mmap(0, n + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (q == MAP_FAILED) return 1;
    char *p = (char *)(((size_t)q + align - 1) & ~(align - 1));
    madvise(p, n, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (size_t i = 0; i < n; i += 4096) p[i] = 1;
    clock_gettime(CLOCK_MONOTONIC, &b);
    double t = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    printf("huge=%d %zu MiB %.3f s %.2f GB/s\n", huge, n >> 20, t, n / t / 1e9);
    munmap(q, n + align);
  }
  return 0;
}
