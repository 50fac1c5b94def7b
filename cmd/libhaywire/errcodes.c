/*
** errcodes.c — hw_strerror() and hw_err_name(), shared with
** libhaywire_host: cgo compiles only the .c files of this directory,
** hence the include. Built on every platform (no futex inside).
*/
#include "../../hostlib/errors.c"
