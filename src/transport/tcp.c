#include "transport/tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"

int tcp_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *port_s;
	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(host)) return -1;
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = 0;
		port_s = end + 2;
	} else {
		const char *colon = strrchr(s, ':');
		if (!colon) {
			host[0] = 0;
			port_s = s;
		} else {
			if ((size_t)(colon - s) >= sizeof(host)) return -1;
			memcpy(host, s, (size_t)(colon - s));
			host[colon - s] = 0;
			port_s = colon + 1;
		}
	}
	char *endp;
	long port = strtol(port_s, &endp, 10);
	if (*port_s == 0 || *endp || port <= 0 || port > 65535) return -1;
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (host[0] == 0 || !strcmp(host, "*")) {
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_any;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
	} else if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*len = sizeof(*in4);
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
	} else {
		return -1;
	}
	return 0;
}

int tcp_listen(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6) {
		/* "[::]:445" means IPv6 only; the default listen list adds 0.0.0.0 too. */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	if (bind(fd, (const struct sockaddr *)ss, len) < 0 || listen(fd, 256) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

void tcp_addr_str(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	char a[INET6_ADDRSTRLEN] = "?";
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &in4->sin_addr, a, sizeof(a));
		snprintf(out, outlen, "%s:%u", a, ntohs(in4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a));
		snprintf(out, outlen, "[%s]:%u", a, ntohs(in6->sin6_port));
	} else {
		snprintf(out, outlen, "?");
	}
}

int tcp_frame_parse(const uint8_t *buf, size_t len, size_t *msg_len)
{
	if (len < 4) return 0;
	/* Direct TCP: a zero byte, then a 24-bit big-endian length (MS-SMB2 2.1).
	 * NetBIOS keepalives (0x85) carry no payload. */
	if (buf[0] != 0) return -1;
	size_t n = ((size_t)buf[1] << 16) | ((size_t)buf[2] << 8) | buf[3];
	if (n > TCP_MAX_MESSAGE) return -1;
	if (len - 4 < n) return 0;
	*msg_len = n;
	return 1;
}

void tcp_frame_header(uint8_t out[4], size_t len)
{
	put_be32(out, (uint32_t)len & 0x00FFFFFFu);
}
