/* echo.c: the local echo peer of the replay benchmark.
 *
 * Listens on 127.0.0.1:PORT and serves one connection at a time, writing back
 * whatever it reads until the client closes; then accepts the next one. Runs
 * until killed. TCP_NODELAY on every accepted connection.
 *
 * usage: echo PORT
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: echo PORT\n");
		return 2;
	}
	struct sockaddr_in sa = {0};
	int one = 1;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0) { perror("socket"); return 1; }
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(atoi(argv[1]));
	if (bind(l, (struct sockaddr *)&sa, sizeof sa) < 0) { perror("bind"); return 1; }
	if (listen(l, 128) < 0) { perror("listen"); return 1; }
	static char buf[65536];
	for (;;) {
		int c = accept(l, NULL, NULL);
		if (c < 0) { perror("accept"); continue; }
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		for (;;) {
			ssize_t n = recv(c, buf, sizeof buf, 0);
			if (n <= 0) break;
			for (ssize_t off = 0; off < n;) {
				ssize_t w = send(c, buf + off, n - off, MSG_NOSIGNAL);
				if (w <= 0) { n = -1; break; }
				off += w;
			}
			if (n < 0) break;
		}
		close(c);
	}
}
