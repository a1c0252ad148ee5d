/* pingpong.c: the C contender of the ping-pong benchmark.
 *
 * Two connected TCP sockets over loopback in one thread: a sends 1 byte, b
 * receives it, b sends 1 byte, a receives it; N times. Blocking sockets,
 * TCP_NODELAY on both ends. Prints the loop's time as loop_s=SECONDS.
 *
 * usage: pingpong [N]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
	perror(what);
	exit(1);
}

static double seconds(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 100000;
	struct sockaddr_in sa = {0};
	socklen_t salen = sizeof sa;
	int one = 1;

	int l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0) die("socket");
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = 0;
	if (bind(l, (struct sockaddr *)&sa, sizeof sa) < 0) die("bind");
	if (listen(l, 128) < 0) die("listen");
	if (getsockname(l, (struct sockaddr *)&sa, &salen) < 0) die("getsockname");

	int a = socket(AF_INET, SOCK_STREAM, 0);
	if (a < 0) die("socket");
	if (connect(a, (struct sockaddr *)&sa, sizeof sa) < 0) die("connect");
	int b = accept(l, NULL, NULL);
	if (b < 0) die("accept");
	if (setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) die("setsockopt");
	if (setsockopt(b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) die("setsockopt");

	char c;
	double t0 = seconds();
	for (long i = 0; i < n; i++) {
		c = 'x';
		if (send(a, &c, 1, 0) != 1) die("send a");
		if (recv(b, &c, 1, 0) != 1 || c != 'x') die("recv b");
		c = 'y';
		if (send(b, &c, 1, 0) != 1) die("send b");
		if (recv(a, &c, 1, 0) != 1 || c != 'y') die("recv a");
	}
	double t1 = seconds();
	printf("loop_s=%.9f\n", t1 - t0);
	close(a);
	close(b);
	close(l);
	return 0;
}
