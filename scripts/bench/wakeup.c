/* The physical floor of a hand-off between threads on this machine: two
 * threads ping-pong through a mutex and condition variables; prints the
 * round trip and the cost of one wake-up. Run by scripts/bench/runtime.sh. */
#include <pthread.h>
#include <stdio.h>
#include <time.h>
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c1 = PTHREAD_COND_INITIALIZER, c2 = PTHREAD_COND_INITIALIZER;
static int turn = 0; enum { N = 20000 };
static void *other(void *a) { for (int i = 0; i < N; i++) { pthread_mutex_lock(&m); while (turn != 1) pthread_cond_wait(&c1, &m); turn = 0; pthread_cond_signal(&c2); pthread_mutex_unlock(&m);} return 0; }
int main() { pthread_t t; pthread_create(&t, 0, other, 0); struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
 for (int i = 0; i < N; i++) { pthread_mutex_lock(&m); turn = 1; pthread_cond_signal(&c1); while (turn != 0) pthread_cond_wait(&c2, &m); pthread_mutex_unlock(&m);} 
 clock_gettime(CLOCK_MONOTONIC, &b); double us = ((b.tv_sec-a.tv_sec)*1e9 + (b.tv_nsec-a.tv_nsec))/1e3/N; printf("thread wake-up (condvar ping-pong)\t%.1f\tus\n", us / 2); pthread_join(t,0); }
