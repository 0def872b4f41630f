/*
 * hello: the floor of the benchmark.  A FastCGI hello-world behind the
 * same nginx, with the same worker count as forcelink: what nginx, the
 * FastCGI protocol and libfcgi cost on their own, with no work at all.
 */
#include <stddef.h>

#include <fcgiapp.h>

#include "prefork.h"

static void
hello_handle(FCGX_Request *r)
{
	FCGX_PutS("Status: 200 OK\r\n"
	    "Content-Type: text/plain\r\n\r\n"
	    "Hello, world!\n", r->out);
}

int
main(int argc, char *argv[])
{
	return prefork_main(argc, argv, "hello", NULL, hello_handle);
}
