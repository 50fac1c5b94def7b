/*
** hostlib.c -- libhaywire's hw_host_* on Linux: the C sources of
** libhaywire_host (hostlib/) compiled into this library, so a program
** linked to libhaywire gets the same host code as one linked to
** libhaywire_host, without crossing into Go. cgo compiles only the .c
** files of this directory, hence the includes. HW_HOST_IN_LIBHAYWIRE
** leaves hw__set_error, hw_last_error and hw_version* to capi.c: one
** error state per library (hw_strerror, hw_err_name: errcodes.c). build.sh hashes hostlib/ into
** CGO_CFLAGS, so a change there rebuilds this file. Elsewhere (no futex)
** host_other.c and host_other.go implement the API over bridge/host.
*/
#ifdef __linux__
#define HW_HOST_IN_LIBHAYWIRE 1
#include "../../hostlib/attach.c"
#include "../../hostlib/pump.c"
#include "../../hostlib/request.c"
#include "../../hostlib/response.c"
#endif
