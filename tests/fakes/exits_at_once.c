/* A "kube-vip" that exits at once with an error: packed as an image tag, it is the fault
 * "the new version never becomes ready", which a real kube-vip release cannot produce on
 * demand. Built static, like kube-vip (FROM scratch, no libc in the image). */
#include <stdio.h>

int main(void) {
  fputs("exits_at_once: this kube-vip image exits immediately (testbed fault)\n", stderr);
  return 1;
}
